//! The Parquet tables of a LeRobot v3.0 dataset with the exact Arrow types
//! LeRobot writes (`spec/lerobot_v3.md` §4–6): float32 scalars,
//! `fixed_size_list<element: float>[n]` vectors, int64 indices, snappy,
//! one row group per episode.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    FixedSizeListBuilder, Float32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
};
use arrow_array::{Array, ArrayRef, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::{json, Value};

use crate::stats::{FeatureStats, StatsShape};
use crate::ExportError;

/// The per-frame subtask feature (`reel annotate` segments; see `subtasks`).
pub const SUBTASK_FEATURE: &str = "subtask_index";

/// The five features LeRobot adds to every dataset.
pub const DEFAULT_FEATURES: [&str; 5] = [
    "timestamp",
    "frame_index",
    "episode_index",
    "index",
    "task_index",
];

fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(true)
        .build()
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::output(path, format!("writing Parquet: {e}"))
}

/// One episode's rows of the data table.
#[derive(Debug, Clone)]
pub struct DataRows {
    /// Per joint feature (name, dimension, row-major values).
    pub vectors: Vec<(String, usize, Vec<f32>)>,
    /// Frames in the episode.
    pub frames: usize,
    /// Episode index.
    pub episode_index: i64,
    /// Global index of the first frame.
    pub first_index: i64,
    /// The episode's task.
    pub task_index: i64,
    /// Each frame's `subtask_index`, when the dataset has that feature.
    pub subtasks: Option<Vec<i64>>,
    /// Frames per second (timestamp = frame_index / fps).
    pub fps: u32,
}

/// The data table's schema for joint features of these dimensions, with
/// the `subtask_index` column or without.
pub fn data_schema(vectors: &[(String, usize)], with_subtasks: bool) -> Arc<Schema> {
    let mut fields = Vec::new();
    let mut hf = serde_json::Map::new();
    for (name, dim) in vectors {
        let item = Arc::new(Field::new("element", DataType::Float32, true));
        fields.push(Field::new(
            name,
            DataType::FixedSizeList(item, *dim as i32),
            true,
        ));
        hf.insert(
            name.clone(),
            json!({"feature": {"dtype": "float32", "_type": "Value"}, "length": dim, "_type": "List"}),
        );
    }
    if with_subtasks {
        let name = SUBTASK_FEATURE;
        fields.push(Field::new(name, DataType::Int64, true));
        hf.insert(name.into(), json!({"dtype": "int64", "_type": "Value"}));
    }
    fields.push(Field::new("timestamp", DataType::Float32, true));
    hf.insert(
        "timestamp".into(),
        json!({"dtype": "float32", "_type": "Value"}),
    );
    for name in &DEFAULT_FEATURES[1..] {
        fields.push(Field::new(*name, DataType::Int64, true));
        hf.insert((*name).into(), json!({"dtype": "int64", "_type": "Value"}));
    }
    let meta = json!({"info": {"features": Value::Object(hf)}}).to_string();
    Arc::new(Schema::new(fields).with_metadata(HashMap::from([("huggingface".to_string(), meta)])))
}

impl DataRows {
    /// As a record batch of `schema`.
    pub fn to_batch(&self, schema: &Arc<Schema>) -> Result<RecordBatch, ArrowError> {
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (_, dim, values) in &self.vectors {
            let mut b = FixedSizeListBuilder::with_capacity(
                Float32Builder::with_capacity(values.len()),
                *dim as i32,
                self.frames,
            )
            .with_field(Arc::new(Field::new("element", DataType::Float32, true)));
            for row in values.chunks_exact(*dim) {
                b.values().append_slice(row);
                b.append(true);
            }
            columns.push(Arc::new(b.finish()));
        }
        if let Some(sub) = &self.subtasks {
            columns.push(Arc::new(Int64Array::from(sub.clone())));
        }
        let n = self.frames as i64;
        let fps = f64::from(self.fps);
        columns.push(Arc::new(Float32Array::from_iter_values(
            (0..n).map(|k| (k as f64 / fps) as f32),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(0..n)));
        columns.push(Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| self.episode_index),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            self.first_index..self.first_index + n,
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            (0..n).map(|_| self.task_index),
        )));
        RecordBatch::try_new(schema.clone(), columns)
    }

    /// Stats of `subtask_index` over this episode's rows, when it has one.
    pub fn subtask_stats(&self) -> Option<(String, FeatureStats)> {
        let sub = self.subtasks.as_ref()?;
        let col: Vec<f64> = sub.iter().map(|&v| v as f64).collect();
        Some((
            SUBTASK_FEATURE.to_string(),
            FeatureStats::of_columns(&[col], sub.len() as u64, StatsShape::Vector),
        ))
    }

    /// Stats of the default features over this episode's rows.
    pub fn default_feature_stats(&self) -> Vec<(String, FeatureStats)> {
        let n = self.frames;
        let fps = f64::from(self.fps);
        let cols: [(&str, Vec<f64>); 5] = [
            (
                "timestamp",
                (0..n).map(|k| f64::from((k as f64 / fps) as f32)).collect(),
            ),
            ("frame_index", (0..n).map(|k| k as f64).collect()),
            ("episode_index", vec![self.episode_index as f64; n]),
            (
                "index",
                (0..n)
                    .map(|k| (self.first_index + k as i64) as f64)
                    .collect(),
            ),
            ("task_index", vec![self.task_index as f64; n]),
        ];
        cols.into_iter()
            .map(|(name, c)| {
                (
                    name.to_string(),
                    FeatureStats::of_columns(&[c], n as u64, StatsShape::Vector),
                )
            })
            .collect()
    }
}

/// A data Parquet file being written, one row group per episode.
pub struct DataFile {
    writer: ArrowWriter<File>,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for DataFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DataFile {
    /// Creates `path`.
    pub fn create(path: &Path, schema: Arc<Schema>) -> Result<Self, ExportError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
        }
        let file = File::create(path).map_err(|e| ExportError::io(path, e))?;
        let writer =
            ArrowWriter::try_new(file, schema, Some(props())).map_err(|e| parquet_err(path, e))?;
        Ok(Self {
            writer,
            path: path.to_path_buf(),
        })
    }

    /// Appends one episode's rows, already a batch of this file's schema,
    /// as its own row group.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        self.writer
            .write(batch)
            .map_err(|e| parquet_err(&self.path, e))?;
        self.writer.flush().map_err(|e| parquet_err(&self.path, e))
    }

    /// Bytes in the file so far.
    pub fn bytes_written(&self) -> u64 {
        self.writer.bytes_written() as u64
    }

    /// Closes the file.
    pub fn close(self) -> Result<(), ExportError> {
        self.writer
            .close()
            .map(|_| ())
            .map_err(|e| parquet_err(&self.path, e))
    }
}

/// Writes one record batch as a whole Parquet file.
pub fn write_table(path: &Path, batch: &RecordBatch) -> Result<(), ExportError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    }
    let file = File::create(path).map_err(|e| ExportError::io(path, e))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props()))
        .map_err(|e| parquet_err(path, e))?;
    w.write(batch).map_err(|e| parquet_err(path, e))?;
    w.close().map(|_| ()).map_err(|e| parquet_err(path, e))
}

/// Writes `batch` as `path` through a temporary file and a rename, so a
/// reader sees the old table or the new one, never half of one.
pub fn replace_table(path: &Path, batch: &RecordBatch) -> Result<(), ExportError> {
    let tmp = reel_episode::fs::temporary_path(path);
    if let Err(e) = write_table(&tmp, batch) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    reel_episode::fs::commit(&tmp, path).map_err(|e| ExportError::io(path, e))
}

/// `meta/tasks.parquet`: `task_index`, `task`, with the pandas metadata
/// that makes `task` the index (LeRobot looks tasks up by it).
pub fn tasks_batch(tasks: &[String]) -> Result<RecordBatch, ArrowError> {
    label_table("task_index", "task", tasks)
}

/// A table of `labels` in index order: an int64 column `index_name` and a
/// string column `label_name` that the pandas metadata makes the index.
pub fn label_table(
    index_name: &str,
    label_name: &str,
    labels: &[String],
) -> Result<RecordBatch, ArrowError> {
    let pandas = json!({
        "index_columns": [label_name],
        "column_indexes": [],
        "columns": [
            {"name": index_name, "field_name": index_name, "pandas_type": "int64", "numpy_type": "int64", "metadata": null},
            {"name": label_name, "field_name": label_name, "pandas_type": "unicode", "numpy_type": "object", "metadata": null}
        ],
        "creator": {"library": "reel", "version": env!("CARGO_PKG_VERSION")},
        "pandas_version": "2.3.0"
    });
    let schema = Schema::new(vec![
        Field::new(index_name, DataType::Int64, true),
        Field::new(label_name, DataType::Utf8, true),
    ])
    .with_metadata(HashMap::from([("pandas".to_string(), pandas.to_string())]));
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..labels.len() as i64)),
            Arc::new(StringArray::from_iter_values(labels)),
        ],
    )
}

/// The string column `label_name` of a label table, in row order.
pub fn read_labels(path: &Path, label_name: &str) -> Result<Vec<String>, ExportError> {
    let file = File::open(path).map_err(|e| ExportError::io(path, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| ExportError::input(path, format!("not a readable Parquet table: {e}")))?;
    let mut labels = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| ExportError::input(path, e.to_string()))?;
        let col = batch
            .column_by_name(label_name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
            .ok_or_else(|| ExportError::input(path, format!("no `{label_name}` string column")))?;
        labels.extend((0..col.len()).map(|i| col.value(i).to_string()));
    }
    Ok(labels)
}

/// Where one episode's video lives.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoLocation {
    /// Chunk directory index.
    pub chunk: u32,
    /// File index.
    pub file: u32,
    /// Start inside the file (s).
    pub from_timestamp: f64,
    /// End inside the file (s).
    pub to_timestamp: f64,
}

/// One row of `meta/episodes`.
#[derive(Debug, Clone)]
pub struct EpisodeRow {
    /// Episode index.
    pub episode_index: i64,
    /// The episode's tasks.
    pub tasks: Vec<String>,
    /// Frames.
    pub length: i64,
    /// Data file.
    pub data_chunk: u32,
    /// Data file.
    pub data_file: u32,
    /// Global frame range [from, to).
    pub from_index: i64,
    /// Global frame range [from, to).
    pub to_index: i64,
    /// Per video key.
    pub videos: Vec<(String, VideoLocation)>,
    /// Per feature (all features, defaults included), in feature order.
    pub stats: Vec<(String, FeatureStats)>,
}

/// `meta/episodes/chunk-c/file-f.parquet` for `rows`, which all live in
/// that file. Long: one column after another, in the order LeRobot writes
/// them, so the table's schema reads top to bottom in one place.
pub fn episodes_batch(
    rows: &[EpisodeRow],
    meta_chunk: u32,
    meta_file: u32,
) -> Result<RecordBatch, ArrowError> {
    let first = rows
        .first()
        .ok_or_else(|| ArrowError::InvalidArgumentError("no episodes".into()))?;
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let int_col = |f: &mut Vec<Field>, c: &mut Vec<ArrayRef>, name: &str, v: Vec<i64>| {
        f.push(Field::new(name, DataType::Int64, true));
        c.push(Arc::new(Int64Array::from(v)));
    };
    int_col(
        &mut fields,
        &mut columns,
        "episode_index",
        rows.iter().map(|r| r.episode_index).collect(),
    );
    let mut tasks = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for t in &r.tasks {
            tasks.values().append_value(t);
        }
        tasks.append(true);
    }
    let tasks = tasks.finish();
    fields.push(Field::new("tasks", tasks.data_type().clone(), true));
    columns.push(Arc::new(tasks));
    int_col(
        &mut fields,
        &mut columns,
        "length",
        rows.iter().map(|r| r.length).collect(),
    );
    int_col(
        &mut fields,
        &mut columns,
        "data/chunk_index",
        rows.iter().map(|r| i64::from(r.data_chunk)).collect(),
    );
    int_col(
        &mut fields,
        &mut columns,
        "data/file_index",
        rows.iter().map(|r| i64::from(r.data_file)).collect(),
    );
    int_col(
        &mut fields,
        &mut columns,
        "dataset_from_index",
        rows.iter().map(|r| r.from_index).collect(),
    );
    int_col(
        &mut fields,
        &mut columns,
        "dataset_to_index",
        rows.iter().map(|r| r.to_index).collect(),
    );
    for (vi, (key, _)) in first.videos.iter().enumerate() {
        let loc = |r: &EpisodeRow| r.videos[vi].1.clone();
        int_col(
            &mut fields,
            &mut columns,
            &format!("videos/{key}/chunk_index"),
            rows.iter().map(|r| i64::from(loc(r).chunk)).collect(),
        );
        int_col(
            &mut fields,
            &mut columns,
            &format!("videos/{key}/file_index"),
            rows.iter().map(|r| i64::from(loc(r).file)).collect(),
        );
        for (name, get) in [
            (
                "from_timestamp",
                (|l: &VideoLocation| l.from_timestamp) as fn(&VideoLocation) -> f64,
            ),
            ("to_timestamp", |l: &VideoLocation| l.to_timestamp),
        ] {
            fields.push(Field::new(
                format!("videos/{key}/{name}"),
                DataType::Float64,
                true,
            ));
            columns.push(Arc::new(arrow_array::Float64Array::from_iter_values(
                rows.iter().map(|r| get(&loc(r))),
            )));
        }
    }
    for (si, (feature, stats0)) in first.stats.iter().enumerate() {
        let stat_names = [
            "min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99",
        ];
        for stat in stat_names {
            let name = format!("stats/{feature}/{stat}");
            if stat == "count" {
                let mut b = ListBuilder::new(Int64Builder::new());
                for r in rows {
                    b.values().append_value(r.stats[si].1.count as i64);
                    b.append(true);
                }
                let a = b.finish();
                fields.push(Field::new(name, a.data_type().clone(), true));
                columns.push(Arc::new(a));
                continue;
            }
            let values = |r: &EpisodeRow| -> Vec<f64> {
                let s = &r.stats[si].1;
                s.named()
                    .into_iter()
                    .find(|(k, _)| *k == stat)
                    .map(|(_, v)| v.to_vec())
                    .unwrap_or_default()
            };
            let array: ArrayRef = match stats0.shape {
                StatsShape::Vector => {
                    let mut b = ListBuilder::new(Float64Builder::new());
                    for r in rows {
                        b.values().append_slice(&values(r));
                        b.append(true);
                    }
                    Arc::new(b.finish())
                }
                StatsShape::Image => {
                    let mut b =
                        ListBuilder::new(ListBuilder::new(ListBuilder::new(Float64Builder::new())));
                    for r in rows {
                        for v in values(r) {
                            let inner = b.values();
                            inner.values().values().append_value(v);
                            inner.values().append(true);
                            inner.append(true);
                        }
                        b.append(true);
                    }
                    Arc::new(b.finish())
                }
            };
            fields.push(Field::new(name, array.data_type().clone(), true));
            columns.push(array);
        }
    }
    int_col(
        &mut fields,
        &mut columns,
        "meta/episodes/chunk_index",
        vec![i64::from(meta_chunk); rows.len()],
    );
    int_col(
        &mut fields,
        &mut columns,
        "meta/episodes/file_index",
        vec![i64::from(meta_file); rows.len()],
    );
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}
