//! `reel merge`: LeRobot v3.0 releases with the same features and frame
//! rate joined into one (the shards of a sharded export, or several
//! releases of one rig), as if exported together.

use std::path::PathBuf;
use std::process::ExitCode;

use reel_dataset::lerobot::merge;

/// Arguments of `reel merge`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The datasets, in the order their episodes go (shard 0 first).
    #[arg(required = true)]
    datasets: Vec<PathBuf>,
    /// The merged dataset's directory (must not exist).
    #[arg(long)]
    out: PathBuf,
    /// The merged release's version.
    #[arg(
        long = "dataset-version",
        value_name = "X.Y.Z",
        default_value = "1.0.0"
    )]
    dataset_version: String,
    /// The merged release's changelog note [default: what was merged].
    #[arg(long)]
    changelog: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Merges and prints what was done.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let m = merge::merge(
        &args.datasets,
        &args.out,
        Some(&args.dataset_version),
        args.changelog.as_deref(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "wrote {} (version {}): {} episodes, {} frames, {} task(s), from {} dataset(s) in {:.1} s",
        m.out.display(),
        m.version,
        m.total_episodes,
        m.total_frames,
        m.total_tasks,
        m.inputs.len(),
        m.elapsed_s
    );
    for (path, episodes) in &m.inputs {
        println!("  {episodes:>5} episodes from {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
