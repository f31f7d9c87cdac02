//! Where a LiDAR sits in a camera's optical frame, from an episode of a
//! board both see, held still at varied tilts: the board's plane from its
//! corners and from its returns, fitted point to plane.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nalgebra::{Isometry3, Vector3};
use serde::Serialize;

use super::{detect_all, episode_intrinsics, RigSensor, RigUpdate};
use crate::camera_lidar::{calibrate, find_board, CameraLidar, LidarView, MIN_VIEWS};
use crate::episode::{read, read_clouds, Also};
use crate::error::CalibError;
use crate::images::decode_jpeg;
use crate::intrinsics::Observation;
use crate::pose::{board_pose, Transform};
use crate::Checkerboard;

/// A board that moved more than this between the frames around a
/// revolution was not still during it, metres and degrees.
const STILL_M: f64 = 0.003;
const STILL_DEG: f64 = 0.3;
/// A still view this close to the previous one adds only weight, metres
/// and degrees.
const SAME_POSE_M: f64 = 0.01;
const SAME_POSE_DEG: f64 = 1.0;

/// What to calibrate.
#[derive(Debug, Clone)]
pub struct CameraLidarOptions {
    /// The episode.
    pub episode: PathBuf,
    /// Camera name (its frames are /camera/NAME/image/compressed).
    pub camera: String,
    /// LiDAR name (its clouds are /lidar/NAME/points).
    pub lidar: String,
    /// The board's corner pattern.
    pub board: Checkerboard,
    /// The physical board's width and height, metres; None: the checker
    /// area, one square beyond the outer corners.
    pub board_size_m: Option<[f64; 2]>,
    /// Returns farther than this are ignored, metres.
    pub max_range_m: f64,
    /// Most views used (evenly spread over the episode).
    pub max_views: usize,
}

/// The result, as `reel calib camera-lidar --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct CameraLidarReport {
    /// Camera name.
    pub camera: String,
    /// LiDAR name.
    pub lidar: String,
    /// The episode.
    pub episode: PathBuf,
    /// The camera's optical frame.
    pub camera_frame: String,
    /// The LiDAR's frame.
    pub lidar_frame: String,
    /// Where the intrinsics came from.
    pub intrinsics_from: String,
    /// Revolutions in the episode.
    pub revolutions: usize,
    /// Candidate revolutions during which the board moved.
    pub revolutions_while_moving: usize,
    /// Still poses whose scan held no board-sized plane.
    pub still_poses_without_board: Vec<String>,
    /// The fit.
    pub result: CameraLidar,
}

impl CameraLidarReport {
    /// camera ← LiDAR, in ROS's and URDF's terms.
    pub fn transform(&self) -> Transform {
        Transform::from(&self.result.camera_from_lidar)
    }

    /// The rig change that stores the LiDAR's mount.
    pub fn rig_update(&self) -> RigUpdate {
        RigUpdate::Mount {
            sensor: RigSensor::Lidar(self.lidar.clone()),
            mount: self.transform().mount(&self.camera_frame),
        }
    }
}

/// Runs the calibration.
pub fn run(options: &CameraLidarOptions) -> Result<CameraLidarReport, CalibError> {
    let path = &options.episode;
    let board = &options.board;
    let size = options.board_size_m.unwrap_or([
        (board.cols + 1) as f64 * board.square,
        (board.rows + 1) as f64 * board.square,
    ]);
    let data = read(
        path,
        &options.camera,
        Also {
            arm: None,
            lidar: Some(&options.lidar),
        },
    )?;
    // A cloud counts when the board stood still through its revolution: the
    // camera sees it at the same pose just before and just after.
    let stamps = &data.cloud_stamps;
    let mut gaps: Vec<i64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let period = gaps
        .get(gaps.len() / 2)
        .copied()
        .unwrap_or(100_000_000)
        .max(1);
    let stride = stamps.len().div_ceil(3 * options.max_views.max(1)).max(1);
    let t0 = data.frames[0].stamp_nanos;
    let mut candidates = Vec::new(); // (cloud stamp, frame before, frame after)
    for &s in stamps.iter().step_by(stride) {
        let before = data.frames.iter().rposition(|f| f.stamp_nanos <= s);
        let after = data.frames.iter().position(|f| f.stamp_nanos >= s + period);
        if let (Some(b), Some(a)) = (before, after) {
            if data.frames[a].stamp_nanos - data.frames[b].stamp_nanos <= 3 * period {
                candidates.push((s, b, a));
            }
        }
    }
    let images = candidates
        .iter()
        .flat_map(|&(_, b, a)| [b, a])
        .map(|i| {
            let f = &data.frames[i];
            decode_jpeg(path, (f.stamp_nanos - t0) as f64 * 1e-9, &f.jpeg)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let found = detect_all(&images, &crate::target::Board::Checkerboard(*board));
    let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
    if observations.is_empty() {
        return Err(CalibError::input(
            path,
            format!(
                "the {}x{} board was not found in any of {} frames next to a LiDAR revolution; check the board's inner corners and the camera name",
                board.cols,
                board.rows,
                images.len()
            ),
        ));
    }
    let image_size = (images[0].image.width as u32, images[0].image.height as u32);
    let (camera, intrinsics_from) =
        episode_intrinsics(path, &data, board, image_size, &observations)?;
    let object = board.object_points();
    let mut still = Vec::new(); // (cloud stamp, name, camera ← board)
    let mut moving = 0;
    for (k, &(s, _, _)) in candidates.iter().enumerate() {
        let (Some(b), Some(a)) = (&found[2 * k], &found[2 * k + 1]) else {
            continue;
        };
        let (Some(pb), Some(pa)) = (
            board_pose(&camera, &object, &b.corners),
            board_pose(&camera, &object, &a.corners),
        ) else {
            continue;
        };
        let change = pb.inverse() * pa;
        if change.translation.vector.norm() > STILL_M
            || change.rotation.angle() > STILL_DEG.to_radians()
        {
            moving += 1;
            continue;
        }
        still.push((s, b.name.clone(), pb));
    }
    // One view per pause: a still board at the same pose as the last view
    // adds nothing but weight.
    let mut views_at: Vec<(i64, String, Isometry3<f64>)> = Vec::new();
    for v in still {
        let same = views_at.last().is_some_and(|last| {
            let change = last.2.inverse() * v.2;
            change.translation.vector.norm() < SAME_POSE_M
                && change.rotation.angle() < SAME_POSE_DEG.to_radians()
        });
        if !same {
            views_at.push(v);
        }
    }
    let wanted: BTreeSet<i64> = views_at.iter().map(|v| v.0).collect();
    let clouds = read_clouds(path, &options.lidar, &wanted)?;
    let mut views = Vec::new();
    let mut no_board = Vec::new();
    for (s, name, camera_from_board) in views_at.into_iter().take(options.max_views.max(1)) {
        let points: Vec<Vector3<f64>> = clouds
            .get(&s)
            .map(|c| c.iter().map(|p| Vector3::from(*p)).collect())
            .unwrap_or_default();
        match find_board(&points, size, options.max_range_m) {
            Some(points) => views.push(LidarView {
                name,
                camera_from_board,
                points,
            }),
            None => no_board.push(name),
        }
    }
    if views.len() < MIN_VIEWS {
        return Err(CalibError::input(
            path,
            format!(
                "the board was seen still by both sensors in {} pose(s) ({} revolutions with the board moving, {} still poses without a {:.2}x{:.2} m plane in the scan); at least {MIN_VIEWS} are needed: hold the board still for a second at each of 10-20 tilts, within {:.0} m, and check the board's size",
                views.len(),
                moving,
                no_board.len(),
                size[0],
                size[1],
                options.max_range_m
            ),
        ));
    }
    let result = calibrate(&views).map_err(|e| CalibError::input(path, e.to_string()))?;
    Ok(CameraLidarReport {
        camera: options.camera.clone(),
        lidar: options.lidar.clone(),
        episode: path.clone(),
        camera_frame: data.frames[0].frame_id.clone(),
        lidar_frame: data.lidar_frame.clone(),
        intrinsics_from,
        revolutions: stamps.len(),
        revolutions_while_moving: moving,
        still_poses_without_board: no_board,
        result,
    })
}
