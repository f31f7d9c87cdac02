//! reel-calib: camera intrinsics from checkerboard views, hand-eye mounts
//! from views plus forward kinematics, camera–LiDAR extrinsics from a board
//! both sensors see, time offsets between streams from correlated motion,
//! and the ROS and OpenCV calibration files the rest of the toolchain reads;
//! [`workflow`] runs each calibration whole, from an episode or a folder of
//! pictures to a report and the rig change that stores it.

pub mod aruco;
pub mod board;
pub mod camera_lidar;
pub mod charuco;
pub mod detect;
pub mod episode;
pub mod error;
pub mod files;
pub mod hand_eye;
pub mod images;
pub mod intrinsics;
mod lm;
pub mod model;
pub mod pose;
pub mod projected_motion;
pub mod synthetic;
pub mod target;
pub mod workflow;
pub mod zhang;

pub use board::Checkerboard;
pub use error::CalibError;
pub use model::{CameraModel, LensModel, Pose};
pub mod time_offset;
