//! The `reel.episode` metadata record: who made an episode, how, and how it ended.
//!
//! Stored as an MCAP Metadata record (a string map) so every MCAP tool shows
//! it. The writer stores it when the episode opens (so a crashed recording
//! still says what it is) and again on close if anything changed, such as the
//! outcome; readers take the last record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Name of the MCAP metadata record.
pub const EPISODE_METADATA_NAME: &str = "reel.episode";

/// Where an episode came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Recorded from hardware (or the capture emulators).
    #[default]
    Capture,
    /// Synthesized by the simulator.
    Sim,
    /// Converted by `reel import` from another tool's recording; the
    /// source format, file, sha256 and mapping are in `source_params`.
    Import,
    /// Written by another tool or by hand.
    Other,
}

impl SourceKind {
    /// Lower-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Sim => "sim",
            Self::Import => "import",
            Self::Other => "other",
        }
    }
}

/// How the episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Not labelled (yet).
    #[default]
    Unknown,
    /// The task succeeded.
    Success,
    /// The task failed.
    Failure,
}

impl Outcome {
    /// Lower-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// Everything `reel.episode` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeMeta {
    /// UUIDv7 (time-ordered) for captures; derived from scenario and seed for sims.
    pub episode_id: String,
    /// Natural-language task, e.g. "put the red cube in the bowl".
    pub task: String,
    /// Robot type, e.g. `so101` or `aloha`.
    pub robot_type: String,
    /// Who operated the robot; removed by de-identification.
    pub operator: Option<String>,
    /// Where it was recorded (lab, building); removed by de-identification.
    pub site: Option<String>,
    /// sha256 of the rig config in force (hex).
    pub rig_config_hash: Option<String>,
    /// capture / sim / other.
    pub source: SourceKind,
    /// Generator parameters (sim scenario, randomization draws, device list...).
    pub source_params: BTreeMap<String, String>,
    /// Seed of a synthetic episode.
    pub seed: Option<u64>,
    /// `reel x.y.z` that wrote the file.
    pub software_version: String,
    /// Outcome label.
    pub outcome: Outcome,
    /// The rate each data topic was configured to run at (topic → Hz), so
    /// `reel check` measures completeness against what the rig promised
    /// rather than against what it delivered.
    pub nominal_rates_hz: BTreeMap<String, f64>,
}

impl EpisodeMeta {
    /// A new captured episode with a fresh UUIDv7 and this crate's version.
    pub fn new(task: impl Into<String>, robot_type: impl Into<String>) -> Self {
        Self {
            episode_id: uuid::Uuid::now_v7().to_string(),
            task: task.into(),
            robot_type: robot_type.into(),
            operator: None,
            site: None,
            rig_config_hash: None,
            source: SourceKind::Capture,
            source_params: BTreeMap::new(),
            seed: None,
            software_version: crate::software_version(),
            outcome: Outcome::Unknown,
            nominal_rates_hz: BTreeMap::new(),
        }
    }

    /// The string map stored in the MCAP record.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("episode_id".into(), self.episode_id.clone());
        m.insert("task".into(), self.task.clone());
        m.insert("robot_type".into(), self.robot_type.clone());
        if let Some(op) = &self.operator {
            m.insert("operator".into(), op.clone());
        }
        if let Some(site) = &self.site {
            m.insert("site".into(), site.clone());
        }
        if let Some(h) = &self.rig_config_hash {
            m.insert("rig_config_hash".into(), h.clone());
        }
        m.insert("source".into(), self.source.as_str().into());
        // A map of strings cannot fail to serialize.
        m.insert(
            "source_params".into(),
            serde_json::to_string(&self.source_params).unwrap_or_default(),
        );
        if let Some(seed) = self.seed {
            m.insert("seed".into(), seed.to_string());
        }
        m.insert("software_version".into(), self.software_version.clone());
        m.insert("outcome".into(), self.outcome.as_str().into());
        if !self.nominal_rates_hz.is_empty() {
            m.insert(
                "nominal_rates_hz".into(),
                serde_json::to_string(&self.nominal_rates_hz).unwrap_or_default(),
            );
        }
        m
    }

    /// Parses the stored map; unknown keys are ignored so newer files stay readable.
    pub fn from_map(m: &BTreeMap<String, String>) -> Result<Self, MetaError> {
        let get = |k: &str| m.get(k).cloned();
        let quoted =
            |k: &str, default: &str| format!("\"{}\"", get(k).unwrap_or_else(|| default.into()));
        let bad = |reason: String| MetaError(reason);
        let source: SourceKind =
            serde_json::from_str(&quoted("source", "other")).map_err(|_| {
                bad(format!(
                    "unknown source {:?}",
                    get("source").unwrap_or_default()
                ))
            })?;
        let outcome: Outcome =
            serde_json::from_str(&quoted("outcome", "unknown")).map_err(|_| {
                bad(format!(
                    "unknown outcome {:?}",
                    get("outcome").unwrap_or_default()
                ))
            })?;
        let source_params = match get("source_params") {
            Some(s) if !s.is_empty() => serde_json::from_str(&s)
                .map_err(|e| bad(format!("source_params is not a JSON string map: {e}")))?,
            _ => BTreeMap::new(),
        };
        let seed = match get("seed") {
            Some(s) => Some(
                s.parse()
                    .map_err(|_| bad(format!("seed {s:?} is not an integer")))?,
            ),
            None => None,
        };
        let nominal_rates_hz = match get("nominal_rates_hz") {
            Some(s) if !s.is_empty() => serde_json::from_str(&s)
                .map_err(|e| bad(format!("nominal_rates_hz is not a JSON map of rates: {e}")))?,
            _ => BTreeMap::new(),
        };
        Ok(Self {
            episode_id: get("episode_id").ok_or_else(|| bad("episode_id is missing".into()))?,
            task: get("task").unwrap_or_default(),
            robot_type: get("robot_type").unwrap_or_default(),
            operator: get("operator"),
            site: get("site"),
            rig_config_hash: get("rig_config_hash"),
            source,
            source_params,
            seed,
            software_version: get("software_version").unwrap_or_default(),
            outcome,
            nominal_rates_hz,
        })
    }
}

/// Why a `reel.episode` record does not parse: one sentence, which the
/// reader completes with the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetaError(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_round_trip() {
        let mut meta = EpisodeMeta::new("stack the cubes", "so101");
        meta.operator = Some("ana".into());
        meta.site = Some("lab 3".into());
        meta.source = SourceKind::Sim;
        meta.seed = Some(42);
        meta.source_params
            .insert("scenario".into(), "pick_place".into());
        meta.outcome = Outcome::Success;
        meta.nominal_rates_hz
            .insert("/robot/follower/joint_states".into(), 200.0);
        assert_eq!(EpisodeMeta::from_map(&meta.to_map()).unwrap(), meta);
        assert_eq!(meta.episode_id.len(), 36);
    }

    #[test]
    fn bad_values_are_reported() {
        let mut m = EpisodeMeta::new("t", "r").to_map();
        m.insert("seed".into(), "x".into());
        assert!(EpisodeMeta::from_map(&m)
            .unwrap_err()
            .to_string()
            .contains("seed"));
        m.remove("seed");
        m.remove("episode_id");
        assert!(EpisodeMeta::from_map(&m)
            .unwrap_err()
            .to_string()
            .contains("episode_id"));
    }
}
