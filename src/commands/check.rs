//! `reel check DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use reel_formats::export::manifest;

use crate::EXIT_DATA_LOSS;

/// Arguments of `reel check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An export's root folder (holds manifest.json).
    dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Verifies every file against the manifest; exit 3 when anything differs.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let r = manifest::check(&args.dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        for p in &r.changed {
            println!("changed  {p}");
        }
        for p in &r.missing {
            println!("missing  {p}");
        }
        for p in &r.added {
            println!("added    {p}");
        }
        if r.incomplete_append {
            println!(
                "an append did not finish ({} is present)",
                manifest::APPEND_MARKER
            );
        }
        println!(
            "{}: {} file(s) match the manifest, {} changed, {} missing, {} added",
            args.dir.display(),
            r.ok,
            r.changed.len(),
            r.missing.len(),
            r.added.len()
        );
    }
    if r.is_clean() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "reel: {}: does not match its manifest; restore the listed files from the original export",
            args.dir.display()
        );
        Ok(ExitCode::from(EXIT_DATA_LOSS))
    }
}
