//! `reel annotate EPISODE...`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use reel_episode::annotations::parse_segment;
use reel_quality::annotate::{annotate, Edit};

/// Arguments of `reel annotate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Episode files; their annotations live beside them in `<file>.annotations.json`.
    #[arg(required = true)]
    episodes: Vec<PathBuf>,
    /// Only this shard's block of the episodes (I/N, I from 0; folders by
    /// file name), e.g. `--auto` over a large corpus on many machines.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    shard: Option<crate::shard::Shard>,
    /// The language instruction (exported as the episode's task).
    #[arg(long)]
    instruction: Option<String>,
    /// The episode achieved its task.
    #[arg(long, conflicts_with = "failure")]
    success: bool,
    /// The episode did not achieve its task.
    #[arg(long)]
    failure: bool,
    /// Propose segments automatically (gripper close/open, grasp, holding,
    /// release, idle ends, motion), replacing earlier automatic ones.
    #[arg(long)]
    auto: bool,
    /// Add a segment, seconds from the episode's start (repeatable).
    #[arg(long, value_name = "START:END:LABEL")]
    add: Vec<String>,
    /// Remove every segment with this label (repeatable).
    #[arg(long, value_name = "LABEL")]
    remove: Vec<String>,
    /// Mark every segment as confirmed by a person.
    #[arg(long)]
    confirm: bool,
    /// Print the annotations as JSON.
    #[arg(long)]
    json: bool,
}

/// Applies the edit to every episode and prints the result.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let edit = Edit {
        instruction: args.instruction.clone(),
        success: match (args.success, args.failure) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        auto: args.auto,
        add: args
            .add
            .iter()
            .map(|s| parse_segment(s))
            .collect::<Result<_, _>>()?,
        remove: args.remove.clone(),
        confirm: args.confirm,
    };
    let episodes = match args.shard {
        Some(shard) => shard.select(reel_dataset::episode_files(&args.episodes)?, "episodes")?,
        None => args.episodes.clone(),
    };
    let mut out = std::io::stdout().lock();
    let mut all = Vec::new();
    for episode in &episodes {
        let a = annotate(episode, &edit)?;
        if args.json {
            all.push(serde_json::json!({"episode": episode, "annotations": a}));
            continue;
        }
        writeln!(out, "{}", episode.display())?;
        writeln!(
            out,
            "  instruction {}  success {}",
            a.instruction
                .as_deref()
                .map_or("(the recorded task)".into(), |i| format!("{i:?}")),
            a.success
                .map_or("unknown", |s| if s { "yes" } else { "no" })
        )?;
        for s in &a.segments {
            writeln!(out, "  {}", s.describe())?;
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut out, &all)?;
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}
