//! reel-viewer: an episode or dataset as a rerun recording with a purpose-built
//! blueprint (spawn the viewer, save `.rrd`, serve the web viewer).
//!
//! Empty until the inspector work lands; nothing here is exposed as a command yet.
