//! Data-level checks of an exported LeRobot v3.0 dataset: what its tables
//! and videos say, beside the manifest's hashes. Every episode's rows and
//! video span are present; indices are contiguous and timestamps on the
//! frame grid; values are finite; stats cover every frame; splits cover every
//! episode once; alignment left few frames out; no two episodes hold the
//! same trajectory. Only table columns and video headers are read; no frame
//! is decoded.

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::Value;

use super::rules::CheckResult;
use super::{Dimension, Thresholds};
use reel_dataset::lerobot::curate::Dataset;
use reel_dataset::lerobot::read::read_batches;

/// How far a timestamp may sit from frame_index / fps (LeRobot's own
/// decoding tolerance).
const TIMESTAMP_TOLERANCE_S: f64 = 1e-4;
/// Findings listed per check before "and N more".
const LISTED: usize = 5;

struct Finding {
    dimension: Dimension,
    check: &'static str,
    subject: String,
    problems: Vec<String>,
    ok_message: String,
}

impl Finding {
    fn new(dimension: Dimension, check: &'static str, subject: &str, ok_message: String) -> Self {
        Self {
            dimension,
            check,
            subject: subject.to_string(),
            problems: Vec::new(),
            ok_message,
        }
    }

    fn result(self) -> CheckResult {
        let passed = self.problems.is_empty();
        let message = if passed {
            self.ok_message
        } else {
            let more = self.problems.len().saturating_sub(LISTED);
            let mut m = self.problems[..self.problems.len().min(LISTED)].join("; ");
            if more > 0 {
                m.push_str(&format!("; and {more} more"));
            }
            m
        };
        CheckResult {
            dimension: self.dimension,
            check: self.check.into(),
            subject: self.subject,
            item: None,
            passed,
            message,
            at_s: None,
        }
    }
}

/// Per-episode facts gathered from the data files.
#[derive(Default)]
struct EpisodeRows {
    rows: u64,
    frames_in_order: bool,
    off_grid: u64,
    state_hash: Option<sha2::Sha256>,
}

/// What the data files hold, per episode, and the findings made on the way.
struct DataRows {
    per_episode: BTreeMap<i64, EpisodeRows>,
    indices: Finding,
    finite: Finding,
    subtasks: Finding,
}

/// The data-level checks of the LeRobot dataset at `root`.
pub fn lerobot_checks(root: &Path, thresholds: &Thresholds) -> Vec<CheckResult> {
    let ds = match Dataset::read(root) {
        Ok(ds) => ds,
        Err(e) => {
            return vec![CheckResult {
                dimension: Dimension::Integrity,
                check: "tables".into(),
                subject: "meta".into(),
                item: None,
                passed: false,
                message: format!("the dataset's tables cannot be read: {e}"),
                at_s: None,
            }]
        }
    };
    let data = data_rows(root, &ds);
    let (rows_check, grid, videos) = episode_checks(root, &ds, &data.per_episode);
    let checks = [
        rows_check,
        videos,
        alignment_check(&ds, thresholds),
        data.indices,
        grid,
        stats_check(root, &ds),
        splits_check(&ds),
        data.finite,
        data.subtasks,
        duplicate_check(data.per_episode),
    ];
    checks.into_iter().map(Finding::result).collect()
}

/// Every data file's rows, in path order (the order LeRobot reads them
/// in): indices contiguous, values finite, subtasks in the label table.
fn data_rows(root: &Path, ds: &Dataset) -> DataRows {
    let fps = ds.info["fps"].as_f64().unwrap_or(0.0);
    let total_frames = ds.info["total_frames"].as_u64().unwrap_or(0);
    let has_subtasks = ds.info["features"].get("subtask_index").is_some();
    let mut indices = Finding::new(Dimension::Consistency, "indices", "data", String::new());
    let mut finite = Finding::new(Dimension::Accuracy, "finite", "data", String::new());
    let mut subtasks = Finding::new(Dimension::Accuracy, "subtasks", "data", String::new());
    let subtask_labels = reel_dataset::lerobot::subtasks::read_table(root)
        .map(|l| l.len() as i64)
        .unwrap_or(0);
    let mut per_episode: BTreeMap<i64, EpisodeRows> = BTreeMap::new();
    let mut rows_total = 0u64;
    let mut next_index = 0i64;
    // Sorted by path: the order LeRobot reads them in.
    let data_files: Vec<String> = reel_dataset::manifest::list_files(root)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.starts_with("data/") && p.ends_with(".parquet"))
        .collect();
    let mut non_finite: BTreeMap<String, u64> = BTreeMap::new();
    for rel in &data_files {
        let batches = match read_batches(&root.join(rel), None) {
            Ok(b) => b,
            Err(e) => {
                indices.problems.push(e.to_string());
                continue;
            }
        };
        for b in &batches {
            rows_total += b.num_rows() as u64;
            scan_rows(
                b,
                rel,
                fps,
                &mut per_episode,
                &mut next_index,
                &mut indices,
                &mut non_finite,
                &mut subtasks,
                subtask_labels,
            );
        }
    }
    for (feature, n) in &non_finite {
        finite
            .problems
            .push(format!("{feature}: {n} values are NaN or infinite"));
    }
    if rows_total != total_frames {
        indices.problems.push(format!(
            "{rows_total} rows for total_frames {total_frames} in meta/info.json"
        ));
    }
    indices.ok_message = format!(
        "{rows_total} rows: index 0..{} contiguous across {} file(s), frame_index 0..length per episode",
        rows_total.saturating_sub(1),
        data_files.len()
    );
    finite.ok_message = "every float value is finite".into();

    subtasks.ok_message = if has_subtasks {
        format!(
            "every subtask_index is -1 or a row of meta/subtasks.parquet ({subtask_labels} labels)"
        )
    } else {
        "no subtask feature".into()
    };
    DataRows {
        per_episode,
        indices,
        finite,
        subtasks,
    }
}

/// Each episode's rows present and in order, on the frame grid, and its
/// video spans as long as the episode and inside their files.
fn episode_checks(
    root: &Path,
    ds: &Dataset,
    per_episode: &BTreeMap<i64, EpisodeRows>,
) -> (Finding, Finding, Finding) {
    let fps = ds.info["fps"].as_f64().unwrap_or(0.0);
    let mut rows_check = Finding::new(
        Dimension::Completeness,
        "episode-rows",
        "meta/episodes",
        format!("all {} episodes have their rows", ds.episodes.len()),
    );
    let mut grid = Finding::new(
        Dimension::Consistency,
        "timestamps",
        "data",
        format!("every timestamp is frame_index / {fps} within {TIMESTAMP_TOLERANCE_S} s"),
    );
    let mut videos = Finding::new(Dimension::Completeness, "videos", "videos", String::new());
    let mut video_frames: BTreeMap<String, Option<u64>> = BTreeMap::new();
    let mut spans = 0;
    for e in &ds.episodes {
        let got = per_episode.get(&e.episode_index);
        let rows = got.map_or(0, |g| g.rows);
        if rows != e.length as u64 || got.is_some_and(|g| !g.frames_in_order) {
            rows_check.problems.push(format!(
                "episode {}: {rows} rows for length {}{}",
                e.episode_index,
                e.length,
                if got.is_some_and(|g| !g.frames_in_order) {
                    ", frame_index not 0..length"
                } else {
                    ""
                }
            ));
        }
        if let Some(g) = got.filter(|g| g.off_grid > 0) {
            grid.problems.push(format!(
                "episode {}: {} timestamps off frame_index / fps",
                e.episode_index, g.off_grid
            ));
        }
        for (key, loc) in &e.videos {
            spans += 1;
            let span_frames = (loc.to_timestamp - loc.from_timestamp) * fps;
            if (span_frames - e.length as f64).abs() > 1e-6 {
                videos.problems.push(format!(
                    "episode {} {key}: span {:.4}..{:.4} s is {span_frames:.3} frames for length {}",
                    e.episode_index, loc.from_timestamp, loc.to_timestamp, e.length
                ));
            }
            let file = ds.video_file(key, loc);
            let first_look = !video_frames.contains_key(&file);
            let frames = *video_frames
                .entry(file.clone())
                .or_insert_with(|| mp4_frames(&root.join(&file)));
            match frames {
                // Said once per file, not once per episode in it.
                None if first_look => videos
                    .problems
                    .push(format!("{file}: missing or not a readable MP4")),
                None => {}
                Some(n) if (loc.to_timestamp * fps).round() as u64 > n => {
                    videos.problems.push(format!(
                        "episode {} {key}: ends at frame {} of {file}, which has {n}",
                        e.episode_index,
                        (loc.to_timestamp * fps).round()
                    ))
                }
                Some(_) => {}
            }
        }
    }
    videos.ok_message = format!(
        "{spans} episode spans in {} video file(s), each as long as its episode and inside its file",
        video_frames.len()
    );

    (rows_check, grid, videos)
}

/// `meta/stats.json` covers every feature, and every vector every frame.
fn stats_check(root: &Path, ds: &Dataset) -> Finding {
    let features = ds.info["features"].as_object().cloned().unwrap_or_default();
    let total_frames = ds.info["total_frames"].as_u64().unwrap_or(0);
    let mut stats = Finding::new(
        Dimension::Consistency,
        "stats",
        "meta/stats.json",
        format!("every feature has stats; vectors count {total_frames} frames"),
    );
    let stats_json: Value = std::fs::read(root.join("meta/stats.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    for (name, spec) in &features {
        let dtype = spec["dtype"].as_str().unwrap_or("");
        if dtype == "string" || dtype == "language" {
            continue;
        }
        match stats_json.get(name) {
            None => stats.problems.push(format!("{name}: no stats")),
            Some(s) if dtype != "video" && dtype != "image" => {
                let count = s["count"][0].as_f64().unwrap_or(0.0) as u64;
                if count != total_frames {
                    stats
                        .problems
                        .push(format!("{name}: count {count} for {total_frames} frames"));
                }
            }
            Some(_) => {}
        }
    }

    stats
}

/// The splits of `info.json` cover every episode once.
fn splits_check(ds: &Dataset) -> Finding {
    let mut splits = Finding::new(
        Dimension::Consistency,
        "splits",
        "meta/info.json",
        String::new(),
    );
    let mut covered = vec![0u32; ds.episodes.len()];
    let mut named = Vec::new();
    for (name, range) in ds.info["splits"].as_object().into_iter().flatten() {
        let parsed = range
            .as_str()
            .and_then(|r| r.split_once(':'))
            .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
        match parsed {
            Some((a, b)) if a <= b && b <= covered.len() => {
                covered[a..b].iter_mut().for_each(|c| *c += 1);
                named.push(format!("{name} {a}:{b}"));
            }
            _ => splits
                .problems
                .push(format!("{name}: {range} is not a range of episode indices")),
        }
    }
    if !named.is_empty() {
        let (none, twice) = (
            covered.iter().filter(|&&c| c == 0).count(),
            covered.iter().filter(|&&c| c > 1).count(),
        );
        if none + twice > 0 {
            splits.problems.push(format!(
                "{none} episode(s) in no split, {twice} in more than one"
            ));
        }
    }
    splits.ok_message = if named.is_empty() {
        "no splits".into()
    } else {
        format!("{} cover every episode once", named.join(", "))
    };

    splits
}

/// What alignment left out of each episode, from the manifest.
fn alignment_check(ds: &Dataset, thresholds: &Thresholds) -> Finding {
    let mut aligned = Finding::new(
        Dimension::Completeness,
        "alignment",
        reel_dataset::manifest::MANIFEST,
        String::new(),
    );
    let mut lost = 0u64;
    for s in &ds.manifest.sources {
        let (Some(kept), Some(dropped)) = (s.frames, s.dropped_frames) else {
            continue;
        };
        lost += dropped;
        let share = kept as f64 / (kept + dropped).max(1) as f64;
        if share < thresholds.completeness.min_rate_ratio {
            aligned.problems.push(format!(
                "episode {} ({}): alignment left out {dropped} of {} grid frames ({:.2} %, limit {:.2} %)",
                s.episode_index.unwrap_or(0),
                s.file,
                kept + dropped,
                100.0 * (1.0 - share),
                100.0 * (1.0 - thresholds.completeness.min_rate_ratio)
            ));
        }
    }
    aligned.ok_message = format!("alignment left out {lost} grid frame(s) in all");

    aligned
}

/// No two episodes with the same `observation.state` trajectory.
fn duplicate_check(per_episode: BTreeMap<i64, EpisodeRows>) -> Finding {
    let mut unique = Finding::new(
        Dimension::Uniqueness,
        "duplicate-episodes",
        "data",
        "no two episodes hold the same observation.state trajectory".into(),
    );
    let mut seen: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for (ep, g) in per_episode {
        if let Some(h) = g.state_hash {
            use sha2::Digest;
            let digest = h.finalize().to_vec();
            if let Some(first) = seen.get(&digest) {
                unique.problems.push(format!(
                    "episode {ep} holds the same observation.state trajectory as episode {first}"
                ));
            } else {
                seen.insert(digest, ep);
            }
        }
    }

    unique
}

/// Frames in an MP4's video stream, from its header.
fn mp4_frames(path: &Path) -> Option<u64> {
    reel_media::init();
    let input = ffmpeg_next::format::input(path).ok()?;
    let stream = input.streams().best(ffmpeg_next::media::Type::Video)?;
    u64::try_from(stream.frames()).ok().filter(|&n| n > 0)
}

/// Folds one batch of data rows into the per-episode facts and checks.
#[allow(clippy::too_many_arguments)]
fn scan_rows(
    b: &RecordBatch,
    rel: &str,
    fps: f64,
    per_episode: &mut BTreeMap<i64, EpisodeRows>,
    next_index: &mut i64,
    indices: &mut Finding,
    non_finite: &mut BTreeMap<String, u64>,
    subtasks: &mut Finding,
    subtask_labels: i64,
) {
    let int = |name: &str| {
        b.column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
    };
    let (Some(ep), Some(index), Some(frame)) =
        (int("episode_index"), int("index"), int("frame_index"))
    else {
        indices.problems.push(format!(
            "{rel}: no episode_index, index or frame_index column"
        ));
        return;
    };
    let timestamp = b
        .column_by_name("timestamp")
        .and_then(|c| c.as_primitive_opt::<Float32Type>());
    let state = b
        .column_by_name("observation.state")
        .and_then(|c| c.as_fixed_size_list_opt());
    for r in 0..b.num_rows() {
        if index.value(r) != *next_index {
            indices.problems.push(format!(
                "{rel} row {r}: index {} where {} was next",
                index.value(r),
                *next_index
            ));
            *next_index = index.value(r);
        }
        *next_index += 1;
        let e = per_episode
            .entry(ep.value(r))
            .or_insert_with(|| EpisodeRows {
                frames_in_order: true,
                ..Default::default()
            });
        if frame.value(r) != e.rows as i64 {
            e.frames_in_order = false;
        }
        if let Some(ts) = timestamp {
            if (f64::from(ts.value(r)) - frame.value(r) as f64 / fps).abs() > TIMESTAMP_TOLERANCE_S
            {
                e.off_grid += 1;
            }
        }
        if let Some(state) = state {
            use sha2::Digest;
            let v = state.value(r);
            if let Some(v) = v.as_primitive_opt::<Float32Type>() {
                let h = e.state_hash.get_or_insert_with(sha2::Sha256::new);
                for x in v.values() {
                    h.update(x.to_le_bytes());
                }
            }
        }
        e.rows += 1;
    }
    for (field, col) in b.schema().fields().iter().zip(b.columns()) {
        let values = match col.data_type() {
            DataType::Float32 => col.as_primitive::<Float32Type>().values().to_vec(),
            DataType::FixedSizeList(..) => {
                let l = col.as_fixed_size_list();
                match l.values().as_primitive_opt::<Float32Type>() {
                    Some(v) => v.values().to_vec(),
                    None => continue,
                }
            }
            _ => continue,
        };
        let bad = values.iter().filter(|x| !x.is_finite()).count() as u64;
        if bad > 0 {
            *non_finite.entry(field.name().clone()).or_default() += bad;
        }
    }
    if let Some(sub) = int(reel_dataset::lerobot::subtasks::FEATURE) {
        let bad = sub
            .values()
            .iter()
            .filter(|&&v| v < -1 || v >= subtask_labels)
            .count();
        if bad > 0 {
            subtasks.problems.push(format!(
                "{rel}: {bad} subtask_index values outside -1..{}",
                subtask_labels - 1
            ));
        }
    }
}
