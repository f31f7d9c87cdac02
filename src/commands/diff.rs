//! `reel diff OLD NEW`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_dataset::manifest;

/// Arguments of `reel diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The older export (holds manifest.json).
    old: PathBuf,
    /// The newer export.
    new: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Lists episodes added, removed and changed, and files that differ; exit 0
/// either way (a difference is the answer, not a failure).
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let r = manifest::diff(&args.old, &args.new)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "(no version)".into());
    writeln!(
        out,
        "{} {} → {} {}",
        args.old.display(),
        v(&r.old_version),
        args.new.display(),
        v(&r.new_version)
    )?;
    for id in &r.added {
        writeln!(out, "  added    episode {id}")?;
    }
    for id in &r.removed {
        writeln!(out, "  removed  episode {id}")?;
    }
    for (id, what) in &r.changed {
        writeln!(out, "  changed  episode {id}: {}", what.join(", "))?;
    }
    for p in &r.files_added {
        writeln!(out, "  added    file {p}")?;
    }
    for p in &r.files_removed {
        writeln!(out, "  removed  file {p}")?;
    }
    for p in &r.files_changed {
        writeln!(out, "  changed  file {p}")?;
    }
    writeln!(
        out,
        "{} episode(s) added, {} removed, {} changed, {} unchanged; {} file(s) added, {} removed, {} changed",
        r.added.len(),
        r.removed.len(),
        r.changed.len(),
        r.unchanged,
        r.files_added.len(),
        r.files_removed.len(),
        r.files_changed.len()
    )?;
    Ok(ExitCode::SUCCESS)
}
