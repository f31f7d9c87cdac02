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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => commands::info::run(&args),
        Command::Recover(args) => commands::recover::run(&args),
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
