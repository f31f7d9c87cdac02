//! `reel export lerobot|las ...`

use std::path::PathBuf;
use std::process::ExitCode;

use reel_dataset::las::{self, LasOptions};
use reel_dataset::lerobot::subtasks::SubtaskPolicy;
use reel_dataset::lerobot::{self, plan::GapPolicy, ExportProgress, LeRobotOptions};

use crate::progress::Progress;
use reel_media::VideoCodec;

/// Arguments of `reel export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, clap::Subcommand)]
enum Target {
    /// Episodes → a LeRobot v3.0 dataset (new, or appended to when DIR holds one).
    Lerobot(Box<LeRobotArgs>),
    /// LiDAR revolutions of one episode → LAS 1.4 / LAZ files.
    Las(LasArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Codec {
    Av1,
    H264,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OnGap {
    /// Leave out grid frames a stream cannot supply (reported).
    DropFrame,
    /// Fail the export on the first such frame.
    FailEpisode,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Subtasks {
    /// Every segment, automatic pre-labels included.
    All,
    /// Only segments a person set or confirmed.
    Confirmed,
    /// No subtask feature.
    None,
}

#[derive(Debug, clap::Args)]
struct LeRobotArgs {
    /// Episode files or directories of episodes (`*.mcap`).
    #[arg(required = true)]
    episodes: Vec<PathBuf>,
    /// Dataset directory (created; or appended to when it holds a compatible dataset).
    #[arg(long)]
    out: PathBuf,
    /// Frames per second of the dataset.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Dataset name (`user/name`), for the card.
    #[arg(long, default_value = "local/reel-dataset")]
    repo_id: String,
    /// Robot type (default: from the episodes).
    #[arg(long)]
    robot_type: Option<String>,
    /// Video codec.
    #[arg(long, value_enum, default_value_t = Codec::Av1)]
    vcodec: Codec,
    /// Constant rate factor (default 30, LeRobot's).
    #[arg(long)]
    crf: Option<u32>,
    /// Episodes encoded in parallel (default: CPU cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Export only this shard's block of the episodes (I/N, I from 0), in
    /// the order they are given (directories by file name); `reel merge`
    /// of shards 0..N in order makes the same dataset as one export.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse)]
    shard: Option<crate::shard::Shard>,
    /// Keep this run's progress in FILE (JSON: episodes done, left out,
    /// time; rewritten as it goes), for a driver or a scheduler's user.
    #[arg(long, value_name = "FILE")]
    status: Option<PathBuf>,
    /// With --shard: stop at the first episode that cannot be exported
    /// [default: leave it out, record it in the status and the summary,
    /// and export the rest].
    #[arg(long, requires = "shard")]
    fail_fast: bool,
    /// A TOML mapping file replacing the default topic → feature mapping.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// What to do with frames a stream cannot supply within its tolerance.
    #[arg(long, value_enum, default_value_t = OnGap::DropFrame)]
    on_gap: OnGap,
    /// Licence for the dataset card (a Hugging Face licence id).
    #[arg(long, default_value = "other")]
    license: String,
    /// Black out a region of a camera in every exported frame, as fractions
    /// of the image (repeatable); listed in meta/deidentification.json.
    #[arg(long, value_name = "CAMERA:X,Y,W,H", value_parser = reel_dataset::deid::Mask::parse)]
    mask: Vec<reel_dataset::deid::Mask>,
    /// This release's version, MAJOR.MINOR.PATCH, newer than the dataset's
    /// [default: 1.0.0 for a new dataset, the next minor for an append].
    #[arg(long = "dataset-version", value_name = "X.Y.Z")]
    dataset_version: Option<String>,
    /// This release's changelog note [default: what was added].
    #[arg(long)]
    changelog: Option<String>,
    /// Which `reel annotate` segments become the per-frame `subtask_index`
    /// feature: all, confirmed (set or confirmed by a person), or none.
    #[arg(long, value_enum, default_value_t = Subtasks::All)]
    subtasks: Subtasks,
    /// A secret key file (≥ 16 bytes): operators and sites are exported as
    /// keyed pseudonyms, stable across releases made with the same key
    /// [default: they are left out].
    #[arg(long, value_name = "FILE")]
    pseudonym_key: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct LasArgs {
    /// The episode.
    episode: PathBuf,
    /// Output directory (created).
    #[arg(long)]
    out: PathBuf,
    /// Merge each LiDAR's revolutions into one file in `--frame`.
    #[arg(long)]
    merge: bool,
    /// The fixed frame to merge into (through /tf and /tf_static).
    #[arg(long, default_value = "world")]
    frame: String,
    /// Write LAZ (compressed) instead of LAS.
    #[arg(long)]
    laz: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the export.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.target {
        Target::Lerobot(a) => run_lerobot(a),
        Target::Las(a) => run_las(a),
    }
}

fn run_lerobot(a: &LeRobotArgs) -> anyhow::Result<ExitCode> {
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let opts = LeRobotOptions {
        fps: a.fps,
        repo_id: a.repo_id.clone(),
        robot_type: a.robot_type.clone(),
        codec: match a.vcodec {
            Codec::Av1 => VideoCodec::Av1,
            Codec::H264 => VideoCodec::H264,
        },
        crf: a.crf,
        jobs,
        mapping: a.mapping.clone(),
        on_gap: match a.on_gap {
            OnGap::DropFrame => GapPolicy::DropFrame,
            OnGap::FailEpisode => GapPolicy::FailEpisode,
        },
        license: a.license.clone(),
        masks: a.mask.clone(),
        version: a.dataset_version.clone(),
        subtasks: match a.subtasks {
            Subtasks::All => SubtaskPolicy::All,
            Subtasks::Confirmed => SubtaskPolicy::Confirmed,
            Subtasks::None => SubtaskPolicy::Off,
        },
        pseudonym_key: a
            .pseudonym_key
            .as_deref()
            .map(reel_dataset::deid::PseudonymKey::read)
            .transpose()?,
        changelog: a.changelog.clone(),
    };
    let episodes = match a.shard {
        Some(shard) => {
            let mine = shard.select(reel_dataset::episode_files(&a.episodes)?, "episodes")?;
            if already_exported(&a.out, &mine)? {
                println!(
                    "shard {shard}: {} already holds its {} episodes (an earlier attempt finished); nothing to do",
                    a.out.display(),
                    mine.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            // A retried shard: what a killed attempt left goes first.
            for p in reel_dataset::remove_partials(&a.out)? {
                eprintln!(
                    "shard {shard}: removed {} (an unfinished attempt)",
                    p.display()
                );
            }
            mine
        }
        None => a.episodes.clone(),
    };
    let status = crate::shard::Status::start(
        a.status.as_deref(),
        "export lerobot",
        a.shard,
        reel_dataset::episode_files(&episodes).map_or(episodes.len(), |f| f.len()),
    )?;
    let exported = export_leaving_out_bad_episodes(a, episodes, &opts, &status);
    let s = match exported {
        Ok(s) => {
            status.finish(s.episodes.len(), Ok(()))?;
            s
        }
        Err(e) => {
            status.finish(0, Err(&e))?;
            return Err(e);
        }
    };
    let left_out = status.failures();
    for f in &left_out {
        eprintln!(
            "reel: left out {} (recorded in the summary{}): {}",
            f.episode,
            if a.status.is_some() {
                " and the status"
            } else {
                ""
            },
            f.reason
        );
    }
    if a.json {
        let mut v = serde_json::to_value(&s)?;
        v["left_out"] = serde_json::to_value(&left_out)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if s.appended { "appended to" } else { "wrote" };
    let new_frames: u64 = s.episodes.iter().map(|e| e.frames).sum();
    println!(
        "{verb} {}: {} episode(s), {new_frames} frames at {} fps; dataset now {} episodes, {} frames",
        s.out.display(),
        s.episodes.len(),
        a.fps,
        s.total_episodes,
        s.total_frames
    );
    for e in &s.episodes {
        let r = &e.alignment;
        let mut line = format!(
            "  episode {:>4}  {:>6} frames  {}",
            e.episode_index,
            e.frames,
            e.source.display()
        );
        if r.trimmed_head_s > 0.0 || r.trimmed_tail_s > 0.0 {
            line += &format!(
                "  (trimmed {:.3} s at the start, {:.3} s at the end to where every stream has data)",
                r.trimmed_head_s, r.trimmed_tail_s
            );
        }
        println!("{line}");
        if !r.dropped.is_empty() {
            let first = &r.dropped[0];
            println!(
                "    {} frame(s) dropped (no sample within tolerance), first at {:.3} s: {}",
                r.dropped.len(),
                first.time_s,
                first.features.join(", ")
            );
        }
    }
    println!(
        "  time: read+align {:.2} s, video {:.2} s, tables+manifest {:.2} s",
        s.read_s, s.encode_s, s.write_s
    );
    Ok(ExitCode::SUCCESS)
}

/// Exports `episodes`; in a shard (unless --fail-fast), an episode the
/// export refuses is left out, recorded, and the rest exported again.
fn export_leaving_out_bad_episodes(
    a: &LeRobotArgs,
    episodes: Vec<PathBuf>,
    opts: &LeRobotOptions,
    status: &crate::shard::Status,
) -> anyhow::Result<lerobot::ExportSummary> {
    let mut files = match a.shard {
        Some(_) => episodes,
        None => return export_once(&episodes, &a.out, opts, status).map_err(Into::into),
    };
    loop {
        let err = match export_once(&files, &a.out, opts, status) {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        // Every export error names its file: an input episode's is that
        // episode's fault, anything else stops the shard.
        let message = err.to_string();
        let bad = files
            .iter()
            .position(|f| message.starts_with(&format!("{}:", f.display())));
        match bad {
            Some(k) if !a.fail_fast && files.len() > 1 => {
                let bad = files.remove(k);
                status.failed(&bad, &message);
            }
            _ => return Err(err.into()),
        }
    }
}

fn export_once(
    files: &[PathBuf],
    out: &std::path::Path,
    opts: &LeRobotOptions,
    status: &crate::shard::Status,
) -> Result<lerobot::ExportSummary, reel_dataset::ExportError> {
    let bar = Progress::bar(files.len() as u64, "episodes read");
    let s = lerobot::export(files, out, opts, &|p| match p {
        ExportProgress::Read { done, total } => {
            bar.show(done as u64, total as u64, "episodes read")
        }
        ExportProgress::Encoded { done, total } => {
            // Videos are (episode, camera) pairs; the status counts episodes.
            status.progress(done * files.len() / total.max(1));
            bar.show(done as u64, total as u64, "videos encoded")
        }
        ExportProgress::Written => bar.finish(),
    });
    bar.finish();
    s
}

/// Whether `out` is a finished export of exactly `episodes` (names and
/// sizes, in order): a shard that already succeeded. Any other dataset
/// there is refused rather than appended to, so a retry never doubles it.
fn already_exported(out: &std::path::Path, episodes: &[PathBuf]) -> anyhow::Result<bool> {
    if !out.join(reel_dataset::manifest::MANIFEST).exists() {
        return Ok(false);
    }
    let manifest = reel_dataset::manifest::Manifest::read(out)?;
    let same = manifest.sources.len() == episodes.len()
        && manifest.sources.iter().zip(episodes).all(|(s, e)| {
            e.file_name().is_some_and(|n| n.to_string_lossy() == s.file)
                && std::fs::metadata(e).is_ok_and(|m| m.len() == s.size)
        });
    anyhow::ensure!(
        same,
        "{}: holds a dataset of other episodes; a shard writes its own new directory (remove it, or give another --out)",
        out.display()
    );
    Ok(true)
}

fn run_las(a: &LasArgs) -> anyhow::Result<ExitCode> {
    let opts = LasOptions {
        merge: a.merge,
        frame: a.frame.clone(),
        laz: a.laz,
    };
    let s = las::export(&a.episode, &a.out, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        println!(
            "wrote {}: {} file(s), {} revolutions, {} points",
            s.out.display(),
            s.files.len(),
            s.clouds,
            s.points
        );
    }
    Ok(ExitCode::SUCCESS)
}
