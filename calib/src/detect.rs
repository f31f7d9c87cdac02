//! Checkerboard detection with sub-pixel corners.
//!
//! Written here because no maintained Rust crate finds checkerboards:
//! 1. saddle points of the smoothed image (negative Hessian determinant),
//!    kept when a ring around them reads dark/light/dark/light;
//! 2. a grid grown from the most central saddle, each next corner predicted
//!    by extrapolating its two neighbours (so perspective and distortion are
//!    followed), until exactly COLS×ROWS corners are placed;
//! 3. orientation fixed by the board's handedness and its dark origin square
//!    (see [`Checkerboard`]);
//! 4. every corner refined to sub-pixel precision the way OpenCV's
//!    `cornerSubPix` does: the point where the image gradients in a window
//!    are all orthogonal to the lines joining it to their pixels.

use std::collections::{HashMap, VecDeque};

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

    fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Bilinear sample; clamps at the border.
    fn sample(&self, x: f64, y: f64) -> f32 {
        let x = x.clamp(0.0, (self.width - 1) as f64);
        let y = y.clamp(0.0, (self.height - 1) as f64);
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
        let bottom = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    fn blurred(&self, sigma: f32) -> Self {
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

/// Finds the board's inner corners, row by row as OpenCV orders them; `None`
/// when the whole board is not visible.
pub fn find_checkerboard(image: &Gray, board: &Checkerboard) -> Option<Vec<[f64; 2]>> {
    let (w, h) = (image.width, image.height);
    if w < 16 || h < 16 {
        return None;
    }
    let smooth = image.blurred(1.2 * (w.max(h) as f32 / 800.0).max(1.0));
    let candidates = saddles(&smooth);
    if candidates.len() < board.corners() {
        return None;
    }
    let grid = grow_grid(&candidates)?;
    let ordered = orient(&grid, &candidates, board, &smooth)?;
    // The window stays inside the corner's squares: under half the local spacing.
    let spacing = median_spacing(&ordered, board);
    let half = ((spacing * 0.4).floor() as i64).clamp(2, 10);
    let sharp = image.blurred(0.7);
    Some(
        ordered
            .iter()
            .map(|&p| refine_corner(&sharp, p, half))
            .collect(),
    )
}

/// Saddle points (pixel positions) that read as checkerboard corners.
fn saddles(img: &Gray) -> Vec<[f64; 2]> {
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
            let r = ixy * ixy - ixx * iyy;
            response[y * w + x] = r;
            max = max.max(r);
        }
    }
    let threshold = max * 0.01;
    let mut out = Vec::new();
    let radius = 3i64;
    let ring = (w.min(h) as f64 / 120.0).clamp(3.0, 6.0);
    for y in 4..h - 4 {
        'pixel: for x in 4..w - 4 {
            let r = response[y * w + x];
            if r <= threshold {
                continue;
            }
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 || (dx == 0 && dy == 0)
                    {
                        continue;
                    }
                    let other = response[ny as usize * w + nx as usize];
                    // Ties go to the first in scan order.
                    if other > r || (other == r && (dy, dx) < (0, 0)) {
                        continue 'pixel;
                    }
                }
            }
            if reads_as_corner(img, x as f64, y as f64, ring) {
                out.push([x as f64, y as f64]);
            }
        }
    }
    out
}

/// Around a checkerboard corner, a circle crosses dark, light, dark, light.
fn reads_as_corner(img: &Gray, x: f64, y: f64, radius: f64) -> bool {
    const N: usize = 24;
    let values: Vec<f32> = (0..N)
        .map(|k| {
            let a = k as f64 / N as f64 * std::f64::consts::TAU;
            img.sample(x + radius * a.cos(), y + radius * a.sin())
        })
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi - lo < 15.0 {
        return false;
    }
    // Only clearly dark or clearly light samples count: grey between the
    // two (the background beside the board's edge) must not read as a square.
    let mid = (lo + hi) / 2.0;
    let band = 0.2 * (hi - lo);
    let signs: Vec<bool> = values
        .iter()
        .filter(|&&v| (v - mid).abs() > band)
        .map(|&v| v > mid)
        .collect();
    let n = signs.len();
    n >= N / 2 && (0..n).filter(|&k| signs[k] != signs[(k + 1) % n]).count() == 4
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Grid cell → candidate index, grown from the most central candidate.
fn grow_grid(points: &[[f64; 2]]) -> Option<HashMap<(i64, i64), usize>> {
    let n = points.len();
    let centre = {
        let mut xs: Vec<f64> = points.iter().map(|p| p[0]).collect();
        let mut ys: Vec<f64> = points.iter().map(|p| p[1]).collect();
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        [xs[n / 2], ys[n / 2]]
    };
    let seed =
        (0..n).min_by(|&a, &b| dist2(points[a], centre).total_cmp(&dist2(points[b], centre)))?;
    let mut near: Vec<usize> = (0..n).filter(|&i| i != seed).collect();
    near.sort_by(|&a, &b| {
        dist2(points[a], points[seed]).total_cmp(&dist2(points[b], points[seed]))
    });
    let first = *near.first()?;
    let a = [
        points[first][0] - points[seed][0],
        points[first][1] - points[seed][1],
    ];
    let la = (a[0] * a[0] + a[1] * a[1]).sqrt();
    // The second axis: the near neighbour most nearly perpendicular to the first.
    let second = near
        .iter()
        .take(8)
        .copied()
        .filter(|&i| i != first)
        .min_by(|&i, &j| {
            let score = |k: usize| {
                let b = [
                    points[k][0] - points[seed][0],
                    points[k][1] - points[seed][1],
                ];
                let lb = (b[0] * b[0] + b[1] * b[1]).sqrt();
                let cos = ((a[0] * b[0] + a[1] * b[1]) / (la * lb)).abs();
                cos + (lb / la).ln().abs() * 0.5
            };
            score(i).total_cmp(&score(j))
        })?;
    let mut grid: HashMap<(i64, i64), usize> = HashMap::new();
    let mut used = vec![false; n];
    for (cell, idx) in [((0, 0), seed), ((1, 0), first), ((0, 1), second)] {
        grid.insert(cell, idx);
        used[idx] = true;
    }
    let mut queue: VecDeque<(i64, i64)> = grid.keys().copied().collect();
    let dirs = [(1, 0), (-1, 0), (0, 1), (0, -1)];
    let mut rounds = 0;
    while let Some(cell) = queue.pop_front() {
        rounds += 1;
        if rounds > 20 * n {
            break;
        }
        for d in dirs {
            let next = (cell.0 + d.0, cell.1 + d.1);
            if grid.contains_key(&next) {
                continue;
            }
            // The step along d, from this cell's own neighbour behind it, or
            // from a parallel neighbour pair next to it.
            let p = points[grid[&cell]];
            let behind = (cell.0 - d.0, cell.1 - d.1);
            let step = if let Some(&b) = grid.get(&behind) {
                Some([p[0] - points[b][0], p[1] - points[b][1]])
            } else {
                [(d.1, d.0), (-d.1, -d.0)].iter().find_map(|side| {
                    let s0 = grid.get(&(cell.0 + side.0, cell.1 + side.1))?;
                    let s1 = grid.get(&(cell.0 + side.0 + d.0, cell.1 + side.1 + d.1))?;
                    Some([
                        points[*s1][0] - points[*s0][0],
                        points[*s1][1] - points[*s0][1],
                    ])
                })
            };
            let Some(step) = step else { continue };
            let predicted = [p[0] + step[0], p[1] + step[1]];
            // Within 30 % of a step of the prediction.
            let tolerance = 0.09 * (step[0] * step[0] + step[1] * step[1]);
            let best = (0..n).filter(|&k| !used[k]).min_by(|&i, &j| {
                dist2(points[i], predicted).total_cmp(&dist2(points[j], predicted))
            });
            if let Some(k) = best {
                if dist2(points[k], predicted) < tolerance {
                    grid.insert(next, k);
                    used[k] = true;
                    queue.push_back(next);
                    // Cells that could not be predicted before may be now.
                    queue.push_back(cell);
                }
            }
        }
    }
    Some(grid)
}

/// How the grown grid's axes map onto the board's.
#[derive(Debug, Clone, Copy)]
struct Layout {
    transposed: bool,
    flip_i: bool,
    flip_j: bool,
}

/// The grid as the board's corners in OpenCV's order, or `None` when it
/// is not exactly the board.
fn orient(
    grid: &HashMap<(i64, i64), usize>,
    points: &[[f64; 2]],
    board: &Checkerboard,
    img: &Gray,
) -> Option<Vec<[f64; 2]>> {
    let (i0, i1) = grid
        .keys()
        .fold((i64::MAX, i64::MIN), |(a, b), c| (a.min(c.0), b.max(c.0)));
    let (j0, j1) = grid
        .keys()
        .fold((i64::MAX, i64::MIN), |(a, b), c| (a.min(c.1), b.max(c.1)));
    let (ni, nj) = ((i1 - i0 + 1) as usize, (j1 - j0 + 1) as usize);
    if grid.len() != board.corners() || ni * nj != board.corners() {
        return None;
    }
    let at = |i: i64, j: i64| points[grid[&(i0 + i, j0 + j)]];
    // Board (i, j) → grid cell: the axes possibly swapped, each possibly reversed.
    let (c, r) = (board.cols as i64, board.rows as i64);
    let cell = |l: Layout, i: usize, j: usize| {
        let (i, j) = (i as i64, j as i64);
        let i = if l.flip_i { c - 1 - i } else { i };
        let j = if l.flip_j { r - 1 - j } else { j };
        if l.transposed {
            (j, i)
        } else {
            (i, j)
        }
    };
    let layouts = [false, true]
        .into_iter()
        .filter(|&t| {
            (ni, nj)
                == if t {
                    (board.rows, board.cols)
                } else {
                    (board.cols, board.rows)
                }
        })
        .flat_map(|transposed| {
            [(false, false), (true, false), (false, true), (true, true)].map(|(flip_i, flip_j)| {
                Layout {
                    transposed,
                    flip_i,
                    flip_j,
                }
            })
        });
    let square_level = |l: Layout, i: usize, j: usize| {
        let q = [
            cell(l, i, j),
            cell(l, i + 1, j),
            cell(l, i, j + 1),
            cell(l, i + 1, j + 1),
        ]
        .map(|(a, b)| at(a, b));
        let centre = [
            (q[0][0] + q[1][0] + q[2][0] + q[3][0]) / 4.0,
            (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4.0,
        ];
        img.sample(centre[0], centre[1])
    };
    let chosen = layouts
        .filter(|&l| {
            // Right-handed with z into the image: x then y turn clockwise on screen.
            let (o, x, y) = (cell(l, 0, 0), cell(l, 1, 0), cell(l, 0, 1));
            let (po, px, py) = (at(o.0, o.1), at(x.0, x.1), at(y.0, y.1));
            let du = [px[0] - po[0], px[1] - po[1]];
            let dv = [py[0] - po[0], py[1] - po[1]];
            du[0] * dv[1] - du[1] * dv[0] > 0.0
        })
        // The origin square is dark.
        .min_by(|&f, &g| square_level(f, 0, 0).total_cmp(&square_level(g, 0, 0)))?;
    Some(
        (0..board.rows)
            .flat_map(|j| (0..board.cols).map(move |i| (i, j)))
            .map(|(i, j)| {
                let (a, b) = cell(chosen, i, j);
                at(a, b)
            })
            .collect(),
    )
}

fn median_spacing(corners: &[[f64; 2]], board: &Checkerboard) -> f64 {
    let mut d: Vec<f64> = (0..board.rows)
        .flat_map(|j| (0..board.cols - 1).map(move |i| (i, j)))
        .map(|(i, j)| dist2(corners[j * board.cols + i], corners[j * board.cols + i + 1]).sqrt())
        .collect();
    d.sort_by(f64::total_cmp);
    d[d.len() / 2]
}

/// OpenCV's `cornerSubPix` criterion, iterated: q = (Σ g gᵀ)⁻¹ Σ g gᵀ p over a
/// Gaussian-weighted window.
fn refine_corner(img: &Gray, start: [f64; 2], half: i64) -> [f64; 2] {
    let mut q = start;
    let sigma = half as f64 / 1.5;
    for _ in 0..30 {
        let (mut a, mut b, mut c, mut bx, mut by) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for dy in -half..=half {
            for dx in -half..=half {
                let (x, y) = (q[0] + dx as f64, q[1] + dy as f64);
                if x < 1.0 || y < 1.0 || x > (img.width - 2) as f64 || y > (img.height - 2) as f64 {
                    continue;
                }
                let gx = (img.sample(x + 1.0, y) - img.sample(x - 1.0, y)) as f64 / 2.0;
                let gy = (img.sample(x, y + 1.0) - img.sample(x, y - 1.0)) as f64 / 2.0;
                let wgt = (-((dx * dx + dy * dy) as f64) / (2.0 * sigma * sigma)).exp();
                let (gxx, gxy, gyy) = (gx * gx * wgt, gx * gy * wgt, gy * gy * wgt);
                a += gxx;
                b += gxy;
                c += gyy;
                bx += gxx * x + gxy * y;
                by += gxy * x + gyy * y;
            }
        }
        let det = a * c - b * b;
        if det.abs() < 1e-9 {
            break;
        }
        let next = [(c * bx - b * by) / det, (a * by - b * bx) / det];
        let moved = dist2(next, q);
        // A refinement that walks off the corner is worse than none.
        if dist2(next, start) > (half as f64).powi(2) {
            return start;
        }
        q = next;
        if moved < 1e-8 {
            break;
        }
    }
    q
}
