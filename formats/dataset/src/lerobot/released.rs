//! A released LeRobot v3.0 dataset that reel wrote, read to make a new
//! release from it (`reel filter`, `reel split`, `reel merge`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::read::{self, LeRobotDataset};
use super::tables::{self, EpisodeRow, VideoLocation};
use crate::manifest::{self, Manifest, SourceEntry, APPEND_MARKER};
use crate::ExportError;

/// A released dataset, read to derive a new release from it.
#[derive(Debug)]
pub struct Dataset {
    /// Its directory.
    pub root: PathBuf,
    /// `meta/info.json`.
    pub info: Value,
    /// `manifest.json`.
    pub manifest: Manifest,
    /// sha256 of `manifest.json`, as a derived release records its parent.
    pub manifest_sha256: String,
    /// Tasks in task_index order.
    pub tasks: Vec<String>,
    /// `meta/episodes` rows, row i = episode i.
    pub episodes: Vec<EpisodeRow>,
}

impl Dataset {
    /// Reads the dataset at `root` to derive a release from it. Files must
    /// still have the sizes the manifest gives (a cheap guard; `reel check`
    /// verifies the hashes).
    pub fn open(root: &Path) -> Result<Self, ExportError> {
        let ds = Self::read(root)?;
        for f in &ds.manifest.files {
            let path = root.join(&f.path);
            match std::fs::metadata(&path) {
                Ok(m) if m.len() == f.size => {}
                Ok(_) => {
                    return Err(ExportError::input(
                        &path,
                        "changed since the release (size differs from manifest.json); run `reel check` on the dataset",
                    ))
                }
                Err(_) => {
                    return Err(ExportError::input(
                        &path,
                        "missing since the release; run `reel check` on the dataset",
                    ))
                }
            }
        }
        Ok(ds)
    }

    /// Reads the dataset's metadata and episode table, without the size
    /// guard of [`Self::open`].
    pub fn read(root: &Path) -> Result<Self, ExportError> {
        let info_path = root.join("meta/info.json");
        let LeRobotDataset { info, episodes, .. } = LeRobotDataset::open(root)?;
        if info["codebase_version"] != "v3.0" {
            return Err(ExportError::input(
                &info_path,
                format!(
                    "codebase_version {} is not v3.0; only LeRobot v3.0 datasets can be curated",
                    info["codebase_version"]
                ),
            ));
        }
        if root.join(APPEND_MARKER).exists() {
            return Err(ExportError::input(
                root,
                "an append to this dataset did not finish; restore it before curating",
            ));
        }
        let manifest = Manifest::read(root)?;
        let manifest_sha256 = manifest::hash_file(&root.join(manifest::MANIFEST))?.1;
        let tasks = tables::read_labels(&root.join("meta/tasks.parquet"), "task")?;
        if let Some((i, r)) = episodes
            .iter()
            .enumerate()
            .find(|(i, r)| r.episode_index != *i as i64)
        {
            return Err(ExportError::input(
                root.join("meta/episodes"),
                format!(
                    "row {i} holds episode {}; rows must be in episode order",
                    r.episode_index
                ),
            ));
        }
        if info["total_episodes"].as_u64() != Some(episodes.len() as u64) {
            return Err(ExportError::input(
                &info_path,
                format!(
                    "total_episodes {} but meta/episodes has {} rows",
                    info["total_episodes"],
                    episodes.len()
                ),
            ));
        }
        Ok(Self {
            root: root.to_path_buf(),
            info,
            manifest,
            manifest_sha256,
            tasks,
            episodes,
        })
    }

    /// The manifest's entry of episode `index`.
    pub fn source_of(&self, index: usize) -> Option<&SourceEntry> {
        self.manifest
            .sources
            .iter()
            .find(|s| s.episode_index == Some(index as u64))
    }

    /// The manifest's entry of episode `old`, renumbered `new` for a
    /// release made from this one.
    pub fn source_renumbered(&self, old: usize, new: usize) -> Result<SourceEntry, ExportError> {
        let mut s = self.source_of(old).cloned().ok_or_else(|| {
            ExportError::input(
                self.root.join(manifest::MANIFEST),
                format!("lists no source for episode {old}"),
            )
        })?;
        s.episode_index = Some(new as u64);
        Ok(s)
    }

    /// The video file (relative to the root) of `key` at `loc`.
    pub fn video_file(&self, key: &str, loc: &VideoLocation) -> String {
        read::video_file(&self.info, key, loc)
    }

    /// The data file (relative to the root) of episode row `row`.
    pub fn data_file(&self, row: &EpisodeRow) -> String {
        read::data_file(&self.info, row)
    }

    /// The episode's task (its first).
    pub fn task_of(&self, index: usize) -> &str {
        self.episodes[index]
            .tasks
            .first()
            .map_or("", String::as_str)
    }
}
