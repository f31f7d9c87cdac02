//! Poses as OpenCV keeps them (rotation vector and translation). The
//! camera model itself (pinhole with radial and tangential distortion, or
//! fisheye) is `reel_episode::calibration::CameraModel`.

use nalgebra::{Rotation3, Vector3};

pub use reel_episode::calibration::{CameraModel, LensModel};

/// A rigid transform camera ← target as OpenCV keeps it: a rotation vector
/// (axis × angle, radians) and a translation (metres).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Pose {
    /// Rotation vector.
    pub rvec: [f64; 3],
    /// Translation.
    pub tvec: [f64; 3],
}

impl Pose {
    /// The rotation.
    pub fn rotation(&self) -> Rotation3<f64> {
        Rotation3::new(Vector3::from(self.rvec))
    }

    /// Maps a target-frame point into the camera frame.
    pub fn apply(&self, p: &Vector3<f64>) -> Vector3<f64> {
        self.rotation() * p + Vector3::from(self.tvec)
    }

    /// From a rotation and a translation.
    pub fn from_parts(r: &Rotation3<f64>, t: &Vector3<f64>) -> Self {
        let v = r.scaled_axis();
        Self {
            rvec: [v.x, v.y, v.z],
            tvec: [t.x, t.y, t.z],
        }
    }
}
