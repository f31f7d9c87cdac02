//! Fixtures shared by reel's tests, benchmarks and examples (not
//! published): where third-party test files are and how a test skips
//! without them ([`skip`]), a synthetic rig's message mix
//! ([`synthetic_rig`]), small episodes written with it ([`episodes`]) and
//! the sample sim scenario made short ([`short_scenario`]), damaged copies
//! of real files ([`damaged`]), a certificate made by openssl ([`tls`]), a Ray cluster on loopback ([`ray`]).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

pub mod damaged;
pub mod episodes;
pub mod ray;
pub mod short_scenario;
pub mod skip;
pub mod synthetic_rig;
pub mod targets;
pub mod tls;
