//! Per-frame subtask labels. The `reel annotate` segments of each episode
//! become an int64 `subtask_index` feature (−1 where no segment covers the
//! frame; the shortest segment wins where several do), and
//! `meta/subtasks.parquet` maps an index to its label the way
//! `meta/tasks.parquet` maps a task index to its text (pandas index =
//! label, so `pd.read_parquet(p).iloc[i].name` is the label). LeRobot
//! loads the column like any other int64 feature.

use std::path::Path;

use super::tables;
use crate::source::SourceEpisode;
use crate::ExportError;
use reel_episode::annotations::Annotations;

/// The feature's name.
pub use super::tables::SUBTASK_FEATURE as FEATURE;
/// The label table, relative to the dataset root.
pub const TABLE: &str = "meta/subtasks.parquet";
/// `subtask_index` of a frame no segment covers.
pub const NONE: i64 = -1;

/// Which segments become subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubtaskPolicy {
    /// Every segment, automatic ones included.
    #[default]
    All,
    /// Only segments a person set or confirmed.
    Confirmed,
    /// No subtask feature.
    Off,
}

impl SubtaskPolicy {
    /// The episode's annotations with only the segments this policy keeps.
    fn segments_of(self, ep: &SourceEpisode) -> Option<Annotations> {
        let mut a = ep.annotations.clone()?;
        match self {
            Self::All => {}
            Self::Confirmed => a
                .segments
                .retain(|s| s.confirmed || s.origin == reel_episode::annotations::Origin::Person),
            Self::Off => a.segments.clear(),
        }
        (!a.segments.is_empty()).then_some(a)
    }

    /// Does `ep` have any segment this policy exports.
    pub fn has_segments(self, ep: &SourceEpisode) -> bool {
        self.segments_of(ep).is_some()
    }

    /// The subtask of each frame (times in ns on the episode's clock), as
    /// indices into `labels`, which grows with labels not seen before.
    pub fn per_frame(
        self,
        ep: &SourceEpisode,
        frame_nanos: &[i64],
        labels: &mut Vec<String>,
    ) -> Vec<i64> {
        let Some(a) = self.segments_of(ep) else {
            return vec![NONE; frame_nanos.len()];
        };
        frame_nanos
            .iter()
            .map(|&t| {
                let s = (t - a.start_nanos as i64) as f64 / 1e9;
                match a.label_at(s) {
                    None => NONE,
                    Some(label) => match labels.iter().position(|l| l == label) {
                        Some(i) => i as i64,
                        None => {
                            labels.push(label.to_string());
                            labels.len() as i64 - 1
                        }
                    },
                }
            })
            .collect()
    }
}

/// The labels of an existing dataset (empty when it has no table).
pub fn read_table(root: &Path) -> Result<Vec<String>, ExportError> {
    let path = root.join(TABLE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    tables::read_labels(&path, "subtask")
}

/// Writes the label table atomically.
pub fn write_table(root: &Path, labels: &[String]) -> Result<(), ExportError> {
    let path = root.join(TABLE);
    let batch =
        tables::label_table(FEATURE, "subtask", labels).map_err(ExportError::table(&path))?;
    tables::replace_table(&path, &batch)
}
