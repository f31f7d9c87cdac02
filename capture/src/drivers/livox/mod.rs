//! Livox Mid-360 and HAP over UDP (the SDK2 data protocol): point cloud
//! packets in Cartesian (high and low precision) or spherical form, and IMU
//! packets. The sensors' configuration protocol (discovery, work mode, host
//! addresses) is left to Livox Viewer 2 or the SDK.

pub mod decoder;
pub mod protocol;
