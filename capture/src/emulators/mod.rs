//! Wire-exact emulators of the devices the drivers read: servo buses on pty
//! pairs, Velodyne LiDARs on UDP, cameras that stamp their true acquisition time
//! into the image. Every test and demo records through them; the drivers
//! cannot tell them from hardware.

pub mod camera;
pub mod ground_truth;
pub mod lidar_scene;
pub mod livox;
pub mod motion;
pub mod ouster;
pub mod rig;
pub mod servo_bus;
mod threads;
pub mod velodyne;
