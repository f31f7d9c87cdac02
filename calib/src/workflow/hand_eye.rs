//! Where a camera is mounted (on the arm, or in the workspace watching a
//! board the arm holds), from an episode: the frames taken while the arm
//! paused, the board found in each, forward kinematics from the URDF.

use std::path::PathBuf;

use reel_episode::robot::RobotModel;
use serde::Serialize;

use super::{detect_all, episode_intrinsics, RigSensor, RigUpdate};
use crate::episode::{one_frame_per_pause, read, Also};
use crate::error::CalibError;
use crate::hand_eye::{calibrate, HandEye, Setup, View, MIN_VIEWS};
use crate::images::decode_jpeg;
use crate::intrinsics::Observation;
use crate::pose::{from_formats, Transform};
use crate::Checkerboard;

/// Window either side of a frame in which the joints must stand still, ns.
const STILL_WINDOW_NS: i64 = 100_000_000;

/// What to calibrate.
#[derive(Debug, Clone)]
pub struct HandEyeOptions {
    /// The episode.
    pub episode: PathBuf,
    /// Camera name (its frames are /camera/NAME/image/compressed).
    pub camera: String,
    /// Arm whose joint states place the gripper (/robot/ARM/joint_states).
    pub arm: String,
    /// Camera on the arm or in the workspace.
    pub setup: Setup,
    /// URDF link the camera (eye-in-hand) or the board (eye-to-hand) is fixed to.
    pub link: String,
    /// The board.
    pub board: Checkerboard,
    /// The robot's URDF text; None: the episode's /robot_description.
    pub urdf: Option<String>,
    /// A frame is used only if no joint moved more than this within
    /// ±100 ms of it, radians.
    pub still_rad: f64,
    /// Most views used (evenly spread over the arm's pauses).
    pub max_views: usize,
}

/// The result, as `reel calib hand-eye --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct HandEyeReport {
    /// Camera name.
    pub camera: String,
    /// The episode.
    pub episode: PathBuf,
    /// The frame the camera is placed in: the link, or the robot's root.
    pub parent_frame: String,
    /// The camera's optical frame.
    pub camera_frame: String,
    /// Where the intrinsics came from.
    pub intrinsics_from: String,
    /// Frames of the camera in the episode.
    pub frames: usize,
    /// Frames passed over because the arm moved or had no joint state.
    pub frames_while_moving: usize,
    /// The fit.
    pub result: HandEye,
}

impl HandEyeReport {
    /// parent ← camera, in ROS's and URDF's terms.
    pub fn transform(&self) -> Transform {
        Transform::from(&self.result.camera)
    }

    /// The rig change that stores the mount.
    pub fn rig_update(&self) -> RigUpdate {
        RigUpdate::Mount {
            sensor: RigSensor::Camera(self.camera.clone()),
            mount: self.transform().mount(&self.parent_frame),
        }
    }
}

/// Runs the calibration.
pub fn run(options: &HandEyeOptions) -> Result<HandEyeReport, CalibError> {
    let path = &options.episode;
    let board = &options.board;
    let data = read(
        path,
        &options.camera,
        Also {
            arm: Some(&options.arm),
            lidar: None,
        },
    )?;
    let urdf = match &options.urdf {
        Some(text) => text.clone(),
        None => data.urdf.clone().ok_or_else(|| {
            CalibError::input(
                path,
                "no /robot_description in the episode; give the robot's URDF",
            )
        })?,
    };
    let robot =
        RobotModel::parse(&urdf).map_err(|e| CalibError::Argument(format!("the URDF: {e}")))?;
    if !robot.links.iter().any(|l| l.name == options.link) {
        return Err(CalibError::Argument(format!(
            "link {}: no such link in the URDF; its links are {}",
            options.link,
            robot
                .links
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    // One frame per pause of the arm, spread over at most max_views.
    let (still, moving) = one_frame_per_pause(&data, STILL_WINDOW_NS, options.still_rad);
    let stride = still.len().div_ceil(options.max_views.max(1)).max(1);
    let chosen: Vec<_> = still.into_iter().step_by(stride).collect();
    let t0 = data.frames[0].stamp_nanos;
    let images = chosen
        .iter()
        .map(|s| {
            let f = &data.frames[s.frame];
            decode_jpeg(path, (f.stamp_nanos - t0) as f64 * 1e-9, &f.jpeg)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let found = detect_all(&images, &crate::target::Board::Checkerboard(*board));
    let mut views = Vec::new();
    for (s, obs) in chosen.iter().zip(&found) {
        let Some(obs) = obs else { continue };
        let poses =
            robot.link_poses(&|joint| s.joints.iter().find(|(n, _)| n == joint).map(|(_, q)| *q));
        let Some(gripper) = poses.get(&options.link) else {
            continue;
        };
        views.push(View {
            name: obs.name.clone(),
            base_from_gripper: from_formats(gripper),
            corners: obs.corners.clone(),
        });
    }
    if views.len() < MIN_VIEWS {
        return Err(CalibError::input(
            path,
            format!(
                "the board was found in {} of {} frames taken while the arm stood still ({} of {} frames were taken while it moved or without joint states); hand-eye needs at least {MIN_VIEWS} such views: pause the arm for half a second at each pose",
                views.len(),
                chosen.len(),
                moving,
                data.frames.len(),
            ),
        ));
    }
    let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
    let size = (images[0].image.width as u32, images[0].image.height as u32);
    let (camera, intrinsics_from) = episode_intrinsics(path, &data, board, size, &observations)?;
    let result = calibrate(&camera, board, &views, options.setup)
        .map_err(|e| CalibError::input(path, e.to_string()))?;
    let parent_frame = match options.setup {
        Setup::EyeInHand => options.link.clone(),
        Setup::EyeToHand => robot.root.clone(),
    };
    Ok(HandEyeReport {
        camera: options.camera.clone(),
        episode: path.clone(),
        parent_frame,
        camera_frame: data.frames[0].frame_id.clone(),
        intrinsics_from,
        frames: data.frames.len(),
        frames_while_moving: moving,
        result,
    })
}
