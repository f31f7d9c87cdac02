//! `reel info FILE...`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_episode as episode;

use crate::{report, EXIT_DATA_LOSS};

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

/// Summarizes every file. A file that cannot be read at all is reported on
/// stderr (exit 1); a file that reads but has problems (not closed, damaged
/// chunks, undefined channels or schemas) is shown, gets one line on stderr,
/// and makes the exit code 3, so scripts can gate on it.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut damaged = false;
    let mut infos = Vec::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in &args.files {
        match episode::info(file) {
            Ok(info) => {
                let first_problem = info.problems.first().cloned();
                if args.json {
                    infos.push(info);
                } else {
                    report::write_info(&mut out, &info)?;
                }
                if let Some(problem) = first_problem {
                    damaged = true;
                    out.flush()?;
                    eprintln!("reel: {}: {problem}", file.display());
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
    Ok(if failed {
        ExitCode::FAILURE
    } else if damaged {
        ExitCode::from(EXIT_DATA_LOSS)
    } else {
        ExitCode::SUCCESS
    })
}
