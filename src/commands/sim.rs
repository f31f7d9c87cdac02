//! `reel sim --scenario S --episodes N --seed K --out DIR [--jobs J]`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::progress::Progress;

use reel_sim::{Scenario, SimOptions};

/// Arguments of `reel sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario file (e.g. samples/sim/so101-pick-place.toml).
    #[arg(long)]
    scenario: PathBuf,
    /// How many episodes.
    #[arg(long, default_value_t = 1)]
    episodes: u64,
    /// Index of the first episode: episode i depends only on (scenario, seed, i),
    /// so `--first 40 --episodes 10` makes the same files as part of a run of 50.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Seed of the randomization.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, required_unless_present = "evaluate")]
    out: Option<PathBuf>,
    /// Only this shard's block of the episodes (I/N, I from 0): episode
    /// indices are the same as in the whole run, so shards 0..N together
    /// make the same files as one machine.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    shard: Option<crate::shard::Shard>,
    /// Keep this run's progress in FILE (JSON: episodes done, time;
    /// rewritten as it goes), for a driver or a scheduler's user.
    #[arg(long, value_name = "FILE")]
    status: Option<PathBuf>,
    /// Episodes simulated in parallel [default: 1].
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Every camera at WIDTHxHEIGHT (same field of view), e.g. to match a real rig.
    #[arg(long, value_parser = parse_size)]
    camera_size: Option<(u32, u32)>,
    /// Replay this episode's joint commands instead of the scenario's policy.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Run physics and policy only (no sensors, no files) and print the
    /// success rate: how well the expert does on this scenario.
    #[arg(long, conflicts_with = "out")]
    evaluate: bool,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// The episode indices to run: first..first+episodes, or this shard's block.
fn episode_indices(args: &Args) -> anyhow::Result<Vec<u64>> {
    let all: Vec<u64> = (args.first..args.first + args.episodes).collect();
    match args.shard {
        Some(shard) => shard.select(all, "episodes"),
        None => Ok(all),
    }
}

fn evaluate(args: &Args, scenario: &Scenario) -> anyhow::Result<ExitCode> {
    let indices = episode_indices(args)?;
    let started = Instant::now();
    let results = reel_sim::evaluate(
        scenario,
        args.seed,
        &indices,
        args.jobs,
        args.replay.as_deref(),
    )?;
    let wall = started.elapsed().as_secs_f64();
    let successes = results
        .iter()
        .filter(|r| r.1 == reel_episode::Outcome::Success)
        .count();
    let failed: Vec<u64> = results
        .iter()
        .filter(|r| r.1 != reel_episode::Outcome::Success)
        .map(|r| r.0)
        .collect();
    let rate = 100.0 * successes as f64 / results.len().max(1) as f64;
    let mut out = std::io::stdout().lock();
    if args.json {
        let summary = serde_json::json!({"episodes": results.len(), "successes": successes, "success_rate": rate / 100.0, "not_successful": failed, "wall_s": wall});
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "expert success {successes}/{} ({rate:.0} %) on seed {} episodes {}..={}{}",
            results.len(),
            args.seed,
            indices.first().copied().unwrap_or_default(),
            indices.last().copied().unwrap_or_default(),
            if failed.is_empty() {
                String::new()
            } else {
                format!("; not successful: {failed:?}")
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 640x480")?;
    let w: u32 = w.parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u32 = h.parse().map_err(|_| format!("bad height {h:?}"))?;
    if w == 0 || h == 0 || w > 8192 || h > 8192 {
        return Err("sizes must be 1..8192".into());
    }
    Ok((w, h))
}

/// Synthesizes the episodes and reports one line each.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let scenario = Scenario::read(&args.scenario)?;
    if args.evaluate {
        return evaluate(args, &scenario);
    }
    let options = SimOptions {
        out: args.out.clone().unwrap_or_default(),
        camera_size: args.camera_size,
        replay: args.replay.clone(),
    };
    let indices = episode_indices(args)?;
    let started = Instant::now();
    let quiet = args.json;
    let bar = Progress::bar(indices.len() as u64, "episodes synthesized");
    let status =
        crate::shard::Status::start(args.status.as_deref(), "sim", args.shard, indices.len())?;
    let made = std::sync::atomic::AtomicUsize::new(0);
    let results = reel_sim::run(&scenario, args.seed, &indices, args.jobs, &options, &|r| {
        status.progress(made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
        bar.step();
        if !quiet {
            bar.println(&format!(
                "episode {:4}  {:8}  {:5.1} s simulated  {:6} messages  {}",
                r.index,
                r.outcome.as_str(),
                r.sim_seconds,
                r.messages,
                r.path.display()
            ));
        }
    });
    let results = match results {
        Ok(r) => {
            status.finish(r.len(), Ok(()))?;
            r
        }
        Err(e) => {
            let e = anyhow::Error::from(e);
            status.finish(made.load(std::sync::atomic::Ordering::Relaxed), Err(&e))?;
            return Err(e);
        }
    };
    bar.finish();
    let wall = started.elapsed().as_secs_f64();
    let simulated: f64 = results.iter().map(|r| r.sim_seconds).sum();
    let successes = results
        .iter()
        .filter(|r| r.outcome == reel_episode::Outcome::Success)
        .count();
    let mut out = std::io::stdout().lock();
    if args.json {
        let episodes: Vec<_> = results
            .iter()
            .map(|r| serde_json::json!({"index": r.index, "path": r.path, "outcome": r.outcome.as_str(), "sim_seconds": r.sim_seconds, "messages": r.messages}))
            .collect();
        let summary = serde_json::json!({"episodes": episodes, "successes": successes, "simulated_s": simulated, "wall_s": wall});
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} episodes, {successes} successful ({:.0} %), {simulated:.1} s simulated in {wall:.1} s ({:.2}x real time)",
            results.len(),
            100.0 * successes as f64 / results.len().max(1) as f64,
            simulated / wall.max(1e-9)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
