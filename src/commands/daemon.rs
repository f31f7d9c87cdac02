//! `reel daemon`: the recorder headless, driven through the control API.

use std::net::SocketAddr;
use std::process::ExitCode;

use reel_capture::control::{self, ControlError, ControlOptions};
use reel_capture::control_tls;

/// Arguments of `reel daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recorder: super::RecorderArgs,
    /// Address of the control API.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Accept control requests from other hosts (off: loopback only);
    /// needs --token-file.
    #[arg(long)]
    pub allow_remote: bool,
    /// A file holding the token every control request must carry
    /// (`reel ctl --token-file` sends it).
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key);
    /// `reel ctl --addr https://HOST:PORT` talks to it.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

/// The token in `path`: its first line, at least 16 characters.
pub fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read the token file: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    anyhow::ensure!(
        token.len() >= 16,
        "{}: the token must be at least 16 characters on the first line (e.g. `openssl rand -hex 32 > {}`)",
        path.display(),
        path.display()
    );
    Ok(token)
}

/// Serves until Ctrl-C / SIGTERM; an open episode is closed on the way out.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // Refused before any device is opened.
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        anyhow::bail!(
            "{} (--allow-remote)",
            ControlError::RemoteNotAllowed {
                listen: args.listen
            }
        );
    }
    let token = args.token_file.as_deref().map(read_token).transpose()?;
    if args.allow_remote && token.is_none() {
        anyhow::bail!("--allow-remote needs --token-file: anyone who reaches {} could start and delete recordings", args.listen);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(control_tls::server_config(cert, key)?),
        _ => None,
    };
    let stop = super::interrupted()?;
    let (_emulators, recorder) = args.recorder.start(None, None)?;
    eprintln!(
        "reel daemon: control API on {}://{} (GET /status, POST /start /stop /discard)",
        if tls.is_some() { "https" } else { "http" },
        args.listen
    );
    let served = control::serve(
        &recorder,
        &ControlOptions {
            allow_remote: args.allow_remote,
            token,
            tls,
            ..ControlOptions::local(args.listen)
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
