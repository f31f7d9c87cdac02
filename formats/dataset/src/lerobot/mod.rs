//! Episodes → a LeRobot v3.0 dataset (`spec/lerobot_v3.md`), new or
//! appended to: aligned frames in `data/`, AV1/H.264 videos concatenated
//! per camera in `videos/`, `meta/{info.json, stats.json, tasks.parquet,
//! episodes/}`, plus `manifest.json` and a dataset card.

mod build;
pub mod curate;
mod dataset_card;
mod existing;
mod features;
mod files;
pub mod mapping;
pub mod merge;
pub mod plan;
pub mod read;
mod released;
mod renumber;
pub mod subtasks;
pub mod tables;
pub mod video;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use self::build::Build;
use self::existing::{existing_features, read_existing};
use self::features::feature_spec;
use self::files::parallel;
pub(crate) use self::files::write_json;
pub(crate) use self::files::{Cursor, DataFiles};
use self::mapping::Mapping;
use self::plan::{plan_episode, AlignReport, EpisodePlan, GapPolicy};
use self::subtasks::SubtaskPolicy;
use super::source::SourceEpisode;
use super::{ExportError, Staging};
use reel_media::{VideoCodec, VideoSettings};

/// LeRobot's maximum number of files per chunk directory.
pub const CHUNKS_SIZE: u32 = 1000;
/// Data (and meta/episodes) file rollover, MiB.
pub const DATA_FILES_SIZE_IN_MB: u64 = 100;
/// Video file rollover, MiB.
pub const VIDEO_FILES_SIZE_IN_MB: u64 = 200;
const DATA_PATH: &str = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet";
const VIDEO_PATH: &str = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4";

/// Options of `reel export lerobot`.
#[derive(Debug, Clone)]
pub struct LeRobotOptions {
    /// Output frames per second.
    pub fps: u32,
    /// Dataset name (`user/name`).
    pub repo_id: String,
    /// Robot type; None → from the episodes.
    pub robot_type: Option<String>,
    /// Video codec.
    pub codec: VideoCodec,
    /// CRF; None → 30 (LeRobot's default).
    pub crf: Option<u32>,
    /// Parallel encoding jobs.
    pub jobs: usize,
    /// A mapping file replacing the default feature mapping.
    pub mapping: Option<PathBuf>,
    /// What to do with frames a stream cannot supply.
    pub on_gap: GapPolicy,
    /// Licence for the card.
    pub license: String,
    /// Regions blacked out in every frame of a camera (de-identification).
    pub masks: Vec<crate::deid::Mask>,
    /// This release's version (semver); None → 1.0.0 for a new dataset,
    /// the next minor version for an append.
    pub version: Option<String>,
    /// This release's changelog note; None → what was added.
    pub changelog: Option<String>,
    /// Which annotated segments become the per-frame `subtask_index`.
    pub subtasks: SubtaskPolicy,
    /// With a key, operators and sites are exported as keyed pseudonyms
    /// (manifest and card); without, they are left out.
    pub pseudonym_key: Option<crate::deid::PseudonymKey>,
}

/// One exported episode.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEpisode {
    /// Source file.
    pub source: PathBuf,
    /// Its `reel.episode` id.
    pub episode_id: String,
    /// Index in the dataset.
    pub episode_index: u64,
    /// Frames written.
    pub frames: u64,
    /// What alignment did.
    pub alignment: AlignReport,
}

/// What an export did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The dataset.
    pub out: PathBuf,
    /// True when episodes were appended to an existing dataset.
    pub appended: bool,
    /// Episodes written by this run.
    pub episodes: Vec<ExportedEpisode>,
    /// Dataset totals after the run.
    pub total_episodes: u64,
    /// Dataset totals after the run.
    pub total_frames: u64,
    /// Seconds reading and aligning the sources.
    pub read_s: f64,
    /// Seconds decoding and encoding video.
    pub encode_s: f64,
    /// Seconds writing tables, joining videos, manifest.
    pub write_s: f64,
}

/// How far an export is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportProgress {
    /// Source episodes read and aligned.
    Read {
        /// Episodes read so far.
        done: usize,
        /// Episodes to read.
        total: usize,
    },
    /// (episode, camera) videos encoded.
    Encoded {
        /// Videos encoded so far.
        done: usize,
        /// Videos to encode.
        total: usize,
    },
    /// Tables, metadata and manifest written.
    Written,
}

/// Exports `inputs` (episode files or directories) to the dataset at `out`,
/// creating it or appending to it.
/// `progress` hears how far it is.
pub fn export(
    inputs: &[PathBuf],
    out: &Path,
    opts: &LeRobotOptions,
    progress: &(dyn Fn(ExportProgress) + Sync),
) -> Result<ExportSummary, ExportError> {
    let t0 = Instant::now();
    if opts.fps == 0 {
        return Err(ExportError::input(
            out,
            "the frame rate must be a positive integer",
        ));
    }
    let files = super::episode_files(inputs)?;
    let read = std::sync::atomic::AtomicUsize::new(0);
    let sources = parallel(files.len(), opts.jobs, |i| {
        let r = SourceEpisode::read(&files[i]);
        let done = read.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(ExportProgress::Read {
            done,
            total: files.len(),
        });
        r
    })?;
    let first = &sources[0];
    let mapping = match &opts.mapping {
        Some(p) => Mapping::from_file(p)?,
        None => Mapping::default_for(first)?,
    };
    let mut settings = VideoSettings::lerobot_default(opts.codec, opts.fps);
    if let Some(crf) = opts.crf {
        settings.crf = crf;
    }
    // Subtasks: a new dataset has the feature when any episode has
    // segments; an append follows the dataset.
    let wanted = sources.iter().any(|ep| opts.subtasks.has_segments(ep));
    let with_subtasks = match existing_features(out) {
        Some(f) => {
            let has = f.get(subtasks::FEATURE).is_some();
            if wanted && !has {
                return Err(ExportError::output(
                    out,
                    "has no subtask_index feature but these episodes have annotated segments; export them to a new dataset, or without subtasks",
                ));
            }
            has
        }
        None => wanted,
    };
    // Every episode must have the mapped topics and fit the first one's
    // features (names, sizes).
    let mut features = Value::Null;
    for ep in &sources {
        mapping.check(ep)?;
        let f = feature_spec(&mapping, ep, settings, with_subtasks);
        if features.is_null() {
            features = f;
            continue;
        }
        if f != features {
            return Err(ExportError::input(
                &ep.path,
                format!(
                    "its joints or camera sizes differ from {}; export episodes of the same rig together",
                    first.path.display()
                ),
            ));
        }
    }
    let existing = read_existing(out, &features, opts.fps)?;
    if let Some(ex) = &existing {
        for ep in &sources {
            if let Some(dup) = ex
                .manifest
                .sources
                .iter()
                .find(|s| s.sha256 == ep.sha256 || s.episode_id == ep.meta.episode_id)
            {
                return Err(ExportError::input(
                    &ep.path,
                    format!(
                        "episode {} is already in {} (as {}); leave it out",
                        ep.meta.episode_id,
                        out.display(),
                        dup.file
                    ),
                ));
            }
        }
    }
    let plans: Vec<EpisodePlan> = sources
        .iter()
        .map(|ep| plan_episode(ep, &mapping, opts.fps, opts.on_gap))
        .collect::<Result<_, _>>()?;
    if let Some((ep, _)) = sources.iter().zip(&plans).find(|(_, p)| p.frames < 2) {
        return Err(ExportError::input(
            &ep.path,
            "fewer than 2 frames left after alignment; nothing to export",
        ));
    }
    let read_s = t0.elapsed().as_secs_f64();
    for (ep, plan) in sources.iter().zip(&plans) {
        tracing::debug!(
            episode = %ep.path.display(),
            frames = plan.frames,
            dropped = plan.report.dropped.len(),
            "aligned to the frame grid"
        );
    }
    tracing::info!(episodes = sources.len(), read_s, "sources read and aligned");

    // Staging: a new dataset is built beside `out` and renamed; an append
    // builds its new files in a hidden folder inside `out`.
    let staging_new = if existing.is_none() {
        Some(Staging::new(out)?)
    } else {
        None
    };
    let append_dir = out.join(format!(".reel-append-{}", std::process::id()));
    let stage: PathBuf = match &staging_new {
        Some(s) => s.path().to_path_buf(),
        None => {
            std::fs::create_dir_all(&append_dir).map_err(|e| ExportError::io(&append_dir, e))?;
            append_dir.clone()
        }
    };
    let result = Build {
        stage: &stage,
        out,
        opts,
        mapping: &mapping,
        sources: &sources,
        plans: &plans,
        features: &features,
        settings,
        existing: existing.as_ref(),
        progress,
    }
    .run(read_s, t0);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if staging_new.is_none() {
                let _ = std::fs::remove_dir_all(&append_dir);
            }
            return Err(e);
        }
    };
    match staging_new {
        Some(s) => {
            s.commit()?;
        }
        None => {
            let _ = std::fs::remove_dir_all(&append_dir);
        }
    }
    Ok(summary)
}
