//! Hand-eye calibration: where a camera sits on the arm (eye-in-hand) or in
//! the workspace (eye-to-hand), from views of a checkerboard that stays put
//! relative to the other side, and the arm's forward kinematics at each view.
//!
//! Every view gives camera ← board `T` (the board's pose from its corners
//! and the known intrinsics) and base ← gripper `A` (forward kinematics). With
//! `C = A⁻¹` (eye-in-hand) or `C = A` (eye-to-hand), every view obeys
//! `T = X⁻¹ · C · Y`, where X is the camera's mount (gripper ← camera, or
//! base ← camera) and Y the board's (base ← board, or gripper ← board).
//!
//! The start is Park & Martin's closed form for `AX = XB` over every pair of
//! views (rotation by orthogonal Procrustes on the rotations' logarithms,
//! translation by least squares); the result minimises the reprojection
//! error of every corner over X and Y together, so views are weighted by how
//! well they were seen, not by a pose's made-up covariance.

use nalgebra::{
    DMatrix, DVector, Isometry3, Matrix3, Quaternion, Rotation3, Translation3, UnitQuaternion,
    Vector3,
};

use crate::board::Checkerboard;
use crate::error::CalibError;
use crate::lm;
use crate::model::CameraModel;
use crate::pose::{board_pose, from_iso, reprojection, to_iso};

/// Where the camera is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setup {
    /// On the arm: the board is fixed in the workspace.
    EyeInHand,
    /// In the workspace: the board is held by the arm.
    EyeToHand,
}

/// One view: the arm's pose and the board's corners.
#[derive(Debug, Clone)]
pub struct View {
    /// Frame name (episode time).
    pub name: String,
    /// Base ← gripper from forward kinematics.
    pub base_from_gripper: Isometry3<f64>,
    /// The board's corners, row by row (as `find_checkerboard` returns them).
    pub corners: Vec<[f64; 2]>,
}

/// Per-view outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ViewReport {
    /// Frame name.
    pub name: String,
    /// Reprojection RMS with the fitted X and Y, pixels.
    pub rms_px: f64,
    /// Left out of the final fit because it did not agree with the others.
    pub rejected: bool,
}

/// The result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HandEye {
    /// Which problem was solved.
    pub setup: Setup,
    /// The camera's optical frame in the gripper (eye-in-hand) or base
    /// (eye-to-hand) frame: parent ← camera.
    #[serde(serialize_with = "crate::pose::as_transform")]
    pub camera: Isometry3<f64>,
    /// The board in the base (eye-in-hand) or gripper (eye-to-hand) frame.
    #[serde(serialize_with = "crate::pose::as_transform")]
    pub board: Isometry3<f64>,
    /// One-sigma uncertainty of the camera's rotation (degrees) and
    /// translation (millimetres) from the fit.
    pub sigma_deg_mm: [f64; 2],
    /// Reprojection RMS over the accepted views, pixels.
    pub rms_px: f64,
    /// The largest rotation of the gripper between two views, degrees.
    pub largest_turn_deg: f64,
    /// Every view.
    pub views: Vec<ViewReport>,
    /// What makes the result less trustworthy, and what to capture to fix it.
    pub warnings: Vec<String>,
}

/// Fewest views: two motions with different rotation axes need three views.
pub const MIN_VIEWS: usize = 3;

/// Pairs of views turned by less than this are left out of the closed-form
/// rotation (their axis is noise).
const MIN_PAIR_TURN_DEG: f64 = 2.0;

/// Solves for the camera's mount from views of the board.
pub fn calibrate(
    camera: &CameraModel,
    board: &Checkerboard,
    views: &[View],
    setup: Setup,
) -> Result<HandEye, CalibError> {
    if views.len() < MIN_VIEWS {
        return Err(CalibError::NotEnoughData(format!(
            "the board was seen in {} view(s) with a known arm pose; hand-eye needs at least {MIN_VIEWS} (10-20 recommended), with the wrist turned about different axes between them",
            views.len()
        )));
    }
    let object = board.object_points();
    if let Some(v) = views.iter().find(|v| v.corners.len() != object.len()) {
        return Err(CalibError::Argument(format!(
            "view {} has {} corners but the board has {}",
            v.name,
            v.corners.len(),
            object.len()
        )));
    }
    let targets: Vec<Isometry3<f64>> = views
        .iter()
        .map(|v| {
            board_pose(camera, &object, &v.corners).ok_or_else(|| {
                CalibError::NotEnoughData(format!(
                    "view {}: no board pose fits its corners (collinear or behind the camera)",
                    v.name
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let arms: Vec<Isometry3<f64>> = views
        .iter()
        .map(|v| match setup {
            Setup::EyeInHand => v.base_from_gripper.inverse(),
            Setup::EyeToHand => v.base_from_gripper,
        })
        .collect();
    let largest_turn_deg = check_motion(&arms)?;

    let x = park_martin(&arms, &targets)?;
    let y = mean_pose(
        &arms
            .iter()
            .zip(&targets)
            .map(|(c, t)| c.inverse() * x * t)
            .collect::<Vec<_>>(),
    );

    let mut accepted = vec![true; views.len()];
    let (mut x, mut y, mut fit) = refine(camera, &object, views, &arms, &accepted, x, y);
    // One rejection step: a view far worse than the rest (motion blur, a
    // frame paired with the wrong joint state) is left out and the fit rerun.
    let rms: Vec<f64> = (0..views.len())
        .map(|v| {
            view_rms(
                camera,
                &object,
                &views[v].corners,
                &(x.inverse() * arms[v] * y),
            )
        })
        .collect();
    if let Some(kept) = lm::without_outliers(&rms, 1.0, MIN_VIEWS) {
        accepted = kept;
        (x, y, fit) = refine(camera, &object, views, &arms, &accepted, x, y);
    }

    let reports: Vec<ViewReport> = views
        .iter()
        .enumerate()
        .map(|(v, view)| ViewReport {
            name: view.name.clone(),
            rms_px: view_rms(camera, &object, &view.corners, &(x.inverse() * arms[v] * y)),
            rejected: !accepted[v],
        })
        .collect();
    let used = accepted.iter().filter(|a| **a).count();
    let rms_px = (fit.cost / (fit.residuals / 2).max(1) as f64).sqrt();
    let sigma_deg_mm = fit.pose_sigma_deg_mm(0);

    let mut warnings = Vec::new();
    if used < 8 {
        warnings.push(format!(
            "only {used} views were used; 10-20 views with the wrist turned in different directions give a steadier result"
        ));
    }
    if largest_turn_deg < 30.0 {
        warnings.push(format!(
            "the gripper turned at most {largest_turn_deg:.0} degrees between views; turns of 30-90 degrees about different axes constrain the mount far better"
        ));
    }
    if rms_px > 1.0 {
        warnings.push(format!(
            "reprojection RMS is {rms_px:.2} px: check the intrinsics, the URDF and that the arm stood still for each frame"
        ));
    }
    let rejected = views.len() - used;
    if rejected > 0 {
        warnings.push(format!(
            "{rejected} view(s) did not agree with the others and were left out"
        ));
    }
    Ok(HandEye {
        setup,
        camera: x,
        board: y,
        sigma_deg_mm,
        rms_px,
        largest_turn_deg,
        views: reports,
        warnings,
    })
}

fn view_rms(
    camera: &CameraModel,
    object: &[Vector3<f64>],
    corners: &[[f64; 2]],
    camera_from_board: &Isometry3<f64>,
) -> f64 {
    let mut r = Vec::new();
    reprojection(camera, object, corners, camera_from_board, &mut r);
    (r.iter().map(|v| v * v).sum::<f64>() / (r.len() / 2).max(1) as f64).sqrt()
}

/// Rotations between views: the largest turn (degrees), or an error when the
/// turns do not span two axes (then the mount's rotation about the one axis,
/// and its translation along it, are not determined).
fn check_motion(arms: &[Isometry3<f64>]) -> Result<f64, CalibError> {
    let mut scatter = Matrix3::<f64>::zeros();
    let mut largest: f64 = 0.0;
    for i in 0..arms.len() {
        for j in i + 1..arms.len() {
            let relative = arms[j] * arms[i].inverse();
            let axis_angle = relative.rotation.scaled_axis();
            largest = largest.max(axis_angle.norm().to_degrees());
            scatter += axis_angle * axis_angle.transpose();
        }
    }
    if largest < MIN_PAIR_TURN_DEG * 2.0 {
        return Err(CalibError::NotEnoughData(format!(
            "degenerate motion: the gripper turned at most {largest:.1} degrees between views; turn the wrist 30-90 degrees about different axes between views"
        )));
    }
    let mut eigen = scatter.symmetric_eigen().eigenvalues;
    eigen.as_mut_slice().sort_by(|a, b| b.total_cmp(a));
    // The second axis must carry a few percent of the turning.
    if eigen[1] < 2e-3 * eigen[0] {
        return Err(CalibError::NotEnoughData(format!(
            "degenerate motion: the gripper turned about one axis only (up to {largest:.0} degrees); the mount is not determined along it. Turn the wrist about at least two different axes between views (e.g. tilt and roll)"
        )));
    }
    Ok(largest)
}

/// Park & Martin: X from `AX = XB` over every pair of views, with
/// A = Cⱼ·Cᵢ⁻¹ and B = Tⱼ·Tᵢ⁻¹.
fn park_martin(
    arms: &[Isometry3<f64>],
    targets: &[Isometry3<f64>],
) -> Result<Isometry3<f64>, CalibError> {
    let mut pairs = Vec::new();
    for i in 0..arms.len() {
        for j in i + 1..arms.len() {
            let a = arms[j] * arms[i].inverse();
            let b = targets[j] * targets[i].inverse();
            if a.rotation.angle().to_degrees() >= MIN_PAIR_TURN_DEG {
                pairs.push((a, b));
            }
        }
    }
    // R_A·R_X = R_X·R_B ⇒ α = R_X·β for the rotations' logarithms.
    let mut h = Matrix3::<f64>::zeros();
    for (a, b) in &pairs {
        h += b.rotation.scaled_axis() * a.rotation.scaled_axis().transpose();
    }
    let svd = h.svd(true, true);
    let (u, vt) = match (svd.u, svd.v_t) {
        (Some(u), Some(vt)) => (u, vt),
        _ => return Err(CalibError::NotEnoughData(
            "the views' rotations do not determine the mount; turn the wrist about different axes"
                .into(),
        )),
    };
    let v = vt.transpose();
    let d = (v * u.transpose()).determinant().signum();
    let rx = v * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * u.transpose();
    let rx = Rotation3::from_matrix(&rx);
    // (R_A − I)·t_X = R_X·t_B − t_A, stacked.
    let mut m = DMatrix::<f64>::zeros(3 * pairs.len(), 3);
    let mut rhs = DVector::<f64>::zeros(3 * pairs.len());
    for (k, (a, b)) in pairs.iter().enumerate() {
        let ra = a.rotation.to_rotation_matrix().into_inner() - Matrix3::identity();
        let r = rx * b.translation.vector - a.translation.vector;
        m.fixed_view_mut::<3, 3>(3 * k, 0).copy_from(&ra);
        rhs.fixed_rows_mut::<3>(3 * k).copy_from(&r);
    }
    let t = m.svd(true, true).solve(&rhs, 1e-12).map_err(|e| {
        CalibError::NotEnoughData(format!("the mount's translation is not determined ({e})"))
    })?;
    Ok(Isometry3::from_parts(
        Translation3::new(t[0], t[1], t[2]),
        UnitQuaternion::from_rotation_matrix(&rx),
    ))
}

/// The mean of nearby poses (quaternions aligned to the first, averaged and
/// normalised; translations averaged).
fn mean_pose(poses: &[Isometry3<f64>]) -> Isometry3<f64> {
    let first = poses[0].rotation.quaternion().coords;
    let mut q = nalgebra::Vector4::zeros();
    let mut t = Vector3::zeros();
    for p in poses {
        let c = p.rotation.quaternion().coords;
        q += if c.dot(&first) < 0.0 { -c } else { c };
        t += p.translation.vector;
    }
    Isometry3::from_parts(
        Translation3::from(t / poses.len() as f64),
        UnitQuaternion::from_quaternion(Quaternion::from(q)),
    )
}

/// X and Y minimising every accepted view's corner reprojection error.
fn refine(
    camera: &CameraModel,
    object: &[Vector3<f64>],
    views: &[View],
    arms: &[Isometry3<f64>],
    accepted: &[bool],
    x: Isometry3<f64>,
    y: Isometry3<f64>,
) -> (Isometry3<f64>, Isometry3<f64>, lm::Fit) {
    let mut p = [0.0; 12];
    p[..6].copy_from_slice(&from_iso(&x));
    p[6..].copy_from_slice(&from_iso(&y));
    let fit = lm::minimize(&mut p, &[0.1; 12], &|p, r| {
        r.clear();
        let (x, y) = (to_iso(&p[..6]), to_iso(&p[6..]));
        let x_inv = x.inverse();
        for (v, view) in views.iter().enumerate() {
            if accepted[v] {
                reprojection(camera, object, &view.corners, &(x_inv * arms[v] * y), r);
            }
        }
    });
    (to_iso(&p[..6]), to_iso(&p[6..]), fit)
}
