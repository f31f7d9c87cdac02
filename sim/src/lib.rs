//! reel-sim: URDF robots, scenes, physics, rendered cameras, ray-cast LiDAR,
//! scripted policies and randomization, writing episodes in the capture
//! format through `reel-formats`.
//!
//! Empty until the simulation work lands; nothing here is exposed as a command yet.
