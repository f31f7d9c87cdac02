//! One episode = one MCAP file (profile `ros2`, CDR messages, zstd chunks).
//!
//! - [`EpisodeWriter`] writes it crash-safely (`.partial` until finished, a
//!   chunk closed at least every second);
//! - [`EpisodeReader`] reads it, or any other MCAP file, indexed or linearly;
//! - [`recover()`] turns what a crashed writer left into a valid episode;
//! - [`info()`] summarizes a file per topic.

pub mod info;
pub mod meta;
pub mod reader;
pub mod recover;
pub mod scan;
pub mod writer;

pub use info::{info, EpisodeInfo, TopicInfo};
pub use meta::{EpisodeMeta, Outcome, SourceKind, EPISODE_METADATA_NAME};
pub use reader::{episode_files_in, schema_name, EpisodeReader, FileState, StoredAttachment};
pub use recover::{recover, RecoverOptions, RecoveryReport};
pub use scan::{ScanEnd, ScanEvent, Scanner};
pub use writer::{partial_path_for, EpisodeWriter, EpisodeWriterOptions, Topic, PARTIAL_SUFFIX};
