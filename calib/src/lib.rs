//! reel-calib: camera intrinsics from checkerboard views, time offsets between
//! streams from correlated motion, and the ROS and
//! OpenCV calibration files the rest of the toolchain reads.
//!
//! Hand-eye and camera–LiDAR extrinsics are not built yet.

pub mod board;
pub mod detect;
pub mod error;
pub mod files;
pub mod images;
pub mod intrinsics;
pub mod model;
pub mod synthetic;
pub mod zhang;

pub use board::Checkerboard;
pub use error::CalibError;
pub use model::{CameraModel, LensModel, Pose};
pub mod time_offset;
