//! ChArUco boards: a checkerboard whose light squares hold ArUco markers,
//! so that every visible corner is known by its id even when most of the
//! board is out of view. Laid out and detected as OpenCV's `CharucoBoard`
//! and `CharucoDetector` (OpenCV ≥ 4.6 layout, or the legacy one): markers
//! first, each corner placed by the homographies of the two markers beside
//! it, kept only when both were seen, refined as `cornerSubPix` does within
//! a window that stays clear of the markers, and the board refused when a
//! corner lies nearer another marker than its own two.

use nalgebra::Vector3;

use crate::aruco::{detect_markers, Dictionary, Marker};
use crate::detect::refine::refine_corner_until;
use crate::detect::Gray;
use crate::error::CalibError;
use crate::zhang::{homography, transfer};

/// A ChArUco board, counted in squares as OpenCV counts it.
///
/// Target frame: origin at the board's top-left outer corner, x along the
/// `squares_x` squares, y down along `squares_y`, z into the board.
#[derive(Debug, Clone, Copy)]
pub struct CharucoBoard {
    /// Squares along x.
    pub squares_x: usize,
    /// Squares along y.
    pub squares_y: usize,
    /// Side of a square, metres.
    pub square: f64,
    /// Side of a marker, metres.
    pub marker: f64,
    /// The markers' dictionary; marker ids count from 0 in the board.
    pub dictionary: Dictionary,
    /// OpenCV's legacy layout (before 4.6) for an even `squares_y`.
    pub legacy: bool,
    /// Printed inverted: white markers in dark squares.
    pub inverted: bool,
}

impl CharucoBoard {
    /// Parses `charuco:SQUARES_XxSQUARES_Y:SQUARE_M:MARKER_M:DICTIONARY`
    /// with optional `:legacy` and `:inverted`, e.g.
    /// `charuco:5x7:0.04:0.03:DICT_4X4_50`.
    pub fn parse(spec: &str) -> Result<Self, CalibError> {
        let bad = |why: &str| {
            CalibError::Argument(format!(
                "board `{spec}`: {why}; expected charuco:SQUARES_XxSQUARES_Y:SQUARE_M:MARKER_M:DICTIONARY[:legacy][:inverted], e.g. charuco:5x7:0.04:0.03:DICT_4X4_50"
            ))
        };
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() < 5 || parts[0] != "charuco" {
            return Err(bad("not a ChArUco board"));
        }
        let (x, y) = parts[1]
            .split_once('x')
            .ok_or_else(|| bad("no square counts"))?;
        let (squares_x, squares_y): (usize, usize) = (
            x.parse().map_err(|_| bad("bad square count"))?,
            y.parse().map_err(|_| bad("bad square count"))?,
        );
        let square: f64 = parts[2].parse().map_err(|_| bad("bad square size"))?;
        let marker: f64 = parts[3].parse().map_err(|_| bad("bad marker size"))?;
        let dictionary = Dictionary::named(parts[4]).ok_or_else(|| {
            bad(&format!(
                "unknown dictionary `{}` (known: {})",
                parts[4],
                Dictionary::names().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let (mut legacy, mut inverted) = (false, false);
        for flag in &parts[5..] {
            match *flag {
                "legacy" => legacy = true,
                "inverted" => inverted = true,
                other => return Err(bad(&format!("unknown option `{other}`"))),
            }
        }
        if squares_x < 2 || squares_y < 2 || squares_x * squares_y > 10_000 {
            return Err(bad("a board has 2 to 100 squares a side"));
        }
        if !(square > 0.0 && square < 1.0 && marker > 0.0 && marker < square) {
            return Err(bad("sizes in metres, the marker smaller than the square"));
        }
        let board = Self {
            squares_x,
            squares_y,
            square,
            marker,
            dictionary,
            legacy,
            inverted,
        };
        if board.marker_squares().len() > dictionary.len() {
            return Err(bad(&format!(
                "{} markers needed, {} has {}",
                board.marker_squares().len(),
                dictionary.name,
                dictionary.len()
            )));
        }
        Ok(board)
    }

    /// Inner corners along x.
    pub fn cols(&self) -> usize {
        self.squares_x - 1
    }

    /// Inner corners along y.
    pub fn rows(&self) -> usize {
        self.squares_y - 1
    }

    /// Number of inner corners (ids `0..corners()`, row by row).
    pub fn corners(&self) -> usize {
        self.cols() * self.rows()
    }

    /// Corner `id` in the target frame.
    pub fn corner(&self, id: usize) -> Vector3<f64> {
        let (i, j) = (id % self.cols(), id / self.cols());
        Vector3::new(
            (i + 1) as f64 * self.square,
            (j + 1) as f64 * self.square,
            0.0,
        )
    }

    /// The squares holding markers, in marker-id order (OpenCV's layout).
    pub fn marker_squares(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for y in 0..self.squares_y {
            for x in 0..self.squares_x {
                // The top-left square is dark, except in the legacy layout
                // of a board with an even number of rows.
                let marker_here = if self.legacy && self.squares_y.is_multiple_of(2) {
                    y % 2 == x % 2
                } else {
                    y % 2 != x % 2
                };
                if marker_here {
                    out.push((x, y));
                }
            }
        }
        out
    }

    /// Marker `id`'s corners on the board plane, clockwise from top-left.
    fn marker_corners(&self, square: (usize, usize)) -> [[f64; 2]; 4] {
        let margin = (self.square - self.marker) / 2.0;
        let (x, y) = (
            square.0 as f64 * self.square + margin,
            square.1 as f64 * self.square + margin,
        );
        let m = self.marker;
        [[x, y], [x + m, y], [x + m, y + m], [x, y + m]]
    }

    /// For corner `id`, the (marker id, marker corner) of the markers in
    /// the two light squares touching it.
    fn beside(&self, id: usize) -> Vec<(usize, usize)> {
        let (i, j) = (id % self.cols(), id / self.cols());
        let c = [(i + 1) as f64 * self.square, (j + 1) as f64 * self.square];
        self.marker_squares()
            .iter()
            .enumerate()
            .filter(|(_, &(x, y))| (x == i || x == i + 1) && (y == j || y == j + 1))
            .map(|(m, &sq)| {
                let corners = self.marker_corners(sq);
                let nearest = (0..4)
                    .min_by(|&a, &b| dist(corners[a], c).total_cmp(&dist(corners[b], c)))
                    .unwrap_or(0);
                (m, nearest)
            })
            .collect()
    }
}

/// The board's corners seen in the image, by id (ascending).
pub fn find_charuco(image: &Gray, board: &CharucoBoard) -> Vec<(usize, [f64; 2])> {
    let squares = board.marker_squares();
    let markers: Vec<Marker> = detect_markers(image, &board.dictionary, board.inverted)
        .into_iter()
        .filter(|m| m.id < squares.len())
        .collect();
    let by_id = |id: usize| markers.iter().find(|m| m.id == id);
    // Each marker's homography from the board plane to the image.
    let homographies: Vec<Option<nalgebra::Matrix3<f64>>> = markers
        .iter()
        .map(|m| homography(&board.marker_corners(squares[m.id]), &m.corners))
        .collect();
    let (w, h) = (image.width as f64, image.height as f64);
    let mut out = Vec::new();
    for id in 0..board.corners() {
        let beside = board.beside(id);
        // OpenCV's minMarkers: both markers beside the corner seen.
        if beside.len() < 2 || beside.iter().any(|&(m, _)| by_id(m).is_none()) {
            continue;
        }
        let c = board.corner(id);
        let placed: Vec<[f64; 2]> = beside
            .iter()
            .filter_map(|&(m, _)| {
                let k = markers.iter().position(|x| x.id == m)?;
                Some(transfer(homographies[k].as_ref()?, [c.x, c.y]))
            })
            .collect();
        if placed.len() < 2 {
            continue;
        }
        let start = [
            (placed[0][0] + placed[1][0]) / 2.0,
            (placed[0][1] + placed[1][1]) / 2.0,
        ];
        if !(start[0] >= 2.0 && start[1] >= 2.0 && start[0] < w - 2.0 && start[1] < h - 2.0) {
            continue;
        }
        // The window stays short of the nearest marker corner (OpenCV:
        // its distance less 2 pixels, at most 10).
        let clearance = beside
            .iter()
            .filter_map(|&(m, corner)| by_id(m).map(|x| dist(x.corners[corner], start)))
            .fold(f64::INFINITY, f64::min);
        let half = ((clearance - 2.0) as i64).clamp(1, 10);
        // Refined to convergence: OpenCV's CharucoDetector stops at 0.1 px.
        out.push((id, refine_corner_until(image, start, half, 30, 0.001)));
    }
    if !consistent(board, &markers, &out) {
        return Vec::new();
    }
    out
}

/// OpenCV's `checkBoard`: a corner must lie nearer the markers beside it
/// than any other marker's centre, and nearer those markers' corners
/// than the midpoints of their sides; otherwise the markers were matched
/// to the wrong board (or misread) and nothing is returned.
fn consistent(board: &CharucoBoard, markers: &[Marker], corners: &[(usize, [f64; 2])]) -> bool {
    for &(id, p) in corners {
        let beside = board.beside(id);
        let (mut own, mut other) = (0.0f64, f64::INFINITY);
        for m in markers {
            if let Some(&(_, k)) = beside.iter().find(|(b, _)| *b == m.id) {
                let nearest = m.corners[k];
                let d = dist(nearest, p);
                own = own.max(d);
                let mid = |o: usize| {
                    let q = m.corners[(k + o) % 4];
                    [(q[0] + nearest[0]) / 2.0, (q[1] + nearest[1]) / 2.0]
                };
                if dist(mid(1), p).min(dist(mid(3), p)) < d {
                    return false;
                }
            } else {
                let centre = [
                    m.corners.iter().map(|c| c[0]).sum::<f64>() / 4.0,
                    m.corners.iter().map(|c| c[1]).sum::<f64>() / 4.0,
                ];
                other = other.min(dist(centre, p));
            }
        }
        if own > 0.0 && other.is_finite() && own > other {
            return false;
        }
    }
    true
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}
