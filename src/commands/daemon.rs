//! `reel daemon`: the recorder headless, driven through the control API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_capture::control::{self, ControlOptions};
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};

/// Arguments of `reel daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rig config.
    #[arg(long)]
    pub rig: PathBuf,
    /// Folder for the episodes.
    #[arg(long)]
    pub out: PathBuf,
    /// Default task text.
    #[arg(long, default_value = "")]
    pub task: String,
    /// Address of the control API.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Accept control requests from other hosts (off: loopback only).
    #[arg(long)]
    pub allow_remote: bool,
    /// Start the rig's emulators in this process first.
    #[arg(long)]
    pub emulate: bool,
}

/// Serves until Ctrl-C / SIGTERM; an open episode is closed on the way out.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let rig = super::load_rig(&args.rig)?;
    let stop = super::interrupted()?;
    let _emulators = if args.emulate {
        Some(EmulatedRig::start(&rig.rig).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let mut options = RecorderOptions::new(&args.out);
    options.task.clone_from(&args.task);
    let recorder = Recorder::start(rig, options).map_err(anyhow::Error::msg)?;
    eprintln!(
        "reel daemon: control API on http://{} (GET /status, POST /start /stop /discard)",
        args.listen
    );
    let served = control::serve(
        &recorder,
        &ControlOptions {
            listen: args.listen,
            allow_remote: args.allow_remote,
        },
        &stop,
    );
    let closed = recorder.shutdown();
    served.map_err(anyhow::Error::msg)?;
    eprintln!("reel daemon: stopped after {} episodes", closed.len());
    Ok(ExitCode::SUCCESS)
}
