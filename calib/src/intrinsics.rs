//! Intrinsic calibration from checkerboard views: detection, closed-form
//! start, Levenberg–Marquardt over intrinsics, distortion and every view's
//! pose, rejection of views that do not fit, and a report on how well the
//! views constrain the result.

use nalgebra::{DMatrix, DVector, Vector3};

use crate::error::CalibError;
use crate::model::{CameraModel, LensModel, Pose};
use crate::target::Target;
use crate::{lm, zhang};

/// One image's detected corners, row by row.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Image name (file name, or the episode time of the frame).
    pub name: String,
    /// Corner pixels.
    pub corners: Vec<[f64; 2]>,
    /// Which of the target's points the corners are (a ChArUco board seen
    /// in part); `None`: all of them, in order.
    pub ids: Option<Vec<usize>>,
}

impl Observation {
    /// The target points this view's corners are.
    fn object(&self, all: &[Vector3<f64>]) -> Vec<Vector3<f64>> {
        match &self.ids {
            Some(ids) => ids.iter().map(|&i| all[i]).collect(),
            None => all.to_vec(),
        }
    }
}

/// Per-view outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ViewReport {
    /// Image name.
    pub name: String,
    /// Reprojection RMS, pixels.
    pub rms_px: f64,
    /// Left out of the final fit because it did not agree with the others.
    pub rejected: bool,
    /// Angle between the board normal and the optical axis, degrees.
    pub tilt_deg: f64,
    /// Distance to the board's origin, metres.
    pub distance_m: f64,
    /// Camera ← board.
    pub pose: Pose,
}

/// The result of an intrinsic calibration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Intrinsics {
    /// The fitted camera.
    pub camera: CameraModel,
    /// Reprojection RMS over the accepted views, pixels.
    pub rms_px: f64,
    /// One-sigma uncertainty of fx, fy, cx, cy, pixels.
    pub sigma: [f64; 4],
    /// Every view that had the board.
    pub views: Vec<ViewReport>,
    /// Share of the image (a 10 × 10 grid of cells) holding at least one corner.
    pub coverage: f64,
    /// What makes the result less trustworthy, and what to capture to fix it.
    pub warnings: Vec<String>,
}

/// Options of [`calibrate`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Lens model.
    pub lens: LensModel,
    /// Keep k3 at 0 (narrow lenses rarely determine it).
    pub fix_k3: bool,
    /// Leave out views far worse than the rest (as OpenCV does not).
    pub reject_outliers: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            lens: LensModel::PinholeRadtan,
            fix_k3: false,
            reject_outliers: true,
        }
    }
}

/// Fewest views that determine the intrinsics (Zhang: three planes).
pub const MIN_VIEWS: usize = 3;

/// Calibrates from the detected corners of `observations`.
pub fn calibrate(
    board: &dyn Target,
    width: u32,
    height: u32,
    observations: &[Observation],
    options: Options,
) -> Result<Intrinsics, CalibError> {
    if observations.len() < MIN_VIEWS {
        return Err(CalibError::NotEnoughData(format!(
            "the board was found in {} image(s); at least {MIN_VIEWS} views of it at different angles are needed (15-30 recommended)",
            observations.len()
        )));
    }
    let all = board.object_points();
    if let Some(o) = observations.iter().find(|o| {
        o.ids
            .as_ref()
            .is_some_and(|ids| ids.iter().any(|&i| i >= all.len()))
    }) {
        return Err(CalibError::Argument(format!(
            "view {}: a corner id beyond the board's {} corners",
            o.name,
            all.len()
        )));
    }
    let object: Vec<Vec<Vector3<f64>>> = observations.iter().map(|o| o.object(&all)).collect();
    let hs: Vec<_> = observations
        .iter()
        .zip(&object)
        .filter_map(|(o, obj)| {
            let plane: Vec<[f64; 2]> = obj.iter().map(|p| [p.x, p.y]).collect();
            zhang::homography(&plane, &o.corners)
        })
        .collect();
    let k = zhang::intrinsics(&hs, width, height).ok_or_else(|| {
        CalibError::NotEnoughData(
            "the views do not determine a focal length (all boards nearly parallel to the image); tilt the board 20-45 degrees in several directions".into(),
        )
    })?;
    let mut camera = CameraModel {
        lens: options.lens,
        width,
        height,
        fx: k[0],
        fy: k[1],
        cx: k[2],
        cy: k[3],
        distortion: vec![0.0; options.lens.coefficients()],
    };
    let mut poses: Vec<Pose> = Vec::with_capacity(observations.len());
    for (o, h) in observations.iter().zip(&hs) {
        poses.push(zhang::pose(h, k).ok_or_else(|| {
            CalibError::NotEnoughData(format!("view {}: no pose fits its corners", o.name))
        })?);
    }
    if hs.len() != observations.len() {
        return Err(CalibError::NotEnoughData(
            "some views' corners are degenerate (collinear); recapture them".into(),
        ));
    }

    // Fit; drop views far worse than the rest and fit again (twice at most).
    let mut accepted = vec![true; observations.len()];
    let mut round = 0;
    let fit = loop {
        let fit = refine(
            &mut camera,
            &mut poses,
            &object,
            observations,
            &accepted,
            options,
        );
        round += 1;
        if round == 3
            || !options.reject_outliers
            || !reject_outlying_views(&camera, &poses, &object, observations, &mut accepted)
        {
            break fit;
        }
    };

    let views: Vec<ViewReport> = (0..observations.len())
        .map(|v| {
            let normal = poses[v].rotation() * Vector3::z();
            ViewReport {
                name: observations[v].name.clone(),
                rms_px: view_rms(&camera, &poses[v], &object[v], &observations[v]),
                rejected: !accepted[v],
                tilt_deg: normal.z.abs().clamp(0.0, 1.0).acos().to_degrees(),
                distance_m: Vector3::from(poses[v].tvec).norm(),
                pose: poses[v],
            }
        })
        .collect();
    let coverage = coverage(width, height, observations, &accepted);
    let mut warnings = Vec::new();
    let used = accepted.iter().filter(|a| **a).count();
    if used < 10 {
        warnings.push(format!(
            "only {used} views were used; 15-30 views at different angles and positions give a reliable result"
        ));
    }
    if coverage < 0.5 {
        warnings.push(format!(
            "the corners cover {:.0} % of the image; distortion is extrapolated elsewhere: add views with the board near the corners and edges",
            100.0 * coverage
        ));
    }
    let max_tilt = views
        .iter()
        .filter(|v| !v.rejected)
        .map(|v| v.tilt_deg)
        .fold(0.0, f64::max);
    if max_tilt < 20.0 {
        warnings.push(format!(
            "the board is never tilted more than {max_tilt:.0} degrees; focal length and principal point are poorly separated from distance: tilt it 20-45 degrees in several directions"
        ));
    }
    let rejected = views.iter().filter(|v| v.rejected).count();
    if rejected > 0 {
        warnings.push(format!(
            "{rejected} view(s) did not fit the others and were left out (motion blur, a bent board, or a wrong detection)"
        ));
    }
    Ok(Intrinsics {
        camera,
        rms_px: fit.rms,
        sigma: fit.sigma,
        views,
        coverage,
        warnings,
    })
}

/// Marks views whose RMS exceeds 3× the median (and 0.5 px) as rejected,
/// keeping at least [`MIN_VIEWS`]; true if any was.
fn reject_outlying_views(
    camera: &CameraModel,
    poses: &[Pose],
    object: &[Vec<Vector3<f64>>],
    observations: &[Observation],
    accepted: &mut [bool],
) -> bool {
    let rms: Vec<f64> = (0..observations.len())
        .map(|v| view_rms(camera, &poses[v], &object[v], &observations[v]))
        .collect();
    let mut sorted: Vec<f64> = rms
        .iter()
        .zip(accepted.iter())
        .filter(|(_, a)| **a)
        .map(|(r, _)| *r)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let limit = (3.0 * sorted[sorted.len() / 2]).max(0.5);
    let mut changed = false;
    for v in 0..observations.len() {
        if accepted[v] && rms[v] > limit && accepted.iter().filter(|a| **a).count() > MIN_VIEWS {
            accepted[v] = false;
            changed = true;
        }
    }
    changed
}

fn view_rms(camera: &CameraModel, pose: &Pose, object: &[Vector3<f64>], o: &Observation) -> f64 {
    let mut r = Vec::new();
    residuals(camera, pose, object, &o.corners, &mut r);
    (r.iter().map(|v| v * v).sum::<f64>() / (r.len() / 2).max(1) as f64).sqrt()
}

fn residuals(
    camera: &CameraModel,
    pose: &Pose,
    object: &[Vector3<f64>],
    corners: &[[f64; 2]],
    out: &mut Vec<f64>,
) {
    out.clear();
    let r = pose.rotation();
    let t = Vector3::from(pose.tvec);
    for (p, c) in object.iter().zip(corners) {
        // A point behind the camera costs as if projected far away.
        let q = camera.project((r * p + t).into()).unwrap_or([1e6, 1e6]);
        out.push(q[0] - c[0]);
        out.push(q[1] - c[1]);
    }
}

fn coverage(width: u32, height: u32, observations: &[Observation], accepted: &[bool]) -> f64 {
    const CELLS: usize = 10;
    let mut hit = [[false; CELLS]; CELLS];
    for (o, _) in observations.iter().zip(accepted).filter(|(_, a)| **a) {
        for c in &o.corners {
            let i = ((c[0] / width as f64 * CELLS as f64) as usize).min(CELLS - 1);
            let j = ((c[1] / height as f64 * CELLS as f64) as usize).min(CELLS - 1);
            hit[j][i] = true;
        }
    }
    hit.iter().flatten().filter(|h| **h).count() as f64 / (CELLS * CELLS) as f64
}

struct Fit {
    rms: f64,
    sigma: [f64; 4],
}

/// The shared parameters: fx, fy, cx, cy, then the distortion coefficients.
fn shared(camera: &CameraModel) -> Vec<f64> {
    let mut v = vec![camera.fx, camera.fy, camera.cx, camera.cy];
    v.extend(&camera.distortion);
    v
}

fn set_shared(camera: &mut CameraModel, v: &[f64]) {
    camera.fx = v[0];
    camera.fy = v[1];
    camera.cx = v[2];
    camera.cy = v[3];
    camera.distortion.copy_from_slice(&v[4..]);
}

fn pose_vec(p: &Pose) -> [f64; 6] {
    [
        p.rvec[0], p.rvec[1], p.rvec[2], p.tvec[0], p.tvec[1], p.tvec[2],
    ]
}

fn vec_pose(v: &[f64]) -> Pose {
    Pose {
        rvec: [v[0], v[1], v[2]],
        tvec: [v[3], v[4], v[5]],
    }
}

/// Levenberg–Marquardt over [shared | pose₀ | pose₁ | …] of the accepted
/// views, with central-difference derivatives (each pose moves only its own
/// view's residuals, so a derivative costs one view, not all).
fn refine(
    camera: &mut CameraModel,
    poses: &mut [Pose],
    object: &[Vec<Vector3<f64>>],
    observations: &[Observation],
    accepted: &[bool],
    options: Options,
) -> Fit {
    let views: Vec<usize> = (0..observations.len()).filter(|&v| accepted[v]).collect();
    let ns = 4 + camera.distortion.len();
    // k3 (the fifth radtan coefficient) can be held at zero.
    let frozen =
        |k: usize| options.fix_k3 && options.lens == LensModel::PinholeRadtan && k == 4 + 4;
    let np = ns + 6 * views.len();
    let total = |camera: &CameraModel, poses: &[Pose]| -> f64 {
        let mut r = Vec::new();
        views
            .iter()
            .map(|&v| {
                residuals(
                    camera,
                    &poses[v],
                    &object[v],
                    &observations[v].corners,
                    &mut r,
                );
                r.iter().map(|x| x * x).sum::<f64>()
            })
            .sum()
    };
    let mut cost = total(camera, poses);
    let mut lambda = 1e-3;
    let mut jtj = DMatrix::<f64>::zeros(np, np);
    for _iteration in 0..200 {
        // Jacobian, view by view: [∂r/∂shared | ∂r/∂pose_v].
        jtj.fill(0.0);
        let mut jtr = DVector::<f64>::zeros(np);
        let base = shared(camera);
        let mut r0 = Vec::new();
        let mut rp = Vec::new();
        let mut rm = Vec::new();
        for (slot, &v) in views.iter().enumerate() {
            let corners = &observations[v].corners;
            let object = &object[v];
            let m_per_view = 2 * object.len();
            residuals(camera, &poses[v], object, corners, &mut r0);
            let mut jv = DMatrix::<f64>::zeros(m_per_view, ns + 6);
            for k in 0..ns {
                if frozen(k) {
                    continue;
                }
                let h = 1e-6 * base[k].abs().max(1e-2);
                let mut cam = camera.clone();
                let mut p = base.clone();
                p[k] += h;
                set_shared(&mut cam, &p);
                residuals(&cam, &poses[v], object, corners, &mut rp);
                p[k] -= 2.0 * h;
                set_shared(&mut cam, &p);
                residuals(&cam, &poses[v], object, corners, &mut rm);
                for i in 0..m_per_view {
                    jv[(i, k)] = (rp[i] - rm[i]) / (2.0 * h);
                }
            }
            let pv = pose_vec(&poses[v]);
            for k in 0..6 {
                let h = 1e-7 * pv[k].abs().max(1e-1);
                let mut p = pv;
                p[k] += h;
                residuals(camera, &vec_pose(&p), object, corners, &mut rp);
                p[k] -= 2.0 * h;
                residuals(camera, &vec_pose(&p), object, corners, &mut rm);
                for i in 0..m_per_view {
                    jv[(i, ns + k)] = (rp[i] - rm[i]) / (2.0 * h);
                }
            }
            let jtjv = jv.transpose() * &jv;
            let r = DVector::from_column_slice(&r0);
            let jtrv = jv.transpose() * r;
            let at = |k: usize| if k < ns { k } else { ns + 6 * slot + (k - ns) };
            for a in 0..ns + 6 {
                jtr[at(a)] += jtrv[a];
                for b in 0..ns + 6 {
                    jtj[(at(a), at(b))] += jtjv[(a, b)];
                }
            }
        }
        for k in 0..ns {
            if frozen(k) {
                jtj[(k, k)] = 1.0;
            }
        }
        // The step moves the shared parameters and each accepted view's pose.
        let apply = |step: &DVector<f64>| {
            let mut cam = camera.clone();
            let mut s = base.clone();
            for k in 0..ns {
                s[k] += step[k];
            }
            set_shared(&mut cam, &s);
            let mut ps = poses.to_vec();
            for (slot, &v) in views.iter().enumerate() {
                let mut p = pose_vec(&poses[v]);
                for k in 0..6 {
                    p[k] += step[ns + 6 * slot + k];
                }
                ps[v] = vec_pose(&p);
            }
            (cam, ps)
        };
        let mut improved = false;
        if let Some((step, c)) = lm::damped_step(&jtj, &jtr, &mut lambda, cost, &mut |step| {
            let (cam, ps) = apply(step);
            total(&cam, &ps)
        }) {
            let relative = (cost - c) / cost.max(1e-300);
            let (cam, ps) = apply(&step);
            *camera = cam;
            poses.copy_from_slice(&ps);
            cost = c;
            improved = relative > 1e-12;
        }
        if !improved {
            break;
        }
    }
    let m: usize = views.iter().map(|&v| 2 * object[v].len()).sum();
    let dof = m.saturating_sub(np).max(1) as f64;
    let variance = cost / dof;
    let sigma = jtj
        .clone()
        .try_inverse()
        .map(|inv| std::array::from_fn(|k| (inv[(k, k)] * variance).max(0.0).sqrt()))
        .unwrap_or([f64::NAN; 4]);
    Fit {
        rms: (cost / (m / 2).max(1) as f64).sqrt(),
        sigma,
    }
}
