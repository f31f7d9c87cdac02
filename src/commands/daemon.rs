//! `reel daemon`: the recorder headless, driven through the control API.

use std::net::SocketAddr;
use std::process::ExitCode;

use reel_capture::control::{self, ControlError, ControlOptions};

/// Arguments of `reel daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recorder: super::RecorderArgs,
    /// Address of the control API.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Accept control requests from other hosts (off: loopback only).
    #[arg(long)]
    pub allow_remote: bool,
}

/// Serves until Ctrl-C / SIGTERM; an open episode is closed on the way out.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let stop = super::interrupted()?;
    let (_emulators, recorder) = args.recorder.start(None, None)?;
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
    served.map_err(|e| match e {
        ControlError::RemoteNotAllowed { .. } => anyhow::anyhow!("{e} (--allow-remote)"),
        e => e.into(),
    })?;
    eprintln!("reel daemon: stopped after {} episodes", closed.len());
    Ok(ExitCode::SUCCESS)
}
