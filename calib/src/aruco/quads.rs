//! Marker candidates: convex quadrilateral outlines of dark regions, as
//! OpenCV's `_detectCandidates` finds them (adaptive mean thresholds with
//! windows 3, 13 and 23 and offset 7, outer contours, polygons simplified
//! to 3 % of the contour's length, the same size and border limits).

use crate::detect::Gray;

/// A quadrilateral, clockwise in the image (y down).
pub(super) struct Candidate {
    pub corners: [[f64; 2]; 4],
    /// Sum of its sides, pixels.
    pub perimeter: f64,
}

/// OpenCV's defaults (`DetectorParameters`).
const WINDOWS: [usize; 3] = [3, 13, 23];
const THRESHOLD_OFFSET: i32 = 7;
const MIN_PERIMETER_RATE: f64 = 0.03;
const MAX_PERIMETER_RATE: f64 = 4.0;
const POLYGON_ACCURACY_RATE: f64 = 0.03;
const MIN_CORNER_DISTANCE_RATE: f64 = 0.05;
const MIN_DISTANCE_TO_BORDER: f64 = 3.0;

pub(super) fn candidates(image: &Gray) -> Vec<Candidate> {
    let (w, h) = (image.width, image.height);
    let pixels: Vec<i32> = image
        .data
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as i32)
        .collect();
    let integral = integral(&pixels, w, h);
    let longest = w.max(h) as f64;
    let (min_len, max_len) = (MIN_PERIMETER_RATE * longest, MAX_PERIMETER_RATE * longest);
    let mut out = Vec::new();
    for window in WINDOWS {
        let dark = threshold(&pixels, &integral, w, h, window);
        for contour in outer_contours(&dark, w, h, min_len) {
            let len = contour.len() as f64;
            if len < min_len || len > max_len {
                continue;
            }
            let Some(corners) = quadrilateral(&contour, len * POLYGON_ACCURACY_RATE) else {
                continue;
            };
            let sides: Vec<f64> = (0..4)
                .map(|k| dist(corners[k], corners[(k + 1) % 4]))
                .collect();
            if sides.iter().copied().fold(f64::INFINITY, f64::min) < len * MIN_CORNER_DISTANCE_RATE
            {
                continue;
            }
            let inside = corners.iter().all(|p| {
                p[0] >= MIN_DISTANCE_TO_BORDER
                    && p[1] >= MIN_DISTANCE_TO_BORDER
                    && p[0] <= (w - 1) as f64 - MIN_DISTANCE_TO_BORDER
                    && p[1] <= (h - 1) as f64 - MIN_DISTANCE_TO_BORDER
            });
            if inside {
                out.push(Candidate {
                    corners,
                    perimeter: sides.iter().sum(),
                });
            }
        }
    }
    out
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Summed-area table, one row and column of zeros in front.
fn integral(pixels: &[i32], w: usize, h: usize) -> Vec<i64> {
    let mut s = vec![0i64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0i64;
        for x in 0..w {
            row += i64::from(pixels[y * w + x]);
            s[(y + 1) * (w + 1) + x + 1] = s[y * (w + 1) + x + 1] + row;
        }
    }
    s
}

/// Pixels darker than their window's mean by the offset (OpenCV's
/// ADAPTIVE_THRESH_MEAN_C, THRESH_BINARY_INV, borders replicated).
fn threshold(pixels: &[i32], integral: &[i64], w: usize, h: usize, window: usize) -> Vec<bool> {
    let r = (window / 2) as i64;
    let (wi, hi) = (w as i64, h as i64);
    let area = (window * window) as i64;
    let mut out = vec![false; w * h];
    for y in 0..hi {
        for x in 0..wi {
            let (x0, x1, y0, y1) = (x - r, x + r, y - r, y + r);
            let sum = if x0 >= 0 && y0 >= 0 && x1 < wi && y1 < hi {
                let at = |xx: i64, yy: i64| integral[(yy * (wi + 1) + xx) as usize];
                at(x1 + 1, y1 + 1) - at(x0, y1 + 1) - at(x1 + 1, y0) + at(x0, y0)
            } else {
                // Near the border: replicate edge pixels, pixel by pixel.
                let mut s = 0i64;
                for yy in y0..=y1 {
                    for xx in x0..=x1 {
                        s += i64::from(
                            pixels[(yy.clamp(0, hi - 1) * wi + xx.clamp(0, wi - 1)) as usize],
                        );
                    }
                }
                s
            };
            // The mean rounded to a byte, as boxFilter leaves it.
            let mean = ((sum as f64) / area as f64).round() as i32;
            out[(y * wi + x) as usize] = pixels[(y * wi + x) as usize] - mean <= -THRESHOLD_OFFSET;
        }
    }
    out
}

/// Clockwise neighbours in the image, starting west.
const DIRECTIONS: [(i64, i64); 8] = [
    (-1, 0),
    (-1, -1),
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
];

/// The outer boundary of every 8-connected dark region big enough to
/// give a contour of `min_len` pixels, traced pixel by pixel.
fn outer_contours(dark: &[bool], w: usize, h: usize, min_len: f64) -> Vec<Vec<[i64; 2]>> {
    let (wi, hi) = (w as i64, h as i64);
    let is_dark =
        |x: i64, y: i64| x >= 0 && y >= 0 && x < wi && y < hi && dark[(y * wi + x) as usize];
    let mut label = vec![0u32; w * h];
    let mut contours = Vec::new();
    let mut next_label = 0u32;
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !dark[start] || label[start] != 0 {
            continue;
        }
        // The region, and its bounding box.
        next_label += 1;
        label[start] = next_label;
        stack.push(start);
        let (mut x0, mut x1, mut y0, mut y1) = (wi, 0, hi, 0);
        let mut size = 0usize;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
            for (dx, dy) in DIRECTIONS {
                let (nx, ny) = (x + dx, y + dy);
                if is_dark(nx, ny) {
                    let j = (ny * wi + nx) as usize;
                    if label[j] == 0 {
                        label[j] = next_label;
                        stack.push(j);
                    }
                }
            }
        }
        if (2 * (x1 - x0 + y1 - y0)) as f64 + 4.0 < min_len {
            continue;
        }
        // Moore-neighbour tracing from the region's first pixel in raster
        // order; its west neighbour is outside.
        let s = [(start % w) as i64, (start / w) as i64];
        let mut contour = vec![s];
        let mut c = s;
        let mut back = 0usize;
        for _ in 0..4 * size + 8 {
            let Some(d) = (1..=8).map(|k| (back + k) % 8).find(|&d| {
                let (dx, dy) = DIRECTIONS[d];
                is_dark(c[0] + dx, c[1] + dy)
            }) else {
                break;
            };
            let n = [c[0] + DIRECTIONS[d].0, c[1] + DIRECTIONS[d].1];
            if c == s && contour.len() > 2 && n == contour[1] {
                contour.pop();
                break;
            }
            // The last outside neighbour looked at, seen from n.
            let (bx, by) = (
                c[0] + DIRECTIONS[(d + 7) % 8].0,
                c[1] + DIRECTIONS[(d + 7) % 8].1,
            );
            back = DIRECTIONS
                .iter()
                .position(|&(dx, dy)| (n[0] + dx, n[1] + dy) == (bx, by))
                .unwrap_or(0);
            contour.push(n);
            c = n;
        }
        contours.push(contour);
    }
    contours
}

/// The contour simplified (Douglas–Peucker, closed, from its two farthest
/// points); `Some` when that leaves a convex quadrilateral, clockwise.
fn quadrilateral(contour: &[[i64; 2]], epsilon: f64) -> Option<[[f64; 2]; 4]> {
    let n = contour.len();
    if n < 4 {
        return None;
    }
    let p = |i: usize| [contour[i % n][0] as f64, contour[i % n][1] as f64];
    let farthest = |from: usize| {
        (0..n)
            .max_by(|&a, &b| dist(p(from), p(a)).total_cmp(&dist(p(from), p(b))))
            .unwrap_or(0)
    };
    let a = farthest(farthest(0));
    let b = farthest(a);
    let (a, b) = (a.min(b), a.max(b));
    if a == b {
        return None;
    }
    let mut keep = vec![a];
    simplify(&p, a, b, epsilon, &mut keep);
    keep.push(b);
    simplify(&p, b, a + n, epsilon, &mut keep);
    if keep.len() != 4 {
        return None;
    }
    let mut q = [p(keep[0]), p(keep[1]), p(keep[2]), p(keep[3])];
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let turns: Vec<f64> = (0..4)
        .map(|k| cross(q[k], q[(k + 1) % 4], q[(k + 2) % 4]))
        .collect();
    if !(turns.iter().all(|&t| t > 0.0) || turns.iter().all(|&t| t < 0.0)) {
        return None;
    }
    // OpenCV's order: p1 − p0 turns towards p2 − p0 clockwise on screen.
    if cross(q[0], q[1], q[2]) < 0.0 {
        q.swap(1, 3);
    }
    Some(q)
}

/// Douglas–Peucker between contour indices `from` and `to` (may pass the
/// end): pushes the kept inner points in order.
fn simplify(
    p: &impl Fn(usize) -> [f64; 2],
    from: usize,
    to: usize,
    epsilon: f64,
    keep: &mut Vec<usize>,
) {
    if to <= from + 1 {
        return;
    }
    let (a, b) = (p(from), p(to));
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = (dx * dx + dy * dy).sqrt().max(1e-9);
    let (far, d) = (from + 1..to)
        .map(|i| {
            let q = p(i);
            (i, ((q[0] - a[0]) * dy - (q[1] - a[1]) * dx).abs() / len)
        })
        .fold((from, -1.0), |m, x| if x.1 > m.1 { x } else { m });
    if d > epsilon {
        simplify(p, from, far, epsilon, keep);
        keep.push(far);
        simplify(p, far, to, epsilon, keep);
    }
}
