//! reel's episode model: one episode = one MCAP file (profile `ros2`, CDR
//! messages, zstd chunks), and the types every other crate shares about it.
//!
//! - [`ros2`]: the ROS 2 message types episodes carry, with their `ros2msg`
//!   schema text and a CDR codec;
//! - [`EpisodeWriter`] writes an episode crash-safely (`.partial` until
//!   finished, a chunk closed at least every second); [`EpisodeReader`]
//!   reads it, or any other MCAP file, indexed or linearly; [`recover()`]
//!   turns what a crashed writer left into a valid episode; [`info()`]
//!   summarizes a file per topic; [`meta`] is the `reel.episode` record;
//! - [`time`]: the one host clock all timestamps are on (integer nanos);
//! - [`topics`]: topic naming conventions;
//! - [`geometry`], [`tf`], [`robot`]: rigid transforms, the `/tf` buffer and
//!   URDF kinematics;
//! - [`calibration`]: camera intrinsics and sensor mounts as rigs and
//!   episodes store them;
//! - [`cloud`]: `PointCloud2` data read only after its layout is checked;
//! - [`velodyne`]: Velodyne models' published geometry and timing;
//! - [`fs`]: files replaced whole, with one durability rule;
//! - [`annotations`]: instructions, success and labelled segments beside an
//!   episode.
//!
//! Write an episode and read it back:
//!
//! ```
//! use reel_episode::{EpisodeMeta, EpisodeReader, EpisodeWriter, EpisodeWriterOptions};
//! use reel_episode::ros2::{sensor_msgs::JointState, std_msgs::Header, RosMessage};
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

pub mod annotations;
pub mod calibration;
pub mod cloud;
pub mod error;
pub mod events;
pub mod fs;
pub mod geometry;
pub mod info;
pub mod meta;
pub mod reader;
pub mod recover;
pub mod robot;
pub mod ros2;
pub mod scan;
pub mod tf;
pub mod time;
pub mod topics;
pub mod velodyne;
pub mod writer;

pub use error::{CdrError, Error, Result};
pub use info::{info, EpisodeInfo, TopicInfo};
pub use meta::{EpisodeMeta, Outcome, SourceKind, EPISODE_METADATA_NAME};
pub use reader::{episode_files_in, schema_name, EpisodeReader, FileState, StoredAttachment};
pub use recover::{recover, RecoverOptions, RecoveryReport};
pub use scan::{ScanEnd, ScanEvent, Scanner};
pub use writer::{
    partial_path_for, EpisodeWriter, EpisodeWriterOptions, RawChannel, RawChannelSpec, Topic,
    PARTIAL_SUFFIX,
};

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
