//! Dataset quality: what `reel check` measures for an episode, a folder of
//! episodes or an exported dataset, scored along six dimensions with
//! configurable thresholds.
//!
//! - [`scan`]: one pass over an episode (stamps, latencies, joint ranges,
//!   camera calibration, sampled frames) → [`EpisodeScan`];
//! - [`frames`]: sampled camera frames: brightness, change, perceptual hash;
//! - [`rules`]: thresholds → pass/fail checks per dimension;
//! - [`unique`]: duplicate and near-duplicate episodes;
//! - [`html`]: the self-contained HTML report;
//! - [`prelabel`] and [`annotate`]: automatic pre-labels and `reel annotate`'s
//!   edits of an episode's annotations.
//!
//! Cost: files up to 64 MB are read whole (joint states decoded fully,
//! other messages only their header stamp); larger ones through their
//! message indexes (every message's arrival time and size) with one chunk
//! per sampling interval decompressed. Camera frames are decoded only at
//! the sampling interval, at 1/8 size.

pub mod annotate;
pub mod dataset;
pub mod frames;
pub mod html;
pub mod prelabel;
pub mod rules;
pub mod scan;
pub mod unique;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use rules::{CheckResult, Dimension, DimensionScore};
pub use scan::{EpisodeScan, ReadMode, StreamKind, StreamStats};

use reel_dataset::manifest;
use reel_episode::episode_files_in;

/// Why a check could not run at all (unreadable path, bad thresholds file).
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    /// The path holds neither episodes nor an exported dataset.
    #[error("{path}: {reason}")]
    Input {
        /// The path given.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The thresholds file does not parse.
    #[error("{path}: {reason}; the default thresholds show the format")]
    Thresholds {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
}

/// Every limit `reel check` applies. Each field has a default; a TOML file
/// with any subset of them overrides those (`reel check --thresholds F`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Completeness limits.
    pub completeness: CompletenessLimits,
    /// Accuracy limits.
    pub accuracy: AccuracyLimits,
    /// Consistency limits.
    pub consistency: ConsistencyLimits,
    /// Timeliness limits.
    pub timeliness: TimelinessLimits,
    /// Uniqueness limits.
    pub uniqueness: UniquenessLimits,
    /// Lowest passing score (0–100) per dimension; a dimension below it
    /// fails the check.
    pub min_score: BTreeMap<Dimension, f64>,
    /// Seconds between sampled camera frames (black, frozen, image hashes).
    pub frame_sample_interval_s: f64,
}

/// Completeness limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompletenessLimits {
    /// Topics every episode must hold, besides those its metadata declares.
    pub required_topics: Vec<String>,
    /// Lowest message count as a fraction of the nominal rate × duration.
    pub min_rate_ratio: f64,
    /// An interval longer than this many nominal periods is a gap.
    pub gap_periods: f64,
    /// Gaps allowed per stream.
    pub max_gaps: u64,
    /// Largest share of a device's packets that may never have arrived
    /// (the recorder's `packets_lost` events). Packets refused as bad and
    /// messages dropped on a full queue are never allowed.
    pub max_packet_loss: f64,
}

/// Accuracy limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccuracyLimits {
    /// How far (rad or m) a joint may go past its URDF limit.
    pub joint_limit_margin: f64,
    /// Every camera needs a plausible `camera_info`.
    pub require_camera_info: bool,
    /// A sampled frame whose mean luma (0–255) is below this is black.
    pub black_luma: f64,
    /// Largest fraction of sampled frames that may be black.
    pub max_black_fraction: f64,
    /// Longest run (s) of identical frames.
    pub max_frozen_s: f64,
}

/// Consistency limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsistencyLimits {
    /// Largest deviation of any whole second's message count from the
    /// nominal rate, as a fraction of it.
    pub max_rate_deviation: f64,
    /// Largest difference (s) between the streams' first (and last) stamps.
    pub max_start_end_skew_s: f64,
    /// Largest spread (ms) of the streams' median host-minus-sensor
    /// latencies: a stream off by more is likely on another clock.
    pub max_latency_spread_ms: f64,
}

/// Timeliness limits: host receive time minus sensor stamp, p99 (ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimelinessLimits {
    /// Joint states and commands.
    pub joints_p99_ms: f64,
    /// Camera frames.
    pub cameras_p99_ms: f64,
    /// LiDAR revolutions (stamped at their first point, so ≥ one turn).
    pub lidar_p99_ms: f64,
    /// IMU samples.
    pub imu_p99_ms: f64,
}

/// Uniqueness limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UniquenessLimits {
    /// Two trajectories closer than this RMS (rad or m) are near-duplicates
    /// (when their images agree too).
    pub trajectory_rms: f64,
    /// Mean Hamming distance (of 64 bits) between sampled frames' hashes
    /// under which two episodes' images agree.
    pub image_hash_bits: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            completeness: CompletenessLimits::default(),
            accuracy: AccuracyLimits::default(),
            consistency: ConsistencyLimits::default(),
            timeliness: TimelinessLimits::default(),
            uniqueness: UniquenessLimits::default(),
            min_score: Dimension::ALL.iter().map(|d| (*d, 100.0)).collect(),
            frame_sample_interval_s: 1.0,
        }
    }
}

impl Default for CompletenessLimits {
    fn default() -> Self {
        Self {
            required_topics: Vec::new(),
            min_rate_ratio: 0.995,
            gap_periods: 5.0,
            max_gaps: 0,
            max_packet_loss: 0.005,
        }
    }
}

impl Default for AccuracyLimits {
    fn default() -> Self {
        Self {
            joint_limit_margin: 0.01,
            require_camera_info: true,
            black_luma: 12.0,
            max_black_fraction: 0.0,
            max_frozen_s: 1.0,
        }
    }
}

impl Default for ConsistencyLimits {
    fn default() -> Self {
        Self {
            max_rate_deviation: 0.2,
            max_start_end_skew_s: 0.5,
            max_latency_spread_ms: 100.0,
        }
    }
}

impl Default for TimelinessLimits {
    fn default() -> Self {
        Self {
            joints_p99_ms: 20.0,
            cameras_p99_ms: 100.0,
            lidar_p99_ms: 250.0,
            imu_p99_ms: 20.0,
        }
    }
}

impl Default for UniquenessLimits {
    fn default() -> Self {
        Self {
            trajectory_rms: 0.005,
            image_hash_bits: 4.0,
        }
    }
}

impl Thresholds {
    /// Reads a TOML file of overrides.
    pub fn read(path: &Path) -> Result<Self, QualityError> {
        let text = std::fs::read_to_string(path).map_err(|e| QualityError::Thresholds {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| QualityError::Thresholds {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
        })
    }

    /// The defaults as TOML (a template to edit).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// One episode file.
    Episode,
    /// A folder of episode files.
    Episodes,
    /// An exported dataset (holds `manifest.json`).
    ExportedDataset,
}

/// Everything `reel check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The path checked.
    pub path: String,
    /// What it is.
    pub target: Target,
    /// `reel x.y.z`.
    pub software_version: String,
    /// The limits applied.
    pub thresholds: Thresholds,
    /// Per-episode measurements.
    pub episodes: Vec<EpisodeScan>,
    /// Every check, passed or failed.
    pub checks: Vec<CheckResult>,
    /// Score per dimension.
    pub scores: Vec<DimensionScore>,
    /// Groups of episodes that duplicate each other (file names).
    pub duplicates: Vec<unique::DuplicateGroup>,
    /// The manifest comparison, for an exported dataset.
    pub manifest: Option<manifest::CheckReport>,
    /// True when every dimension reaches its minimum score.
    pub passed: bool,
    /// Seconds the check took.
    pub elapsed_s: f64,
}

impl Report {
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// Drops the episodes' trajectories and frame hashes, which only a
    /// shard's report needs (for [`merge_reports`]).
    pub fn without_fingerprints(mut self) -> Self {
        for e in &mut self.episodes {
            e.trajectory.clear();
            for c in &mut e.cameras {
                c.hashes.clear();
            }
        }
        self
    }
}

/// How to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// Episodes read in parallel.
    pub jobs: usize,
    /// How much of each episode is decoded.
    pub mode: ReadMode,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            jobs: std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            mode: ReadMode::Auto,
        }
    }
}

/// Checks `path`: an episode, a folder of episodes, or an exported dataset
/// (a folder with `manifest.json`: the integrity of every file, and for a
/// LeRobot dataset what its tables and videos hold).
pub fn check(
    path: &Path,
    thresholds: &Thresholds,
    options: &CheckOptions,
) -> Result<Report, QualityError> {
    check_with_progress(path, thresholds, options, &|_| {})
}

/// How far a check is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckProgress {
    /// Files of an export hashed against its manifest.
    Hashed {
        /// Files so far.
        done: usize,
        /// Files in the export.
        total: usize,
    },
    /// Episodes scanned.
    Scanned {
        /// Episodes so far.
        done: usize,
        /// Episodes to scan.
        total: usize,
    },
}

/// [`check`], telling `progress` how far it is.
pub fn check_with_progress(
    path: &Path,
    thresholds: &Thresholds,
    options: &CheckOptions,
    progress: &(dyn Fn(CheckProgress) + Sync),
) -> Result<Report, QualityError> {
    let started = std::time::Instant::now();
    let input_error = |reason: String| QualityError::Input {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| input_error(e.to_string()))?;
    let (target, files, manifest_report) = if meta.is_file() {
        (Target::Episode, vec![path.to_path_buf()], None)
    } else if path.join(manifest::MANIFEST).is_file() {
        let report = manifest::check_with_progress(path, &|done, total| {
            progress(CheckProgress::Hashed { done, total })
        })
        .map_err(|e| input_error(e.to_string()))?;
        (Target::ExportedDataset, Vec::new(), Some(report))
    } else {
        let files = episode_files_in(path).map_err(|e| input_error(e.to_string()))?;
        if files.is_empty() {
            return Err(input_error(
                "holds no episode (*.mcap) and no manifest.json; give an episode, a folder of episodes or an exported dataset".into(),
            ));
        }
        (Target::Episodes, files, None)
    };
    let episodes = scan_all(&files, thresholds, options, &|done| {
        progress(CheckProgress::Scanned {
            done,
            total: files.len(),
        })
    });
    let mut report = judge(path, target, episodes, thresholds, started);
    if let Some(m) = manifest_report {
        report.checks.extend(rules::manifest_checks(&m));
        if path.join("meta/info.json").is_file() {
            report
                .checks
                .extend(dataset::lerobot_checks(path, thresholds));
        }
        report.manifest = Some(m);
        report.scores = rules::score(&report.checks, thresholds);
        report.passed = report.scores.iter().all(|s| s.passed);
    }
    Ok(report)
}

/// Checks the episode files `files` (one shard of the folder `folder`),
/// reported as episodes of that folder.
pub fn check_files(
    folder: &Path,
    files: &[PathBuf],
    thresholds: &Thresholds,
    options: &CheckOptions,
    progress: &(dyn Fn(CheckProgress) + Sync),
) -> Report {
    let started = std::time::Instant::now();
    let episodes = scan_all(files, thresholds, options, &|done| {
        progress(CheckProgress::Scanned {
            done,
            total: files.len(),
        })
    });
    judge(folder, Target::Episodes, episodes, thresholds, started)
}

/// The per-episode and cross-episode checks (duplicates, consistency) of
/// the episodes of several shard reports (`reel check --shard I/N --json`),
/// as one check of all their episodes would make them. The reports must
/// have been made with the same limits.
pub fn merge_reports(reports: &[PathBuf]) -> Result<Report, QualityError> {
    let started = std::time::Instant::now();
    let mut episodes = Vec::new();
    let mut first: Option<(PathBuf, Thresholds, String)> = None;
    for path in reports {
        let input_error = |reason: String| QualityError::Input {
            path: path.clone(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| input_error(e.to_string()))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| input_error(format!("not a JSON report of `reel check`: {e}")))?;
        if v["target"] != "episodes" {
            return Err(input_error(
                "is not a report of episodes (made by `reel check FOLDER --shard I/N --json`)"
                    .into(),
            ));
        }
        let thresholds: Thresholds = serde_json::from_value(v["thresholds"].clone())
            .map_err(|e| input_error(format!("unreadable limits: {e}")))?;
        let scans: Vec<EpisodeScan> = serde_json::from_value(v["episodes"].clone())
            .map_err(|e| input_error(format!("unreadable episodes: {e}")))?;
        let folder = v["path"].as_str().unwrap_or_default().to_string();
        match &first {
            None => first = Some((path.clone(), thresholds, folder)),
            Some((p, t, _)) if *t != thresholds => {
                return Err(input_error(format!(
                "was made with other limits than {}; check every shard with the same --thresholds",
                p.display()
            )))
            }
            Some(_) => {}
        }
        episodes.extend(scans);
    }
    let Some((_, thresholds, folder)) = first else {
        return Err(QualityError::Input {
            path: PathBuf::from("."),
            reason: "no report to merge".into(),
        });
    };
    Ok(judge(
        Path::new(&folder),
        Target::Episodes,
        episodes,
        &thresholds,
        started,
    ))
}

/// The report of `episodes`: their own checks, the cross-episode ones and
/// the scores.
fn judge(
    path: &Path,
    target: Target,
    episodes: Vec<EpisodeScan>,
    thresholds: &Thresholds,
    started: std::time::Instant,
) -> Report {
    let duplicates = unique::find_duplicates(&episodes, &thresholds.uniqueness);
    let checks = rules::evaluate(&episodes, &duplicates, thresholds);
    let scores = rules::score(&checks, thresholds);
    let passed = scores.iter().all(|s| s.passed);
    Report {
        path: path.display().to_string(),
        target,
        software_version: reel_episode::software_version(),
        thresholds: thresholds.clone(),
        episodes,
        checks,
        scores,
        duplicates,
        manifest: None,
        passed,
        elapsed_s: started.elapsed().as_secs_f64(),
    }
}

/// Scans `files` on `jobs` threads, keeping their order. A file that cannot
/// be read at all becomes a scan with only its problem recorded.
fn scan_all(
    files: &[PathBuf],
    thresholds: &Thresholds,
    options: &CheckOptions,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<EpisodeScan> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<EpisodeScan>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..options.jobs.clamp(1, files.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let scan = scan::scan_episode(file, thresholds, options.mode);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(scan);
                }
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            });
        }
    });
    results
        .into_iter()
        .zip(files)
        .map(|(slot, file)| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| {
                EpisodeScan::unreadable(file, "the reading thread failed".into())
            })
        })
        .collect()
}
