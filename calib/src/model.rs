//! Camera models, as OpenCV and ROS define them: pinhole with radial and
//! tangential distortion (OpenCV's 5-coefficient model, ROS `plumb_bob`) and
//! fisheye (OpenCV's equidistant model, ROS `equidistant`).

use nalgebra::{Rotation3, Vector3};
use reel_episode::calibration::CameraIntrinsics;

/// Lens model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LensModel {
    /// k1, k2, p1, p2, k3 (OpenCV `calibrateCamera`, ROS `plumb_bob`).
    PinholeRadtan,
    /// k1..k4 on the angle (OpenCV `fisheye::calibrate`, ROS `equidistant`).
    Fisheye,
}

impl LensModel {
    /// Parses `pinhole-radtan` or `fisheye`.
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

/// Intrinsics and distortion of one camera.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CameraModel {
    /// Lens model.
    pub lens: LensModel,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
    /// Focal lengths, pixels.
    pub fx: f64,
    /// Focal lengths, pixels.
    pub fy: f64,
    /// Principal point, pixels (OpenCV convention: pixel centres at integers).
    pub cx: f64,
    /// Principal point, pixels.
    pub cy: f64,
    /// Distortion coefficients in OpenCV's order (5 or 4).
    pub distortion: Vec<f64>,
}

impl CameraModel {
    /// Projects a point in the camera's optical frame (z forward) to pixels;
    /// `None` behind the camera.
    pub fn project(&self, p: &Vector3<f64>) -> Option<[f64; 2]> {
        if p.z <= 1e-9 {
            return None;
        }
        let (x, y) = (p.x / p.z, p.y / p.z);
        let d = &self.distortion;
        let (xd, yd) = match self.lens {
            LensModel::PinholeRadtan => {
                let r2 = x * x + y * y;
                let radial = 1.0 + r2 * (d[0] + r2 * (d[1] + r2 * d[4]));
                (
                    x * radial + 2.0 * d[2] * x * y + d[3] * (r2 + 2.0 * x * x),
                    y * radial + d[2] * (r2 + 2.0 * y * y) + 2.0 * d[3] * x * y,
                )
            }
            LensModel::Fisheye => {
                let r = (x * x + y * y).sqrt();
                if r < 1e-12 {
                    (x, y)
                } else {
                    let t = r.atan();
                    let t2 = t * t;
                    let td = t * (1.0 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3]))));
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
                let p = self
                    .project(&Vector3::new(x, y, 1.0))
                    .unwrap_or([self.cx, self.cy]);
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

    /// From the intrinsics a rig config or `camera_info` stores; `None` for
    /// a distortion model reel does not fit.
    pub fn from_intrinsics(k: &CameraIntrinsics, width: u32, height: u32) -> Option<Self> {
        let lens = LensModel::parse(&k.model)?;
        let mut distortion = k.distortion.clone();
        distortion.resize(lens.coefficients(), 0.0);
        Some(Self {
            lens,
            width,
            height,
            fx: k.fx,
            fy: k.fy,
            cx: k.cx,
            cy: k.cy,
            distortion,
        })
    }

    /// The intrinsics as a rig config stores them.
    pub fn intrinsics(&self) -> CameraIntrinsics {
        CameraIntrinsics {
            model: self.lens.ros_name().into(),
            fx: self.fx,
            fy: self.fy,
            cx: self.cx,
            cy: self.cy,
            distortion: self.distortion.clone(),
        }
    }

    /// The 3×3 camera matrix, row-major.
    pub fn k(&self) -> [f64; 9] {
        [self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0]
    }
}

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
