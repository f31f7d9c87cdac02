//! `reel import`: other tools' recordings turned into reel episodes, so
//! every other command (check, view, annotate, export) works on them.
//!
//! - [`detect`] names a source's format from its content;
//! - [`rosbag2`] reads rosbag2 bags (MCAP and SQLite3 storage, split bags,
//!   bags without `metadata.yaml`), [`ros1`] ROS 1 bags (translated to ROS
//!   2), [`lerobot`] LeRobot v3.0/v2.1 datasets, [`hdf5`] ALOHA, robomimic
//!   and other HDF5 files, [`pcap`] Velodyne packet captures (decoded by a
//!   LiDAR driver the caller passes in);
//! - [`mapping`] says which source topic becomes which reel topic (proposed
//!   by reel when the user gives none);
//! - [`episode`] writes one episode per bag: types reel knows keep
//!   their CDR bytes (or are rewritten when the mapping asks), every other
//!   type is copied byte for byte with its schema; source timestamps are
//!   kept (receive time as log time, `header.stamp` as publish time);
//!   `reel.episode` records `source = import` with the format, file,
//!   sha256 and mapping.

pub mod detect;
pub mod episode;
mod error;
pub mod hdf5;
pub mod lerobot;
mod lidar;
pub mod mapping;
mod output;
mod packets;
pub mod pcap;
mod rewrite;
pub mod ros1;
pub mod rosbag2;
pub mod source;

use std::path::{Path, PathBuf};

pub use detect::{detect, Format};
pub use episode::{ImportOptions, ImportReport, Outcome, TopicReport};
pub use error::ImportError;
pub use mapping::{LoadedMapping, Mapping};
pub use source::{Loss, SourceChannel};

/// A source opened for reading.
#[derive(Debug, Clone)]
pub enum Source {
    /// A rosbag2 bag (MCAP or SQLite3 storage).
    Rosbag2(rosbag2::Bag),
    /// A ROS 1 bag.
    Ros1(ros1::Bag),
}

impl Source {
    /// Detects `path`'s format and opens it; formats this version does not
    /// import yet get one line saying so.
    pub fn open(path: &Path) -> Result<(Format, Self), ImportError> {
        let format = detect(path)?;
        match format {
            Format::Rosbag2Mcap => Ok((
                format,
                Self::Rosbag2(rosbag2::Bag::open(path, rosbag2::Storage::Mcap)?),
            )),
            Format::Rosbag2Sqlite3 => Ok((
                format,
                Self::Rosbag2(rosbag2::Bag::open(path, rosbag2::Storage::Sqlite3)?),
            )),
            Format::Ros1Bag => Ok((format, Self::Ros1(ros1::Bag::open(path)?))),
            other => Err(ImportError::NotYetSupported {
                path: path.to_path_buf(),
                format: other.as_str(),
            }),
        }
    }

    /// The data files read, in order (what the source sha256 covers).
    pub fn files(&self) -> &[PathBuf] {
        match self {
            Self::Rosbag2(bag) => &bag.files,
            Self::Ros1(bag) => std::slice::from_ref(&bag.path),
        }
    }

    /// Reads everything, in source order; returns what was lost.
    pub fn read(&self, sink: &mut source::Sink<'_>) -> Result<Vec<Loss>, ImportError> {
        match self {
            Self::Rosbag2(bag) => bag.read(sink),
            Self::Ros1(bag) => bag.read(sink),
        }
    }

    /// Files that travel with the episode as attachments (name, text).
    pub fn companion_files(&self) -> Vec<(String, Vec<u8>)> {
        match self {
            Self::Rosbag2(bag) => bag
                .metadata_file
                .iter()
                .map(|(_, text)| {
                    (
                        "source/metadata.yaml".to_string(),
                        text.clone().into_bytes(),
                    )
                })
                .collect(),
            Self::Ros1(_) => Vec::new(),
        }
    }
}

/// Imports `path` into `options.out`: one episode per source episode (a
/// bag is one; a LeRobot dataset holds many).
pub fn import(path: &Path, options: &ImportOptions<'_>) -> Result<Vec<ImportReport>, ImportError> {
    match detect(path)? {
        Format::LeRobot => lerobot::import_dataset(path, options),
        Format::Pcap => Ok(vec![pcap::import_pcap(path, options)?]),
        Format::Hdf5 => hdf5::import_file(path, options),
        _ => Ok(vec![episode::import_bag(path, options)?]),
    }
}

/// The mapping reel proposes for the source at `path`, as commented TOML.
pub fn proposed_mapping_for(path: &Path) -> Result<String, ImportError> {
    let format = detect(path)?;
    if format == Format::Hdf5 {
        return Ok(
            hdf5::proposed_mapping(path)?.to_text(&path.display().to_string(), &|_| String::new())
        );
    }
    if format == Format::LeRobot {
        let ds = lerobot::Dataset::open(path)?;
        return Ok(ds
            .proposed_mapping()
            .to_text(&path.display().to_string(), &|_| String::new()));
    }
    let (_, source) = Source::open(path)?;
    proposed_mapping_text(path, &source)
}

/// sha256 of the source's data files read back to back, in order.
pub fn source_sha256(files: &[PathBuf]) -> Result<String, ImportError> {
    use sha2::Digest;
    use std::io::Read;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for path in files {
        let mut f = std::fs::File::open(path).map_err(ImportError::io(path))?;
        loop {
            let n = f.read(&mut buf).map_err(ImportError::io(path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Every channel of `source` with its message count, in order of first
/// appearance (one pass over the data: what `--print-mapping` proposes from).
pub fn channels(source: &Source) -> Result<Vec<(SourceChannel, u64)>, ImportError> {
    let mut out: Vec<(SourceChannel, u64)> = Vec::new();
    source.read(&mut |event| {
        match event {
            source::SourceEvent::Channel { channel, .. } => out.push((channel.clone(), 0)),
            source::SourceEvent::Message { channel, .. } => {
                if let Some(c) = out.get_mut(channel as usize) {
                    c.1 += 1;
                }
            }
            source::SourceEvent::Attachment { .. } => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// The mapping reel proposes for `source`, as commented TOML.
pub fn proposed_mapping_text(path: &Path, source: &Source) -> Result<String, ImportError> {
    let channels = channels(source)?;
    let mapping = mapping::propose(
        channels
            .iter()
            .map(|(c, _)| (c.topic.as_str(), c.type_name.as_str())),
    );
    Ok(mapping.to_text(&path.display().to_string(), &|rule| {
        let Some((c, n)) = channels.iter().find(|(c, _)| c.topic == rule.from) else {
            return String::new();
        };
        let known = reel_episode::ros2::known_schema_text(&c.type_name).is_some();
        format!(
            "{n} messages{}",
            if known {
                ""
            } else {
                "; a type reel does not decode: copied byte for byte"
            }
        )
    }))
}
