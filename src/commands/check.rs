//! `reel check PATH`

use std::path::PathBuf;
use std::process::ExitCode;

use crate::progress::Progress;
use anyhow::Context;
use reel_quality::{self as quality, CheckProgress, Dimension, ReadMode, Thresholds};

use crate::{EXIT_DATA_LOSS, EXIT_QUALITY};

/// Arguments of `reel check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An episode, a folder of episodes, or an export's root (holds manifest.json).
    #[arg(required_unless_present_any = ["print_thresholds", "merge_reports"])]
    path: Option<PathBuf>,
    /// Check only this shard's block of the folder's episodes (I/N, I from
    /// 0, by file name); with --json the report keeps what
    /// --merge-reports needs to find duplicates across shards.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    shard: Option<crate::shard::Shard>,
    /// Instead of checking files, join the JSON reports of a sharded
    /// check: every episode's checks, and the cross-episode ones
    /// (duplicates, consistency) over all shards.
    #[arg(long, value_name = "REPORT.json", num_args = 1.., conflicts_with_all = ["path", "shard"])]
    merge_reports: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the report as a self-contained HTML page.
    #[arg(long, value_name = "FILE.html")]
    html: Option<PathBuf>,
    /// Limits to apply (TOML; any subset of `--print-thresholds`).
    #[arg(long, value_name = "FILE.toml")]
    thresholds: Option<PathBuf>,
    /// Print the default limits as TOML and exit.
    #[arg(long)]
    print_thresholds: bool,
    /// Episodes read in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Decode every chunk of every episode (default: files over 64 MB are
    /// read through their indexes, with one chunk per second decoded).
    #[arg(long, conflicts_with = "sampled")]
    full: bool,
    /// Read every episode through its indexes, decoding one chunk per second.
    #[arg(long)]
    sampled: bool,
}

/// Checks the path; exit 3 when a file is damaged or an export does not
/// match its manifest, 4 when another dimension misses its limit.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.print_thresholds {
        print!("{}", Thresholds::default().to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    if !args.merge_reports.is_empty() {
        let report = quality::merge_reports(&args.merge_reports)?;
        let label = PathBuf::from(&report.path);
        return finish(args, report, &label);
    }
    let Some(path) = &args.path else {
        anyhow::bail!("give an episode, a folder of episodes or an exported dataset");
    };
    let thresholds = match &args.thresholds {
        Some(f) => Thresholds::read(f)?,
        None => Thresholds::default(),
    };
    let mut options = quality::CheckOptions::default();
    if let Some(jobs) = args.jobs {
        options.jobs = jobs;
    }
    options.mode = match (args.full, args.sampled) {
        (true, _) => ReadMode::Full,
        (_, true) => ReadMode::Sampled,
        _ => ReadMode::Auto,
    };
    let bar = Progress::bar(0, "");
    let show = |p: CheckProgress| match p {
        CheckProgress::Hashed { done, total } => {
            bar.show(done as u64, total as u64, "files hashed")
        }
        CheckProgress::Scanned { done, total } => {
            bar.show(done as u64, total as u64, "episodes checked")
        }
    };
    let report = match args.shard {
        Some(shard) => {
            anyhow::ensure!(
                path.is_dir() && !path.join(reel_dataset::manifest::MANIFEST).exists(),
                "{}: --shard splits a folder of episodes; give the folder",
                path.display()
            );
            let files = reel_episode::episode_files_in(path)
                .with_context(|| format!("{}: cannot list the episodes", path.display()))?;
            let mine = shard.select(files, "episodes")?;
            quality::check_files(path, &mine, &thresholds, &options, &show)
        }
        None => {
            quality::check_with_progress(path, &thresholds, &options, &show)?.without_fingerprints()
        }
    };
    bar.finish();
    finish(args, report, path)
}

/// Writes the report as asked and picks the exit code.
fn finish(
    args: &Args,
    report: quality::Report,
    path: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    if let Some(html) = &args.html {
        reel_episode::fs::write_atomically(html, quality::html::render(&report).as_bytes())
            .with_context(|| format!("{}: cannot write the HTML report", html.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::report::write_quality(&mut std::io::stdout().lock(), &report)?;
    }
    let failed = |d: Dimension| report.scores.iter().any(|s| s.dimension == d && !s.passed);
    if report.passed {
        Ok(ExitCode::SUCCESS)
    } else if failed(Dimension::Integrity) {
        eprintln!(
            "reel: {}: damaged or changed files (see the integrity checks); restore them from the original, or `reel recover` a cut-off episode",
            path.display()
        );
        Ok(ExitCode::from(EXIT_DATA_LOSS))
    } else {
        eprintln!(
            "reel: {}: quality below the limits (see the failed checks); fix the data or adjust them with --thresholds",
            path.display()
        );
        Ok(ExitCode::from(EXIT_QUALITY))
    }
}
