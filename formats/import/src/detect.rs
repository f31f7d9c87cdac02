//! Which recording format a path holds, from its content (magic bytes,
//! `metadata.yaml`), never from its name alone.

use std::io::Read;
use std::path::Path;

use crate::ImportError;

/// A source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// rosbag2 with the MCAP storage (or any MCAP file).
    Rosbag2Mcap,
    /// rosbag2 with the SQLite3 storage.
    Rosbag2Sqlite3,
    /// A ROS 1 bag (`#ROSBAG V2.0`).
    Ros1Bag,
    /// An HDF5 file (ALOHA, robomimic).
    Hdf5,
    /// A LeRobot dataset folder (`meta/info.json`).
    LeRobot,
    /// A pcap capture (raw sensor packets).
    Pcap,
}

impl Format {
    /// The name stored in the lineage (`source_params.format`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rosbag2Mcap => "rosbag2-mcap",
            Self::Rosbag2Sqlite3 => "rosbag2-sqlite3",
            Self::Ros1Bag => "ros1-bag",
            Self::Hdf5 => "hdf5",
            Self::LeRobot => "lerobot",
            Self::Pcap => "pcap",
        }
    }
}

const MCAP_MAGIC: &[u8] = b"\x89MCAP0\r\n";
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
const ROSBAG_MAGIC: &[u8] = b"#ROSBAG V2.0\n";
const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";

/// The format of `path` (a file or a folder).
pub fn detect(path: &Path) -> Result<Format, ImportError> {
    let meta = std::fs::metadata(path).map_err(ImportError::io(path))?;
    if meta.is_dir() {
        return detect_folder(path);
    }
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(ImportError::io(path))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(ImportError::io(path))? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    let pcap = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    Ok(if head.starts_with(MCAP_MAGIC) {
        Format::Rosbag2Mcap
    } else if head.starts_with(SQLITE_MAGIC) {
        Format::Rosbag2Sqlite3
    } else if head.starts_with(ROSBAG_MAGIC) {
        Format::Ros1Bag
    } else if head.starts_with(HDF5_MAGIC) {
        Format::Hdf5
    } else if pcap.iter().any(|m| head.starts_with(m)) {
        Format::Pcap
    } else {
        return Err(ImportError::Unrecognized {
            path: path.to_path_buf(),
            reason: if n == 0 {
                "the file is empty".into()
            } else {
                format!("it starts with {:02x?}", &head[..n.min(8)])
            },
        });
    })
}

fn detect_folder(dir: &Path) -> Result<Format, ImportError> {
    let yaml = dir.join("metadata.yaml");
    if yaml.is_file() {
        let text = std::fs::read_to_string(&yaml).map_err(ImportError::io(&yaml))?;
        let meta = crate::rosbag2::BagMetadata::parse(&yaml, &text)?;
        return Ok(match meta.storage.as_str() {
            "sqlite3" => Format::Rosbag2Sqlite3,
            _ => Format::Rosbag2Mcap,
        });
    }
    if dir.join("meta").join("info.json").is_file() {
        return Ok(Format::LeRobot);
    }
    let mut first = None;
    for entry in std::fs::read_dir(dir).map_err(ImportError::io(dir))? {
        let path = entry.map_err(ImportError::io(dir))?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("mcap" | "db3")
        ) && first
            .as_ref()
            .is_none_or(|f: &std::path::PathBuf| path < *f)
        {
            first = Some(path);
        }
    }
    match first {
        Some(file) => detect(&file),
        None => Err(ImportError::Unrecognized {
            path: dir.to_path_buf(),
            reason: "a folder without metadata.yaml, meta/info.json, .mcap or .db3 files".into(),
        }),
    }
}
