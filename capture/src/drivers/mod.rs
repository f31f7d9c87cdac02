//! One module per device family: `protocol` maps bytes ↔ typed packets; the
//! driver and emulator that speak it sit beside it.

pub mod camera;
pub mod dynamixel;
pub mod feetech;
pub mod lidar;
pub mod livox;
pub mod ouster;
pub mod servo;
mod sync_write;
pub mod velodyne;
