//! Velodyne VLP-16 over UDP.

pub mod driver;
pub mod protocol;
pub mod revolution;
