//! reel-capture: device drivers (Dynamixel 2.0, Feetech STS, cameras through
//! FFmpeg, Velodyne VLP-16), wire-exact emulators of the same devices, clock
//! sync, and the recording daemon that writes episodes through
//! `reel_episode::EpisodeWriter`.
//!
//! Layout: `drivers/` speak to devices (the same code to hardware and to
//! `emulators/`), `recorder/` runs one thread per device into one writer
//! thread, `control` is the daemon's HTTP API, `rig` the TOML rig config,
//! `clock` maps device clocks onto the host clock.

pub mod clock;
pub mod control;
pub mod control_tls;
pub mod drivers;
pub mod emulators;
pub mod error;
pub mod realtime;
pub mod recorder;
pub mod rig;
pub mod rig_edit;
pub mod serial;
pub mod timecode;

pub use error::{BusError, EmulatorError, LidarError, ProtocolError, RecorderError, RigError};
