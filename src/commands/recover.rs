//! `reel recover FILE`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_episode::{self as episode, RecoverOptions};

use crate::{report, EXIT_DATA_LOSS};

/// Arguments of `reel recover`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The damaged episode, usually `NAME.mcap.partial`. It is not modified.
    file: PathBuf,
    /// Output file [default: FILE without `.partial`, or NAME.recovered.mcap].
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Recovers and reports. Exit code 0 when nothing was lost, 3 when the
/// recovered episode is missing data the input had (e.g. the torn last chunk).
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let options = RecoverOptions {
        output: args.out.clone(),
    };
    let rep = episode::recover(&args.file, &options)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &rep)?;
        writeln!(out)?;
    } else {
        report::write_recovery(&mut out, &rep)?;
    }
    Ok(if rep.lost_anything() {
        ExitCode::from(EXIT_DATA_LOSS)
    } else {
        ExitCode::SUCCESS
    })
}
