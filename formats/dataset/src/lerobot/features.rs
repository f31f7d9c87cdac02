//! `info.json`'s features of an export: the mapped joint and camera
//! features, the subtask feature, and LeRobot's defaults.

use serde_json::{json, Value};

use super::mapping::{FeatureSource, Mapping};
use super::subtasks;
use super::tables::DEFAULT_FEATURES;
use crate::source::SourceEpisode;
use reel_media::VideoSettings;

/// The features of a dataset of episodes like `first`.
pub(crate) fn feature_spec(
    mapping: &Mapping,
    first: &SourceEpisode,
    settings: VideoSettings,
    with_subtasks: bool,
) -> Value {
    let mut features = serde_json::Map::new();
    for f in &mapping.features {
        let spec = match &f.source {
            FeatureSource::Joints { topics, field } => {
                let names = Mapping::joint_names(first, topics, *field);
                json!({"dtype": "float32", "shape": [names.len()], "names": names})
            }
            FeatureSource::Camera { topic } => {
                let c = &first.cameras[topic];
                json!({
                    "dtype": "video",
                    "shape": [c.height, c.width, 3],
                    "names": ["height", "width", "channels"],
                    "info": {
                        "video.height": c.height,
                        "video.width": c.width,
                        "video.codec": settings.codec.name(),
                        "video.pix_fmt": "yuv420p",
                        "video.is_depth_map": false,
                        "video.fps": settings.fps,
                        "video.channels": 3,
                        "video.g": settings.gop,
                        "video.crf": settings.crf,
                        "has_audio": false
                    }
                })
            }
        };
        features.insert(f.name.clone(), spec);
    }
    if with_subtasks {
        features.insert(
            subtasks::FEATURE.into(),
            json!({"dtype": "int64", "shape": [1], "names": null}),
        );
    }
    features.insert(
        "timestamp".into(),
        json!({"dtype": "float32", "shape": [1], "names": null}),
    );
    for name in &DEFAULT_FEATURES[1..] {
        features.insert(
            (*name).into(),
            json!({"dtype": "int64", "shape": [1], "names": null}),
        );
    }
    Value::Object(features)
}
