//! The calibration target a picture is searched for: a checkerboard (seen
//! whole) or a ChArUco board (any part with enough corners).

use nalgebra::Vector3;

use crate::board::Checkerboard;
use crate::charuco::{find_charuco, CharucoBoard};
use crate::detect::{find_checkerboard, Gray};
use crate::error::CalibError;

/// A target's points on the board plane (z = 0), in the order detections
/// number them.
pub trait Target {
    /// Every point, metres, in the target frame.
    fn object_points(&self) -> Vec<Vector3<f64>>;
}

impl Target for Checkerboard {
    fn object_points(&self) -> Vec<Vector3<f64>> {
        Checkerboard::object_points(self)
    }
}

impl Target for CharucoBoard {
    fn object_points(&self) -> Vec<Vector3<f64>> {
        (0..self.corners()).map(|id| self.corner(id)).collect()
    }
}

/// Fewest ChArUco corners that make a view: OpenCV's calibration samples
/// skip views with fewer, and a homography needs them off one line.
pub const MIN_CHARUCO_CORNERS: usize = 6;

/// A board as given on the command line.
#[derive(Debug, Clone, Copy)]
pub enum Board {
    /// Seen whole.
    Checkerboard(Checkerboard),
    /// Seen in part.
    Charuco(CharucoBoard),
}

/// A board found in a picture: corner pixels and, for a partial view,
/// which corners they are.
pub type Found = (Vec<[f64; 2]>, Option<Vec<usize>>);

impl Board {
    /// `checkerboard:…` or `charuco:…` (see [`Checkerboard::parse`],
    /// [`CharucoBoard::parse`]).
    pub fn parse(spec: &str) -> Result<Self, CalibError> {
        if spec.starts_with("charuco:") {
            CharucoBoard::parse(spec).map(Self::Charuco)
        } else {
            Checkerboard::parse(spec).map(Self::Checkerboard)
        }
    }

    /// The board in `image`, if enough of it is seen.
    pub fn find(&self, image: &Gray) -> Option<Found> {
        match self {
            Self::Checkerboard(b) => find_checkerboard(image, b).map(|c| (c, None)),
            Self::Charuco(b) => {
                let found = find_charuco(image, b);
                let (ids, corners): (Vec<usize>, Vec<[f64; 2]>) = found.into_iter().unzip();
                let cols = b.cols();
                // Corners on one board row or column fit no homography.
                let one_line = ids.iter().all(|i| i / cols == ids[0] / cols)
                    || ids.iter().all(|i| i % cols == ids[0] % cols);
                (ids.len() >= MIN_CHARUCO_CORNERS && !one_line).then_some((corners, Some(ids)))
            }
        }
    }

    /// The board's points.
    pub fn target(&self) -> &dyn Target {
        match self {
            Self::Checkerboard(b) => b,
            Self::Charuco(b) => b,
        }
    }

    /// How it is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Checkerboard(b) => format!("{}x{} checkerboard", b.cols, b.rows),
            Self::Charuco(b) => format!(
                "{}x{} ChArUco board ({})",
                b.squares_x, b.squares_y, b.dictionary.name
            ),
        }
    }
}
