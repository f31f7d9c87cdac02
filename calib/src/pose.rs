//! Poses: a board's pose from its corners with known intrinsics (PnP), and
//! conversions between OpenCV rotation vectors, nalgebra isometries and
//! the formats crate's transforms.

use nalgebra::{Isometry3, Quaternion, Translation3, UnitQuaternion, Vector3};

use crate::lm;
use crate::model::{CameraModel, Pose};
use crate::zhang;

/// The board's pose (camera ← board) from its corners with the intrinsics
/// known: a homography on undistorted coordinates, then the reprojection
/// error minimised.
pub fn board_pose(
    camera: &CameraModel,
    object: &[Vector3<f64>],
    corners: &[[f64; 2]],
) -> Option<Isometry3<f64>> {
    let plane: Vec<[f64; 2]> = object.iter().map(|p| [p.x, p.y]).collect();
    let normalised: Vec<[f64; 2]> = corners.iter().map(|&c| camera.unproject(c)).collect();
    let h = zhang::homography(&plane, &normalised)?;
    let start = zhang::pose(&h, [1.0, 1.0, 0.0, 0.0])?;
    let mut p = [
        start.rvec[0],
        start.rvec[1],
        start.rvec[2],
        start.tvec[0],
        start.tvec[1],
        start.tvec[2],
    ];
    lm::minimize(&mut p, &[0.1; 6], &|p, r| {
        reprojection(camera, object, corners, &to_iso(&p[..6]), r);
    });
    Some(to_iso(&p))
}

/// Corner residuals (pixels) of the board seen at `camera_from_board`.
pub(crate) fn reprojection(
    camera: &CameraModel,
    object: &[Vector3<f64>],
    corners: &[[f64; 2]],
    camera_from_board: &Isometry3<f64>,
    out: &mut Vec<f64>,
) {
    for (p, c) in object.iter().zip(corners) {
        let q = camera_from_board.transform_point(&(*p).into()).coords;
        // A point behind the camera counts as far off, so the fit turns away.
        let uv = camera.project(q.into()).unwrap_or([c[0] + 1e3, c[1] + 1e3]);
        out.push(uv[0] - c[0]);
        out.push(uv[1] - c[1]);
    }
}

/// An isometry from [rotation vector, translation].
pub(crate) fn to_iso(v: &[f64]) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(v[3], v[4], v[5]),
        UnitQuaternion::from_scaled_axis(Vector3::new(v[0], v[1], v[2])),
    )
}

pub(crate) fn from_iso(iso: &Isometry3<f64>) -> [f64; 6] {
    let r = iso.rotation.scaled_axis();
    let t = iso.translation.vector;
    [r.x, r.y, r.z, t.x, t.y, t.z]
}

/// A [`Pose`] (OpenCV rvec/tvec) as an isometry.
pub fn pose_to_iso(p: &Pose) -> Isometry3<f64> {
    to_iso(&[
        p.rvec[0], p.rvec[1], p.rvec[2], p.tvec[0], p.tvec[1], p.tvec[2],
    ])
}

/// An isometry as a [`Pose`].
pub fn iso_to_pose(iso: &Isometry3<f64>) -> Pose {
    let v = from_iso(iso);
    Pose {
        rvec: [v[0], v[1], v[2]],
        tvec: [v[3], v[4], v[5]],
    }
}

/// A `reel_episode` transform (URDF kinematics) as an isometry.
pub fn from_formats(iso: &reel_episode::geometry::Iso) -> Isometry3<f64> {
    let [w, x, y, z] = iso.q;
    Isometry3::from_parts(
        Translation3::new(iso.t[0], iso.t[1], iso.t[2]),
        UnitQuaternion::from_quaternion(Quaternion::new(w, x, y, z)),
    )
}

/// A rigid transform as ROS writes it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Transform {
    /// Metres.
    pub translation: [f64; 3],
    /// Unit quaternion (x, y, z, w).
    pub rotation_xyzw: [f64; 4],
    /// URDF roll, pitch, yaw, radians.
    pub rpy: [f64; 3],
}

impl Transform {
    /// The same placement as a rig config's sensor mount under `parent`.
    pub fn mount(&self, parent: &str) -> reel_episode::calibration::Mount {
        reel_episode::calibration::Mount {
            parent: parent.to_string(),
            xyz: self.translation,
            rpy: self.rpy,
        }
    }
}

impl From<&Isometry3<f64>> for Transform {
    fn from(iso: &Isometry3<f64>) -> Self {
        let q = iso.rotation.quaternion();
        let (roll, pitch, yaw) = iso.rotation.euler_angles();
        Self {
            translation: iso.translation.vector.into(),
            rotation_xyzw: [q.i, q.j, q.k, q.w],
            rpy: [roll, pitch, yaw],
        }
    }
}

/// Serialises an isometry as a [`Transform`].
pub(crate) fn as_transform<S: serde::Serializer>(
    iso: &Isometry3<f64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&Transform::from(iso), s)
}
