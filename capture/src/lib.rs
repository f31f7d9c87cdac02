//! reel-capture: device drivers (Dynamixel 2.0, Feetech STS, cameras through
//! FFmpeg, Velodyne VLP-16), wire-exact emulators of the same devices, clock
//! sync, and the recording daemon that writes episodes through
//! `reel_formats::episode::EpisodeWriter`.
//!
//! Empty until the capture work lands; nothing here is exposed as a command yet.
