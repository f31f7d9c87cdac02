//! `reel ctl`: a client of the daemon's control API.

use std::process::ExitCode;

/// Arguments of `reel ctl`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The daemon's address: HOST:PORT (plain HTTP) or https://HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: String,
    /// The daemon's token file (when it was started with one).
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
    /// PEM certificates to trust for an https:// daemon (its own
    /// self-signed certificate, or the CA that signed it) instead of the
    /// public web roots.
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
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

/// A TLS client that trusts the certificates in `ca_file` only.
fn client_config(
    ca_file: &std::path::Path,
) -> anyhow::Result<std::sync::Arc<rustls::ClientConfig>> {
    use rustls_pki_types::pem::PemObject;
    let unreadable = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "{}: cannot read PEM certificates to trust: {e}",
            ca_file.display()
        )
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        rustls_pki_types::CertificateDer::pem_file_iter(ca_file).map_err(|e| unreadable(&e))?
    {
        roots
            .add(cert.map_err(|e| unreadable(&e))?)
            .map_err(|e| unreadable(&e))?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "{}: holds no certificate to trust (PEM, BEGIN CERTIFICATE)",
        ca_file.display()
    );
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

/// Sends one request and prints the answer.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let base = if args.addr.contains("://") {
        args.addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{}", args.addr)
    };
    let mut agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(35));
    if let Some(ca_file) = &args.ca_file {
        anyhow::ensure!(
            base.starts_with("https://"),
            "--ca-file is for an https:// daemon; give --addr https://HOST:PORT"
        );
        agent = agent.tls_config(client_config(ca_file)?);
    }
    let agent = agent.build();
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
        Err(e) if e.to_string().contains("certificate") => anyhow::bail!(
            "the daemon at {} is not trusted: {e}; give its certificate (or its CA) with --ca-file",
            args.addr
        ),
        Err(e) => anyhow::bail!(
            "cannot reach the daemon at {}: {e}; is `reel daemon` running (https:// in --addr if it serves TLS)?",
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
