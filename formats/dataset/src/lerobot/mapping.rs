//! Which episode topics become which LeRobot features.
//!
//! Defaults follow design.md's topics and the rig: every arm's
//! `joint_states` → `observation.state` (arms in rig order), every leader's
//! `joint_commands` → `action` (ordered by the teleop pairs so action i
//! drives state i), every camera → `observation.images.<name>`. A mapping
//! file (TOML, `[[feature]]` tables) replaces the defaults:
//!
//! ```toml
//! [[feature]]
//! name = "observation.state"
//! topics = ["/robot/follower/joint_states"]
//! field = "position"        # position | velocity | effort
//! tolerance_ms = 25
//!
//! [[feature]]
//! name = "observation.images.front"
//! topic = "/camera/front/image/compressed"
//! tolerance_ms = 33
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::source::SourceEpisode;
use crate::ExportError;

/// Which JointState field a feature takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum JointField {
    /// Positions (rad or m).
    #[default]
    Position,
    /// Velocities (rad/s or m/s).
    Velocity,
    /// Efforts (the rig's current or torque unit).
    Effort,
}

impl JointField {
    fn suffix(self) -> &'static str {
        match self {
            Self::Position => "pos",
            Self::Velocity => "vel",
            Self::Effort => "eff",
        }
    }

    /// The unit text for the dataset card.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Position => "rad (revolute) / m (prismatic)",
            Self::Velocity => "rad/s (revolute) / m/s (prismatic)",
            Self::Effort => "A (motor current) or N·m, as the rig documents",
        }
    }
}

/// Where a feature's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureSource {
    /// Concatenated joint vectors of several JointState topics.
    Joints {
        /// Topics, in concatenation order.
        topics: Vec<String>,
        /// Field taken.
        field: JointField,
    },
    /// One camera stream.
    Camera {
        /// The topic.
        topic: String,
    },
}

/// One mapped feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedFeature {
    /// LeRobot feature name (`observation.state`, ...).
    pub name: String,
    /// Its source.
    pub source: FeatureSource,
    /// Alignment tolerance (ns); None → the default for the kind.
    pub tolerance_nanos: Option<i64>,
}

/// The features of one export, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Features (joint features first, then cameras, as LeRobot lists them).
    pub features: Vec<MappedFeature>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    feature: Vec<FeatureEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeatureEntry {
    name: String,
    #[serde(default)]
    topics: Vec<String>,
    topic: Option<String>,
    #[serde(default)]
    field: JointField,
    tolerance_ms: Option<f64>,
}

/// Arm and teleop order read from an attached rig config.
#[derive(Debug, Default)]
struct RigOrder {
    arms: Vec<String>,
    /// (leader, follower)
    teleop: Vec<(String, String)>,
}

fn rig_order(rig_toml: Option<&str>) -> RigOrder {
    let Some(v) = rig_toml.and_then(|t| t.parse::<toml::Table>().ok()) else {
        return RigOrder::default();
    };
    let names = |key: &str, field: &str| -> Vec<String> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get(field).and_then(|n| n.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let arms = names("arm", "name");
    let leaders = names("teleop", "leader");
    let followers = names("teleop", "follower");
    RigOrder {
        arms,
        teleop: leaders.into_iter().zip(followers).collect(),
    }
}

/// `/robot/<arm>/...` → `<arm>`.
pub fn arm_of(topic: &str) -> &str {
    topic
        .strip_prefix("/robot/")
        .and_then(|t| t.split('/').next())
        .unwrap_or(topic)
}

impl Mapping {
    /// The default mapping for episodes like `ep`.
    pub fn default_for(ep: &SourceEpisode) -> Result<Self, ExportError> {
        let order = rig_order(ep.rig_toml.as_deref());
        let rank = |topic: &str| {
            let arm = arm_of(topic);
            (
                order
                    .arms
                    .iter()
                    .position(|a| a == arm)
                    .unwrap_or(usize::MAX),
                topic.to_string(),
            )
        };
        let mut states: Vec<String> = ep
            .joints
            .keys()
            .filter(|t| t.ends_with("/joint_states"))
            .cloned()
            .collect();
        states.sort_by_key(|t| rank(t));
        let mut commands: Vec<String> = ep
            .joints
            .keys()
            .filter(|t| t.ends_with("/joint_commands"))
            .cloned()
            .collect();
        // Action i drives state i: order leaders by their follower's place.
        let follower_rank = |topic: &str| {
            let leader = arm_of(topic);
            let follower = order
                .teleop
                .iter()
                .find(|(l, _)| l == leader)
                .map(|(_, f)| f.as_str());
            let place = follower.and_then(|f| states.iter().position(|s| arm_of(s) == f));
            (place.unwrap_or(usize::MAX), rank(topic))
        };
        commands.sort_by_key(|t| follower_rank(t));
        if states.is_empty() {
            return Err(ExportError::input(
                &ep.path,
                "no /robot/<arm>/joint_states topic for observation.state; give a mapping file",
            ));
        }
        let mut features = vec![MappedFeature {
            name: "observation.state".into(),
            source: FeatureSource::Joints {
                topics: states,
                field: JointField::Position,
            },
            tolerance_nanos: None,
        }];
        if !commands.is_empty() {
            features.push(MappedFeature {
                name: "action".into(),
                source: FeatureSource::Joints {
                    topics: commands,
                    field: JointField::Position,
                },
                tolerance_nanos: None,
            });
        }
        for topic in ep.cameras.keys() {
            features.push(MappedFeature {
                name: format!(
                    "observation.images.{}",
                    reel_episode::topics::camera_of(topic).unwrap_or(topic)
                ),
                source: FeatureSource::Camera {
                    topic: topic.clone(),
                },
                tolerance_nanos: None,
            });
        }
        let m = Self { features };
        m.validate(&ep.path)?;
        Ok(m)
    }

    /// Reads a mapping file.
    pub fn from_file(path: &Path) -> Result<Self, ExportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ExportError::io(path, e))?;
        let file: MappingFile = toml::from_str(&text).map_err(|e| {
            ExportError::input(path, format!("not a valid mapping file: {}", e.message()))
        })?;
        let mut features = Vec::new();
        for f in file.feature {
            let tolerance_nanos = f.tolerance_ms.map(|ms| (ms * 1e6) as i64);
            let source = match (f.topic, f.topics.is_empty()) {
                (Some(topic), true) if topic.starts_with("/camera/") => {
                    FeatureSource::Camera { topic }
                }
                (Some(topic), true) => FeatureSource::Joints {
                    topics: vec![topic],
                    field: f.field,
                },
                (None, false) => FeatureSource::Joints {
                    topics: f.topics,
                    field: f.field,
                },
                _ => {
                    return Err(ExportError::input(
                        path,
                        format!("feature {}: give either `topic` or `topics`", f.name),
                    ))
                }
            };
            features.push(MappedFeature {
                name: f.name,
                source,
                tolerance_nanos,
            });
        }
        // Joint features first, cameras after, as LeRobot orders features.
        features.sort_by_key(|f| matches!(f.source, FeatureSource::Camera { .. }));
        let m = Self { features };
        m.validate(path)?;
        Ok(m)
    }

    fn validate(&self, path: &Path) -> Result<(), ExportError> {
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.features {
            if f.name.is_empty() || f.name.contains('/') {
                return Err(ExportError::input(
                    path,
                    format!("feature name {:?} is empty or contains '/'", f.name),
                ));
            }
            if [
                "timestamp",
                "frame_index",
                "episode_index",
                "index",
                "task_index",
            ]
            .contains(&f.name.as_str())
            {
                return Err(ExportError::input(
                    path,
                    format!("feature name {} is reserved by LeRobot", f.name),
                ));
            }
            if !seen.insert(f.name.clone()) {
                return Err(ExportError::input(
                    path,
                    format!("feature {} is mapped twice", f.name),
                ));
            }
        }
        if self.features.is_empty() {
            return Err(ExportError::input(path, "the mapping has no features"));
        }
        Ok(())
    }

    /// Topics every episode must have.
    pub fn topics(&self) -> Vec<&str> {
        self.features
            .iter()
            .flat_map(|f| match &f.source {
                FeatureSource::Joints { topics, .. } => {
                    topics.iter().map(String::as_str).collect::<Vec<_>>()
                }
                FeatureSource::Camera { topic } => vec![topic.as_str()],
            })
            .collect()
    }

    /// Checks that `ep` has every mapped topic with the right kind.
    pub fn check(&self, ep: &SourceEpisode) -> Result<(), ExportError> {
        for f in &self.features {
            match &f.source {
                FeatureSource::Joints { topics, .. } => {
                    for t in topics {
                        if !ep.joints.contains_key(t) {
                            return Err(missing(ep, t, &f.name, "sensor_msgs/msg/JointState"));
                        }
                    }
                }
                FeatureSource::Camera { topic } => {
                    if !ep.cameras.contains_key(topic) {
                        return Err(missing(
                            ep,
                            topic,
                            &f.name,
                            "CompressedImage or CompressedVideo",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Names of each dimension of a joint feature (`<joint>.pos`, prefixed
    /// by the arm when several arms are concatenated).
    pub fn joint_names(ep: &SourceEpisode, topics: &[String], field: JointField) -> Vec<String> {
        let prefix = topics.len() > 1;
        topics
            .iter()
            .flat_map(|t| {
                let arm = arm_of(t).to_string();
                // An IMU's values are named for what they are, not a field.
                let suffix = if ep.topics.get(t).is_some_and(|s| s == "sensor_msgs/msg/Imu") {
                    String::new()
                } else {
                    format!(".{}", field.suffix())
                };
                ep.joints[t].names.iter().map(move |j| {
                    if prefix {
                        format!("{arm}_{j}{suffix}")
                    } else {
                        format!("{j}{suffix}")
                    }
                })
            })
            .collect()
    }
}

fn missing(ep: &SourceEpisode, topic: &str, feature: &str, kind: &str) -> ExportError {
    let present = if ep.topics.contains_key(topic) {
        format!(" (it is there as {}, expected {kind})", ep.topics[topic])
    } else {
        String::new()
    };
    ExportError::input(
        &ep.path,
        format!("topic {topic} for feature {feature} is missing{present}; record it or map the feature to another topic in a mapping file"),
    )
}
