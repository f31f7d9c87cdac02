//! reel's episode model and file formats.
//!
//! - [`ros2`]: the ROS 2 message types episodes carry, with their `ros2msg`
//!   schema text and a CDR codec;
//! - [`episode`]: the MCAP episode writer, reader, recovery and summary;
//! - [`time`]: the one host clock all timestamps are on;
//! - [`topics`]: topic naming conventions;
//! - [`export`]: LeRobot v3.0 datasets, LAS point clouds, manifests and
//!   dataset cards;
//! - [`video`]: libav* decoding, encoding and MP4 joining;
//! - [`annotation`]: instructions, success and labelled segments beside an
//!   episode, with automatic pre-labels;
//! - [`quality`]: the checks behind `reel check` (six dimensions, HTML report);
//! - [`vlp16`]: the VLP-16's beam geometry and timing (capture and sim).
//!
//! Write an episode and read it back:
//!
//! ```
//! use reel_formats::episode::{EpisodeMeta, EpisodeReader, EpisodeWriter, EpisodeWriterOptions};
//! use reel_formats::ros2::{sensor_msgs::JointState, std_msgs::Header, RosMessage};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("demo.mcap");
//! let meta = EpisodeMeta::new("wave", "so101");
//! let mut w = EpisodeWriter::create(&path, meta, EpisodeWriterOptions::default()).unwrap();
//! let topic = w.add_topic::<JointState>("/robot/follower/joint_states").unwrap();
//! let msg = JointState { header: Header::new(1_000, "base"), name: vec!["j1".into()],
//!                        position: vec![0.1], ..Default::default() };
//! w.write(topic, &msg, 1_000, 1_000).unwrap();
//! let path = w.finish().unwrap();
//!
//! let r = EpisodeReader::open(&path).unwrap();
//! let m = r.messages().next().unwrap().unwrap();
//! assert_eq!(r.decode::<JointState>(&m, 0).unwrap(), msg);
//! assert_eq!(r.episode_meta().unwrap().unwrap().task, "wave");
//! ```

pub mod annotation;
pub mod calibration;
pub mod episode;
pub mod error;
pub mod export;
pub mod geometry;
pub mod quality;
pub mod robot;
pub mod ros2;
pub mod time;
pub mod topics;
pub mod video;
pub mod vlp16;

pub use error::{CdrError, Error, Result};

/// sha256 of `bytes` as lower-case hex (rig config hashes, manifests).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `reel x.y.z`, as written into episode metadata.
pub fn software_version() -> String {
    format!("reel {}", env!("CARGO_PKG_VERSION"))
}
