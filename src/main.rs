//! `reel`: record, synthesize, convert and inspect embodied-AI episodes.
//!
//! Thin by design: each subcommand parses its arguments, calls one library
//! function and reports. Exit codes are decided only here.

mod commands;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code when the command finished but data was lost or damaged.
pub const EXIT_DATA_LOSS: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "reel",
    version,
    about = "Record, synthesize, convert and inspect robot episodes (MCAP)"
)]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(&args),
        Command::Recover(args) => commands::recover::run(&args),
        Command::Record(args) => commands::record::run(&args),
        Command::Emulate(args) => commands::emulate::run(&args),
        Command::Daemon(args) => commands::daemon::run(&args),
        Command::Ctl(args) => commands::ctl::run(&args),
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

/// `reel info ... | head` closes our stdout early; that is not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
