//! `reel filter` and `reel split`: a new release of a LeRobot dataset with
//! some episodes dropped, or ordered into train/val/test ranges; videos
//! are hard-linked from the source, which is left as it is.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_dataset::lerobot::curate::{self, Curated, Dataset, FilterRules};

/// What both commands take.
#[derive(Debug, clap::Args)]
pub struct Release {
    /// The new dataset's directory (must not exist, or be empty).
    #[arg(long)]
    out: PathBuf,
    /// The new release's version [default: the next major version, since
    /// episode indices change].
    #[arg(long = "dataset-version", value_name = "X.Y.Z")]
    dataset_version: Option<String>,
    /// The new release's changelog note [default: what was done].
    #[arg(long)]
    changelog: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `reel filter`.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// The source dataset (written by `reel export lerobot`).
    dataset: PathBuf,
    #[command(flatten)]
    release: Release,
    /// Drop episodes labelled failure.
    #[arg(long)]
    drop_failed: bool,
    /// Drop episodes with no success/failure label.
    #[arg(long)]
    drop_unlabelled: bool,
    /// Drop an episode by index or `reel.episode` id (repeatable).
    #[arg(long, value_name = "INDEX|ID")]
    drop: Vec<String>,
    /// Drop episodes a `reel check --json` report of the source episodes
    /// flags (a failed check, or a duplicate).
    #[arg(long, value_name = "REPORT.json")]
    flagged_by: Option<PathBuf>,
    /// Keep only episodes of this task (repeatable).
    #[arg(long)]
    task: Vec<String>,
}

/// Arguments of `reel split`.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// The source dataset (written by `reel export lerobot`).
    dataset: PathBuf,
    #[command(flatten)]
    release: Release,
    /// Fraction of each task's episodes for validation.
    #[arg(long, default_value_t = 0.1)]
    val: f64,
    /// Fraction of each task's episodes for testing.
    #[arg(long, default_value_t = 0.0)]
    test: f64,
    /// Seed of the (stable, per-episode) choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs `reel filter`.
pub fn run_filter(args: &FilterArgs) -> anyhow::Result<ExitCode> {
    let ds = Dataset::open(&args.dataset)?;
    let plan = curate::filter_plan(
        &ds,
        &FilterRules {
            drop_failed: args.drop_failed,
            drop_unlabelled: args.drop_unlabelled,
            drop: args.drop.clone(),
            flagged_by: args.flagged_by.clone(),
            tasks: args.task.clone(),
        },
    )?;
    finish(&ds, &plan, &args.release)
}

/// Runs `reel split`.
pub fn run_split(args: &SplitArgs) -> anyhow::Result<ExitCode> {
    let ds = Dataset::open(&args.dataset)?;
    let plan = curate::split_plan(&ds, args.val, args.test, args.seed)?;
    finish(&ds, &plan, &args.release)
}

fn finish(ds: &Dataset, plan: &curate::Plan, r: &Release) -> anyhow::Result<ExitCode> {
    let c = curate::write(
        ds,
        &r.out,
        plan,
        r.dataset_version.as_deref(),
        r.changelog.as_deref(),
    )?;
    print_summary(&c, r.json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_summary(c: &Curated, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, c)?;
        writeln!(out)?;
        return Ok(());
    }
    for d in &c.dropped {
        writeln!(
            out,
            "  dropped  episode {} ({}): {}",
            d.index, d.episode_id, d.reason
        )?;
    }
    let splits: Vec<String> = c.splits.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let mb = |b: u64| b as f64 / 1e6;
    writeln!(
        out,
        "{}: version {}, {} episodes, {} frames; splits {}; video {:.1} MB linked, {:.1} MB copied; {:.1} MB of tables written; {:.2} s",
        c.out.display(),
        c.version,
        c.kept.len(),
        c.total_frames,
        splits.join(", "),
        mb(c.linked_bytes),
        mb(c.copied_bytes),
        mb(c.written_bytes),
        c.elapsed_s
    )?;
    writeln!(out, "{}", c.operation)?;
    Ok(())
}
