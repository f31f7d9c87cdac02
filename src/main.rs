//! `reel`: record, synthesize, convert and inspect embodied-AI episodes.
//!
//! Thin by design: each subcommand parses its arguments, calls one library
//! function and reports. Exit codes are decided only here.

mod commands;
mod progress;
mod report;
mod shard;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code when the command finished but data was lost or damaged.
pub const EXIT_DATA_LOSS: u8 = 3;
/// Exit code of `reel check` when data is intact but misses a quality limit.
pub const EXIT_QUALITY: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "reel",
    version,
    about = "Record, synthesize, convert and inspect robot episodes (MCAP)"
)]
struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace);
    /// RUST_LOG=<filter> chooses them finely.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Per-topic summary of episode files: types, counts, rates, gaps, metadata.
    Info(commands::info::Args),
    /// Rebuild a valid episode from a file whose writer died (`*.mcap.partial`).
    Recover(commands::recover::Args),
    /// Record episodes from a rig (interactive on a terminal, or N × S seconds).
    Record(commands::record::Args),
    /// Run a rig's emulators (servo buses, VLP-16, cameras) until interrupted.
    Emulate(commands::emulate::Args),
    /// Run the recorder headless with a local HTTP control API.
    Daemon(commands::daemon::Args),
    /// Talk to a running `reel daemon`: status, start, stop, discard.
    Ctl(commands::ctl::Args),
    /// Synthesize episodes in simulation (physics, rendered cameras, LiDAR, scripted expert).
    Sim(commands::sim::Args),
    /// Pack episodes into a dataset: LeRobot v3.0, or LAS point clouds.
    Export(commands::export::Args),
    /// Turn other tools' recordings (rosbag2 and ROS 1 bags, LeRobot datasets, HDF5 files, Velodyne pcaps) into episodes.
    Import(commands::import::Args),
    /// Quality report of episodes or an export: completeness, accuracy, consistency, timeliness, uniqueness, integrity.
    Check(commands::check::Args),
    /// Compare two releases of an export: episodes added, removed, changed; files that differ.
    Diff(commands::diff::Args),
    /// A new release of a LeRobot dataset without some episodes (failed, flagged, named, other tasks).
    Filter(commands::curate::FilterArgs),
    /// A new release of a LeRobot dataset ordered into train/val/test ranges, stratified by task.
    Split(commands::curate::SplitArgs),
    /// Join LeRobot datasets with the same features and fps (e.g. the shards of a sharded export) into one release.
    Merge(commands::merge::Args),
    /// Label episodes: instruction, success, subtask segments (with automatic pre-labels).
    Annotate(commands::annotate::Args),
    /// Show an episode, a folder of episodes or a LeRobot dataset in rerun.
    View(commands::view::Args),
    /// Calibrate cameras: intrinsics and distortion from checkerboard views.
    Calib(commands::calib::Args),
}

fn main() -> ExitCode {
    // SVT-AV1 prints its banner and configuration to stderr unless told
    // otherwise; keep only its errors. Set before any thread starts.
    if std::env::var_os("SVT_LOG").is_none() {
        std::env::set_var("SVT_LOG", "1");
    }
    let cli = Cli::parse();
    init_logs(cli.verbose);
    let result = match cli.command {
        Command::Info(args) => commands::info::run(&args),
        Command::Recover(args) => commands::recover::run(&args),
        Command::Record(args) => commands::record::run(&args),
        Command::Emulate(args) => commands::emulate::run(&args),
        Command::Daemon(args) => commands::daemon::run(&args),
        Command::Ctl(args) => commands::ctl::run(&args),
        Command::Sim(args) => commands::sim::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Import(args) => commands::import::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Annotate(args) => commands::annotate::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Filter(args) => commands::curate::run_filter(&args),
        Command::Split(args) => commands::curate::run_split(&args),
        Command::Merge(args) => commands::merge::run(&args),
        Command::View(args) => commands::view::run(&args),
        Command::Calib(args) => commands::calib::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("reel: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Diagnostics through `tracing` on stderr: quiet (warnings only) unless
/// `RUST_LOG` or `-v` asks for more.
fn init_logs(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .try_init();
}

/// `reel info ... | head` closes our stdout early; that is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
