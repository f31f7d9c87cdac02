//! `reel info FILE...`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_formats::episode;

use crate::report;

/// Arguments of `reel info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// MCAP files to summarize.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON document (an array, one object per file) instead of tables.
    #[arg(long)]
    json: bool,
}

/// Summarizes every file; a file that cannot be read is reported on stderr
/// and makes the exit code non-zero, the others are still shown.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut infos = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &args.files {
        match episode::info(file) {
            Ok(info) => {
                if args.json {
                    infos.push(info);
                } else {
                    report::write_info(&mut out, &info)?;
                }
            }
            Err(e) => {
                failed = true;
                out.flush()?;
                eprintln!("reel: {e}");
            }
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut out, &infos)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
