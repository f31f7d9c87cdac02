//! reel-capture: device drivers (Dynamixel 2.0, Feetech STS, cameras through
//! FFmpeg, Velodyne VLP-16), wire-exact emulators of the same devices, clock
//! sync, and the recording daemon that writes episodes through
//! `reel_formats::episode::EpisodeWriter`.
//!
//! So far: the packet codecs of Dynamixel Protocol 2.0
//! ([`drivers::dynamixel::protocol`]) and Feetech SCS/STS
//! ([`drivers::feetech::protocol`]), and the Velodyne VLP-16 packet decoder
//! with revolution assembly ([`drivers::velodyne`]), and the rig config with
//! joint calibration ([`rig`]).
//! Nothing here is exposed as a command yet.

pub mod clock;
pub mod control;
pub mod drivers;
pub mod emulators;
pub mod error;
pub mod realtime;
pub mod recorder;
pub mod rig;
pub mod serial;
pub mod timecode;
pub mod video;

pub use error::{BusError, LidarError, ProtocolError, RigError};
