//! `reel merge`: LeRobot v3.0 releases with the same features and frame
//! rate joined into one, as if their episodes had been exported together
//! (the shards of a sharded export, or several releases of one rig):
//! - episodes in input order, re-indexed; tasks and subtask labels unified
//!   in the order they first appear;
//! - data rows renumbered into files rolled over by LeRobot's size rule;
//! - each camera's episodes joined by stream copy (never re-encoded) into
//!   files rolled over by LeRobot's video size rule;
//! - `meta/stats.json` aggregated from the episodes' own stats, exactly as
//!   an export aggregates them;
//! - the manifest names every input release as a parent; the card is
//!   written again for the whole.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::files::VideoFiles;
use super::released::Dataset;
use super::renumber::{write_index_and_stats, RenumberedRows};
use super::tables::EpisodeRow;
use super::{subtasks, write_json, CHUNKS_SIZE};
use crate::manifest::{self, Derivation, Manifest, ManifestExtras, Release, SourceEntry};
use crate::{deid, write_atomically, ExportError, Staging};

/// What `reel merge` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    /// The new dataset.
    pub out: PathBuf,
    /// Its version.
    pub version: String,
    /// Each input: its directory and how many episodes it gave.
    pub inputs: Vec<(PathBuf, usize)>,
    /// Episodes in the merged dataset.
    pub total_episodes: u64,
    /// Frames in the merged dataset.
    pub total_frames: u64,
    /// Tasks after unification.
    pub total_tasks: usize,
    /// Seconds.
    pub elapsed_s: f64,
}

/// Joins the datasets at `inputs` into a new dataset at `out`.
pub fn merge(
    inputs: &[PathBuf],
    out: &Path,
    version: Option<&str>,
    note: Option<&str>,
) -> Result<Merged, ExportError> {
    let t0 = Instant::now();
    if inputs.is_empty() {
        return Err(ExportError::input(out, "no dataset to merge"));
    }
    let datasets = inputs
        .iter()
        .map(|p| Dataset::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    check_compatible(&datasets)?;
    if out.exists() {
        return Err(ExportError::output(
            out,
            "already exists; merge into a new directory",
        ));
    }
    let version = version.unwrap_or("1.0.0").to_string();
    manifest::next_version(None, Some(&version))
        .map_err(|e| ExportError::input(out, e.to_string()))?;
    let first = &datasets[0];
    let fps = first.info["fps"]
        .as_u64()
        .and_then(|f| u32::try_from(f).ok())
        .filter(|&f| f > 0)
        .ok_or_else(|| {
            ExportError::input(
                first.root.join("meta/info.json"),
                format!("fps {} is not a positive integer", first.info["fps"]),
            )
        })?;
    let staging = Staging::new(out)?;
    let stage = staging.path().to_path_buf();

    let (tasks, task_maps) = unify(datasets.iter().map(|d| d.tasks.clone()));
    let with_subtasks = first.info["features"].get(subtasks::FEATURE).is_some();
    let (labels, label_maps) = if with_subtasks {
        let tables = datasets
            .iter()
            .map(|d| subtasks::read_table(&d.root))
            .collect::<Result<Vec<_>, _>>()?;
        unify(tables.into_iter())
    } else {
        (Vec::new(), Vec::new())
    };

    // Data rows, renumbered, in input order.
    let mut rows = RenumberedRows::new(&stage);
    let mut origin: Vec<(usize, usize)> = Vec::new();
    for (d, ds) in datasets.iter().enumerate() {
        // One input's data files at a time in memory.
        let mut loaded = HashMap::new();
        for (old, row) in ds.episodes.iter().enumerate() {
            rows.push(&mut loaded, ds, row, &task_maps[d], label_maps.get(d))?;
            origin.push((d, old));
        }
    }
    let mut rows_out = rows.finish()?;

    join_videos(&datasets, &origin, &mut rows_out, &stage, fps)?;
    write_index_and_stats(&rows_out, &tasks, &stage)?;
    if with_subtasks {
        subtasks::write_table(&stage, &labels)?;
    }
    let total_episodes = rows_out.len() as u64;
    let total_frames = rows_out.last().map_or(0, |r| r.to_index as u64);
    let mut info = first.info.clone();
    info["total_episodes"] = json!(total_episodes);
    info["total_frames"] = json!(total_frames);
    info["total_tasks"] = json!(tasks.len());
    info["chunks_size"] = json!(CHUNKS_SIZE);
    info["splits"] = json!({ "train": format!("0:{total_episodes}") });
    write_json(&stage.join("meta/info.json"), &info)?;
    merge_deidentification(&datasets, &origin, &stage)?;
    write_release(&datasets, &origin, &stage, &version, note, &tasks)?;
    staging.commit()?;
    Ok(Merged {
        out: out.to_path_buf(),
        version,
        inputs: datasets
            .iter()
            .map(|d| (d.root.clone(), d.episodes.len()))
            .collect(),
        total_episodes,
        total_frames,
        total_tasks: tasks.len(),
        elapsed_s: t0.elapsed().as_secs_f64(),
    })
}

/// Refuses datasets that differ from the first in frame rate, features or
/// robot type, naming both.
fn check_compatible(datasets: &[Dataset]) -> Result<(), ExportError> {
    let first = &datasets[0];
    for ds in &datasets[1..] {
        for key in ["fps", "robot_type"] {
            if ds.info[key] != first.info[key] {
                return Err(ExportError::input(
                    &ds.root,
                    format!(
                        "cannot be merged with {}: {key} {} here, {} there",
                        first.root.display(),
                        ds.info[key],
                        first.info[key]
                    ),
                ));
            }
        }
        let (a, b) = (&first.info["features"], &ds.info["features"]);
        if a != b {
            let names = |v: &Value| -> Vec<String> {
                v.as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default()
            };
            let (na, nb) = (names(a), names(b));
            let differs = na
                .iter()
                .chain(&nb)
                .find(|k| a.get(k.as_str()) != b.get(k.as_str()))
                .cloned()
                .unwrap_or_default();
            return Err(ExportError::input(
                &ds.root,
                format!(
                    "cannot be merged with {}: their features differ (first at `{differs}`); only datasets exported with the same mapping, cameras and fps merge",
                    first.root.display()
                ),
            ));
        }
    }
    Ok(())
}

/// One list of labels from several, in the order they first appear, and
/// for each input its old index → new index.
fn unify(lists: impl Iterator<Item = Vec<String>>) -> (Vec<String>, Vec<HashMap<i64, i64>>) {
    let mut all: Vec<String> = Vec::new();
    let mut maps = Vec::new();
    for list in lists {
        let mut map = HashMap::new();
        for (old, label) in list.iter().enumerate() {
            let new = match all.iter().position(|l| l == label) {
                Some(k) => k,
                None => {
                    all.push(label.clone());
                    all.len() - 1
                }
            };
            map.insert(old as i64, new as i64);
        }
        maps.push(map);
    }
    (all, maps)
}

/// Each camera's episodes copied in merged order into joined files; the
/// rows' video locations are set to where they landed.
fn join_videos(
    datasets: &[Dataset],
    origin: &[(usize, usize)],
    rows_out: &mut [EpisodeRow],
    stage: &Path,
    fps: u32,
) -> Result<(), ExportError> {
    let keys: Vec<String> = rows_out
        .first()
        .map(|r| r.videos.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    for key in keys {
        // Frames per source file, to share its size among its episodes for
        // the rollover rule.
        let mut frames_in_file: Vec<BTreeMap<(u32, u32), u64>> =
            vec![BTreeMap::new(); datasets.len()];
        for (d, ds) in datasets.iter().enumerate() {
            for row in &ds.episodes {
                if let Some((_, loc)) = row.videos.iter().find(|(k, _)| *k == key) {
                    let end = (loc.to_timestamp * f64::from(fps)).round() as u64;
                    let slot = frames_in_file[d].entry((loc.chunk, loc.file)).or_default();
                    *slot = (*slot).max(end);
                }
            }
        }
        let mut files = VideoFiles::new(stage, stage, &key, fps);
        for (row, &(d, old)) in rows_out.iter_mut().zip(origin) {
            let ds = &datasets[d];
            let source_row = &ds.episodes[old];
            let Some((_, loc)) = source_row.videos.iter().find(|(k, _)| *k == key) else {
                return Err(ExportError::input(
                    ds.root.join("meta/episodes"),
                    format!("episode {old} has no {key} video"),
                ));
            };
            let source = ds.root.join(ds.video_file(&key, loc));
            let file_size = std::fs::metadata(&source)
                .map_err(|e| ExportError::io(&source, e))?
                .len();
            let frames = source_row.length as u64;
            let total = frames_in_file[d]
                .get(&(loc.chunk, loc.file))
                .copied()
                .unwrap_or(frames)
                .max(1);
            let first = (loc.from_timestamp * f64::from(fps)).round() as u64;
            let new = files.append_span(&source, file_size * frames / total, first, frames)?;
            if let Some((_, l)) = row.videos.iter_mut().find(|(k, _)| *k == key) {
                *l = new;
            }
        }
        files.finish()?;
    }
    Ok(())
}

/// The inputs' de-identification reports as one, episode indices moved to
/// the merged ones.
fn merge_deidentification(
    datasets: &[Dataset],
    origin: &[(usize, usize)],
    stage: &Path,
) -> Result<(), ExportError> {
    if !datasets.iter().any(|d| d.root.join(deid::REPORT).exists()) {
        return Ok(());
    }
    let new_index: HashMap<(usize, u64), u64> = origin
        .iter()
        .enumerate()
        .map(|(new, &(d, old))| ((d, old as u64), new as u64))
        .collect();
    let mut merged = deid::Report::default();
    for (d, ds) in datasets.iter().enumerate() {
        let mut report = deid::Report::read_or_default(&ds.root)?;
        for m in &mut report.masks {
            m.episode_index = *new_index.get(&(d, m.episode_index)).ok_or_else(|| {
                ExportError::input(
                    ds.root.join(deid::REPORT),
                    format!(
                        "names episode {}, which the dataset does not have; run `reel check` on it",
                        m.episode_index
                    ),
                )
            })?;
        }
        merged.masks.append(&mut report.masks);
        merged
            .operator_removed_from
            .append(&mut report.operator_removed_from);
        merged
            .site_removed_from
            .append(&mut report.site_removed_from);
        merged.pseudonymised_in.append(&mut report.pseudonymised_in);
    }
    write_json(
        &stage.join(deid::REPORT),
        &serde_json::to_value(&merged).map_err(|e| ExportError::output(stage, e.to_string()))?,
    )
}

/// Sources, changelog, card and manifest of the merged release.
fn write_release(
    datasets: &[Dataset],
    origin: &[(usize, usize)],
    stage: &Path,
    version: &str,
    note: Option<&str>,
    tasks: &[String],
) -> Result<(), ExportError> {
    let sources = origin
        .iter()
        .enumerate()
        .map(|(new, &(d, old))| datasets[d].source_renumbered(old, new))
        .collect::<Result<Vec<SourceEntry>, _>>()?;
    let parents: Vec<Derivation> = datasets
        .iter()
        .map(|d| Derivation {
            path: d.root.display().to_string(),
            version: d.manifest.version.clone(),
            manifest_sha256: d.manifest_sha256.clone(),
            operation: format!("merge: episodes {}", d.episodes.len()),
        })
        .collect();
    let summary = format!(
        "merge of {} release(s), {} episodes",
        datasets.len(),
        origin.len()
    );
    let changelog = vec![Release {
        version: version.to_string(),
        created: reel_episode::time::format_utc(reel_episode::time::host_now_nanos()),
        note: note.map_or_else(|| summary.clone(), str::to_string),
    }];
    let first = &datasets[0];
    let mut card = first.manifest.card.clone().ok_or_else(|| {
        ExportError::input(
            first.root.join(manifest::MANIFEST),
            "has no card record (written by an older reel); export the episodes again to merge them",
        )
    })?;
    card.collection
        .retain(|l| !l.starts_with("Derived from ") && !l.starts_with("Merged from "));
    card.collection.push(format!(
        "Merged from {} release(s): {}.",
        parents.len(),
        parents
            .iter()
            .map(|p| format!(
                "{} (version {}, manifest sha256 {})",
                p.path,
                p.version.as_deref().unwrap_or("unversioned"),
                p.manifest_sha256
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    let mut full_card = card.clone();
    full_card.tasks = tasks.to_vec();
    full_card.changelog = changelog.clone();
    full_card.episodes = sources.iter().map(SourceEntry::card_episode).collect();
    full_card.splits = BTreeMap::from([("train".to_string(), format!("0:{}", origin.len()))]);
    write_atomically(&stage.join("README.md"), full_card.render().as_bytes())?;
    Manifest::write(
        stage,
        &first.manifest.kind,
        sources,
        &[],
        ManifestExtras {
            changelog,
            derived_from: None,
            merged_from: parents,
            card: Some(card),
        },
    )?;
    Ok(())
}
