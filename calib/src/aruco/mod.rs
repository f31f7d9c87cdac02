//! ArUco markers from OpenCV's predefined dictionaries, found the way
//! OpenCV's `ArucoDetector` finds them with its default parameters:
//! adaptive thresholds at three window sizes, quadrilateral contours,
//! the marker's cells read after removing perspective, its black border
//! checked and its code matched in any of four rotations.
//!
//! Written here because no maintained Rust crate reads OpenCV's
//! dictionaries; the dictionaries themselves are generated from OpenCV
//! (`scripts/aruco_dictionaries.py`), so that reel reads exactly the
//! markers OpenCV prints.

mod decode;
mod dictionaries;
mod quads;

use crate::detect::Gray;

/// One of OpenCV's predefined dictionaries.
#[derive(Debug, Clone, Copy)]
pub struct Dictionary {
    /// OpenCV's name, e.g. `DICT_4X4_50`.
    pub name: &'static str,
    /// Marker cells per side, without the border.
    pub bits: usize,
    codes: &'static [u64],
    max_correction_bits: u32,
}

impl Dictionary {
    /// The dictionary OpenCV names so (`DICT_4X4_50`, `DICT_6X6_250`,
    /// `DICT_APRILTAG_36h11`, …; case does not matter).
    pub fn named(name: &str) -> Option<Self> {
        dictionaries::DICTIONARIES
            .iter()
            .find(|d| d.0.eq_ignore_ascii_case(name))
            .map(|&(name, bits, family, markers, max_correction_bits)| Self {
                name,
                bits,
                codes: &family[..markers],
                max_correction_bits,
            })
    }

    /// Every name [`Dictionary::named`] knows.
    pub fn names() -> impl Iterator<Item = &'static str> {
        dictionaries::DICTIONARIES.iter().map(|d| d.0)
    }

    /// Markers in the dictionary.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Never: every predefined dictionary has markers.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Marker `id`'s cells at rotation 0, row by row (`true`: white).
    pub fn cells(&self, id: usize) -> Vec<bool> {
        let n = self.bits * self.bits;
        (0..n)
            .map(|k| self.codes[id] >> (n - 1 - k) & 1 == 1)
            .collect()
    }
}

/// A decoded marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Its index in the dictionary.
    pub id: usize,
    /// Its corners in the image, clockwise from the marker's own top-left
    /// (as OpenCV returns them).
    pub corners: [[f64; 2]; 4],
}

/// Every marker of `dictionary` in the image; with `inverted`, white
/// markers on black (an inverted print) instead.
pub fn detect_markers(image: &Gray, dictionary: &Dictionary, inverted: bool) -> Vec<Marker> {
    let negative;
    let image = if inverted {
        negative = Gray {
            width: image.width,
            height: image.height,
            data: image.data.iter().map(|v| 255.0 - v).collect(),
        };
        &negative
    } else {
        image
    };
    let mut candidates = quads::candidates(image);
    // Larger outlines first: the same marker is found at several
    // thresholds, and by its inner edge too; the outer one is OpenCV's.
    candidates.sort_by(|a, b| b.perimeter.total_cmp(&a.perimeter));
    let mut found: Vec<Marker> = Vec::new();
    for c in candidates {
        let close = found
            .iter()
            .any(|m| too_close(&m.corners, &c.corners, c.perimeter));
        if close {
            continue;
        }
        if let Some(marker) = decode::identify(image, &c.corners, dictionary) {
            if !found
                .iter()
                .any(|m| m.id == marker.id && too_close(&m.corners, &marker.corners, c.perimeter))
            {
                found.push(marker);
            }
        }
    }
    found.sort_by_key(|m| m.id);
    found
}

/// OpenCV's `minMarkerDistanceRate` (0.125 of the perimeter): closer than
/// that on average over the corners, two outlines are one marker.
fn too_close(a: &[[f64; 2]; 4], b: &[[f64; 2]; 4], perimeter: f64) -> bool {
    let limit = 0.125 * perimeter / 4.0;
    (0..4).any(|shift| {
        let mean: f64 = (0..4)
            .map(|k| {
                let (p, q) = (a[k], b[(k + shift) % 4]);
                ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
            })
            .sum::<f64>()
            / 4.0;
        mean < limit
    })
}
