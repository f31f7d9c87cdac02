//! Checkerboard detection with sub-pixel corners, made for real photos:
//! clutter (other checkered patterns, striped clothes, keyboards), boards
//! with thin margins, lighting gradients, blur and steep perspective.
//!
//! Written here because no maintained Rust crate finds checkerboards:
//! 1. `saddle`: saddle points of the smoothed image, kept when a ring
//!    around them crosses exactly two straight edges (dark, light, dark,
//!    light); each keeps its two edge directions and its polarity (which
//!    diagonal is dark);
//! 2. `grid`: every candidate is linked to its nearest neighbour along
//!    each of its edge directions when the link is mutual, the neighbour's
//!    edges agree and its polarity is the opposite (neighbouring corners of
//!    a checkerboard alternate); linked components get integer grid
//!    coordinates and are completed from predictions; border rows and
//!    columns not filled end to end (corners read off a shirt's stripes
//!    or a margin's edge) are peeled, and those whose outer squares are
//!    not squares (a thin margin against a dark background) trimmed; a
//!    component that is exactly the board, whole, is the board. Partial
//!    boards are refused, never guessed;
//! 3. `orient`: orientation fixed by the board's handedness and its dark
//!    origin square (see [`Checkerboard`]);
//! 4. `refine`: every corner refined to sub-pixel precision the way
//!    OpenCV's `cornerSubPix` does.

mod grid;
mod orient;
pub(crate) mod refine;
mod saddle;

use crate::board::Checkerboard;

/// A grey image.
#[derive(Debug, Clone)]
pub struct Gray {
    /// Pixels.
    pub width: usize,
    /// Pixels.
    pub height: usize,
    /// Row-major intensities.
    pub data: Vec<f32>,
}

impl Gray {
    /// From 8-bit grey pixels.
    pub fn from_u8(width: usize, height: usize, data: &[u8]) -> Self {
        Self {
            width,
            height,
            data: data.iter().map(|&v| v as f32).collect(),
        }
    }

    pub(crate) fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Bilinear sample; clamps at the border.
    pub(crate) fn sample(&self, x: f64, y: f64) -> f32 {
        let x = x.clamp(0.0, (self.width - 1) as f64);
        let y = y.clamp(0.0, (self.height - 1) as f64);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
        let bottom = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    pub(crate) fn blurred(&self, sigma: f32) -> Self {
        let r = (3.0 * sigma).ceil() as i64;
        let kernel: Vec<f32> = (-r..=r)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let sum: f32 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
        let (w, h) = (self.width as i64, self.height as i64);
        let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
            let mut out = vec![0.0; src.len()];
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0;
                    for (k, weight) in kernel.iter().enumerate() {
                        let o = k as i64 - r;
                        let (sx, sy) = if horizontal {
                            ((x + o).clamp(0, w - 1), y)
                        } else {
                            (x, (y + o).clamp(0, h - 1))
                        };
                        acc += weight * src[(sy * w + sx) as usize];
                    }
                    out[(y * w + x) as usize] = acc;
                }
            }
            out
        };
        let data = pass(&pass(&self.data, true), false);
        Self {
            width: self.width,
            height: self.height,
            data,
        }
    }
}

/// Finds the board's inner corners, row by row as OpenCV orders them;
/// `None` when the whole board is not visible (a partial board is refused,
/// never completed by guesswork).
pub fn find_checkerboard(image: &Gray, board: &Checkerboard) -> Option<Vec<[f64; 2]>> {
    let (w, h) = (image.width, image.height);
    if w < 16 || h < 16 {
        return None;
    }
    // Smoothing before saddles are looked for: more quiets noise, JPEG
    // blocks and texture on large images; less keeps small, blurred squares
    // apart. The board is looked for at each in turn.
    let scaled = 1.2 * (w.max(h) as f32 / 800.0).max(1.0);
    let (smooth, grid) = [scaled, 1.0, 2.0 * scaled].into_iter().find_map(|sigma| {
        let smooth = image.blurred(sigma);
        let saddles = saddle::candidates(&smooth);
        if saddles.peaks.len() < board.corners() {
            return None;
        }
        let grid = grid::find_board(&saddles, board, &smooth)?;
        Some((smooth, grid))
    })?;
    let ordered = orient::ordered(&grid, board, &smooth)?;
    // OpenCV's usual window (11, a 23-pixel square), shrunk to stay
    // inside the corner's squares where they are small (towards a
    // fisheye's edge, or far away) or thin (seen obliquely).
    let spacing = orient::median_spacing(&ordered, board);
    let halves: Vec<i64> = (0..ordered.len())
        .map(|k| ((square_size_at(&ordered, board, k) * 0.45).floor() as i64).clamp(2, 11))
        .collect();
    let refined: Vec<[f64; 2]> = ordered
        .iter()
        .zip(&halves)
        .map(|(&p, &half)| refine::refine_corner(image, p, half))
        .collect();
    verified(refined, board, &smooth, image, &halves, spacing)
}

/// The size of the squares at corner `k`, pixels: the distance to its
/// nearest grid neighbour, or less where a square beside it is seen so
/// obliquely that it is thinner than its side (the width of a cell: its
/// area over its longer side). A window wider than that reaches the far
/// edge of a thin square, and `cornerSubPix` then slides along it (seen on
/// a fisheye's edge: 7 px off the corner).
fn square_size_at(corners: &[[f64; 2]], board: &Checkerboard, k: usize) -> f64 {
    let (cols, rows) = (board.cols as i64, board.rows as i64);
    let (i, j) = (k as i64 % cols, k as i64 / cols);
    let at = |i: i64, j: i64| {
        ((0..cols).contains(&i) && (0..rows).contains(&j)).then(|| corners[(j * cols + i) as usize])
    };
    let here = corners[k];
    let nearest = [(1, 0), (-1, 0), (0, 1), (0, -1)]
        .iter()
        .filter_map(|(di, dj)| at(i + di, j + dj))
        .map(|q| dist2(here, q).sqrt())
        .fold(f64::INFINITY, f64::min);
    let thinnest = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
        .iter()
        .filter_map(|&(di, dj)| Some((at(i + di, j)?, at(i, j + dj)?)))
        .map(|(a, b)| {
            let (u, v) = (
                [a[0] - here[0], a[1] - here[1]],
                [b[0] - here[0], b[1] - here[1]],
            );
            let area = (u[0] * v[1] - u[1] * v[0]).abs();
            area / dist2(a, here).max(dist2(b, here)).sqrt().max(f64::EPSILON)
        })
        .fold(f64::INFINITY, f64::min);
    nearest.min(thinnest)
}

/// Every refined corner must still read as a corner at the board's scale
/// (a start on a marker's dot or a speck refines onto it, not onto the
/// corner). One that does not is refined again from where its neighbours
/// put it; if that fails too the board is refused: no wrong corner leaves.
fn verified(
    mut corners: Vec<[f64; 2]>,
    board: &Checkerboard,
    smooth: &Gray,
    image: &Gray,
    halves: &[i64],
    spacing: f64,
) -> Option<Vec<[f64; 2]>> {
    let (cols, rows) = (board.cols as i64, board.rows as i64);
    for k in 0..corners.len() {
        let (i, j) = ((k % board.cols) as i64, (k / board.cols) as i64);
        let at = |i: i64, j: i64| -> Option<[f64; 2]> {
            ((0..cols).contains(&i) && (0..rows).contains(&j))
                .then(|| corners[(j * cols + i) as usize])
        };
        // The scale here: the distance to the nearest neighbour (squares
        // shrink towards a fisheye's edge), never above the board's median.
        let local = [(1, 0), (-1, 0), (0, 1), (0, -1)]
            .iter()
            .filter_map(|(di, dj)| at(i + di, j + dj))
            .map(|q| dist2(q, corners[k]).sqrt())
            .fold(spacing, f64::min);
        let reads = |p: [f64; 2]| {
            [0.3, 0.4]
                .iter()
                .any(|f| saddle::ring(smooth, p, (f * local).max(2.0)).is_some())
        };
        // Between two neighbours the midpoint is a good guess; past the
        // last one (at the board's edge, where a lens bends lines most) an
        // extrapolation is only a start for refinement, never a proof.
        let mut preds = Vec::new();
        let mut interpolated = false;
        for (di, dj) in [(1, 0), (0, 1)] {
            if let (Some(a), Some(b)) = (at(i + di, j + dj), at(i - di, j - dj)) {
                preds.push([(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]);
                interpolated = true;
            }
        }
        if preds.is_empty() {
            for (di, dj) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
                if let (Some(a), Some(b)) = (at(i + di, j + dj), at(i + 2 * di, j + 2 * dj)) {
                    preds.push([2.0 * a[0] - b[0], 2.0 * a[1] - b[1]]);
                }
            }
        }
        if preds.is_empty() {
            return None;
        }
        let n = preds.len() as f64;
        let p = [
            preds.iter().map(|q| q[0]).sum::<f64>() / n,
            preds.iter().map(|q| q[1]).sum::<f64>() / n,
        ];
        // A corner reads as one, or sits where its neighbours put it
        // (a shadow's edge across it spoils the reading, not the place).
        // Square edges join a corner to its neighbours: proof enough where
        // a lens curves the edges too much for the ring. A board's own
        // corner (no neighbours on both sides) has only an extrapolated
        // prediction and the most bent edges: one straight edge and the
        // ring, or the prediction, must agree.
        let neighbours: Vec<[f64; 2]> = [(1, 0), (-1, 0), (0, 1), (0, -1)]
            .iter()
            .filter_map(|(di, dj)| at(i + di, j + dj))
            .collect();
        let fits = |q: [f64; 2]| {
            let edges = neighbours
                .iter()
                .filter(|&&n| on_square_edge(smooth, q, n))
                .count();
            if interpolated {
                reads(q) || dist2(q, p).sqrt() < 0.2 * local || edges == neighbours.len()
            } else {
                edges >= 1 && (reads(q) || dist2(q, p).sqrt() < 0.3 * local)
            }
        };
        if fits(corners[k]) {
            continue;
        }
        let again = refine::refine_corner(image, p, halves[k]);
        if !fits(again) {
            tracing::debug!(corner = k, at = ?corners[k], predicted = ?p, local, "a refined corner is no corner");
            return None;
        }
        corners[k] = again;
    }
    Some(corners)
}

/// Whether the segment from `a` to `b` runs along the edge between a dark
/// and a light square: across it, one side is darker all along.
fn on_square_edge(smooth: &Gray, a: [f64; 2], b: [f64; 2]) -> bool {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 4.0 {
        return false;
    }
    // Sides sampled a fifth of the segment's length away from it.
    let (nx, ny) = (-dy / len * 0.2 * len, dx / len * 0.2 * len);
    let contrasts: Vec<f32> = [0.3, 0.5, 0.7]
        .iter()
        .map(|t| {
            let (x, y) = (a[0] + t * dx, a[1] + t * dy);
            smooth.sample(x + nx, y + ny) - smooth.sample(x - nx, y - ny)
        })
        .collect();
    let strongest = contrasts.iter().fold(0.0f32, |m, c| m.max(c.abs()));
    strongest >= 20.0
        && contrasts
            .iter()
            .all(|c| c.signum() == contrasts[0].signum() && c.abs() >= 0.3 * strongest)
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}
