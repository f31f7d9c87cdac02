//! A LeRobot v3.0 dataset as rerun recordings, one per episode: vector
//! features (state, action, …) as plots with their `names`, each video key
//! as a video asset with one frame reference per row, on a `frame_index`
//! timeline and a `timestamp` timeline. A missing or unreadable video is a
//! visible warning; the rest is shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch};
use reel_dataset::lerobot::read::LeRobotDataset;

use crate::columns::{Rows, Timeline};
use crate::episode::{log_warning, EpisodeStats};
use crate::layout::Layout;
use crate::robot::RobotAnimator;
use crate::{entity_part, ViewError};

/// Timeline of frame numbers within an episode.
pub const FRAME_INDEX: &str = "frame_index";
const SUBTASK: &str = reel_dataset::lerobot::subtasks::FEATURE;
/// Timeline of seconds from the episode's start.
pub const TIMESTAMP: &str = "timestamp";
/// Where a dataset's rows sit: frame index and timestamp.
pub const DATASET_TIMELINES: [Timeline; 2] = [
    Timeline::Sequence(FRAME_INDEX),
    Timeline::Duration(TIMESTAMP),
];

/// One episode's rows and videos.
#[derive(Debug, Clone)]
pub struct DatasetEpisode {
    /// `episode_index`.
    pub index: i64,
    /// Its data file.
    pub data_file: PathBuf,
    /// Video key → (file, from_timestamp s).
    pub videos: BTreeMap<String, (PathBuf, f64)>,
    /// Task strings.
    pub tasks: Vec<String>,
}

/// An opened dataset.
#[derive(Debug)]
pub struct Dataset {
    /// Root folder.
    pub root: PathBuf,
    /// `fps` from info.json.
    pub fps: f64,
    /// Vector features: key → joint names.
    pub vectors: BTreeMap<String, Vec<String>>,
    /// Video keys.
    pub video_keys: Vec<String>,
    /// Episodes in index order.
    pub episodes: Vec<DatasetEpisode>,
    /// `robot_type`.
    pub robot_type: String,
    /// Subtask labels (`meta/subtasks.parquet`), by `subtask_index`.
    pub subtasks: Vec<String>,
}

fn bad(path: &Path, reason: impl Into<String>) -> ViewError {
    ViewError::Input {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_batches(path: &Path, episode: Option<i64>) -> Result<Vec<RecordBatch>, ViewError> {
    reel_dataset::lerobot::read::read_batches(path, episode).map_err(|e| bad(path, e.to_string()))
}

fn int_at(batch: &RecordBatch, column: &str, row: usize) -> Option<i64> {
    batch
        .column_by_name(column)?
        .as_any()
        .downcast_ref::<Int64Array>()
        .map(|a| a.value(row))
}

fn float_at(batch: &RecordBatch, column: &str, row: usize) -> Option<f64> {
    let c = batch.column_by_name(column)?;
    if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
        return Some(a.value(row));
    }
    c.as_any()
        .downcast_ref::<Float32Array>()
        .map(|a| f64::from(a.value(row)))
}

impl Dataset {
    /// True when `root` looks like a LeRobot dataset.
    pub fn is_dataset(root: &Path) -> bool {
        LeRobotDataset::is_dataset(root)
    }

    /// Reads `meta/info.json` and the episode index.
    pub fn open(root: &Path) -> Result<Self, ViewError> {
        let ds = LeRobotDataset::open(root).map_err(|e| bad(root, e.to_string()))?;
        let video_keys = ds.video_keys();
        let mut episodes: Vec<DatasetEpisode> = ds
            .episodes
            .iter()
            .map(|row| DatasetEpisode {
                index: row.episode_index,
                data_file: root.join(ds.data_file(row)),
                videos: row
                    .videos
                    .iter()
                    .filter(|(key, _)| video_keys.contains(key))
                    .map(|(key, loc)| {
                        (
                            key.clone(),
                            (root.join(ds.video_file(key, loc)), loc.from_timestamp),
                        )
                    })
                    .collect(),
                tasks: row.tasks.clone(),
            })
            .collect();
        episodes.sort_by_key(|e| e.index);
        Ok(Self {
            root: root.to_path_buf(),
            fps: ds.fps(),
            vectors: ds.vector_features().into_iter().collect(),
            video_keys,
            episodes,
            robot_type: ds.robot_type().to_string(),
            subtasks: ds.subtasks,
        })
    }

    /// The streams, for the blueprint.
    pub fn layout(&self, has_robot: bool) -> Layout {
        let mut layout = Layout {
            cameras: self.video_keys.clone(),
            has_robot,
            timeline: Some(FRAME_INDEX.to_string()),
            ..Layout::default()
        };
        for key in self.vectors.keys() {
            layout
                .joint_groups
                .insert(format!("joints/{}", entity_part(key)), key.clone());
        }
        layout
    }

    /// Camera entity of a video key.
    pub fn camera_path(key: &str) -> String {
        format!("cameras/{}", entity_part(key))
    }

    /// Logs episode `ep` into `rec`.
    pub fn stream(
        &self,
        ep: &DatasetEpisode,
        rec: &rerun::RecordingStream,
        mut robot: Option<RobotAnimator>,
        mesh_dirs: &[PathBuf],
        rows_per_chunk: usize,
    ) -> Result<EpisodeStats, ViewError> {
        let mut stats = EpisodeStats::default();
        let warn = |stats: &mut EpisodeStats, text| log_warning(rec, &mut stats.warnings, text);
        if let Some(r) = &robot {
            rec.log_static("world", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP())?;
            for w in r.log_static(rec, mesh_dirs)? {
                warn(&mut stats, w)?;
            }
        }
        if !ep.tasks.is_empty() {
            rec.log_static("task", &rerun::TextDocument::new(ep.tasks.join("\n")))?;
        }
        // Per feature: key, joint names, plot rows, rows logged.
        let mut vectors: Vec<(&String, &Vec<String>, Rows, u64)> = self
            .vectors
            .iter()
            .map(|(key, names)| {
                (
                    key,
                    names,
                    Rows::scalars(
                        format!("joints/{}/values", entity_part(key)).into(),
                        &DATASET_TIMELINES,
                        rows_per_chunk,
                    ),
                    0,
                )
            })
            .collect();
        for (_, names, rows, _) in &vectors {
            rec.log_static(
                rows.path().clone(),
                &rerun::SeriesLines::new().with_names(names.iter().map(String::as_str)),
            )?;
        }
        // Per loaded video: key, from_timestamp, entity, frames referenced.
        let mut videos_ok = video_assets(ep, rec, &mut stats)?;
        let batches = read_batches(&ep.data_file, Some(ep.index))?;
        let (mut last_subtask, mut subtasks_logged) = (None, 0u64);
        for batch in &batches {
            let episode = batch
                .column_by_name("episode_index")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                .ok_or_else(|| bad(&ep.data_file, "no episode_index column"))?;
            let frame = batch
                .column_by_name("frame_index")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>());
            let columns: Vec<Option<&FixedSizeListArray>> = vectors
                .iter()
                .map(|(k, ..)| {
                    batch
                        .column_by_name(k)
                        .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
                })
                .collect();
            for row in 0..batch.num_rows() {
                if episode.value(row) != ep.index {
                    continue;
                }
                let frame_index = frame.map_or(row as i64, |f| f.value(row));
                let ts = float_at(batch, "timestamp", row).unwrap_or(frame_index as f64 / self.fps);
                rec.set_time_sequence(FRAME_INDEX, frame_index);
                rec.set_duration_secs(TIMESTAMP, ts);
                stats.messages += 1;
                stats.time_range = Some(match stats.time_range {
                    Some((a, _)) => (a, frame_index),
                    None => (frame_index, frame_index),
                });
                let time = [frame_index, (ts * 1e9).round() as i64];
                for ((key, names, rows, logged), column) in vectors.iter_mut().zip(&columns) {
                    let Some(column) = column else { continue };
                    let values = column.value(row);
                    let values: Vec<f64> = match values.as_any().downcast_ref::<Float32Array>() {
                        Some(v) => v.values().iter().map(|x| f64::from(*x)).collect(),
                        None => match values.as_any().downcast_ref::<Float64Array>() {
                            Some(v) => v.values().to_vec(),
                            None => continue,
                        },
                    };
                    rows.push_scalars(rec, &time, &values)?;
                    *logged += 1;
                    if key.as_str() == "observation.state" {
                        if let Some(r) = robot.as_mut() {
                            if let Some(w) = r.log_positions(rec, &time, names, &values)? {
                                warn(&mut stats, w)?;
                            }
                        }
                    }
                }
                for (_, from, path, logged) in &mut videos_ok {
                    let nanos = ((*from + ts) * 1e9).round() as i64;
                    rec.log(
                        path.clone(),
                        &rerun::VideoFrameReference::new(
                            rerun::components::VideoTimestamp::from_nanos(nanos),
                        ),
                    )?;
                    *logged += 1;
                }
                // A subtask shows as a log line where it starts.
                if let Some(sub) = int_at(batch, SUBTASK, row) {
                    if last_subtask != Some(sub) {
                        let label = usize::try_from(sub)
                            .ok()
                            .and_then(|i| self.subtasks.get(i))
                            .map_or("(no subtask)", String::as_str);
                        rec.log("annotations/subtask", &rerun::TextLog::new(label))?;
                        last_subtask = Some(sub);
                        subtasks_logged += 1;
                    }
                }
            }
        }
        for (_, _, rows, _) in &mut vectors {
            rows.flush(rec)?;
        }
        if let Some(r) = robot.as_mut() {
            r.flush(rec)?;
        }
        let counts = vectors
            .iter()
            .map(|(k, _, _, n)| (k, n))
            .chain(videos_ok.iter().map(|(k, _, _, n)| (k, n)));
        stats.logged = counts
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| ((*k).clone(), *n))
            .collect();
        if subtasks_logged > 0 {
            stats.logged.insert(SUBTASK.to_string(), subtasks_logged);
        }
        if stats.messages == 0 {
            warn(
                &mut stats,
                format!(
                    "{}: no rows for episode {}",
                    ep.data_file.display(),
                    ep.index
                ),
            )?;
        }
        rec.flush_blocking()?;
        Ok(stats)
    }
}

/// Logs each video of `ep` as an asset; returns (key, from_timestamp,
/// entity, frames referenced so far) of those that load. A missing or
/// unreadable video is a warning.
#[allow(clippy::type_complexity)]
fn video_assets<'a>(
    ep: &'a DatasetEpisode,
    rec: &rerun::RecordingStream,
    stats: &mut EpisodeStats,
) -> Result<Vec<(&'a String, f64, rerun::EntityPath, u64)>, ViewError> {
    let warn = |stats: &mut EpisodeStats, text| log_warning(rec, &mut stats.warnings, text);
    let mut videos_ok = Vec::new();
    for (key, (path, from)) in &ep.videos {
        let entity = Dataset::camera_path(key);
        match std::fs::metadata(path) {
            Ok(_) => match rerun::AssetVideo::from_file_path(path) {
                Ok(asset) => {
                    rec.log_static(entity.as_str(), &asset)?;
                    videos_ok.push((key, *from, entity.as_str().into(), 0));
                }
                Err(e) => warn(stats, format!("{}: cannot load the video ({e}); {key} is not shown", path.display()))?,
            },
            Err(_) => warn(
                stats,
                format!(
                    "{}: video file missing; {key} of episode {} is not shown (re-export or restore the file)",
                    path.display(),
                    ep.index
                ),
            )?,
        }
    }
    Ok(videos_ok)
}
