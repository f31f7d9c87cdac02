//! Velodyne VLP-16 over UDP.

pub mod protocol;
pub mod revolution;
