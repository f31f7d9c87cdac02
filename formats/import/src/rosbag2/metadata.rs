//! rosbag2's `metadata.yaml` (bag format versions 1–9): the storage, the
//! files in order and each topic's type, QoS and message count.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use crate::ImportError;

/// One topic as `metadata.yaml` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Message type.
    pub type_name: String,
    /// `cdr` for every rmw rosbag2 supports.
    pub serialization_format: String,
    /// The offered QoS profiles, as YAML text.
    pub offered_qos_profiles: String,
    /// Messages recorded.
    pub message_count: u64,
}

/// The parts of `metadata.yaml` import uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagMetadata {
    /// Bag format version.
    pub version: i64,
    /// `mcap` or `sqlite3`.
    pub storage: String,
    /// Data files, relative to the bag folder, in order.
    pub files: Vec<String>,
    /// Topics.
    pub topics: Vec<TopicMeta>,
    /// `zstd` for compressed bags, else empty.
    pub compression_format: String,
    /// `FILE` or `MESSAGE` for compressed bags, else empty.
    pub compression_mode: String,
}

impl BagMetadata {
    /// Parses `text` (read from `path`, named in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ImportError> {
        let bad = |reason: String| ImportError::corrupt(path, "rosbag2 metadata.yaml", reason);
        let docs = YamlLoader::load_from_str(text).map_err(|e| bad(e.to_string()))?;
        let info = docs
            .first()
            .map(|d| &d["rosbag2_bagfile_information"])
            .filter(|i| !i.is_badvalue())
            .ok_or_else(|| bad("no rosbag2_bagfile_information".into()))?;
        let string = |y: &Yaml| match y {
            Yaml::String(s) => s.clone(),
            Yaml::Integer(i) => i.to_string(),
            _ => String::new(),
        };
        let count = |y: &Yaml| y.as_i64().and_then(|i| u64::try_from(i).ok()).unwrap_or(0);
        let mut topics = Vec::new();
        for entry in info["topics_with_message_count"]
            .as_vec()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let t = &entry["topic_metadata"];
            let name = string(&t["name"]);
            if name.is_empty() {
                return Err(bad("a topic without a name".into()));
            }
            topics.push(TopicMeta {
                name,
                type_name: string(&t["type"]),
                serialization_format: string(&t["serialization_format"]),
                // Format ≤ 8 stores the profiles as YAML text; 9 as a list.
                offered_qos_profiles: match &t["offered_qos_profiles"] {
                    Yaml::String(s) => s.clone(),
                    Yaml::BadValue | Yaml::Null => String::new(),
                    other => {
                        let mut out = String::new();
                        let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
                        emitter.dump(other).map_err(|e| bad(e.to_string()))?;
                        out.trim_start_matches("---\n").to_string()
                    }
                },
                message_count: count(&entry["message_count"]),
            });
        }
        let files = info["relative_file_paths"]
            .as_vec()
            .map(|v| v.iter().map(string).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Ok(Self {
            version: info["version"].as_i64().unwrap_or(0),
            storage: string(&info["storage_identifier"]),
            files,
            topics,
            compression_format: string(&info["compression_format"]),
            compression_mode: string(&info["compression_mode"]),
        })
    }

    /// The topic called `name`.
    pub fn topic(&self, name: &str) -> Option<&TopicMeta> {
        self.topics.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_qos_strings_and_counts_are_read() {
        let text = "rosbag2_bagfile_information:\n  version: 5\n  storage_identifier: mcap\n  relative_file_paths:\n  - a_0.mcap\n  topics_with_message_count:\n  - message_count: 100\n    topic_metadata:\n      name: a_empty\n      offered_qos_profiles: \"- history: 1\\n  depth: 1\\n  durability:\\\n        \\ 1\"\n      serialization_format: cdr\n      type: test_msgs/msg/Empty\n  compression_format: ''\n  compression_mode: ''\n";
        let m = BagMetadata::parse(Path::new("metadata.yaml"), text).unwrap();
        assert_eq!(m.files, ["a_0.mcap"]);
        assert_eq!(m.storage, "mcap");
        let t = m.topic("a_empty").unwrap();
        assert_eq!(t.message_count, 100);
        assert_eq!(
            t.offered_qos_profiles,
            "- history: 1\n  depth: 1\n  durability: 1"
        );
    }

    #[test]
    fn not_a_bag_is_refused() {
        let e = BagMetadata::parse(Path::new("m.yaml"), "a: [1").unwrap_err();
        assert!(e.to_string().contains("m.yaml"), "{e}");
        let e = BagMetadata::parse(Path::new("m.yaml"), "a: 1").unwrap_err();
        assert!(e.to_string().contains("rosbag2_bagfile_information"), "{e}");
    }
}
