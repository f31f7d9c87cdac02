//! An episode's rows carried into a new release (`reel filter`, `reel
//! split`, `reel merge`): read from the source's data files, checked,
//! renumbered (episode, frame and task indices, subtask labels), and the
//! new release's episode table and `stats.json` written from them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use serde_json::Value;

use super::read::read_batches;
use super::released::Dataset;
use super::tables::{self, EpisodeRow};
use super::{subtasks, write_json, Cursor, DataFiles};
use crate::stats::{FeatureStats, StatsShape};
use crate::ExportError;

/// Episodes carried into a new release one after another: each one's rows
/// read from its source, renumbered (episode `0, 1, ...`, frame indices
/// continuing), and written to the new release's data files.
pub(super) struct RenumberedRows {
    data_files: DataFiles,
    rows: Vec<EpisodeRow>,
    next_index: i64,
}

impl RenumberedRows {
    /// Writes under `stage`.
    pub(super) fn new(stage: &Path) -> Self {
        Self {
            data_files: DataFiles::new(stage, Cursor::default()),
            rows: Vec::new(),
            next_index: 0,
        }
    }

    /// Episode `row` of `ds` as the next episode, its task indices mapped
    /// by `new_task` (and its subtask indices by `new_subtask`, when given);
    /// `loaded` keeps `ds`'s data files read so far.
    pub(super) fn push(
        &mut self,
        loaded: &mut HashMap<PathBuf, RecordBatch>,
        ds: &Dataset,
        row: &EpisodeRow,
        new_task: &HashMap<i64, i64>,
        new_subtask: Option<&HashMap<i64, i64>>,
    ) -> Result<(), ExportError> {
        let (path, episode) = episode_data(loaded, ds, row)?;
        let new_ep = self.rows.len();
        let first = self.next_index;
        let new_rows = renumber(&path, &episode, new_ep as i64, first, new_task, new_subtask)?;
        let cursor = self.data_files.write(&new_rows)?;
        self.rows.push(renumbered_row(
            &path,
            row,
            &new_rows,
            (new_ep, cursor, first),
            new_subtask.is_some(),
        )?);
        self.next_index += new_rows.num_rows() as i64;
        Ok(())
    }

    /// Closes the data files; the new release's episode rows.
    pub(super) fn finish(self) -> Result<Vec<EpisodeRow>, ExportError> {
        self.data_files.close()?;
        Ok(self.rows)
    }
}

/// The data rows of episode `row` of `ds`, and the file they are in; each
/// data file is read once into `loaded`.
fn episode_data(
    loaded: &mut HashMap<PathBuf, RecordBatch>,
    ds: &Dataset,
    row: &EpisodeRow,
) -> Result<(PathBuf, RecordBatch), ExportError> {
    let path = ds.root.join(ds.data_file(row));
    if !loaded.contains_key(&path) {
        let mut batches = read_batches(&path, None)?;
        if batches.len() != 1 {
            return Err(ExportError::input(&path, "holds no rows"));
        }
        loaded.insert(path.clone(), batches.remove(0));
    }
    let episode = episode_rows(&path, &loaded[&path], row)?;
    Ok((path, episode))
}

/// `row` of `meta/episodes` for its episode renumbered as `new_rows`
/// (episode `new_ep`, written at `cursor` from `first_index` on), with the
/// stats of the renumbered columns recomputed (`subtask_index` too when
/// `subtasks_renumbered`).
fn renumbered_row(
    path: &Path,
    row: &EpisodeRow,
    new_rows: &RecordBatch,
    (new_ep, cursor, first_index): (usize, Cursor, i64),
    subtasks_renumbered: bool,
) -> Result<EpisodeRow, ExportError> {
    let n = new_rows.num_rows();
    let mut new_row = row.clone();
    new_row.episode_index = new_ep as i64;
    new_row.data_chunk = cursor.chunk;
    new_row.data_file = cursor.file;
    new_row.from_index = first_index;
    new_row.to_index = first_index + n as i64;
    let mut renumbered = vec!["episode_index", "index", "task_index"];
    if subtasks_renumbered {
        renumbered.push(subtasks::FEATURE);
    }
    for name in renumbered {
        let values = int_column(path, new_rows, name)?;
        let col: Vec<f64> = values.values().iter().map(|&v| v as f64).collect();
        let s = FeatureStats::of_columns(&[col], n as u64, StatsShape::Vector);
        match new_row.stats.iter_mut().find(|(k, _)| k == name) {
            Some((_, old)) => *old = s,
            None => new_row.stats.push((name.to_string(), s)),
        }
    }
    Ok(new_row)
}

/// `meta/episodes`, `meta/stats.json` (aggregated again from the kept
/// episodes) and `meta/tasks.parquet`.
pub(super) fn write_index_and_stats(
    rows_out: &[EpisodeRow],
    tasks: &[String],
    stage: &Path,
) -> Result<(), ExportError> {
    let batch = tables::episodes_batch(rows_out, 0, 0)
        .map_err(|e| ExportError::output(stage, format!("episodes table: {e}")))?;
    tables::write_table(
        &stage.join(Cursor::default().path("meta/episodes", "parquet")),
        &batch,
    )?;
    // By name, as the export writes them.
    let mut by_feature: BTreeMap<&str, Vec<&FeatureStats>> = BTreeMap::new();
    for r in rows_out {
        for (k, s) in &r.stats {
            by_feature.entry(k).or_default().push(s);
        }
    }
    let mut stats_json = serde_json::Map::new();
    for (k, parts) in &by_feature {
        if let Some(s) = FeatureStats::aggregate(parts) {
            stats_json.insert((*k).to_string(), s.to_json());
        }
    }
    write_json(&stage.join("meta/stats.json"), &Value::Object(stats_json))?;
    let tasks_batch = tables::tasks_batch(tasks).map_err(ExportError::table(stage))?;
    tables::write_table(&stage.join("meta/tasks.parquet"), &tasks_batch)?;
    Ok(())
}

fn int_column<'a>(
    path: &Path,
    b: &'a RecordBatch,
    name: &str,
) -> Result<&'a Int64Array, ExportError> {
    b.column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| ExportError::input(path, format!("no int64 column {name}")))
}

/// The rows of episode `row` in its data file's batch, checked.
fn episode_rows(
    path: &Path,
    b: &RecordBatch,
    row: &EpisodeRow,
) -> Result<RecordBatch, ExportError> {
    let index = int_column(path, b, "index")?;
    let start = index.values().partition_point(|&v| v < row.from_index);
    let n = (row.to_index - row.from_index) as usize;
    if start + n > b.num_rows() || n as i64 != row.length {
        return Err(ExportError::input(
            path,
            format!(
                "does not hold rows {}..{} of episode {}",
                row.from_index, row.to_index, row.episode_index
            ),
        ));
    }
    let slice = b.slice(start, n);
    let ep = int_column(path, &slice, "episode_index")?;
    let idx = int_column(path, &slice, "index")?;
    if ep.values().iter().any(|&v| v != row.episode_index)
        || idx
            .values()
            .iter()
            .copied()
            .ne(row.from_index..row.to_index)
    {
        return Err(ExportError::input(
            path,
            format!(
                "rows {}..{} are not all episode {}; the dataset is inconsistent",
                row.from_index, row.to_index, row.episode_index
            ),
        ));
    }
    Ok(slice)
}

/// `rows` with new episode_index, index and task_index columns (and
/// subtask_index, when `new_subtask` maps it; −1, no subtask, stays).
fn renumber(
    path: &Path,
    rows: &RecordBatch,
    episode: i64,
    first_index: i64,
    new_task: &HashMap<i64, i64>,
    new_subtask: Option<&HashMap<i64, i64>>,
) -> Result<RecordBatch, ExportError> {
    let n = rows.num_rows() as i64;
    let schema = rows.schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(rows.num_columns());
    for (f, c) in schema.fields().iter().zip(rows.columns()) {
        let col: ArrayRef = match f.name().as_str() {
            "episode_index" => Arc::new(Int64Array::from(vec![episode; n as usize])),
            "index" => Arc::new(Int64Array::from_iter_values(first_index..first_index + n)),
            "task_index" => {
                let old = int_column(path, rows, "task_index")?;
                let mapped: Option<Vec<i64>> = old
                    .values()
                    .iter()
                    .map(|v| new_task.get(v).copied())
                    .collect();
                Arc::new(Int64Array::from(mapped.ok_or_else(|| {
                    ExportError::input(path, "a task_index has no row in meta/tasks.parquet")
                })?))
            }
            name if name == subtasks::FEATURE && new_subtask.is_some() => {
                let map = new_subtask.unwrap_or_else(|| unreachable!());
                let old = int_column(path, rows, name)?;
                let mapped: Option<Vec<i64>> = old
                    .values()
                    .iter()
                    .map(|&v| {
                        if v == subtasks::NONE {
                            Some(v)
                        } else {
                            map.get(&v).copied()
                        }
                    })
                    .collect();
                Arc::new(Int64Array::from(mapped.ok_or_else(|| {
                    ExportError::input(path, "a subtask_index has no row in meta/subtasks.parquet")
                })?))
            }
            _ => c.clone(),
        };
        columns.push(col);
    }
    RecordBatch::try_new(schema, columns).map_err(|e| ExportError::output(path, e.to_string()))
}
