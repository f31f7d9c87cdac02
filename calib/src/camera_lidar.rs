//! Camera–LiDAR extrinsics from views of a planar board seen by both.
//!
//! Each view gives the board's plane twice: in the camera frame from its
//! corners (PnP), and in the LiDAR frame from the returns that hit it
//! (found by RANSAC among the scan's planes, picked by the board's size).
//! The rotation aligns the LiDAR planes' normals with the camera's
//! (orthogonal Procrustes), the translation follows from the planes'
//! distances, and the result minimises every board return's distance to the
//! board's plane as the camera sees it. Three views whose normals span
//! three directions determine all six degrees of freedom.

use nalgebra::{Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion, Vector3};

use crate::error::CalibError;
use crate::lm;
use crate::pose::{from_iso, to_iso};

/// One view: the board seen by the camera and its returns in the LiDAR scan.
#[derive(Debug, Clone)]
pub struct LidarView {
    /// Frame name (episode time).
    pub name: String,
    /// Camera ← board from the corners.
    pub camera_from_board: Isometry3<f64>,
    /// The returns on the board, LiDAR frame, metres.
    pub points: Vec<Vector3<f64>>,
}

/// Per-view outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LidarViewReport {
    /// Frame name.
    pub name: String,
    /// Returns on the board.
    pub points: usize,
    /// RMS distance of the returns to the camera's board plane, metres.
    pub rms_m: f64,
    /// Left out of the final fit because it did not agree with the others.
    pub rejected: bool,
}

/// The result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraLidar {
    /// Camera ← LiDAR: the LiDAR's frame in the camera's optical frame.
    #[serde(serialize_with = "crate::pose::as_transform")]
    pub camera_from_lidar: Isometry3<f64>,
    /// RMS point-to-plane distance over the accepted views, metres.
    pub rms_m: f64,
    /// One-sigma uncertainty of the rotation (degrees) and translation
    /// (millimetres) from the fit.
    pub sigma_deg_mm: [f64; 2],
    /// Every view.
    pub views: Vec<LidarViewReport>,
    /// What makes the result less trustworthy, and what to capture to fix it.
    pub warnings: Vec<String>,
}

/// Fewest views: three planes with independent normals.
pub const MIN_VIEWS: usize = 3;

/// Fewest returns on the board for a view to count.
pub const MIN_POINTS: usize = 30;

/// A plane `n·p = d` with `d > 0` (the normal points away from the sensor).
#[derive(Debug, Clone, Copy)]
struct Plane {
    n: Vector3<f64>,
    d: f64,
}

impl Plane {
    fn facing_away(n: Vector3<f64>, d: f64) -> Self {
        if d < 0.0 {
            Self { n: -n, d: -d }
        } else {
            Self { n, d }
        }
    }

    /// Least-squares plane through `points` and their centroid.
    fn fit(points: &[Vector3<f64>]) -> Option<(Self, Vector3<f64>)> {
        let c = points.iter().sum::<Vector3<f64>>() / points.len().max(1) as f64;
        let mut scatter = Matrix3::zeros();
        for p in points {
            let q = p - c;
            scatter += q * q.transpose();
        }
        let eigen = scatter.symmetric_eigen();
        let k = eigen.eigenvalues.imin();
        let n = eigen.eigenvectors.column(k).into_owned();
        (n.norm() > 0.5).then(|| (Self::facing_away(n, n.dot(&c)), c))
    }
}

/// Solves for camera ← LiDAR.
pub fn calibrate(views: &[LidarView]) -> Result<CameraLidar, CalibError> {
    let usable: Vec<&LidarView> = views
        .iter()
        .filter(|v| v.points.len() >= MIN_POINTS)
        .collect();
    if usable.len() < MIN_VIEWS {
        return Err(CalibError::NotEnoughData(format!(
            "the board was seen by both sensors in {} view(s) (with at least {MIN_POINTS} LiDAR returns on it); at least {MIN_VIEWS} are needed (10-20 recommended), with the board tilted differently in each",
            usable.len()
        )));
    }
    let camera_planes: Vec<Plane> = usable
        .iter()
        .map(|v| {
            let n = v.camera_from_board.rotation * Vector3::z();
            Plane::facing_away(n, n.dot(&v.camera_from_board.translation.vector))
        })
        .collect();
    let lidar_planes: Vec<Plane> = usable
        .iter()
        .map(|v| {
            Plane::fit(&v.points).map(|(p, _)| p).ok_or_else(|| {
                CalibError::NotEnoughData(format!(
                    "view {}: the board returns fit no plane",
                    v.name
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    check_normals(&camera_planes)?;

    // R·n_lidar = n_camera (Procrustes), then n_camera·t = d_camera − d_lidar.
    let mut h = Matrix3::<f64>::zeros();
    for (c, l) in camera_planes.iter().zip(&lidar_planes) {
        h += l.n * c.n.transpose();
    }
    let svd = h.svd(true, true);
    let (Some(u), Some(vt)) = (svd.u, svd.v_t) else {
        return Err(CalibError::NotEnoughData(
            "the board planes do not determine the rotation; tilt the board differently between views".into(),
        ));
    };
    let v = vt.transpose();
    let sign = (v * u.transpose()).determinant().signum();
    let r = v * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, sign)) * u.transpose();
    let mut a = Matrix3::<f64>::zeros();
    let mut b = Vector3::<f64>::zeros();
    for (c, l) in camera_planes.iter().zip(&lidar_planes) {
        a += c.n * c.n.transpose();
        b += c.n * (c.d - l.d);
    }
    let t = a.try_inverse().map(|inv| inv * b).ok_or_else(|| {
        CalibError::NotEnoughData(
            "the board planes do not determine the translation; tilt the board left, right, up and down between views".into(),
        )
    })?;
    let start = Isometry3::from_parts(
        Translation3::from(t),
        UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix(&r)),
    );

    let mut accepted = vec![true; usable.len()];
    let (mut x, mut fit) = refine(&usable, &camera_planes, &accepted, start);
    // One rejection step: a view whose returns disagree (the board moved
    // during the scan, another object segmented as the board) is left out.
    let rms: Vec<f64> = (0..usable.len())
        .map(|k| view_rms(usable[k], &camera_planes[k], &x))
        .collect();
    if let Some(kept) = lm::without_outliers(&rms, 0.03, MIN_VIEWS) {
        accepted = kept;
        (x, fit) = refine(&usable, &camera_planes, &accepted, x);
    }

    let used: Vec<Plane> = camera_planes
        .iter()
        .zip(&accepted)
        .filter(|(_, a)| **a)
        .map(|(p, _)| *p)
        .collect();
    check_normals(&used)?;
    let sigma_deg_mm = fit.pose_sigma_deg_mm(0);
    let reports: Vec<LidarViewReport> = usable
        .iter()
        .enumerate()
        .map(|(k, v)| LidarViewReport {
            name: v.name.clone(),
            points: v.points.len(),
            rms_m: view_rms(v, &camera_planes[k], &x),
            rejected: !accepted[k],
        })
        .collect();
    let mut warnings = Vec::new();
    let skipped = views.len() - usable.len();
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} view(s) had fewer than {MIN_POINTS} returns on the board and were not used; bring the board closer or use a larger one"
        ));
    }
    if used.len() < 8 {
        warnings.push(format!(
            "only {} views were used; 10-20 views with the board tilted in different directions give a steadier result",
            used.len()
        ));
    }
    let rejected = accepted.iter().filter(|a| !**a).count();
    if rejected > 0 {
        warnings.push(format!(
            "{rejected} view(s) did not agree with the others and were left out"
        ));
    }
    Ok(CameraLidar {
        camera_from_lidar: x,
        rms_m: (fit.cost / fit.residuals.max(1) as f64).sqrt(),
        sigma_deg_mm,
        views: reports,
        warnings,
    })
}

/// The normals must span three directions, or a translation along the
/// missing one (and possibly a rotation) is not determined.
fn check_normals(planes: &[Plane]) -> Result<(), CalibError> {
    let mut scatter = Matrix3::<f64>::zeros();
    for p in planes {
        scatter += p.n * p.n.transpose();
    }
    let mut eigen: Vec<f64> = scatter
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .copied()
        .collect();
    eigen.sort_by(|a, b| b.total_cmp(a));
    // ~10° of spread in each direction.
    if eigen[2] < 0.01 * planes.len() as f64 {
        return Err(CalibError::NotEnoughData(format!(
            "degenerate views: the board's orientations do not span three directions (spread {:.3}); tilt it left, right, up and down by 20-40 degrees between views",
            eigen[2] / planes.len().max(1) as f64
        )));
    }
    Ok(())
}

fn residuals(view: &LidarView, plane: &Plane, x: &Isometry3<f64>, out: &mut Vec<f64>) {
    out.extend(
        view.points
            .iter()
            .map(|p| plane.n.dot(&(x * nalgebra::Point3::from(*p)).coords) - plane.d),
    );
}

fn view_rms(view: &LidarView, plane: &Plane, x: &Isometry3<f64>) -> f64 {
    let mut r = Vec::new();
    residuals(view, plane, x, &mut r);
    (r.iter().map(|v| v * v).sum::<f64>() / r.len().max(1) as f64).sqrt()
}

fn refine(
    views: &[&LidarView],
    planes: &[Plane],
    accepted: &[bool],
    start: Isometry3<f64>,
) -> (Isometry3<f64>, lm::Fit) {
    let mut p = from_iso(&start);
    let fit = lm::minimize(&mut p, &[0.1; 6], &|p, r| {
        r.clear();
        let x = to_iso(p);
        for (k, v) in views.iter().enumerate() {
            if accepted[k] {
                residuals(v, &planes[k], &x, r);
            }
        }
    });
    (to_iso(&p), fit)
}

/// The returns on a board of `size` (width, height in metres, the physical
/// target) in a scan: planes are found by RANSAC, largest first; each
/// plane's largest connected patch is the board if its extent matches
/// `size`. Walls and floors are larger and are passed over. Deterministic.
pub fn find_board(
    points: &[Vector3<f64>],
    size: [f64; 2],
    max_range_m: f64,
) -> Option<Vec<Vector3<f64>>> {
    const INLIER_M: f64 = 0.03;
    let mut remaining: Vec<Vector3<f64>> = points
        .iter()
        .filter(|p| p.norm() <= max_range_m && p.norm() > 0.3)
        .copied()
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    for _plane in 0..8 {
        if remaining.len() < MIN_POINTS {
            return None;
        }
        let mut best: Option<(usize, Vector3<f64>, f64)> = None;
        for _ in 0..400 {
            let (a, b, c) = (
                remaining[next(remaining.len())],
                remaining[next(remaining.len())],
                remaining[next(remaining.len())],
            );
            let n = (b - a).cross(&(c - a));
            if n.norm() < 1e-6 {
                continue;
            }
            let n = n.normalize();
            let d = n.dot(&a);
            let count = remaining
                .iter()
                .filter(|p| (n.dot(p) - d).abs() < INLIER_M)
                .count();
            if best.is_none_or(|(k, _, _)| count > k) {
                best = Some((count, n, d));
            }
        }
        let (_, n, d) = best?;
        let (inliers, rest): (Vec<_>, Vec<_>) = remaining
            .iter()
            .partition(|p| (n.dot(p) - d).abs() < INLIER_M);
        remaining = rest;
        let patch = largest_patch(&inliers);
        if patch.len() >= MIN_POINTS && matches_size(&patch, size) {
            return Some(patch);
        }
    }
    None
}

/// The largest set of points connected through neighbours closer than
/// 0.15 m (a voxel grid's 27-neighbourhood).
fn largest_patch(points: &[Vector3<f64>]) -> Vec<Vector3<f64>> {
    use std::collections::HashMap;
    const CELL: f64 = 0.15;
    let key = |p: &Vector3<f64>| {
        (
            (p.x / CELL).floor() as i64,
            (p.y / CELL).floor() as i64,
            (p.z / CELL).floor() as i64,
        )
    };
    let mut cells: HashMap<(i64, i64, i64), Vec<usize>> = HashMap::new();
    for (i, p) in points.iter().enumerate() {
        cells.entry(key(p)).or_default().push(i);
    }
    let mut seen: HashMap<(i64, i64, i64), bool> = HashMap::new();
    let mut best: Vec<usize> = Vec::new();
    let mut keys: Vec<_> = cells.keys().copied().collect();
    keys.sort_unstable();
    for start in keys {
        if seen.contains_key(&start) {
            continue;
        }
        let mut stack = vec![start];
        seen.insert(start, true);
        let mut members = Vec::new();
        while let Some(c) = stack.pop() {
            members.extend_from_slice(&cells[&c]);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for dz in -1..=1 {
                        let n = (c.0 + dx, c.1 + dy, c.2 + dz);
                        if cells.contains_key(&n) && !seen.contains_key(&n) {
                            seen.insert(n, true);
                            stack.push(n);
                        }
                    }
                }
            }
        }
        if members.len() > best.len() {
            best = members;
        }
    }
    best.sort_unstable();
    best.into_iter().map(|i| points[i]).collect()
}

/// The patch's in-plane extent (along its principal axes) is that of the
/// board: sparse scan lines undercut the height by up to a line spacing.
fn matches_size(patch: &[Vector3<f64>], size: [f64; 2]) -> bool {
    let Some((_, c)) = Plane::fit(patch) else {
        return false;
    };
    let mut scatter = Matrix3::zeros();
    for p in patch {
        let q = p - c;
        scatter += q * q.transpose();
    }
    let eigen = scatter.symmetric_eigen();
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let extent = |k: usize| {
        let axis = eigen.eigenvectors.column(order[k]).into_owned();
        let (lo, hi) = patch.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            let s = axis.dot(&(p - c));
            (lo.min(s), hi.max(s))
        });
        hi - lo
    };
    let (long, short) = (extent(0), extent(1));
    let (big, small) = (size[0].max(size[1]), size[0].min(size[1]));
    // A tilted board's diagonal can be the longest extent.
    let diagonal = (big * big + small * small).sqrt();
    long > 0.6 * big && long < 1.1 * diagonal && short > 0.4 * small && short < 1.1 * diagonal
}
