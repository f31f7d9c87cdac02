//! Reading a LeRobot v3.x dataset, whoever wrote it: `meta/info.json`,
//! the episode index (`meta/episodes`), the tasks and subtask labels, and
//! the data tables by episode. Curation, the checks, the viewer and the
//! importer read datasets through it.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, Int64Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::Value;

use super::tables::{EpisodeRow, VideoLocation};
use crate::stats::{FeatureStats, StatsShape, QUANTILES};
use crate::ExportError;

/// A LeRobot v3.x dataset's metadata and episode index.
#[derive(Debug, Clone)]
pub struct LeRobotDataset {
    /// Its folder.
    pub root: PathBuf,
    /// `meta/info.json`.
    pub info: Value,
    /// `meta/episodes` rows in file order (LeRobot takes row i as episode
    /// i; whether they are in order is for the caller to check).
    pub episodes: Vec<EpisodeRow>,
    /// Subtask labels (`meta/subtasks.parquet`) by `subtask_index`; empty
    /// without the feature.
    pub subtasks: Vec<String>,
}

impl LeRobotDataset {
    /// True when `root` looks like a LeRobot dataset.
    pub fn is_dataset(root: &Path) -> bool {
        root.join("meta/info.json").is_file()
    }

    /// Reads the metadata and the episode index of the dataset at `root`.
    pub fn open(root: &Path) -> Result<Self, ExportError> {
        let info_path = root.join("meta/info.json");
        let info: Value = serde_json::from_slice(
            &std::fs::read(&info_path).map_err(|e| ExportError::io(&info_path, e))?,
        )
        .map_err(|e| ExportError::input(&info_path, format!("not JSON: {e}")))?;
        let version = info["codebase_version"].as_str().unwrap_or("");
        if !version.starts_with("v3") {
            return Err(ExportError::input(
                &info_path,
                format!("codebase_version {version:?}; this reads LeRobot v3.x datasets"),
            ));
        }
        if info["fps"].as_f64().is_none() {
            return Err(ExportError::input(&info_path, "no fps"));
        }
        let episodes = episode_index(root)?;
        let subtasks = super::subtasks::read_table(root)?;
        Ok(Self {
            root: root.to_path_buf(),
            info,
            episodes,
            subtasks,
        })
    }

    /// Frames per second.
    pub fn fps(&self) -> f64 {
        self.info["fps"].as_f64().unwrap_or(0.0)
    }

    /// `robot_type`.
    pub fn robot_type(&self) -> &str {
        self.info["robot_type"].as_str().unwrap_or("")
    }

    /// The video (and image) feature keys, in `info.json` order.
    pub fn video_keys(&self) -> Vec<String> {
        self.features()
            .filter(|(_, f)| matches!(f["dtype"].as_str(), Some("video" | "image")))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The one-dimensional float features but `timestamp` (state, action,
    /// ...), with their element names; see [`vector_features`].
    pub fn vector_features(&self) -> Vec<(String, Vec<String>)> {
        vector_features(&self.info)
    }

    fn features(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.info["features"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.iter())
    }

    /// The video file (relative to the root) of `key` at `loc`.
    pub fn video_file(&self, key: &str, loc: &VideoLocation) -> String {
        video_file(&self.info, key, loc)
    }

    /// The data file (relative to the root) of episode row `row`.
    pub fn data_file(&self, row: &EpisodeRow) -> String {
        data_file(&self.info, row)
    }

    /// The data rows of episode `row` (the batches of the row groups that
    /// may hold it; rows of other episodes in them are the caller's to skip).
    pub fn episode_batches(&self, row: &EpisodeRow) -> Result<Vec<RecordBatch>, ExportError> {
        read_batches(
            &self.root.join(self.data_file(row)),
            Some(row.episode_index),
        )
    }
}

/// The one-dimensional float features of an `info.json` (v3.x or v2.1)
/// but `timestamp`, with their element names: `names` as a list, or v2.1's
/// `{"motors": [...]}`; `key[i]` where they are absent or do not fit.
pub fn vector_features(info: &Value) -> Vec<(String, Vec<String>)> {
    info["features"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.iter())
        .filter_map(|(key, f)| {
            let dtype = f["dtype"].as_str()?;
            let shape: Vec<u64> = f["shape"]
                .as_array()
                .map(|s| s.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            if !matches!(dtype, "float32" | "float64") || shape.len() != 1 || key == "timestamp" {
                return None;
            }
            let listed = match &f["names"] {
                Value::Array(a) => Some(a.clone()),
                Value::Object(o) => o.values().find_map(|v| v.as_array().cloned()),
                _ => None,
            };
            let names = listed
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(String::from))
                        .collect::<Vec<_>>()
                })
                .filter(|n| n.len() as u64 == shape[0])
                .unwrap_or_else(|| (0..shape[0]).map(|i| format!("{key}[{i}]")).collect());
            Some((key.clone(), names))
        })
        .collect()
}

/// The `meta/episodes` rows of the dataset at `root`, in file order.
pub fn episode_index(root: &Path) -> Result<Vec<EpisodeRow>, ExportError> {
    let meta_episodes = root.join("meta/episodes");
    let mut files: Vec<PathBuf> = Vec::new();
    for chunk in std::fs::read_dir(&meta_episodes)
        .into_iter()
        .flatten()
        .flatten()
    {
        for file in std::fs::read_dir(chunk.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ExportError::input(
            &meta_episodes,
            "no episode index (meta/episodes/*/*.parquet)",
        ));
    }
    let mut episodes = Vec::new();
    for path in &files {
        for batch in read_batches(path, None)? {
            episodes.extend(parse_episode_rows(path, &batch)?);
        }
    }
    Ok(episodes)
}

/// The video file (relative to the root) of `key` at `loc`, by the
/// `video_path` template of `info`.
pub fn video_file(info: &Value, key: &str, loc: &VideoLocation) -> String {
    info["video_path"]
        .as_str()
        .unwrap_or("videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")
        .replace("{video_key}", key)
        .replace("{chunk_index:03d}", &format!("{:03}", loc.chunk))
        .replace("{file_index:03d}", &format!("{:03}", loc.file))
}

/// The data file (relative to the root) of episode row `row`, by the
/// `data_path` template of `info`.
pub fn data_file(info: &Value, row: &EpisodeRow) -> String {
    info["data_path"]
        .as_str()
        .unwrap_or("data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet")
        .replace("{chunk_index:03d}", &format!("{:03}", row.data_chunk))
        .replace("{file_index:03d}", &format!("{:03}", row.data_file))
}

/// The record batches of a Parquet file; with `episode`, only the row
/// groups whose `episode_index` statistics may hold it (a data file holds
/// many episodes, one row group each; reading all of it per episode would
/// read it N times). Without, one batch per file, so an episode's rows never
/// straddle batches.
pub fn read_batches(path: &Path, episode: Option<i64>) -> Result<Vec<RecordBatch>, ExportError> {
    let unreadable = |e: parquet::errors::ParquetError| {
        ExportError::input(path, format!("not readable Parquet: {e}"))
    };
    let file = std::fs::File::open(path).map_err(|e| ExportError::io(path, e))?;
    let mut builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(unreadable)?;
    let meta = builder.metadata().clone();
    let rows = meta.file_metadata().num_rows().max(1) as usize;
    builder = builder.with_batch_size(rows);
    if let Some(index) = episode {
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
    builder
        .build()
        .map_err(unreadable)?
        .map(|b| b.map_err(|e| ExportError::input(path, format!("damaged Parquet: {e}"))))
        .collect()
}

/// Every float in `a` (nested lists flattened), ints as floats.
fn flat_floats(a: &dyn Array) -> Option<(Vec<f64>, usize)> {
    match a.data_type() {
        DataType::Float64 => Some((a.as_primitive::<Float64Type>().values().to_vec(), 0)),
        DataType::Int64 => Some((
            a.as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&v| v as f64)
                .collect(),
            0,
        )),
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let mut out = Vec::new();
            let mut depth = 0;
            for i in 0..l.len() {
                let (v, d) = flat_floats(l.value(i).as_ref())?;
                out.extend(v);
                depth = d + 1;
            }
            Some((out, depth.max(1)))
        }
        _ => None,
    }
}

/// The rows of one `meta/episodes` batch (the columns `tables` writes).
pub fn parse_episode_rows(path: &Path, b: &RecordBatch) -> Result<Vec<EpisodeRow>, ExportError> {
    let bad = |what: String| ExportError::input(path, format!("meta/episodes: {what}"));
    let int = |name: &str| -> Result<&Int64Array, ExportError> {
        b.column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| bad(format!("no int64 column {name}")))
    };
    let float = |name: &str| -> Result<&arrow_array::Float64Array, ExportError> {
        b.column_by_name(name)
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
            .ok_or_else(|| bad(format!("no float64 column {name}")))
    };
    let tasks = b
        .column_by_name("tasks")
        .and_then(|c| c.as_list_opt::<i32>())
        .ok_or_else(|| bad("no tasks list column".into()))?;
    let names: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let video_keys: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix("videos/")?.strip_suffix("/chunk_index"))
        .collect();
    // stats/<feature>/<stat>, features in column order.
    let mut stat_features: Vec<&str> = Vec::new();
    for n in &names {
        if let Some((feature, _)) = n.strip_prefix("stats/").and_then(|r| r.rsplit_once('/')) {
            if !stat_features.contains(&feature) {
                stat_features.push(feature);
            }
        }
    }
    let (ep, length) = (int("episode_index")?, int("length")?);
    let (dc, df) = (int("data/chunk_index")?, int("data/file_index")?);
    let (from, to) = (int("dataset_from_index")?, int("dataset_to_index")?);
    let mut rows = Vec::with_capacity(b.num_rows());
    for r in 0..b.num_rows() {
        let task_list = tasks.value(r);
        let task_list = task_list
            .as_string_opt::<i32>()
            .ok_or_else(|| bad("tasks is not a list of strings".into()))?;
        let mut videos = Vec::new();
        for key in &video_keys {
            videos.push((
                key.to_string(),
                VideoLocation {
                    chunk: int(&format!("videos/{key}/chunk_index"))?.value(r) as u32,
                    file: int(&format!("videos/{key}/file_index"))?.value(r) as u32,
                    from_timestamp: float(&format!("videos/{key}/from_timestamp"))?.value(r),
                    to_timestamp: float(&format!("videos/{key}/to_timestamp"))?.value(r),
                },
            ));
        }
        let stats = stat_features
            .iter()
            .filter_map(|feature| Some((feature.to_string(), row_stats(b, feature, r)?)))
            .collect();
        rows.push(EpisodeRow {
            episode_index: ep.value(r),
            tasks: (0..task_list.len())
                .map(|i| task_list.value(i).to_string())
                .collect(),
            length: length.value(r),
            data_chunk: dc.value(r) as u32,
            data_file: df.value(r) as u32,
            from_index: from.value(r),
            to_index: to.value(r),
            videos,
            stats,
        });
    }
    Ok(rows)
}

/// The statistics of `feature` in row `r`, when the row holds every one
/// reel keeps (LeRobot writes the quantiles only since v0.4).
fn row_stats(b: &RecordBatch, feature: &str, r: usize) -> Option<FeatureStats> {
    let get = |stat: &str| -> Option<(Vec<f64>, usize)> {
        let col = b
            .column_by_name(&format!("stats/{feature}/{stat}"))?
            .as_list_opt::<i32>()?;
        flat_floats(col.value(r).as_ref())
    };
    let (min, depth) = get("min")?;
    let mut quantiles: [Vec<f64>; 5] = Default::default();
    for (i, (_, key)) in QUANTILES.iter().enumerate() {
        quantiles[i] = get(key)?.0;
    }
    Some(FeatureStats {
        shape: if depth > 1 {
            StatsShape::Image
        } else {
            StatsShape::Vector
        },
        min,
        max: get("max")?.0,
        mean: get("mean")?.0,
        std: get("std")?.0,
        count: get("count")?.0.first().copied().unwrap_or(0.0) as u64,
        quantiles,
    })
}
