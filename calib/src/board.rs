//! Calibration targets.

use nalgebra::Vector3;

use crate::error::CalibError;

/// A checkerboard counted in inner corners, as OpenCV counts it.
///
/// Target frame: origin at inner corner (0, 0), x along the `cols` corners,
/// y along the `rows` corners, z into the board (so a camera facing the
/// printed side sees z pointing away from it, as in OpenCV). The square
/// between corners (0, 0) and (1, 1) is dark; with one count odd and the
/// other even the board has no 180° symmetry and its origin is unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Checkerboard {
    /// Inner corners along x.
    pub cols: usize,
    /// Inner corners along y.
    pub rows: usize,
    /// Side of a square, metres.
    pub square: f64,
}

impl Checkerboard {
    /// Parses `checkerboard:COLSxROWS:SQUARE_M`, e.g. `checkerboard:9x6:0.025`.
    pub fn parse(spec: &str) -> Result<Self, CalibError> {
        let bad = || {
            CalibError::Argument(format!(
                "board `{spec}`: expected checkerboard:COLSxROWS:SQUARE_M with inner-corner counts, e.g. checkerboard:9x6:0.025"
            ))
        };
        let mut parts = spec.split(':');
        if parts.next() != Some("checkerboard") {
            return Err(bad());
        }
        let (cols, rows) = parts
            .next()
            .and_then(|s| s.split_once('x'))
            .ok_or_else(bad)?;
        let (cols, rows): (usize, usize) = (
            cols.parse().map_err(|_| bad())?,
            rows.parse().map_err(|_| bad())?,
        );
        let square: f64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if parts.next().is_some() || cols < 3 || rows < 3 || !(square > 0.0 && square < 1.0) {
            return Err(bad());
        }
        Ok(Self { cols, rows, square })
    }

    /// Number of inner corners.
    pub fn corners(&self) -> usize {
        self.cols * self.rows
    }

    /// Corner `(i, j)` in the target frame; corners are numbered row by row.
    pub fn corner(&self, i: usize, j: usize) -> Vector3<f64> {
        Vector3::new(i as f64 * self.square, j as f64 * self.square, 0.0)
    }

    /// Every corner, row by row (OpenCV's order).
    pub fn object_points(&self) -> Vec<Vector3<f64>> {
        (0..self.rows)
            .flat_map(|j| (0..self.cols).map(move |i| (i, j)))
            .map(|(i, j)| self.corner(i, j))
            .collect()
    }

    /// Whether the target-frame point (x, y) lies on a dark square; `None`
    /// off the board (one square of margin around the inner corners).
    pub fn is_dark(&self, x: f64, y: f64) -> Option<bool> {
        let (a, b) = (
            (x / self.square).floor() as i64 + 1,
            (y / self.square).floor() as i64 + 1,
        );
        let inside = (0..=self.cols as i64).contains(&a) && (0..=self.rows as i64).contains(&b);
        inside.then_some((a + b) % 2 == 0)
    }
}
