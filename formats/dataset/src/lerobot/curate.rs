//! Curation of a LeRobot dataset that `reel export` wrote: `reel filter`
//! keeps a subset of its episodes, `reel split` orders them into
//! train/val/test ranges stratified by task. Either way the result is a new
//! release in a new directory and the source is left as it is:
//! - the data and `meta/episodes` tables are rewritten with contiguous
//!   `episode_index` and `index` (LeRobot reads episodes positionally);
//! - per-episode stats of the index features are recomputed, and
//!   `meta/stats.json` is aggregated again from the kept episodes' stats;
//! - videos are hard-linked, not copied: each episode row keeps pointing at
//!   its span of the same MP4 file, so no video byte is copied or
//!   re-encoded (a copy is made only where the file system cannot link);
//! - the manifest records the parent release and its manifest hash, the
//!   card and changelog gain the new release.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

pub use super::released::Dataset;
use super::renumber::{write_index_and_stats, RenumberedRows};
use super::tables::EpisodeRow;
use super::{subtasks, write_json, CHUNKS_SIZE};
use crate::manifest::{
    self, Derivation, FileEntry, Manifest, ManifestExtras, Release, SourceEntry,
};
use crate::{deid, write_atomically, ExportError, Staging};

/// Which episodes `reel filter` drops.
#[derive(Debug, Clone, Default)]
pub struct FilterRules {
    /// Episodes labelled failure.
    pub drop_failed: bool,
    /// Episodes with no success/failure label.
    pub drop_unlabelled: bool,
    /// Episodes by index or `reel.episode` id.
    pub drop: Vec<String>,
    /// A `reel check --json` report of the source episodes: episodes with a
    /// failed check or found to duplicate another are dropped.
    pub flagged_by: Option<PathBuf>,
    /// Keep only episodes of these tasks (empty: every task).
    pub tasks: Vec<String>,
}

/// An episode left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    /// Index in the source dataset.
    pub index: u64,
    /// `reel.episode` id.
    pub episode_id: String,
    /// Why.
    pub reason: String,
}

/// What goes into a derived dataset, in order.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Source episode indices, in their new order.
    pub order: Vec<usize>,
    /// Named ranges of the new order (`train`, `val`, ...), as counts.
    pub splits: Vec<(String, usize)>,
    /// Episodes left out.
    pub dropped: Vec<Dropped>,
    /// What was done, for the manifest and changelog.
    pub operation: String,
}

/// Episode ids a `reel check --json` report flags, with the reason.
fn flagged_ids(report: &Path) -> Result<BTreeMap<String, String>, ExportError> {
    let r: Value =
        serde_json::from_slice(&std::fs::read(report).map_err(|e| ExportError::io(report, e))?)
            .map_err(|e| {
                ExportError::input(report, format!("not a JSON report of `reel check`: {e}"))
            })?;
    let episodes = r["episodes"].as_array().ok_or_else(|| {
        ExportError::input(report, "not a JSON report of `reel check` (no episodes)")
    })?;
    let mut id_of: HashMap<String, String> = HashMap::new();
    for e in episodes {
        if let Some(id) = e["episode_id"].as_str() {
            for k in ["path", "file_name"] {
                if let Some(p) = e[k].as_str() {
                    id_of.insert(p.to_string(), id.to_string());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    for c in r["checks"].as_array().into_iter().flatten() {
        if c["passed"] == false {
            if let Some(id) = c["subject"].as_str().and_then(|s| id_of.get(s)) {
                out.entry(id.clone()).or_insert_with(|| {
                    format!(
                        "flagged by reel check: {}/{}: {}",
                        c["dimension"].as_str().unwrap_or(""),
                        c["check"].as_str().unwrap_or(""),
                        c["message"].as_str().unwrap_or("")
                    )
                });
            }
        }
    }
    for g in r["duplicates"].as_array().into_iter().flatten() {
        for c in g["copies"].as_array().into_iter().flatten() {
            if let Some(id) = c["file"].as_str().and_then(|s| id_of.get(s)) {
                out.entry(id.clone()).or_insert_with(|| {
                    format!(
                        "flagged by reel check: duplicate of {}",
                        c["of"].as_str().unwrap_or("")
                    )
                });
            }
        }
    }
    Ok(out)
}

/// The episodes `rules` keep, in their order.
pub fn filter_plan(ds: &Dataset, rules: &FilterRules) -> Result<Plan, ExportError> {
    let flagged = match &rules.flagged_by {
        Some(p) => flagged_ids(p)?,
        None => BTreeMap::new(),
    };
    let mut named: BTreeSet<&str> = rules.drop.iter().map(String::as_str).collect();
    let mut plan = Plan {
        order: Vec::new(),
        splits: Vec::new(),
        dropped: Vec::new(),
        operation: String::new(),
    };
    for i in 0..ds.episodes.len() {
        let src = ds.source_of(i);
        let id = src.map_or("", |s| s.episode_id.as_str());
        let outcome = src.map_or("", |s| s.outcome.as_str());
        let by_name = [i.to_string(), id.to_string()]
            .iter()
            .any(|k| named.remove(k.as_str()));
        let reason = if by_name {
            Some("named on the command line".to_string())
        } else if rules.drop_failed && outcome == "failure" {
            Some("labelled failure".into())
        } else if rules.drop_unlabelled && outcome != "success" && outcome != "failure" {
            Some("no success/failure label".into())
        } else if let Some(why) = flagged.get(id) {
            Some(why.clone())
        } else if !rules.tasks.is_empty() && !rules.tasks.iter().any(|t| t == ds.task_of(i)) {
            Some(format!("task {:?} not selected", ds.task_of(i)))
        } else {
            None
        };
        match reason {
            Some(reason) => plan.dropped.push(Dropped {
                index: i as u64,
                episode_id: id.to_string(),
                reason,
            }),
            None => plan.order.push(i),
        }
    }
    if let Some(n) = named.first() {
        return Err(ExportError::input(
            &ds.root,
            format!("episode {n}: no episode has that index or id"),
        ));
    }
    let mut what = Vec::new();
    if rules.drop_failed {
        what.push("failed".to_string());
    }
    if rules.drop_unlabelled {
        what.push("unlabelled".into());
    }
    if rules.flagged_by.is_some() {
        what.push("flagged by reel check".into());
    }
    if !rules.drop.is_empty() {
        what.push(format!("named ({})", rules.drop.len()));
    }
    if !rules.tasks.is_empty() {
        what.push(format!("other tasks than {:?}", rules.tasks));
    }
    plan.operation = format!(
        "filter: kept {} of {} episodes, dropped {} ({})",
        plan.order.len(),
        ds.episodes.len(),
        plan.dropped.len(),
        if what.is_empty() {
            "no rule given".into()
        } else {
            what.join(", ")
        }
    );
    let n = plan.order.len();
    plan.splits.push(("train".into(), n));
    Ok(plan)
}

/// A stable pseudo-random key of an episode under `seed`: an episode's
/// split depends on its id and the seed only, so adding episodes later
/// does not move the ones already split.
fn split_key(seed: u64, id: &str, index: usize) -> String {
    reel_episode::sha256_hex(format!("{seed}:{id}:{index}").as_bytes())
}

/// Train/val/test: per task, the `val` and `test` fractions of its
/// episodes (rounded, at least one each when the fraction is above zero
/// and the task has enough episodes), chosen by a hash of the seed and episode id; the new
/// order is train, then val, then test, each in source order.
pub fn split_plan(ds: &Dataset, val: f64, test: f64, seed: u64) -> Result<Plan, ExportError> {
    if !(0.0..1.0).contains(&val) || !(0.0..1.0).contains(&test) || val + test >= 1.0 {
        return Err(ExportError::input(
            &ds.root,
            format!("validation {val} and test {test} must be fractions in [0, 1) that leave some episodes for training"),
        ));
    }
    let mut by_task: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for i in 0..ds.episodes.len() {
        by_task.entry(ds.task_of(i)).or_default().push(i);
    }
    let mut part = vec![0u8; ds.episodes.len()];
    for eps in by_task.values() {
        let n = eps.len();
        let want = |f: f64| -> usize {
            if f <= 0.0 {
                0
            } else {
                ((f * n as f64).round() as usize).max(1)
            }
        };
        let (mut nv, mut nt) = (want(val), want(test));
        // Training keeps at least one episode of every task.
        while nv + nt >= n && (nv > 0 || nt > 0) {
            if nt >= nv && nt > 0 {
                nt -= 1;
            } else {
                nv -= 1;
            }
        }
        let mut ranked = eps.clone();
        ranked.sort_by_key(|&i| {
            split_key(
                seed,
                ds.source_of(i).map_or("", |s| s.episode_id.as_str()),
                i,
            )
        });
        for &i in &ranked[..nv] {
            part[i] = 1;
        }
        for &i in &ranked[nv..nv + nt] {
            part[i] = 2;
        }
    }
    let mut plan = Plan {
        order: Vec::new(),
        splits: Vec::new(),
        dropped: Vec::new(),
        operation: String::new(),
    };
    let mut counts = Vec::new();
    for (p, name) in [(0u8, "train"), (1, "val"), (2, "test")] {
        let members: Vec<usize> = (0..part.len()).filter(|&i| part[i] == p).collect();
        if p == 0 || !members.is_empty() {
            plan.splits.push((name.to_string(), members.len()));
            counts.push(format!("{name} {}", members.len()));
        }
        plan.order.extend(members);
    }
    plan.operation = format!(
        "split: {} (stratified by task over {} task(s), seed {seed})",
        counts.join(" / "),
        by_task.len()
    );
    Ok(plan)
}

/// What writing a derived dataset did.
#[derive(Debug, Clone, Serialize)]
pub struct Curated {
    /// The new dataset.
    pub out: PathBuf,
    /// Its version.
    pub version: String,
    /// What was done.
    pub operation: String,
    /// Episodes kept: (source index, new index, id).
    pub kept: Vec<(u64, u64, String)>,
    /// Episodes left out.
    pub dropped: Vec<Dropped>,
    /// Named ranges of episode indices.
    pub splits: BTreeMap<String, String>,
    /// Frames in the new dataset.
    pub total_frames: u64,
    /// Video bytes hard-linked from the source.
    pub linked_bytes: u64,
    /// Video bytes copied (the file system could not link).
    pub copied_bytes: u64,
    /// Bytes of rewritten tables and metadata.
    pub written_bytes: u64,
    /// Seconds.
    pub elapsed_s: f64,
}

/// Links `src` to `dst`, copying when the file system cannot link; returns
/// (linked, copied) bytes.
pub(super) fn link_or_copy(src: &Path, dst: &Path) -> Result<(u64, u64), ExportError> {
    if let Some(d) = dst.parent() {
        std::fs::create_dir_all(d).map_err(|e| ExportError::io(d, e))?;
    }
    let size = std::fs::metadata(src)
        .map_err(|e| ExportError::io(src, e))?
        .len();
    match std::fs::hard_link(src, dst) {
        Ok(()) => Ok((size, 0)),
        Err(_) => {
            std::fs::copy(src, dst).map_err(|e| ExportError::io(dst, e))?;
            Ok((0, size))
        }
    }
}

/// The next release after `prev`: `requested`, or the next major version,
/// since episode indices change.
fn derived_version(
    prev: Option<&str>,
    requested: Option<&str>,
) -> Result<String, manifest::VersionError> {
    match (requested, prev.and_then(manifest::parse_semver)) {
        (None, Some((a, _, _))) => Ok(format!("{}.0.0", a + 1)),
        _ => manifest::next_version(prev, requested),
    }
}

/// Writes the episodes of `plan` from `ds` as a new dataset at `out`.
pub fn write(
    ds: &Dataset,
    out: &Path,
    plan: &Plan,
    version: Option<&str>,
    note: Option<&str>,
) -> Result<Curated, ExportError> {
    let t0 = Instant::now();
    if plan.order.is_empty() {
        return Err(ExportError::input(
            &ds.root,
            "no episode is left after filtering; nothing to write",
        ));
    }
    let version = derived_version(ds.manifest.version.as_deref(), version)
        .map_err(|e| ExportError::input(out, e.to_string()))?;
    let staging = Staging::new(out)?;
    let stage = staging.path().to_path_buf();
    let (tasks, new_task) = kept_tasks(ds, plan);
    let rows_out = write_kept_rows(ds, plan, &stage, &new_task)?;
    let (linked_files, linked_bytes, copied_bytes) = link_files(ds, &rows_out, &stage)?;
    write_index_and_stats(&rows_out, &tasks, &stage)?;
    let total_frames = rows_out.last().map_or(0, |r| r.to_index as u64);
    let (info, splits) = derived_info(ds, plan, rows_out.len(), tasks.len(), total_frames);
    write_deidentification(ds, plan, &stage)?;
    let release = Release {
        version: version.clone(),
        created: reel_episode::time::format_utc(reel_episode::time::host_now_nanos()),
        note: note.map_or_else(
            || {
                format!(
                    "{} (from version {})",
                    plan.operation,
                    ds.manifest.version.as_deref().unwrap_or("unversioned")
                )
            },
            str::to_string,
        ),
    };
    let (kept, written_bytes) = write_release(
        ds,
        plan,
        &stage,
        release,
        &tasks,
        &splits,
        &info,
        &linked_files,
    )?;
    staging.commit()?;
    Ok(Curated {
        out: out.to_path_buf(),
        version,
        operation: plan.operation.clone(),
        kept,
        dropped: plan.dropped.clone(),
        splits,
        total_frames,
        linked_bytes,
        copied_bytes,
        written_bytes,
        elapsed_s: t0.elapsed().as_secs_f64(),
    })
}

/// The tasks the kept episodes still use, in their old order, and each old
/// task index's new one.
fn kept_tasks(ds: &Dataset, plan: &Plan) -> (Vec<String>, HashMap<i64, i64>) {
    let used: BTreeSet<&str> = plan.order.iter().map(|&i| ds.task_of(i)).collect();
    let tasks: Vec<String> = ds
        .tasks
        .iter()
        .filter(|t| used.contains(t.as_str()))
        .cloned()
        .collect();
    let new_task: HashMap<i64, i64> = ds
        .tasks
        .iter()
        .enumerate()
        .filter_map(|(old, t)| {
            let new = tasks.iter().position(|x| x == t)?;
            Some((old as i64, new as i64))
        })
        .collect();

    (tasks, new_task)
}

/// Each kept episode's rows, renumbered, one row group each; returns their
/// rows of `meta/episodes` (index statistics recomputed).
fn write_kept_rows(
    ds: &Dataset,
    plan: &Plan,
    stage: &Path,
    new_task: &HashMap<i64, i64>,
) -> Result<Vec<EpisodeRow>, ExportError> {
    let mut loaded = HashMap::new();
    let mut rows = RenumberedRows::new(stage);
    for &old_ep in &plan.order {
        rows.push(&mut loaded, ds, &ds.episodes[old_ep], new_task, None)?;
    }
    rows.finish()
}

/// The video files the kept episodes point into (and the subtask table),
/// hard-linked where the file system allows, else copied; returns them
/// with the bytes linked and copied.
fn link_files(
    ds: &Dataset,
    rows_out: &[EpisodeRow],
    stage: &Path,
) -> Result<(BTreeSet<String>, u64, u64), ExportError> {
    let mut linked_files: BTreeSet<String> = BTreeSet::new();
    for r in rows_out {
        for (key, loc) in &r.videos {
            linked_files.insert(ds.video_file(key, loc));
        }
    }
    if ds.root.join(subtasks::TABLE).exists() {
        linked_files.insert(subtasks::TABLE.to_string());
    }
    let (mut linked_bytes, mut copied_bytes) = (0, 0);
    for rel in &linked_files {
        let (l, c) = link_or_copy(&ds.root.join(rel), &stage.join(rel))?;
        linked_bytes += l;
        copied_bytes += c;
    }

    Ok((linked_files, linked_bytes, copied_bytes))
}

/// `info.json` of the new release, with its splits.
fn derived_info(
    ds: &Dataset,
    plan: &Plan,
    episodes: usize,
    tasks: usize,
    total_frames: u64,
) -> (Value, BTreeMap<String, String>) {
    let mut splits = BTreeMap::new();
    let mut at = 0;
    for (name, n) in &plan.splits {
        splits.insert(name.clone(), format!("{at}:{}", at + n));
        at += n;
    }
    let mut info = ds.info.clone();
    info["total_episodes"] = json!(episodes);
    info["total_frames"] = json!(total_frames);
    info["total_tasks"] = json!(tasks);
    info["chunks_size"] = json!(CHUNKS_SIZE);
    info["splits"] = json!(splits);

    (info, splits)
}

/// What de-identification removed, for the episodes kept.
fn write_deidentification(ds: &Dataset, plan: &Plan, stage: &Path) -> Result<(), ExportError> {
    let new_index: HashMap<u64, u64> = plan
        .order
        .iter()
        .enumerate()
        .map(|(new, &old)| (old as u64, new as u64))
        .collect();
    let deid_path = ds.root.join(deid::REPORT);
    if deid_path.exists() {
        let mut report = deid::Report::read_or_default(&ds.root)?;
        report
            .masks
            .retain(|m| new_index.contains_key(&m.episode_index));
        for m in &mut report.masks {
            m.episode_index = new_index[&m.episode_index];
        }
        let kept_ids: BTreeSet<String> = plan
            .order
            .iter()
            .filter_map(|&i| ds.source_of(i).map(|s| s.episode_id.clone()))
            .collect();
        for ids in [
            &mut report.operator_removed_from,
            &mut report.site_removed_from,
            &mut report.pseudonymised_in,
        ] {
            ids.retain(|id| kept_ids.contains(id));
        }
        write_json(
            &stage.join(deid::REPORT),
            &serde_json::to_value(&report)
                .map_err(|e| ExportError::output(stage, e.to_string()))?,
        )?;
    }

    Ok(())
}

/// A kept episode: its old index, its new index, its id.
type KeptEpisode = (u64, u64, String);

/// The release's sources, changelog, card and manifest (with the parent
/// release it derives from); returns the kept episodes (old index, new
/// index, id) and the bytes written anew.
#[allow(clippy::too_many_arguments)]
fn write_release(
    ds: &Dataset,
    plan: &Plan,
    stage: &Path,
    release: Release,
    tasks: &[String],
    splits: &BTreeMap<String, String>,
    info: &Value,
    linked_files: &BTreeSet<String>,
) -> Result<(Vec<KeptEpisode>, u64), ExportError> {
    let mut sources = Vec::new();
    let mut kept = Vec::new();
    for (new, &old) in plan.order.iter().enumerate() {
        let s = ds.source_renumbered(old, new)?;
        kept.push((old as u64, new as u64, s.episode_id.clone()));
        sources.push(s);
    }
    let mut changelog = ds.manifest.changelog.clone();
    changelog.push(release);
    let derived_from = Derivation {
        path: ds.root.display().to_string(),
        version: ds.manifest.version.clone(),
        manifest_sha256: ds.manifest_sha256.clone(),
        operation: plan.operation.clone(),
    };
    let mut card = ds.manifest.card.clone().ok_or_else(|| {
        ExportError::input(
            ds.root.join(manifest::MANIFEST),
            "has no card record (written by an older reel); export the episodes again to curate them",
        )
    })?;
    card.collection.retain(|l| !l.starts_with("Derived from "));
    card.collection.push(format!(
        "Derived from version {} of this dataset (manifest sha256 {}) by {}.",
        ds.manifest.version.as_deref().unwrap_or("unversioned"),
        &ds.manifest_sha256,
        plan.operation
    ));
    let mut full_card = card.clone();
    full_card.tasks = tasks.to_vec();
    full_card.changelog = changelog.clone();
    full_card.episodes = sources.iter().map(SourceEntry::card_episode).collect();
    full_card.splits = splits.clone();
    let readme = full_card.render();
    write_atomically(&stage.join("README.md"), readme.as_bytes())?;
    write_json(&stage.join("meta/info.json"), info)?;
    let unchanged: Vec<FileEntry> = ds
        .manifest
        .files
        .iter()
        .filter(|f| linked_files.contains(&f.path))
        .cloned()
        .collect();
    let m = Manifest::write(
        stage,
        &ds.manifest.kind,
        sources,
        &unchanged,
        ManifestExtras {
            changelog,
            derived_from: Some(derived_from),
            merged_from: Vec::new(),
            card: Some(card),
        },
    )?;
    let written_bytes = m
        .files
        .iter()
        .filter(|f| !linked_files.contains(&f.path))
        .map(|f| f.size)
        .sum();
    Ok((kept, written_bytes))
}
