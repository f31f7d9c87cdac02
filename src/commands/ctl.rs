//! `reel ctl`: a client of the daemon's control API.

use std::process::ExitCode;

/// Arguments of `reel ctl`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The daemon's address.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: String,
    /// The daemon's token file (when it was started with one).
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// Control actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Show devices, rates, drops and the open episode.
    Status {
        /// Print the JSON as the API returns it.
        #[arg(long)]
        json: bool,
    },
    /// Start an episode.
    Start {
        /// Task text (the daemon's default when absent).
        #[arg(long)]
        task: Option<String>,
    },
    /// Stop the episode.
    Stop {
        /// success, failure or unknown.
        #[arg(long, default_value = "unknown")]
        outcome: String,
    },
    /// Stop the episode and delete its file.
    Discard,
}

/// Sends one request and prints the answer.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let base = format!("http://{}", args.addr);
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(35))
        .build();
    let token = args
        .token_file
        .as_deref()
        .map(super::daemon::read_token)
        .transpose()?;
    let authorized = |r: ureq::Request| match &token {
        Some(t) => r.set("Authorization", &format!("Bearer {t}")),
        None => r,
    };
    let result = match &args.action {
        Action::Status { .. } => authorized(agent.get(&format!("{base}/status"))).call(),
        Action::Start { task } => authorized(agent.post(&format!("{base}/start")))
            .send_json(serde_json::json!({ "task": task })),
        Action::Stop { outcome } => authorized(agent.post(&format!("{base}/stop")))
            .send_json(serde_json::json!({ "outcome": outcome })),
        Action::Discard => authorized(agent.post(&format!("{base}/discard"))).send_string(""),
    };
    let body: serde_json::Value = match result {
        Ok(r) => r.into_json()?,
        Err(ureq::Error::Status(code, r)) => {
            let v: serde_json::Value = r.into_json().unwrap_or_default();
            anyhow::bail!(
                "daemon at {} answered {code}: {}",
                args.addr,
                v["error"].as_str().unwrap_or("(no reason)")
            );
        }
        Err(e) => anyhow::bail!(
            "cannot reach the daemon at {}: {e}; is `reel daemon` running?",
            args.addr
        ),
    };
    match &args.action {
        Action::Status { json: false } => {
            let status: reel_capture::recorder::RecorderStatus = serde_json::from_value(body)?;
            println!("{}", crate::report::status_table(&status));
        }
        _ => println!("{}", serde_json::to_string_pretty(&body)?),
    }
    Ok(ExitCode::SUCCESS)
}
