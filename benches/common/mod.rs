//! Shared by the benchmarks of the `reel` binary.

pub mod bimanual;
