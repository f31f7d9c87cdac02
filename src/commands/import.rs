//! `reel import SOURCE... --out DIR`: other tools' recordings (rosbag2 and
//! ROS 1 bags, LeRobot datasets, HDF5 files, Velodyne pcaps) as reel
//! episodes, one per source episode, with the mapping
//! reel proposes (`--print-mapping`) or the user's (`--mapping`).

use std::path::PathBuf;
use std::process::ExitCode;

use reel_import::{ImportOptions, ImportReport, LoadedMapping, Mapping, Outcome};

use crate::progress::Progress;
use crate::EXIT_DATA_LOSS;

/// Arguments of `reel import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sources: a rosbag2 folder (metadata.yaml, split or not), a folder of
    /// .mcap/.db3 files without metadata, one .mcap or .db3 file, or a
    /// LeRobot v3.0/v2.1 dataset folder, an ALOHA or robomimic HDF5 file, a
    /// pcap of Velodyne packets. The format is read from the content.
    #[arg(required = true)]
    sources: Vec<PathBuf>,
    /// Folder for the episodes (one per source).
    #[arg(long, required_unless_present = "print_mapping")]
    out: Option<PathBuf>,
    /// Mapping file (TOML): which topic becomes which reel topic, joint
    /// names, scales, frame ids, what to drop. Default: reel's proposal.
    #[arg(long, value_name = "MAP.toml")]
    mapping: Option<PathBuf>,
    /// Print the mapping reel proposes for each source and stop (edit it,
    /// then pass it with --mapping).
    #[arg(long, conflicts_with = "mapping")]
    print_mapping: bool,
    /// Task text stored in each episode [default: the source's (a LeRobot
    /// episode's task), else empty].
    #[arg(long)]
    task: Option<String>,
    /// Robot type stored in each episode [default: the source's, else `unknown`].
    #[arg(long)]
    robot_type: Option<String>,
    /// Import a source again even when an episode of the same bytes (same
    /// sha256) is already in --out; the old episode is replaced.
    #[arg(long)]
    force: bool,
    /// Sample rate of sources that store no time (HDF5) [default: ALOHA 50,
    /// robomimic 20].
    #[arg(long, value_parser = parse_fps)]
    fps: Option<f64>,
    /// Only this shard's block of the sources, sorted by path (I/N, I from 0).
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    shard: Option<crate::shard::Shard>,
    /// Keep this run's progress in FILE (JSON), for a driver or a scheduler's user.
    #[arg(long, value_name = "FILE")]
    status: Option<PathBuf>,
    /// Stop at the first source that fails (default: record it and go on).
    #[arg(long)]
    fail_fast: bool,
    /// Print a JSON report.
    #[arg(long)]
    json: bool,
}

fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 10_000.0 => Ok(f),
        _ => Err(format!("{s:?} is not a rate in Hz (0 < fps <= 10000)")),
    }
}

fn report_json(r: &ImportReport) -> serde_json::Value {
    let (status, episode) = match &r.outcome {
        Outcome::Imported { episode } => ("imported", episode),
        Outcome::Skipped { existing } => ("skipped", existing),
    };
    serde_json::json!({
        "source": r.source,
        "format": r.format.as_str(),
        "status": status,
        "episode": episode,
        "sha256": r.sha256,
        "bytes": r.bytes,
        "messages": r.messages,
        "seconds": r.seconds,
        "topics": r.topics,
        "losses": r.losses.iter().map(|l| serde_json::json!({
            "file": l.file, "reason": l.reason, "detail": l.detail, "messages": l.messages,
        })).collect::<Vec<_>>(),
        "unmatched_rules": r.unmatched_rules,
    })
}

fn report_lines(r: &ImportReport) -> Vec<String> {
    let mut lines = Vec::new();
    match &r.outcome {
        Outcome::Skipped { existing } => lines.push(format!(
            "skipped {}: already imported as {} (same sha256; --force imports it again)",
            r.source.display(),
            existing.display()
        )),
        Outcome::Imported { episode } => {
            let copied = r
                .topics
                .iter()
                .filter(|t| !t.known_type && t.to.is_some())
                .count();
            let dropped = r.topics.iter().filter(|t| t.to.is_none()).count();
            lines.push(format!(
                "imported {} ({}) -> {}: {} messages, {} topics ({copied} of types reel does not decode, copied byte for byte; {dropped} dropped), {:.1} MB in {:.2} s",
                r.source.display(),
                r.format.as_str(),
                episode.display(),
                r.messages,
                r.topics.len(),
                r.bytes as f64 / 1e6,
                r.seconds
            ));
            for t in &r.topics {
                lines.push(format!(
                    "  {:<40} -> {:<40} {:>8}  {}{}",
                    t.from,
                    t.to.as_deref().unwrap_or("(dropped)"),
                    t.messages,
                    t.type_name,
                    if t.rewritten { "  (rewritten)" } else { "" }
                ));
            }
        }
    }
    for l in &r.losses {
        lines.push(format!(
            "  LOST ({}): {}: {}",
            l.reason,
            l.file.display(),
            l.detail
        ));
    }
    for rule in &r.unmatched_rules {
        lines.push(format!(
            "  note: mapping rule for {rule} matched no topic of this source"
        ));
    }
    lines
}

fn print_mappings(sources: &[PathBuf]) -> anyhow::Result<ExitCode> {
    for path in sources {
        print!("{}", reel_import::proposed_mapping_for(path)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Imports each source and reports.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut sources = args.sources.clone();
    sources.sort();
    sources.dedup();
    if let Some(shard) = args.shard {
        sources = shard.select(sources, "sources")?;
    }
    if args.print_mapping {
        return print_mappings(&sources);
    }
    let Some(out) = &args.out else {
        anyhow::bail!("give --out DIR");
    };
    let mapping = match &args.mapping {
        Some(path) => Some(LoadedMapping {
            path: Some(path.clone()),
            mapping: Mapping::from_file(path)?,
        }),
        None => None,
    };
    let status =
        crate::shard::Status::start(args.status.as_deref(), "import", args.shard, sources.len())?;
    let bar = if args.json {
        Progress::bar(0, "").hidden()
    } else {
        Progress::bar(0, "MB read")
    };
    let mut reports = Vec::new();
    let mut failed = 0usize;
    for (i, path) in sources.iter().enumerate() {
        let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let show = |done: u64| bar.show(done >> 20, total.max(done) >> 20, "MiB of messages read");
        let options = ImportOptions {
            out: out.clone(),
            mapping: mapping.clone(),
            task: args.task.clone(),
            robot_type: args.robot_type.clone(),
            force: args.force,
            writer: reel_episode::EpisodeWriterOptions::default(),
            progress: Some(&show),
            fps: args.fps,
            lidar_decoder: Some(&crate::commands::import_lidar::velodyne_decoder),
        };
        match reel_import::import(path, &options) {
            Ok(episodes) => {
                for r in episodes {
                    if !args.json {
                        for line in report_lines(&r) {
                            bar.println(&line);
                        }
                    }
                    reports.push(r);
                }
            }
            Err(e) => {
                let e = anyhow::Error::from(e);
                if args.fail_fast {
                    status.finish(i, Err(&e))?;
                    return Err(e);
                }
                eprintln!("reel: {e:#}");
                status.failed(path, &format!("{e:#}"));
                failed += 1;
            }
        }
        status.progress(i + 1);
    }
    bar.finish();
    status.finish(sources.len(), Ok(()))?;
    if args.json {
        let summary = serde_json::json!({
            "imported": reports.iter().filter(|r| matches!(r.outcome, Outcome::Imported { .. })).count(),
            "skipped": reports.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count(),
            "failed": status.failures(),
            "sources": reports.iter().map(report_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    if failed > 0 {
        return Ok(ExitCode::FAILURE);
    }
    if reports.iter().any(ImportReport::lost) {
        return Ok(ExitCode::from(EXIT_DATA_LOSS));
    }
    Ok(ExitCode::SUCCESS)
}
