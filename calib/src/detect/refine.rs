//! Sub-pixel corners as OpenCV's `cornerSubPix` finds them, to the detail:
//! the same window and Gaussian weights, gradients by central differences
//! on a bilinearly resampled patch around the current estimate, the same
//! update and stopping rule, and the estimate given up when it walks
//! further than the window from where it started. Both then land on the
//! same point of the same image.

use super::Gray;

/// Iterations at most, and the movement (px) under which they stop: the
/// criteria OpenCV's calibration samples pass (30, 0.001).
const MAX_ITERATIONS: usize = 30;
const EPSILON: f64 = 0.001;

/// Refines `start` with a window of `2·half + 1` pixels a side.
pub(super) fn refine_corner(img: &Gray, start: [f64; 2], half: i64) -> [f64; 2] {
    refine_corner_until(img, start, half, MAX_ITERATIONS, EPSILON)
}

/// [`refine_corner`] with its own stopping rule.
pub(crate) fn refine_corner_until(
    img: &Gray,
    start: [f64; 2],
    half: i64,
    max_iterations: usize,
    epsilon: f64,
) -> [f64; 2] {
    let n = (2 * half + 1) as usize;
    // OpenCV's mask: exp(−x²)·exp(−y²) with x, y in window halves.
    let weight: Vec<f64> = (0..n)
        .map(|k| {
            let t = (k as f64 - half as f64) / half as f64;
            (-t * t).exp()
        })
        .collect();
    let mut q = start;
    for _ in 0..max_iterations {
        // The (n + 2)² patch centred on q, as getRectSubPix samples it.
        let size = n + 2;
        let offset = (half + 1) as f64;
        let patch: Vec<f64> = (0..size * size)
            .map(|k| {
                let (i, j) = (k / size, k % size);
                f64::from(img.sample(q[0] + j as f64 - offset, q[1] + i as f64 - offset))
            })
            .collect();
        let at = |i: usize, j: usize| patch[i * size + j];
        let (mut a, mut b, mut c, mut bb1, mut bb2) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            let py = i as f64 - half as f64;
            for j in 0..n {
                let px = j as f64 - half as f64;
                let m = weight[i] * weight[j];
                let gx = at(i + 1, j + 2) - at(i + 1, j);
                let gy = at(i + 2, j + 1) - at(i, j + 1);
                let (gxx, gxy, gyy) = (gx * gx * m, gx * gy * m, gy * gy * m);
                a += gxx;
                b += gxy;
                c += gyy;
                bb1 += gxx * px + gxy * py;
                bb2 += gxy * px + gyy * py;
            }
        }
        let det = a * c - b * b;
        if det.abs() <= f64::EPSILON * f64::EPSILON {
            break;
        }
        let next = [
            q[0] + (c * bb1 - b * bb2) / det,
            q[1] + (a * bb2 - b * bb1) / det,
        ];
        let moved = (next[0] - q[0]).powi(2) + (next[1] - q[1]).powi(2);
        q = next;
        if q[0] < 0.0 || q[1] < 0.0 || q[0] >= img.width as f64 || q[1] >= img.height as f64 {
            break;
        }
        if moved <= epsilon * epsilon {
            break;
        }
    }
    // A refinement that walked off the corner is worse than none.
    if (q[0] - start[0]).abs() > half as f64 || (q[1] - start[1]).abs() > half as f64 {
        return start;
    }
    q
}
