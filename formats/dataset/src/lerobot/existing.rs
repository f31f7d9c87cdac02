//! The dataset an export appends to: what must match, and what the append
//! builds on (tasks, stats, manifest, totals).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::tables;
use crate::manifest::{Manifest, APPEND_MARKER};
use crate::stats::FeatureStats;
use crate::ExportError;

/// The parts of an existing dataset an append builds on.
#[derive(Debug)]
pub(crate) struct Existing {
    pub(crate) info: Value,
    pub(crate) tasks: Vec<String>,
    pub(crate) stats: BTreeMap<String, FeatureStats>,
    /// Its manifest: the source list, and the entries of the files an
    /// append leaves as they are.
    pub(crate) manifest: Manifest,
    pub(crate) total_episodes: u64,
    pub(crate) total_frames: u64,
}

/// The features of the dataset already at `out`, if there is one to read
/// (`read_existing` reports what is wrong with one that is not).
pub(crate) fn existing_features(out: &Path) -> Option<Value> {
    let bytes = std::fs::read(out.join("meta/info.json")).ok()?;
    let info: Value = serde_json::from_slice(&bytes).ok()?;
    Some(info["features"].clone()).filter(Value::is_object)
}

pub(crate) fn read_existing(
    out: &Path,
    features: &Value,
    fps: u32,
) -> Result<Option<Existing>, ExportError> {
    let info_path = out.join("meta/info.json");
    if !out.exists()
        || std::fs::read_dir(out)
            .map_err(|e| ExportError::io(out, e))?
            .next()
            .is_none()
    {
        return Ok(None);
    }
    if !info_path.exists() {
        return Err(ExportError::output(
            out,
            "exists and is not a LeRobot dataset (no meta/info.json); choose a new directory",
        ));
    }
    if out.join(APPEND_MARKER).exists() {
        return Err(ExportError::output(
            out,
            "an earlier append to this dataset did not finish; restore it from a copy (reel check lists what changed)",
        ));
    }
    let text = std::fs::read(&info_path).map_err(|e| ExportError::io(&info_path, e))?;
    let info: Value = serde_json::from_slice(&text)
        .map_err(|e| ExportError::input(&info_path, format!("not JSON: {e}")))?;
    let different = |what: String| {
        ExportError::output(
            out,
            format!("already holds a different dataset ({what}); export to a new directory or use a matching mapping and frame rate"),
        )
    };
    if info["codebase_version"] != "v3.0" {
        return Err(different(format!(
            "codebase_version {}",
            info["codebase_version"]
        )));
    }
    if info["fps"].as_u64() != Some(u64::from(fps)) {
        return Err(different(format!("fps {} instead of {fps}", info["fps"])));
    }
    let strip = |f: &Value| -> Value {
        let mut f = f.clone();
        if let Some(o) = f.as_object_mut() {
            for (_, spec) in o.iter_mut() {
                if let Some(s) = spec.as_object_mut() {
                    s.remove("info");
                }
            }
        }
        f
    };
    if strip(&info["features"]) != strip(features) {
        return Err(different("other features, shapes or joint names".into()));
    }
    let manifest = Manifest::read(out)?;
    let tasks = tables::read_labels(&out.join("meta/tasks.parquet"), "task")?;
    let stats_path = out.join("meta/stats.json");
    let stats_json: Value = std::fs::read(&stats_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let mut stats = BTreeMap::new();
    if let Some(o) = stats_json.as_object() {
        for (k, v) in o {
            if let Some(s) = FeatureStats::from_json(v) {
                stats.insert(k.clone(), s);
            }
        }
    }
    Ok(Some(Existing {
        total_episodes: info["total_episodes"].as_u64().unwrap_or(0),
        total_frames: info["total_frames"].as_u64().unwrap_or(0),
        info,
        tasks,
        stats,
        manifest,
    }))
}
