//! Calibrations as a rig config stores them (camera intrinsics, sensor
//! mounts) and the messages that carry them in an episode (`camera_info`,
//! `/tf_static`). `reel calib` writes them; capture and sim emit them.

use serde::{Deserialize, Serialize};

use crate::geometry::Iso;
use crate::ros2::geometry_msgs::TransformStamped;
use crate::ros2::sensor_msgs::CameraInfo;
use crate::ros2::std_msgs::Header;

/// Intrinsics and distortion, OpenCV/ROS conventions (pixel centres at
/// integer coordinates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraIntrinsics {
    /// ROS distortion model: `plumb_bob` (k1 k2 p1 p2 k3) or `equidistant`
    /// (k1..k4, OpenCV's fisheye).
    pub model: String,
    /// Focal length along x, pixels.
    pub fx: f64,
    /// Focal length along y, pixels.
    pub fy: f64,
    /// Principal point x, pixels.
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
    /// Distortion coefficients in OpenCV's order.
    #[serde(default)]
    pub distortion: Vec<f64>,
}

impl CameraIntrinsics {
    /// An ideal pinhole (no distortion).
    pub fn pinhole(fx: f64, fy: f64, cx: f64, cy: f64) -> Self {
        Self {
            model: "plumb_bob".into(),
            fx,
            fy,
            cx,
            cy,
            distortion: vec![0.0; 5],
        }
    }

    /// Why these intrinsics cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), InvalidIntrinsics> {
        let coefficients = match self.model.as_str() {
            "plumb_bob" => 5,
            "equidistant" => 4,
            other => {
                return Err(InvalidIntrinsics(format!(
                    "distortion model {other:?}: expected plumb_bob or equidistant"
                )))
            }
        };
        if !(self.fx > 0.0 && self.fy > 0.0) {
            return Err(InvalidIntrinsics(format!(
                "focal lengths must be positive (fx {}, fy {})",
                self.fx, self.fy
            )));
        }
        if self.distortion.len() != coefficients {
            return Err(InvalidIntrinsics(format!(
                "{} takes {coefficients} distortion coefficients, not {}",
                self.model,
                self.distortion.len()
            )));
        }
        Ok(())
    }

    /// The `camera_info` of an unrectified camera of `width`×`height`.
    pub fn camera_info(
        &self,
        width: u32,
        height: u32,
        stamp_nanos: u64,
        frame_id: &str,
    ) -> CameraInfo {
        let (fx, fy, cx, cy) = (self.fx, self.fy, self.cx, self.cy);
        CameraInfo {
            header: Header::new(stamp_nanos, frame_id),
            height,
            width,
            distortion_model: self.model.clone(),
            d: self.distortion.clone(),
            k: [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
            ..Default::default()
        }
    }

    /// The intrinsics a `camera_info` holds, if it holds any (ROS writes an
    /// all-zero K for an uncalibrated camera).
    pub fn from_camera_info(info: &CameraInfo) -> Option<Self> {
        let model = if info.distortion_model.is_empty() {
            "plumb_bob".to_string()
        } else {
            info.distortion_model.clone()
        };
        let mut distortion = info.d.clone();
        let wanted = match model.as_str() {
            "plumb_bob" => 5,
            "equidistant" => 4,
            _ => return None,
        };
        distortion.resize(wanted, 0.0);
        let k = Self {
            model,
            fx: info.k[0],
            fy: info.k[4],
            cx: info.k[2],
            cy: info.k[5],
            distortion,
        };
        k.check().is_ok().then_some(k)
    }
}

/// Where a sensor's frame sits: `parent ← sensor` as URDF `xyz` + `rpy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// The frame the sensor is fixed to (a URDF link, or the rig's base).
    pub parent: String,
    /// Translation, metres.
    pub xyz: [f64; 3],
    /// Fixed-axis roll, pitch, yaw, radians (URDF convention).
    pub rpy: [f64; 3],
}

impl Mount {
    /// The `/tf_static` entry placing `child` (the sensor's frame id).
    pub fn transform(&self, stamp_nanos: u64, child: &str) -> TransformStamped {
        Iso::from_xyz_rpy(self.xyz, self.rpy).to_msg(stamp_nanos, &self.parent, child)
    }
}

/// Why intrinsics cannot be used: one sentence, which the caller completes
/// with the camera and file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidIntrinsics(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_info_round_trip_and_checks() {
        let k = CameraIntrinsics {
            model: "equidistant".into(),
            fx: 600.0,
            fy: 601.0,
            cx: 319.5,
            cy: 239.5,
            distortion: vec![0.01, -0.002, 0.0, 0.0],
        };
        let info = k.camera_info(640, 480, 5, "cam");
        assert_eq!(info.p[6], 239.5);
        assert_eq!(CameraIntrinsics::from_camera_info(&info), Some(k.clone()));
        assert!(CameraIntrinsics::from_camera_info(&CameraInfo::default()).is_none());
        let bad = CameraIntrinsics {
            distortion: vec![0.0; 5],
            ..k
        };
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("4 distortion"));
    }

    #[test]
    fn mount_matches_urdf_rpy() {
        let m = Mount {
            parent: "gripper_link".into(),
            xyz: [0.1, 0.0, 0.0],
            rpy: [0.0, 0.0, std::f64::consts::FRAC_PI_2],
        };
        let t = m.transform(0, "cam");
        let iso = Iso::from_msg(&t);
        let p = iso.apply([1.0, 0.0, 0.0]);
        assert!(
            (p[0] - 0.1).abs() < 1e-12 && (p[1] - 1.0).abs() < 1e-12,
            "{p:?}"
        );
        assert_eq!(t.header.frame_id, "gripper_link");
    }
}
