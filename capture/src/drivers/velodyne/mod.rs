//! Velodyne VLP-16, Puck Hi-Res, VLP-32C and HDL-32E over UDP.

pub mod batcher;
pub mod decoder;
pub mod protocol;
