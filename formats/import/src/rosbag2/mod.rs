//! rosbag2 bags: a folder with `metadata.yaml` and its data files (MCAP or
//! SQLite3, one or several when the bag was split), a folder of `*_N.mcap`
//! files whose metadata was lost, or one `.mcap` / `.db3` file alone.

mod mcap_file;
pub mod metadata;
mod sqlite;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use metadata::BagMetadata;

use crate::source::{Loss, Sink, SourceChannel, SourceEvent};
use crate::ImportError;

/// Which storage plugin wrote the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// `rosbag2_storage_mcap`.
    Mcap,
    /// `rosbag2_storage_default_plugins` (SQLite3).
    Sqlite3,
}

/// An opened bag: its files in order and its metadata, if it has some.
#[derive(Debug, Clone)]
pub struct Bag {
    /// Storage of every file.
    pub storage: Storage,
    /// Data files, in order.
    pub files: Vec<PathBuf>,
    /// `metadata.yaml`, when the bag has one that describes these files.
    pub metadata: Option<BagMetadata>,
    /// Its path and text, to travel with the episode.
    pub metadata_file: Option<(PathBuf, String)>,
}

/// `name_12.mcap` → ("name_", 12) so split files sort by number, not text.
fn natural_key(path: &Path) -> (String, u64, String) {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, number) = stem.split_at(stem.len() - digits);
    (
        prefix.to_string(),
        number.parse().unwrap_or(0),
        path.to_string_lossy().into_owned(),
    )
}

impl Bag {
    /// Opens a bag folder, or a single data file of `storage` (a folder
    /// says its own storage).
    pub fn open(path: &Path, storage: Storage) -> Result<Self, ImportError> {
        if path.is_dir() {
            return Self::open_folder(path);
        }
        // A metadata.yaml beside the file counts only if it describes
        // exactly this file (one file of a split bag is its own episode).
        let metadata = match path.parent().map(|d| d.join("metadata.yaml")) {
            Some(m) if m.is_file() => {
                let (meta, text) = read_metadata(&m)?;
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                (meta.files.len() == 1 && Some(&meta.files[0]) == name.as_ref())
                    .then_some((meta, (m, text)))
            }
            _ => None,
        };
        let (metadata, metadata_file) = metadata.map_or((None, None), |(m, f)| (Some(m), Some(f)));
        Ok(Self {
            storage,
            files: vec![path.to_path_buf()],
            metadata,
            metadata_file,
        })
    }

    fn open_folder(dir: &Path) -> Result<Self, ImportError> {
        let yaml = dir.join("metadata.yaml");
        if yaml.is_file() {
            let (meta, text) = read_metadata(&yaml)?;
            if !meta.compression_mode.is_empty() || !meta.compression_format.is_empty() {
                return Err(ImportError::Unrecognized {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "a compressed bag ({} {}); decompress it first with `ros2 bag convert`",
                        meta.compression_format, meta.compression_mode
                    ),
                });
            }
            let storage = match meta.storage.as_str() {
                "mcap" => Storage::Mcap,
                "sqlite3" => Storage::Sqlite3,
                other => {
                    return Err(ImportError::Unrecognized {
                        path: yaml,
                        reason: format!("storage plugin {other:?}; reel reads mcap and sqlite3"),
                    })
                }
            };
            let files: Vec<PathBuf> = meta.files.iter().map(|f| dir.join(f)).collect();
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                return Err(ImportError::Io {
                    path: missing.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "listed in metadata.yaml but missing; copy the whole bag folder",
                    ),
                });
            }
            return Ok(Self {
                storage,
                files,
                metadata: Some(meta),
                metadata_file: Some((yaml, text)),
            });
        }
        // No metadata.yaml: the data files themselves, in split order.
        let mut mcaps = Vec::new();
        let mut db3s = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(ImportError::io(dir))? {
            let path = entry.map_err(ImportError::io(dir))?.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("mcap") => mcaps.push(path),
                Some("db3") => db3s.push(path),
                _ => {}
            }
        }
        let (storage, mut files) = match (mcaps.is_empty(), db3s.is_empty()) {
            (false, true) => (Storage::Mcap, mcaps),
            (true, false) => (Storage::Sqlite3, db3s),
            (true, true) => {
                return Err(ImportError::Unrecognized {
                    path: dir.to_path_buf(),
                    reason: "a folder without metadata.yaml, .mcap or .db3 files".into(),
                })
            }
            (false, false) => {
                return Err(ImportError::Unrecognized {
                    path: dir.to_path_buf(),
                    reason:
                        "both .mcap and .db3 files and no metadata.yaml to say which is the bag"
                            .into(),
                })
            }
        };
        files.sort_by_key(|f| natural_key(f));
        Ok(Self {
            storage,
            files,
            metadata: None,
            metadata_file: None,
        })
    }

    /// Reads every file in order; returns what was lost, including messages
    /// `metadata.yaml` counts that the files no longer hold.
    pub fn read(&self, sink: &mut Sink<'_>) -> Result<Vec<Loss>, ImportError> {
        let mut table = ChannelTable::new(self.metadata.as_ref());
        let mut counts: HashMap<u32, u64> = HashMap::new();
        let mut losses = Vec::new();
        {
            let mut counting = |event: SourceEvent<'_>| {
                if let SourceEvent::Message { channel, .. } = &event {
                    *counts.entry(*channel).or_default() += 1;
                }
                sink(event)
            };
            for file in &self.files {
                losses.extend(match self.storage {
                    Storage::Mcap => mcap_file::read(file, &mut table, &mut counting)?,
                    Storage::Sqlite3 => sqlite::read(file, &mut table, &mut counting)?,
                });
            }
        }
        if let Some(meta) = &self.metadata {
            for topic in &meta.topics {
                let read: u64 = table
                    .ids_of(&topic.name)
                    .map(|id| counts.get(&id).copied().unwrap_or(0))
                    .sum();
                if read < topic.message_count {
                    losses.push(Loss {
                        file: self.files.last().cloned().unwrap_or_default(),
                        reason: "missing_messages",
                        detail: format!(
                            "{}: metadata.yaml counts {} messages, the files hold {read}",
                            topic.name, topic.message_count
                        ),
                        messages: Some(topic.message_count - read),
                    });
                }
            }
        }
        Ok(losses)
    }
}

fn read_metadata(path: &Path) -> Result<(BagMetadata, String), ImportError> {
    let text = std::fs::read_to_string(path).map_err(ImportError::io(path))?;
    Ok((BagMetadata::parse(path, &text)?, text))
}

/// reel's schema for a type the source only names.
fn known_schema(type_name: &str) -> (String, Vec<u8>) {
    match reel_episode::ros2::known_schema_text(type_name) {
        Some(text) => ("ros2msg".into(), text.into_bytes()),
        None => (String::new(), Vec::new()),
    }
}

/// The bag's channels across its files: a topic of one type keeps one id
/// however many files define it.
pub(crate) struct ChannelTable {
    ids: HashMap<(String, String), u32>,
    channels: Vec<SourceChannel>,
    types: HashMap<String, (String, String)>,
}

impl ChannelTable {
    fn new(meta: Option<&BagMetadata>) -> Self {
        let types = meta
            .map(|m| {
                m.topics
                    .iter()
                    .map(|t| {
                        (
                            t.name.clone(),
                            (t.type_name.clone(), t.offered_qos_profiles.clone()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            ids: HashMap::new(),
            channels: Vec::new(),
            types,
        }
    }

    /// The id of `channel`, announced to `sink` the first time.
    fn id_for(
        &mut self,
        mut channel: SourceChannel,
        sink: &mut Sink<'_>,
    ) -> Result<u32, ImportError> {
        // A channel whose schema the file lost takes its type from metadata.yaml.
        if let Some((type_name, qos)) = self.types.get(&channel.topic) {
            if channel.type_name.is_empty() {
                channel.type_name.clone_from(type_name);
                let (encoding, schema) = known_schema(type_name);
                channel.schema_encoding = encoding;
                channel.schema = schema;
            }
            if !qos.is_empty() {
                channel
                    .metadata
                    .entry("offered_qos_profiles".into())
                    .or_insert_with(|| qos.clone());
            }
        }
        let key = (channel.topic.clone(), channel.type_name.clone());
        if let Some(&id) = self.ids.get(&key) {
            return Ok(id);
        }
        let id = u32::try_from(self.channels.len()).unwrap_or(u32::MAX);
        self.ids.insert(key, id);
        self.channels.push(channel);
        let channel = &self.channels[id as usize];
        sink(SourceEvent::Channel { id, channel })?;
        Ok(id)
    }

    fn ids_of<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.ids
            .iter()
            .filter(move |((t, _), _)| t == topic)
            .map(|(_, &id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_files_sort_by_number() {
        let mut files: Vec<PathBuf> = ["b_10.mcap", "b_2.mcap", "b_0.mcap", "b_1.mcap"]
            .iter()
            .map(PathBuf::from)
            .collect();
        files.sort_by_key(|f| natural_key(f));
        let names: Vec<_> = files.iter().map(|f| f.to_string_lossy()).collect();
        assert_eq!(names, ["b_0.mcap", "b_1.mcap", "b_2.mcap", "b_10.mcap"]);
    }
}
