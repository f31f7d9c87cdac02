//! Corner candidates: saddle points of the smoothed image whose
//! surroundings read as the crossing of two straight edges.

use super::Gray;

/// A candidate inner corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Candidate {
    /// Pixel position.
    pub p: [f64; 2],
    /// The two edge directions through it, radians in [0, π), `dirs[0] <
    /// dirs[1]`.
    pub dirs: [f64; 2],
}

/// At most this many candidates are kept (the strongest): a board has far
/// fewer corners, clutter can have many more saddles.
const MAX_CANDIDATES: usize = 6000;

/// Saddle peaks of `img` (already smoothed), strongest first: candidates
/// that pass the ring test, and every peak's position (where a missing
/// corner of a grid is looked for).
pub(super) struct Saddles {
    /// Peaks that read as corners.
    pub candidates: Vec<Candidate>,
    /// Every peak.
    pub peaks: Vec<[f64; 2]>,
}

/// Every candidate of `img` (already smoothed).
pub(super) fn candidates(img: &Gray) -> Saddles {
    let (w, h) = (img.width, img.height);
    let mut response = vec![0.0f32; w * h];
    let mut max = 0.0f32;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = img.at(x, y);
            let ixx = img.at(x + 1, y) - 2.0 * c + img.at(x - 1, y);
            let iyy = img.at(x, y + 1) - 2.0 * c + img.at(x, y - 1);
            let ixy = (img.at(x + 1, y + 1) - img.at(x - 1, y + 1) - img.at(x + 1, y - 1)
                + img.at(x - 1, y - 1))
                / 4.0;
            // Negative Hessian determinant: a saddle.
            let r = ixy * ixy - ixx * iyy;
            response[y * w + x] = r;
            max = max.max(r);
        }
    }
    // A low floor: dim corners (a shadowed board, a lighting gradient) are
    // kept; the ring test below decides.
    let threshold = max * 0.002;
    let mut peaks = Vec::new();
    let radius = 3i64;
    for y in 4..h - 4 {
        'pixel: for x in 4..w - 4 {
            let r = response[y * w + x];
            if r <= threshold {
                continue;
            }
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let other = response[ny as usize * w + nx as usize];
                    // Ties go to the first in scan order.
                    if other > r || (other == r && (dy, dx) < (0, 0)) {
                        continue 'pixel;
                    }
                }
            }
            peaks.push((r, x, y));
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    peaks.truncate(MAX_CANDIDATES);
    let base = (w.min(h) as f64 / 200.0).clamp(2.5, 6.0);
    let positions: Vec<[f64; 2]> = peaks
        .iter()
        .map(|&(_, x, y)| subpixel_peak(&response, w, x, y))
        .collect();
    let candidates = positions
        .iter()
        .filter_map(|&p| {
            // Two radii must agree: a real crossing looks the same at both.
            let near = ring(img, p, base)?;
            let far = ring(img, p, base * 1.5)?;
            let agree = |a: [f64; 2], b: [f64; 2]| {
                let limit = 20f64.to_radians();
                (angle_between(a[0], b[0]) < limit && angle_between(a[1], b[1]) < limit)
                    || (angle_between(a[0], b[1]) < limit && angle_between(a[1], b[0]) < limit)
            };
            agree(near, far).then_some(Candidate { p, dirs: near })
        })
        .collect();
    Saddles {
        candidates,
        peaks: positions,
    }
}

/// The response peak to a fraction of a pixel (a parabola through the
/// neighbours on each axis).
fn subpixel_peak(response: &[f32], w: usize, x: usize, y: usize) -> [f64; 2] {
    let at = |x: usize, y: usize| f64::from(response[y * w + x]);
    let offset = |l: f64, c: f64, r: f64| {
        let d = l - 2.0 * c + r;
        if d.abs() < 1e-12 {
            0.0
        } else {
            (0.5 * (l - r) / d).clamp(-0.5, 0.5)
        }
    };
    [
        x as f64 + offset(at(x - 1, y), at(x, y), at(x + 1, y)),
        y as f64 + offset(at(x, y - 1), at(x, y), at(x, y + 1)),
    ]
}

/// Unsigned angle between two line directions (mod π).
pub(super) fn angle_between(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(std::f64::consts::PI);
    d.min(std::f64::consts::PI - d)
}

/// Reads a circle of `radius` around `p`: exactly four transitions between
/// clearly dark and clearly light, in two opposite pairs (two straight
/// edges crossing), each sector wide enough to be a square's corner.
pub(super) fn ring(img: &Gray, p: [f64; 2], radius: f64) -> Option<[f64; 2]> {
    use std::f64::consts::{PI, TAU};
    const N: usize = 48;
    let values: Vec<f32> = (0..N)
        .map(|k| {
            let a = k as f64 / N as f64 * TAU;
            img.sample(p[0] + radius * a.cos(), p[1] + radius * a.sin())
        })
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi - lo < 12.0 {
        return None;
    }
    let mid = (lo + hi) / 2.0;
    // Grey between the two (a margin's edge against the background) must
    // not count as a square: only clearly dark or light samples decide.
    let band = 0.15 * (hi - lo);
    let class: Vec<Option<bool>> = values
        .iter()
        .map(|&v| ((v - mid).abs() > band).then_some(v > mid))
        .collect();
    let decided = class.iter().filter(|c| c.is_some()).count();
    if decided < N * 2 / 3 {
        return None;
    }
    // Transitions between consecutive decided samples, at the angle where
    // the ring crosses the middle level.
    let known: Vec<(usize, bool)> = class
        .iter()
        .enumerate()
        .filter_map(|(k, c)| c.map(|c| (k, c)))
        .collect();
    let mut transitions = Vec::new();
    for w in 0..known.len() {
        let (k0, c0) = known[w];
        let (k1, c1) = known[(w + 1) % known.len()];
        if c0 == c1 {
            continue;
        }
        let k1u = if k1 <= k0 { k1 + N } else { k1 };
        // Linear interpolation of the crossing between the two samples.
        let (v0, v1) = (values[k0], values[k1 % N]);
        let f = if (v1 - v0).abs() > 1e-6 {
            f64::from((mid - v0) / (v1 - v0)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        let k = k0 as f64 + f * (k1u - k0) as f64;
        transitions.push((k / N as f64 * TAU, c1));
    }
    if transitions.len() != 4 {
        return None;
    }
    let t: Vec<f64> = transitions.iter().map(|t| t.0).collect();
    // Each sector between transitions spans at least 30°.
    for i in 0..4 {
        let span = (t[(i + 1) % 4] - t[i]).rem_euclid(TAU);
        if span < 30f64.to_radians() {
            return None;
        }
    }
    // Opposite transitions lie on one straight edge through the corner.
    let line = |a: f64, b: f64| -> Option<f64> {
        let off = ((b - a).rem_euclid(TAU) - PI).abs();
        (off < 35f64.to_radians()).then(|| {
            // The mean direction of a and b − π, as a line angle in [0, π).
            let (c, s) = (a.cos() - b.cos(), a.sin() - b.sin());
            s.atan2(c).rem_euclid(PI)
        })
    };
    let l0 = line(t[0], t[2])?;
    let l1 = line(t[1], t[3])?;
    if angle_between(l0, l1) < 20f64.to_radians() {
        return None;
    }
    let dirs = if l0 < l1 { [l0, l1] } else { [l1, l0] };
    // Opposite sectors of a crossing are alike (a square's diagonal
    // neighbour has its colour): sample half way between the edges on
    // both sides of the corner, for both pairs of sectors.
    let probe = |a: f64| img.sample(p[0] + radius * a.cos(), p[1] + radius * a.sin()) > mid;
    let bisector = (dirs[0] + dirs[1]) / 2.0;
    let other = bisector + PI / 2.0;
    if probe(bisector) != probe(bisector + PI)
        || probe(other) != probe(other + PI)
        || probe(bisector) == probe(other)
    {
        return None;
    }
    Some(dirs)
}
