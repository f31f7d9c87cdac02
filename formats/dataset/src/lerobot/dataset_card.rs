//! The dataset card of an export: features with their units and sources,
//! how the episodes were collected and aligned, the video encoding.

use std::collections::BTreeMap;

use serde_json::Value;

use super::mapping::{FeatureSource, Mapping};
use super::plan::{self, GapPolicy};
use super::subtasks::{self, SubtaskPolicy};
use super::LeRobotOptions;
use crate::card::{Card, CardFeature};
use crate::manifest::SourceEntry;
use crate::release::Release;
use crate::source::SourceEpisode;
use reel_media::{VideoCodec, VideoSettings};

/// The card of a dataset written with `opts`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_card(
    opts: &LeRobotOptions,
    robot_type: &str,
    mapping: &Mapping,
    info: &Value,
    tasks: &[String],
    appended: bool,
    sources: &[SourceEpisode],
    all: &[SourceEntry],
    settings: VideoSettings,
    changelog: &[Release],
    subtask_labels: &[String],
) -> Card {
    let features = card_features(opts, mapping, info, subtask_labels);
    let mut collection: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for ep in sources {
        let line = match ep.meta.source {
            reel_episode::SourceKind::Capture => format!(
                "Recorded with `reel record` on rig config sha256 {} (robot `{}`); every sample time-stamped on one host clock.",
                ep.meta.rig_config_hash.as_deref().unwrap_or("unknown"),
                ep.meta.robot_type
            ),
            reel_episode::SourceKind::Sim => {
                // Scenario-level parameters only: the per-episode draws
                // and seeds stay in each episode's metadata.
                let params: Vec<String> = ["scenario", "scenario_sha256", "policy", "physics", "renderer"].iter().filter_map(|k| ep.meta.source_params.get(*k).map(|v| format!("{k}={v}"))).collect();
                format!("Synthesized with `reel sim` ({}); per-episode seeds are in each source episode's metadata.", params.join(", "))
            }
            reel_episode::SourceKind::Import => {
                let p = &ep.meta.source_params;
                let get = |k: &str| p.get(k).map_or("unknown", String::as_str);
                format!(
                    "Imported with `reel import` from a {} recording ({}, sha256 {}); the mapping applied is in manifest.json and the episode's metadata.",
                    get("format"),
                    std::path::Path::new(get("path")).file_name().map_or_else(|| get("path").to_string(), |n| n.to_string_lossy().into_owned()),
                    get("sha256")
                )
            }
            _ => format!("Episodes of source `{}` written by {}.", ep.meta.source.as_str(), ep.meta.software_version),
        };
        if seen.insert(line.clone()) {
            collection.push(line);
        }
    }
    if appended {
        collection.push("Episodes were added in more than one export; manifest.json lists every source episode with its sha256.".into());
    }
    let episodes = all.iter().map(SourceEntry::card_episode).collect();
    let video = match settings.codec {
        VideoCodec::Av1 => format!(
            "AV1 (SVT-AV1 preset {}, crf {}, keyframe every {} frames), yuv420p, MP4, {} fps",
            settings.preset, settings.crf, settings.gop, settings.fps
        ),
        VideoCodec::H264 => format!(
            "H.264 (libx264, crf {}, keyframe every {} frames), yuv420p, MP4, {} fps",
            settings.crf, settings.gop, settings.fps
        ),
    };
    Card {
        repo_id: opts.repo_id.clone(),
        changelog: changelog.to_vec(),
        splits: BTreeMap::from([("train".to_string(), format!("0:{}", all.len()))]),
        license: opts.license.clone(),
        robot_type: robot_type.into(),
        fps: opts.fps,
        video,
        features,
        tasks: tasks.to_vec(),
        episodes,
        collection,
        alignment: format!(
            "streams keep their native rates in the source episodes and are aligned to {} fps here: joints interpolated linearly (both neighbours within {} ms), images the nearest frame (within one frame period); the episode is trimmed to the span every stream covers; frames a stream cannot supply are {}.",
            opts.fps,
            plan::JOINT_TOLERANCE_NS / 1_000_000,
            match opts.on_gap {
                GapPolicy::DropFrame => "left out and counted below",
                GapPolicy::FailEpisode => "an error (no such frames in this dataset)",
            }
        ),
    }
}

/// The card's data dictionary: each mapped feature with its unit and
/// source, the subtask feature, and LeRobot's defaults.
fn card_features(
    opts: &LeRobotOptions,
    mapping: &Mapping,
    info: &Value,
    subtask_labels: &[String],
) -> Vec<CardFeature> {
    let mut features = Vec::new();
    for f in &mapping.features {
        let spec = &info["features"][&f.name];
        let shape: Vec<usize> = spec["shape"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_u64().map(|v| v as usize))
                    .collect()
            })
            .unwrap_or_default();
        let names: Vec<String> = spec["names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let (dtype, unit, source) = match &f.source {
            FeatureSource::Joints { topics, field } => (
                "float32".to_string(),
                if names.iter().any(|n| n.contains("linear_acceleration")) {
                    "rad/s (angular_velocity), m/s² (linear_acceleration)".to_string()
                } else {
                    field.unit().to_string()
                },
                format!(
                    "{} ({field:?}), interpolated linearly to the frame times",
                    topics.join(" + ")
                ),
            ),
            FeatureSource::Camera { topic } => (
                "video".to_string(),
                "RGB, loaded as float32 in [0,1]".to_string(),
                format!("{topic}, nearest frame by acquisition time"),
            ),
        };
        features.push(CardFeature {
            name: f.name.clone(),
            dtype,
            shape,
            unit,
            source,
            names,
        });
    }
    if info["features"].get(subtasks::FEATURE).is_some() {
        features.push(CardFeature {
            name: subtasks::FEATURE.into(),
            dtype: "int64".into(),
            shape: vec![1],
            unit: format!(
                "row of {} ({} labels), -1 where no segment covers the frame",
                subtasks::TABLE,
                subtask_labels.len()
            ),
            source: format!(
                "`reel annotate` segments ({}), the shortest covering the frame time",
                match opts.subtasks {
                    SubtaskPolicy::Confirmed => "only those a person set or confirmed",
                    _ => "automatic pre-labels included",
                }
            ),
            names: Vec::new(),
        });
    }
    for (name, unit) in [
        ("timestamp", "s from the episode start (frame_index / fps)"),
        ("frame_index", "frame number within the episode"),
        ("episode_index", "episode number"),
        ("index", "global frame number"),
        ("task_index", "row of meta/tasks.parquet"),
    ] {
        let dtype = if name == "timestamp" {
            "float32"
        } else {
            "int64"
        };
        features.push(CardFeature {
            name: name.into(),
            dtype: dtype.into(),
            shape: vec![1],
            unit: unit.into(),
            source: "LeRobot default feature".into(),
            names: Vec::new(),
        });
    }
    features
}
