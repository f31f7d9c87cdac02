//! `reel emulate --rig R`: the rig's emulators in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reel_capture::emulators::rig::EmulatedRig;

/// Arguments of `reel emulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rig config whose devices to emulate.
    #[arg(long)]
    pub rig: PathBuf,
}

/// Runs the emulators until Ctrl-C.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let rig = super::load_rig(&args.rig)?;
    let stop = super::interrupted()?;
    let emu = EmulatedRig::start(&rig.rig)?;
    eprintln!(
        "reel emulate: {} ({})",
        rig.rig.rig.name,
        rig.path.display()
    );
    for line in emu.describe() {
        eprintln!("  {line}");
    }
    eprintln!(
        "running; `reel record --rig {}` finds these. Ctrl-C stops.",
        args.rig.display()
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(emu);
    eprintln!("reel emulate: stopped");
    Ok(ExitCode::SUCCESS)
}
