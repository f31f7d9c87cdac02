//! reel-calib: camera intrinsics, hand-eye and camera–LiDAR extrinsics, time
//! offsets between streams; reads and writes ROS and OpenCV calibration files.
//!
//! Empty until the calibration work lands; nothing here is exposed as a command yet.
