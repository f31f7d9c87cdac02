//! Calibrations as a rig config stores them (camera intrinsics, sensor
//! mounts) and the messages that carry them in an episode (`camera_info`,
//! `/tf_static`). `reel calib` writes them; capture and sim emit them.

use serde::{Deserialize, Serialize};

use crate::geometry::Iso;
use crate::ros2::geometry_msgs::TransformStamped;
use crate::ros2::sensor_msgs::CameraInfo;
use crate::ros2::std_msgs::Header;

/// Lens model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LensModel {
    /// k1, k2, p1, p2, k3 (OpenCV `calibrateCamera`, ROS `plumb_bob`).
    PinholeRadtan,
    /// k1..k4 on the angle (OpenCV `fisheye::calibrate`, ROS `equidistant`).
    Fisheye,
}

impl LensModel {
    /// Parses `pinhole-radtan` or `fisheye`, or the ROS names `plumb_bob`
    /// and `equidistant`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pinhole-radtan" | "plumb_bob" => Some(Self::PinholeRadtan),
            "fisheye" | "equidistant" => Some(Self::Fisheye),
            _ => None,
        }
    }

    /// Number of distortion coefficients.
    pub fn coefficients(self) -> usize {
        match self {
            Self::PinholeRadtan => 5,
            Self::Fisheye => 4,
        }
    }

    /// The ROS `distortion_model` name.
    pub fn ros_name(self) -> &'static str {
        match self {
            Self::PinholeRadtan => "plumb_bob",
            Self::Fisheye => "equidistant",
        }
    }
}

/// A camera's intrinsics and distortion at its image size, OpenCV/ROS
/// conventions (pixel centres at integer coordinates): the one camera
/// model of reel, which calibration fits, rigs and `camera_info` store,
/// and the simulator renders through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraModel {
    /// Lens model.
    pub lens: LensModel,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// Focal length along x, pixels.
    pub fx: f64,
    /// Focal length along y, pixels.
    pub fy: f64,
    /// Principal point x, pixels.
    pub cx: f64,
    /// Principal point y, pixels.
    pub cy: f64,
    /// Distortion coefficients in OpenCV's order (5 or 4).
    pub distortion: Vec<f64>,
}

impl CameraModel {
    /// An ideal pinhole (no distortion).
    pub fn pinhole(width: u32, height: u32, fx: f64, fy: f64, cx: f64, cy: f64) -> Self {
        Self {
            lens: LensModel::PinholeRadtan,
            width,
            height,
            fx,
            fy,
            cx,
            cy,
            distortion: vec![0.0; 5],
        }
    }

    /// An ideal pinhole with square pixels, the principal point at the
    /// image centre ((w − 1)/2) and a horizontal field of view in degrees.
    pub fn from_hfov(width: u32, height: u32, hfov_deg: f64) -> Self {
        let f = width as f64 / 2.0 / (hfov_deg.to_radians() / 2.0).tan();
        Self::pinhole(
            width,
            height,
            f,
            f,
            (width as f64 - 1.0) / 2.0,
            (height as f64 - 1.0) / 2.0,
        )
    }

    /// Projects a point in the camera's optical frame (z forward) to pixels;
    /// `None` behind the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        if p[2] <= 1e-9 {
            return None;
        }
        let (x, y) = (p[0] / p[2], p[1] / p[2]);
        let d = |i: usize| self.distortion.get(i).copied().unwrap_or(0.0);
        let (xd, yd) = match self.lens {
            LensModel::PinholeRadtan => {
                let r2 = x * x + y * y;
                let radial = 1.0 + r2 * (d(0) + r2 * (d(1) + r2 * d(4)));
                (
                    x * radial + 2.0 * d(2) * x * y + d(3) * (r2 + 2.0 * x * x),
                    y * radial + d(2) * (r2 + 2.0 * y * y) + 2.0 * d(3) * x * y,
                )
            }
            LensModel::Fisheye => {
                let r = (x * x + y * y).sqrt();
                if r < 1e-12 {
                    (x, y)
                } else {
                    let t = r.atan();
                    let t2 = t * t;
                    let td = t * (1.0 + t2 * (d(0) + t2 * (d(1) + t2 * (d(2) + t2 * d(3)))));
                    (x * td / r, y * td / r)
                }
            }
        };
        Some([self.fx * xd + self.cx, self.fy * yd + self.cy])
    }

    /// The ray (normalised image coordinates, z = 1) through a pixel: the
    /// inverse of [`Self::project`], by Newton iteration on the distortion.
    pub fn unproject(&self, uv: [f64; 2]) -> [f64; 2] {
        let target = [(uv[0] - self.cx) / self.fx, (uv[1] - self.cy) / self.fy];
        let mut xy = target;
        for _ in 0..20 {
            let distorted = |x: f64, y: f64| {
                let p = self.project([x, y, 1.0]).unwrap_or([self.cx, self.cy]);
                [(p[0] - self.cx) / self.fx, (p[1] - self.cy) / self.fy]
            };
            let f = distorted(xy[0], xy[1]);
            let e = [f[0] - target[0], f[1] - target[1]];
            if e[0].abs() + e[1].abs() < 1e-12 {
                break;
            }
            let h = 1e-7;
            let fx = distorted(xy[0] + h, xy[1]);
            let fy = distorted(xy[0], xy[1] + h);
            let j = [
                [(fx[0] - f[0]) / h, (fy[0] - f[0]) / h],
                [(fx[1] - f[1]) / h, (fy[1] - f[1]) / h],
            ];
            let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
            if det.abs() < 1e-15 {
                break;
            }
            xy[0] -= (j[1][1] * e[0] - j[0][1] * e[1]) / det;
            xy[1] -= (-j[1][0] * e[0] + j[0][0] * e[1]) / det;
        }
        xy
    }

    /// The 3×3 camera matrix, row-major.
    pub fn k(&self) -> [f64; 9] {
        [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]
    }

    /// Why these intrinsics cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), InvalidIntrinsics> {
        if !(self.fx > 0.0 && self.fy > 0.0) {
            return Err(InvalidIntrinsics(format!(
                "focal lengths must be positive (fx {}, fy {})",
                self.fx, self.fy
            )));
        }
        let coefficients = self.lens.coefficients();
        if self.distortion.len() != coefficients {
            return Err(InvalidIntrinsics(format!(
                "{} takes {coefficients} distortion coefficients, not {}",
                self.lens.ros_name(),
                self.distortion.len()
            )));
        }
        Ok(())
    }

    /// The `camera_info` of this (unrectified) camera.
    pub fn camera_info(&self, stamp_nanos: u64, frame_id: &str) -> CameraInfo {
        let (fx, fy, cx, cy) = (self.fx, self.fy, self.cx, self.cy);
        CameraInfo {
            header: Header::new(stamp_nanos, frame_id),
            height: self.height,
            width: self.width,
            distortion_model: self.lens.ros_name().into(),
            d: self.distortion.clone(),
            k: self.k(),
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
            ..Default::default()
        }
    }

    /// The camera a `camera_info` describes, if it holds intrinsics (ROS
    /// writes an all-zero K for an uncalibrated camera) of a distortion
    /// model reel knows.
    pub fn from_camera_info(info: &CameraInfo) -> Option<Self> {
        let lens = if info.distortion_model.is_empty() {
            LensModel::PinholeRadtan
        } else {
            LensModel::parse(&info.distortion_model)?
        };
        let mut distortion = info.d.clone();
        distortion.resize(lens.coefficients(), 0.0);
        let k = Self {
            lens,
            width: info.width,
            height: info.height,
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
        let k = CameraModel {
            lens: LensModel::Fisheye,
            width: 640,
            height: 480,
            fx: 600.0,
            fy: 601.0,
            cx: 319.5,
            cy: 239.5,
            distortion: vec![0.01, -0.002, 0.0, 0.0],
        };
        let info = k.camera_info(5, "cam");
        assert_eq!(info.p[6], 239.5);
        assert_eq!(CameraModel::from_camera_info(&info), Some(k.clone()));
        assert!(CameraModel::from_camera_info(&CameraInfo::default()).is_none());
        let bad = CameraModel {
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
