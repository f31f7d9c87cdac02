//! A LeRobot v3.0 dataset as rerun recordings, one per episode: vector
//! features (state, action, …) as plots with their `names`, each video key
//! as a video asset with one frame reference per row, on a `frame_index`
//! timeline and a `timestamp` timeline. A missing or unreadable video is a
//! visible warning; the rest is shown.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, FixedSizeListArray, Float32Array, Float64Array, Int64Array, ListArray, RecordBatch,
    StringArray,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

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

/// Reads a parquet file; with `episode`, only the row groups whose
/// `episode_index` statistics may hold it (LeRobot data files hold many
/// episodes; reading all of one per episode would read it N times).
fn read_batches(path: &Path, episode: Option<i64>) -> Result<Vec<RecordBatch>, ViewError> {
    let file = File::open(path).map_err(|e| bad(path, format!("cannot open: {e}")))?;
    let unreadable =
        |e: parquet::errors::ParquetError| bad(path, format!("not a readable parquet file: {e}"));
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(unreadable)?;
    if let Some(index) = episode {
        let meta = builder.metadata().clone();
        let column = meta
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.name() == "episode_index");
        if let Some(column) = column {
            let may_hold = |rg: &parquet::file::metadata::RowGroupMetaData| match rg
                .column(column)
                .statistics()
            {
                Some(parquet::file::statistics::Statistics::Int64(s)) => {
                    s.min_opt().is_none_or(|lo| *lo <= index)
                        && s.max_opt().is_none_or(|hi| *hi >= index)
                }
                _ => true,
            };
            let groups: Vec<usize> = (0..meta.num_row_groups())
                .filter(|&i| may_hold(meta.row_group(i)))
                .collect();
            builder = builder.with_row_groups(groups);
        }
    }
    let reader = builder.build().map_err(unreadable)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("damaged parquet file: {e}")))
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

fn template(t: &str, values: &[(&str, String)]) -> String {
    let mut out = t.to_string();
    for (k, v) in values {
        for spec in [format!("{{{k}:03d}}"), format!("{{{k}}}")] {
            out = out.replace(&spec, v);
        }
    }
    out
}

impl Dataset {
    /// True when `root` looks like a LeRobot dataset.
    pub fn is_dataset(root: &Path) -> bool {
        root.join("meta/info.json").is_file()
    }

    /// Reads `meta/info.json` and the episode index.
    pub fn open(root: &Path) -> Result<Self, ViewError> {
        let info_path = root.join("meta/info.json");
        let info: Value = serde_json::from_slice(
            &std::fs::read(&info_path).map_err(|e| bad(&info_path, format!("cannot read: {e}")))?,
        )
        .map_err(|e| bad(&info_path, format!("not JSON: {e}")))?;
        let version = info["codebase_version"].as_str().unwrap_or("");
        if !version.starts_with("v3") {
            return Err(bad(
                &info_path,
                format!("codebase_version {version:?}; reel views LeRobot v3.x datasets"),
            ));
        }
        let fps = info["fps"]
            .as_f64()
            .ok_or_else(|| bad(&info_path, "no fps"))?;
        let data_path = info["data_path"]
            .as_str()
            .ok_or_else(|| bad(&info_path, "no data_path"))?;
        let video_path = info["video_path"].as_str().unwrap_or("");
        let mut vectors = BTreeMap::new();
        let mut video_keys = Vec::new();
        if let Some(features) = info["features"].as_object() {
            for (key, f) in features {
                let dtype = f["dtype"].as_str().unwrap_or("");
                let shape: Vec<u64> = f["shape"]
                    .as_array()
                    .map(|s| s.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default();
                if dtype == "video" || dtype == "image" {
                    video_keys.push(key.clone());
                } else if (dtype == "float32" || dtype == "float64")
                    && shape.len() == 1
                    && key != "timestamp"
                {
                    let names = f["names"]
                        .as_array()
                        .map(|n| {
                            n.iter()
                                .filter_map(|s| s.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_else(|| (0..shape[0]).map(|i| format!("{key}[{i}]")).collect());
                    vectors.insert(key.clone(), names);
                }
            }
        }
        let mut episode_files: Vec<PathBuf> = Vec::new();
        let meta_eps = root.join("meta/episodes");
        if let Ok(chunks) = std::fs::read_dir(&meta_eps) {
            for chunk in chunks.flatten() {
                if let Ok(files) = std::fs::read_dir(chunk.path()) {
                    episode_files.extend(
                        files
                            .flatten()
                            .map(|f| f.path())
                            .filter(|p| p.extension().is_some_and(|e| e == "parquet")),
                    );
                }
            }
        }
        episode_files.sort();
        if episode_files.is_empty() {
            return Err(bad(
                &meta_eps,
                "no episode index (meta/episodes/*/*.parquet)",
            ));
        }
        let mut episodes = Vec::new();
        for file in &episode_files {
            for batch in read_batches(file, None)? {
                for row in 0..batch.num_rows() {
                    let index = int_at(&batch, "episode_index", row)
                        .ok_or_else(|| bad(file, "no episode_index column"))?;
                    let chunk = int_at(&batch, "data/chunk_index", row).unwrap_or(0);
                    let fidx = int_at(&batch, "data/file_index", row).unwrap_or(0);
                    let data_file = root.join(template(
                        data_path,
                        &[
                            ("chunk_index", format!("{chunk:03}")),
                            ("file_index", format!("{fidx:03}")),
                        ],
                    ));
                    let mut videos = BTreeMap::new();
                    for key in &video_keys {
                        let c =
                            int_at(&batch, &format!("videos/{key}/chunk_index"), row).unwrap_or(0);
                        let f =
                            int_at(&batch, &format!("videos/{key}/file_index"), row).unwrap_or(0);
                        let from = float_at(&batch, &format!("videos/{key}/from_timestamp"), row)
                            .unwrap_or(0.0);
                        let path = root.join(template(
                            video_path,
                            &[
                                ("video_key", key.clone()),
                                ("chunk_index", format!("{c:03}")),
                                ("file_index", format!("{f:03}")),
                            ],
                        ));
                        videos.insert(key.clone(), (path, from));
                    }
                    let tasks = batch
                        .column_by_name("tasks")
                        .and_then(|c| c.as_any().downcast_ref::<ListArray>())
                        .map(|l| {
                            let v = l.value(row);
                            v.as_any()
                                .downcast_ref::<StringArray>()
                                .map(|s| (0..s.len()).map(|i| s.value(i).to_string()).collect())
                                .unwrap_or_default()
                        })
                        .unwrap_or_default();
                    episodes.push(DatasetEpisode {
                        index,
                        data_file,
                        videos,
                        tasks,
                    });
                }
            }
        }
        episodes.sort_by_key(|e| e.index);
        let subtasks = reel_dataset::lerobot::subtasks::read_table(root)
            .map_err(|e| bad(root, e.to_string()))?;
        Ok(Self {
            subtasks,
            root: root.to_path_buf(),
            fps,
            vectors,
            video_keys,
            episodes,
            robot_type: info["robot_type"].as_str().unwrap_or("").to_string(),
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
        let mut videos_ok: Vec<(&String, f64, rerun::EntityPath, u64)> = Vec::new();
        for (key, (path, from)) in &ep.videos {
            let entity = Self::camera_path(key);
            match std::fs::metadata(path) {
                Ok(_) => match rerun::AssetVideo::from_file_path(path) {
                    Ok(asset) => {
                        rec.log_static(entity.as_str(), &asset)?;
                        videos_ok.push((key, *from, entity.as_str().into(), 0));
                    }
                    Err(e) => warn(&mut stats, format!("{}: cannot load the video ({e}); {key} is not shown", path.display()))?,
                },
                Err(_) => warn(
                    &mut stats,
                    format!(
                        "{}: video file missing; {key} of episode {} is not shown (re-export or restore the file)",
                        path.display(),
                        ep.index
                    ),
                )?,
            }
        }
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
