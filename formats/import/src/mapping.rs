//! The import mapping: which source topic becomes which arm, camera or
//! LiDAR topic of a reel episode, with joint names, unit scales and frame
//! ids, and what to drop. Without a file, reel proposes one from the topic
//! names and types ([`propose`]); `reel import --print-mapping` prints it
//! for the user to edit:
//!
//! ```toml
//! unlisted = "keep"          # topics not listed: "keep" (own name) or "drop"
//!
//! [[topic]]
//! from = "/joint_states"
//! type = "sensor_msgs/msg/JointState"
//! to = "/robot/arm/joint_states"
//! joint_names = ["shoulder", "elbow", "wrist", "gripper"]
//! position_scale = 0.017453292519943295   # the bag stored degrees
//!
//! [[topic]]
//! from = "/front/image_raw"                # sensor_msgs/msg/Image
//! to = "/camera/front/image/compressed"
//! jpeg_quality = 90                        # stored as JPEG
//!
//! [[topic]]
//! from = "/rosout"
//! drop = true
//! ```

use std::path::{Path, PathBuf};

use reel_episode::ros2::{sensor_msgs, tf2_msgs, velodyne_msgs, RosMessage};
use reel_episode::topics;
use serde::{Deserialize, Serialize};

use crate::ImportError;

/// What happens to topics the mapping does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unlisted {
    /// Kept under their own name (byte for byte when reel does not know the type).
    #[default]
    Keep,
    /// Left out (and listed as dropped in the report).
    Drop,
}

/// One source topic's rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    /// Source topic.
    pub from: String,
    /// Expected source type (checked when given).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// New topic name (default: the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Leave the topic out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// JointState: new joint names, in the source's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint_names: Option<Vec<String>>,
    /// JointState: positions are multiplied by this (degrees → rad: π/180).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_scale: Option<f64>,
    /// JointState: velocities are multiplied by this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velocity_scale: Option<f64>,
    /// JointState: efforts are multiplied by this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort_scale: Option<f64>,
    /// Stamped types reel decodes: replace `header.frame_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_id: Option<String>,
    /// `sensor_msgs/msg/Image`: store each frame as a JPEG
    /// `CompressedImage` of this quality (1–100), as reel's cameras and its
    /// LeRobot export expect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpeg_quality: Option<u8>,
}

impl TopicRule {
    /// True when messages must be decoded and encoded again.
    pub fn rewrites(&self) -> bool {
        self.joint_names.is_some()
            || self.position_scale.is_some()
            || self.velocity_scale.is_some()
            || self.effort_scale.is_some()
            || self.frame_id.is_some()
            || self.jpeg_quality.is_some()
    }
}

/// A mapping file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Topics not listed.
    #[serde(default)]
    pub unlisted: Unlisted,
    /// Rules, one per source topic.
    #[serde(default, rename = "topic")]
    pub topics: Vec<TopicRule>,
}

/// Where a mapping came from, for errors and lineage.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedMapping {
    /// The file, or None when reel proposed it.
    pub path: Option<PathBuf>,
    /// The rules.
    pub mapping: Mapping,
}

impl Mapping {
    /// Reads and checks a mapping file.
    pub fn from_file(path: &Path) -> Result<Self, ImportError> {
        let text = std::fs::read_to_string(path).map_err(ImportError::io(path))?;
        Self::parse(path, &text)
    }

    /// Parses mapping text (named `path` in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ImportError> {
        let bad = |reason: String| ImportError::Mapping {
            path: path.to_path_buf(),
            reason,
        };
        let m: Self = toml::from_str(text)
            .map_err(|e| bad(format!("not a valid import mapping: {}", e.message())))?;
        let mut seen = std::collections::BTreeSet::new();
        for r in &m.topics {
            if !seen.insert(r.from.as_str()) {
                return Err(bad(format!("topic {} has two rules", r.from)));
            }
            if r.drop && (r.to.is_some() || r.rewrites()) {
                return Err(bad(format!(
                    "topic {}: drop = true with other settings",
                    r.from
                )));
            }
            if let Some(to) = &r.to {
                if !to.starts_with('/') || to.len() < 2 {
                    return Err(bad(format!(
                        "topic {}: `to` must start with / ({to:?})",
                        r.from
                    )));
                }
            }
            if r.jpeg_quality.is_some_and(|q| q == 0 || q > 100) {
                return Err(bad(format!(
                    "topic {}: jpeg_quality must be 1..=100",
                    r.from
                )));
            }
            for (name, scale) in [
                ("position_scale", r.position_scale),
                ("velocity_scale", r.velocity_scale),
                ("effort_scale", r.effort_scale),
            ] {
                if scale.is_some_and(|s| !s.is_finite() || s == 0.0) {
                    return Err(bad(format!(
                        "topic {}: {name} must be finite and not 0",
                        r.from
                    )));
                }
            }
        }
        let mut targets = std::collections::BTreeMap::new();
        for r in m.topics.iter().filter(|r| !r.drop) {
            let to = r.to.as_deref().unwrap_or(&r.from);
            if let Some(other) = targets.insert(to, &r.from) {
                return Err(bad(format!("{} and {other} both become {to}", r.from)));
            }
        }
        Ok(m)
    }

    /// The rule for `topic`, if listed.
    pub fn rule(&self, topic: &str) -> Option<&TopicRule> {
        self.topics.iter().find(|r| r.from == topic)
    }

    /// The mapping as TOML text with a header comment (what `--print-mapping`
    /// prints and the episode stores); `notes` are per-topic comments.
    pub fn to_text(&self, source: &str, notes: &dyn Fn(&TopicRule) -> String) -> String {
        let mut s = format!(
            "# reel import mapping for {source}\n\
             # Edit, then: reel import SOURCE --mapping THIS_FILE\n\
             # Per topic: to = \"/new/name\", drop = true; JointState: joint_names = [...],\n\
             # position_scale / velocity_scale / effort_scale (degrees -> rad: 0.017453292519943295);\n\
             # stamped types: frame_id = \"...\"; Image: jpeg_quality = 90 stores JPEG.\n\
             unlisted = \"{}\"  # topics not listed: \"keep\" under their own name, or \"drop\"\n",
            match self.unlisted {
                Unlisted::Keep => "keep",
                Unlisted::Drop => "drop",
            }
        );
        for rule in &self.topics {
            s.push_str("\n[[topic]]\n");
            let note = notes(rule);
            if !note.is_empty() {
                s.push_str(&format!("# {note}\n"));
            }
            // A one-rule table serializes as plain `key = value` lines.
            match toml::to_string(rule) {
                Ok(t) => s.push_str(&t),
                Err(e) => s.push_str(&format!("# (rule not representable: {e})\n")),
            }
        }
        s
    }
}

/// A topic name part made safe for reel's names.
fn clean(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The meaningful parts of `topic` (generic words left out), joined by `_`.
fn stream_name(topic: &str, generic: &[&str], fallback: &str) -> String {
    let parts: Vec<String> = topic
        .split('/')
        .filter(|p| !p.is_empty() && !generic.contains(p))
        .map(clean)
        .collect();
    if parts.is_empty() {
        fallback.to_string()
    } else {
        parts.join("_")
    }
}

const IMAGE_WORDS: &[&str] = &[
    "camera",
    "cameras",
    "image",
    "image_raw",
    "image_rect",
    "image_rect_raw",
    "image_rect_color",
    "image_color",
    "compressed",
    "camera_info",
    "depth",
];

/// reel's topic for a source topic of `type_name`, or None to keep its name.
pub fn proposed_topic(topic: &str, type_name: &str) -> Option<String> {
    let words: Vec<&str> = topic.split('/').filter(|p| !p.is_empty()).collect();
    let to = match type_name {
        sensor_msgs::JointState::TYPE_NAME => {
            if words.len() == 3
                && words[0] == "robot"
                && (words[2] == "joint_states" || words[2] == "joint_commands")
            {
                return None;
            }
            let command = words.iter().any(|w| {
                [
                    "command",
                    "commands",
                    "cmd",
                    "action",
                    "joint_commands",
                    "target",
                    "desired",
                ]
                .contains(w)
            });
            let arm = stream_name(
                topic,
                &[
                    "joint_states",
                    "joint_state",
                    "joint_commands",
                    "joints",
                    "robot",
                    "command",
                    "commands",
                    "cmd",
                    "action",
                    "target",
                    "desired",
                    "states",
                    "state",
                ],
                "arm",
            );
            if command {
                topics::joint_commands(&arm)
            } else {
                topics::joint_states(&arm)
            }
        }
        sensor_msgs::CompressedImage::TYPE_NAME => {
            topics::camera_image(&stream_name(topic, IMAGE_WORDS, "camera"))
        }
        sensor_msgs::Image::TYPE_NAME => {
            let name = stream_name(topic, IMAGE_WORDS, "camera");
            if words.contains(&"depth") {
                topics::camera_depth(&name)
            } else {
                // Colour frames are stored as JPEG (see `propose`).
                topics::camera_image(&name)
            }
        }
        sensor_msgs::CameraInfo::TYPE_NAME => {
            topics::camera_info(&stream_name(topic, IMAGE_WORDS, "camera"))
        }
        sensor_msgs::PointCloud2::TYPE_NAME => topics::lidar_points(&stream_name(
            // `/velodyne_points` names the sensor `velodyne`.
            &topic.replace("_points", ""),
            &["points", "point_cloud", "pointcloud", "cloud", "lidar"],
            "lidar",
        )),
        sensor_msgs::Imu::TYPE_NAME => {
            if words.first() == Some(&"lidar") && words.last() == Some(&"imu") {
                return None;
            }
            format!(
                "/imu/{}",
                stream_name(topic, &["imu", "data", "data_raw"], "imu")
            )
        }
        velodyne_msgs::VelodyneScan::TYPE_NAME => topics::lidar_packets(&stream_name(
            // `/velodyne_packets` names the sensor `velodyne`.
            &topic.replace("_packets", ""),
            &["packets", "lidar"],
            "lidar",
        )),
        tf2_msgs::TFMessage::TYPE_NAME => return None,
        _ => return None,
    };
    (to != topic).then_some(to)
}

/// The mapping reel proposes for these (topic, type) pairs, in order: known
/// types renamed to reel's topics, everything else kept. Two topics that
/// would get the same name keep the second one's own name.
pub fn propose<'a>(channels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Mapping {
    let mut taken = std::collections::BTreeSet::new();
    let mut rules = Vec::new();
    for (topic, type_name) in channels {
        let mut to = proposed_topic(topic, type_name);
        if let Some(t) = &to {
            if !taken.insert(t.clone()) {
                to = None;
            }
        }
        // A raw colour camera becomes JPEG, as reel's own cameras record.
        let jpeg_quality = (type_name == sensor_msgs::Image::TYPE_NAME
            && to
                .as_deref()
                .is_some_and(|t| t.ends_with("/image/compressed")))
        .then_some(90);
        rules.push(TopicRule {
            from: topic.to_string(),
            type_name: (!type_name.is_empty()).then(|| type_name.to_string()),
            to,
            jpeg_quality,
            ..Default::default()
        });
    }
    Mapping {
        unlisted: Unlisted::Keep,
        topics: rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ros_names_become_reel_topics() {
        let js = sensor_msgs::JointState::TYPE_NAME;
        let ci = sensor_msgs::CompressedImage::TYPE_NAME;
        assert_eq!(
            proposed_topic("/joint_states", js).unwrap(),
            "/robot/arm/joint_states"
        );
        assert_eq!(
            proposed_topic("/puppet_left/joint_states", js).unwrap(),
            "/robot/puppet_left/joint_states"
        );
        assert_eq!(
            proposed_topic("/arm/joint_commands", js).unwrap(),
            "/robot/arm/joint_commands"
        );
        assert_eq!(proposed_topic("/robot/follower/joint_states", js), None);
        assert_eq!(
            proposed_topic("/cam_high/image_raw/compressed", ci).unwrap(),
            "/camera/cam_high/image/compressed"
        );
        assert_eq!(
            proposed_topic("/color/camera_info", sensor_msgs::CameraInfo::TYPE_NAME).unwrap(),
            "/camera/color/camera_info"
        );
        assert_eq!(proposed_topic("/camera/front/image/compressed", ci), None);
        assert_eq!(
            proposed_topic("/velodyne_points", sensor_msgs::PointCloud2::TYPE_NAME).unwrap(),
            "/lidar/velodyne/points"
        );
        assert_eq!(proposed_topic("/tf", tf2_msgs::TFMessage::TYPE_NAME), None);
        assert_eq!(proposed_topic("/chatter", "std_msgs/msg/String"), None);
    }

    #[test]
    fn proposal_round_trips_through_its_text_and_never_merges_topics() {
        let js = sensor_msgs::JointState::TYPE_NAME;
        let m = propose([
            ("/joint_states", js),
            ("/joints/joint_states", js),
            ("/x", "a/msg/B"),
        ]);
        assert_eq!(m.topics[0].to.as_deref(), Some("/robot/arm/joint_states"));
        assert_eq!(m.topics[1].to, None, "second arm keeps its name");
        let text = m.to_text("bag", &|r| format!("{} messages", r.from.len()));
        assert_eq!(Mapping::parse(Path::new("m.toml"), &text).unwrap(), m);
    }

    #[test]
    fn bad_mappings_are_refused_with_the_topic() {
        let p = Path::new("m.toml");
        for (text, want) in [
            ("[[topic]]\nfrom = \"/a\"\ndrop = true\nto = \"/b\"\n", "/a"),
            (
                "[[topic]]\nfrom = \"/a\"\nto = \"b\"\n",
                "must start with /",
            ),
            (
                "[[topic]]\nfrom = \"/a\"\nposition_scale = 0.0\n",
                "position_scale",
            ),
            (
                "[[topic]]\nfrom = \"/a\"\nto = \"/c\"\n[[topic]]\nfrom = \"/b\"\nto = \"/c\"\n",
                "both become /c",
            ),
            ("[[topic]]\nfrom = \"/a\"\ncolour = 1\n", "colour"),
        ] {
            let e = Mapping::parse(p, text).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("m.toml"), "{e}");
        }
    }
}
