//! Shared by the benchmarks of the `reel` binary; each uses part of it.
#![allow(dead_code)]

pub mod bimanual;
