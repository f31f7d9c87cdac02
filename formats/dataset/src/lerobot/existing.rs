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
    let stats_json: Value = match std::fs::read(&stats_path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            ExportError::input(
                &stats_path,
                format!("not JSON ({e}); restore the release from a copy"),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => return Err(ExportError::io(&stats_path, e)),
    };
    let mut stats = BTreeMap::new();
    if let Some(o) = stats_json.as_object() {
        for (k, v) in o {
            // A feature whose stats cannot be read would be left out of
            // the merged stats without a word: refuse instead.
            let s = FeatureStats::from_json(v).ok_or_else(|| {
                ExportError::input(
                    &stats_path,
                    format!(
                        "the stats of {k} are not LeRobot stats; restore the release from a copy"
                    ),
                )
            })?;
            stats.insert(k.clone(), s);
        }
    }
    // The totals an append continues from come from the episode index, not
    // from what info.json claims; the two must agree.
    let rows = super::read::episode_index(out)?;
    let episodes = rows.len() as u64;
    let frames: u64 = rows
        .iter()
        .map(|e| u64::try_from(e.length).unwrap_or(0))
        .sum();
    let contiguous = rows.iter().enumerate().all(|(i, e)| {
        e.episode_index == i as i64 && e.length >= 0 && e.to_index - e.from_index == e.length
    }) && rows.windows(2).all(|w| w[0].to_index == w[1].from_index);
    if !contiguous {
        return Err(ExportError::input(
            out.join("meta/episodes"),
            "episode indices or row ranges are not contiguous; the release is damaged (`reel check` shows where): restore it from a copy",
        ));
    }
    let claims = (
        info["total_episodes"].as_u64(),
        info["total_frames"].as_u64(),
    );
    if claims != (Some(episodes), Some(frames)) {
        return Err(ExportError::input(
            &info_path,
            format!(
                "says {} episodes and {} frames, the episode index holds {episodes} and {frames}; the release is damaged: restore it from a copy",
                info["total_episodes"], info["total_frames"]
            ),
        ));
    }
    Ok(Some(Existing {
        total_episodes: episodes,
        total_frames: frames,
        info,
        tasks,
        stats,
        manifest,
    }))
}
