//! The dataset card (`README.md` with Hugging Face front matter): what is in
//! the dataset, how it was collected, its units, tasks, version, licence,
//! and how to load it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::release::Release;

/// One feature's line in the data dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardFeature {
    /// Feature name.
    pub name: String,
    /// dtype (`float32`, `video`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Unit or value range.
    pub unit: String,
    /// Where it comes from (topics, alignment).
    pub source: String,
    /// Dimension names, if any.
    pub names: Vec<String>,
}

/// One episode's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardEpisode {
    /// Index in the dataset.
    pub index: u64,
    /// `reel.episode` id.
    pub episode_id: String,
    /// capture / sim.
    pub source: String,
    /// Frames.
    pub frames: u64,
    /// Task.
    pub task: String,
    /// success / failure / unknown.
    pub outcome: String,
    /// Frames left out by alignment.
    pub dropped: usize,
    /// The operator's pseudonym, when the export made pseudonyms.
    pub operator: Option<String>,
}

/// What the card says. Stored in the manifest without its tasks,
/// episodes and versions, which the dataset's own tables hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// Dataset name.
    pub repo_id: String,
    /// Licence identifier (Hugging Face's list, e.g. `apache-2.0`, `cc-by-4.0`).
    pub license: String,
    /// Robot type.
    pub robot_type: String,
    /// Frames per second.
    pub fps: u32,
    /// Video codec and settings, as text.
    pub video: String,
    /// Data dictionary.
    pub features: Vec<CardFeature>,
    /// Tasks in task_index order.
    #[serde(skip)]
    pub tasks: Vec<String>,
    /// Episodes.
    #[serde(skip)]
    pub episodes: Vec<CardEpisode>,
    /// Collection method: rigs, sim scenarios, operators left out.
    pub collection: Vec<String>,
    /// Alignment policy, in words.
    pub alignment: String,
    /// Releases, oldest first; the last is this version.
    #[serde(skip)]
    pub changelog: Vec<Release>,
    /// Named ranges of episode indices (`info.json` `splits`).
    #[serde(skip)]
    pub splits: std::collections::BTreeMap<String, String>,
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Card {
    /// The card as Markdown. Long: the card's sections in the order a
    /// reader sees them, one after another.
    pub fn render(&self) -> String {
        let frames: u64 = self.episodes.iter().map(|e| e.frames).sum();
        let mut s = String::new();
        let _ = writeln!(s, "---");
        let _ = writeln!(s, "license: {}", self.license);
        let _ = writeln!(s, "task_categories:\n- robotics");
        let _ = writeln!(
            s,
            "tags:\n- LeRobot\n- reel\n- {}",
            yaml_str(&self.robot_type)
        );
        let _ = writeln!(
            s,
            "configs:\n- config_name: default\n  data_files: data/*/*.parquet"
        );
        let _ = writeln!(s, "---\n");
        let _ = writeln!(s, "# {}\n", self.repo_id);
        if let Some(r) = self.changelog.last() {
            let _ = writeln!(s, "Version {} ({}).\n", r.version, r.created);
        }
        let _ = writeln!(
            s,
            "A LeRobot v3.0 dataset of the `{}` robot: {} episodes, {} frames at {} fps ({:.1} min), {} task(s). Written by {}.\n",
            self.robot_type,
            self.episodes.len(),
            frames,
            self.fps,
            frames as f64 / f64::from(self.fps) / 60.0,
            self.tasks.len(),
            reel_episode::software_version()
        );
        let _ = writeln!(s, "## How to load\n");
        let _ = writeln!(
            s,
            "```python\nfrom lerobot.datasets.lerobot_dataset import LeRobotDataset\n\nds = LeRobotDataset({}, root=\"path/to/this/folder\")\nframe = ds[0]  # dict of tensors: images (3,H,W) float32 in [0,1], vectors, scalars, and the task text\n```\n",
            yaml_str(&self.repo_id)
        );
        let _ = writeln!(s, "Check the files against `manifest.json` (sha256 of every file) with `reel check <folder>`.\n");
        let _ = writeln!(s, "## Data dictionary\n");
        let _ = writeln!(
            s,
            "| feature | dtype | shape | unit / range | source |\n|---|---|---|---|---|"
        );
        for f in &self.features {
            let _ = writeln!(
                s,
                "| `{}` | {} | {:?} | {} | {} |",
                f.name,
                f.dtype,
                f.shape,
                f.unit,
                f.source.replace('|', "\\|")
            );
        }
        for f in self
            .features
            .iter()
            .filter(|f| !f.names.is_empty() && f.dtype != "video")
        {
            let _ = writeln!(
                s,
                "\n`{}` dimensions: {}",
                f.name,
                f.names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(s, "\nVideos: {}.\n", self.video);
        let _ = writeln!(s, "## Collection method\n");
        for c in &self.collection {
            let _ = writeln!(s, "- {c}");
        }
        let _ = writeln!(s, "- Alignment: {}", self.alignment);
        let pseudonyms = self.episodes.iter().any(|e| e.operator.is_some());
        if pseudonyms {
            let _ = writeln!(
                s,
                "- Operator and site names are not part of the dataset; operators appear as keyed pseudonyms ({}), the same for one person across releases made with the same key.\n",
                super::deid::PSEUDONYM_METHOD
            );
        } else {
            let _ = writeln!(
                s,
                "- Operator and site names are not part of the dataset.\n"
            );
        }
        let _ = writeln!(s, "## Tasks\n\n| task_index | task |\n|---|---|");
        for (i, t) in self.tasks.iter().enumerate() {
            let _ = writeln!(s, "| {i} | {} |", t.replace('|', "\\|"));
        }
        let _ = writeln!(
            s,
            "\n## Episodes\n\n| episode | frames | source | outcome | frames dropped | reel episode id | task |{}\n|---|---|---|---|---|---|---|{}",
            if pseudonyms { " operator |" } else { "" },
            if pseudonyms { "---|" } else { "" }
        );
        for e in &self.episodes {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | `{}` | {} |{}",
                e.index,
                e.frames,
                e.source,
                e.outcome,
                e.dropped,
                e.episode_id,
                e.task.replace('|', "\\|"),
                match (&e.operator, pseudonyms) {
                    (Some(o), _) => format!(" `{o}` |"),
                    (None, true) => " |".to_string(),
                    (None, false) => String::new(),
                }
            );
        }
        if self.splits.len() > 1 {
            let ranges: Vec<String> = self
                .splits
                .iter()
                .map(|(k, v)| format!("`{k}` = episodes {v}"))
                .collect();
            let _ = writeln!(
                s,
                "\n## Splits\n\n{} (ranges of `episode_index`, in `meta/info.json` `splits`).",
                ranges.join(", ")
            );
        }
        if !self.changelog.is_empty() {
            let _ = writeln!(s, "\n## Versions\n\nEvery release is immutable: `reel check` verifies its files against `manifest.json`, and `reel diff OLD NEW` lists what changed between two.\n\n| version | date | changes |\n|---|---|---|");
            for r in self.changelog.iter().rev() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} |",
                    r.version,
                    r.created,
                    r.note.replace('|', "\\|")
                );
            }
        }
        let _ = writeln!(s, "\n## Licence\n");
        if self.license == "other" {
            let _ = writeln!(
                s,
                "No licence was stated at export; ask the publisher before use."
            );
        } else {
            let _ = writeln!(s, "`{}`.", self.license);
        }
        let _ = writeln!(
            s,
            "\n## Version\n\nLeRobot codebase_version v3.0; written by {}.",
            reel_episode::software_version()
        );
        s
    }
}
