//! The recorder: device threads feed one writer thread through a bounded
//! queue; the writer owns the episode file.

pub mod sink;
