//! One module per subcommand.

pub mod ctl;
pub mod daemon;
pub mod emulate;
pub mod info;
pub mod record;
pub mod recover;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag set by Ctrl-C / SIGTERM (installed once per process).
pub fn interrupted() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    ctrlc::set_handler(move || f.store(true, Ordering::Relaxed))
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(flag)
}

/// Loads a rig config, or explains what is wrong with it in one line.
pub fn load_rig(path: &std::path::Path) -> anyhow::Result<reel_capture::rig::LoadedRig> {
    Ok(reel_capture::rig::LoadedRig::load(path)?)
}
