//! Writes one episode to one MCAP file, crash-safely.
//!
//! - The file is written as `NAME.mcap.partial` and renamed to `NAME.mcap`
//!   only by [`EpisodeWriter::finish`], so a file without the suffix is always
//!   complete.
//! - A chunk is closed (and the file flushed, and by default synced) at least
//!   every `max_chunk_duration`, so a crash loses at most about that much;
//!   `reel recover` rebuilds the rest.
//! - Profile `ros2`, CDR messages, `ros2msg` schemas with all dependencies,
//!   zstd chunks, and the `mcap` crate's full summary (chunk and message
//!   indexes, repeated schemas and channels, statistics): rerun, the Python
//!   `mcap` package and rosbags each need part of it.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcap::records::{MessageHeader, Metadata};

use super::meta::{EpisodeMeta, Outcome, EPISODE_METADATA_NAME};
use crate::error::{Error, Result};
use crate::ros2::RosMessage;

/// Suffix of an episode that is still being written (or whose writer died).
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Tuning of the episode writer.
#[derive(Debug, Clone)]
pub struct EpisodeWriterOptions {
    /// Close a chunk when it holds this many uncompressed bytes.
    pub chunk_size_bytes: u64,
    /// Close a chunk at least this often: the most a crash can lose.
    pub max_chunk_duration: Duration,
    /// zstd level. Default 1, zstd's fastest standard level: on the
    /// benchmark rig mix (JPEG-dominated) it writes 1.9× faster than zstd's
    /// default level 3 for a file 0.8 % larger.
    pub compression_level: u32,
    /// zstd worker threads; 0 compresses on the writing thread, which keeps a
    /// recording's CPU use predictable on a robot computer.
    pub compression_threads: u32,
    /// `fdatasync` after every closed chunk so a power loss, not just a
    /// process crash, loses at most `max_chunk_duration`.
    pub sync_on_flush: bool,
}

impl Default for EpisodeWriterOptions {
    fn default() -> Self {
        Self {
            chunk_size_bytes: 1 << 20,
            max_chunk_duration: Duration::from_secs(1),
            compression_level: 1,
            compression_threads: 0,
            sync_on_flush: true,
        }
    }
}

/// A registered topic of message type `M`; returned by [`EpisodeWriter::add_topic`].
#[derive(Debug)]
pub struct Topic<M> {
    index: usize,
    _type: PhantomData<fn(&M)>,
}

impl<M> Clone for Topic<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> Copy for Topic<M> {}

/// A channel registered with a schema of its own (see
/// [`EpisodeWriter::add_raw_channel`]); its messages are written as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChannel {
    index: usize,
}

/// What a channel of another tool's file is: everything needed to write its
/// messages byte for byte, so any reader that understood the source
/// understands the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawChannelSpec<'a> {
    /// Topic name in the episode.
    pub topic: &'a str,
    /// Schema name (`pkg/msg/Type`); empty for a schemaless channel.
    pub schema_name: &'a str,
    /// Schema encoding (`ros2msg`, `ros1msg`, `ros2idl`, ...); empty when schemaless.
    pub schema_encoding: &'a str,
    /// Schema text as the source had it.
    pub schema_data: &'a [u8],
    /// Message encoding (`cdr`, `ros1`, ...).
    pub message_encoding: &'a str,
    /// Channel metadata (rosbag2 keeps the offered QoS here).
    pub metadata: &'a BTreeMap<String, String>,
}

#[derive(Debug)]
struct ChannelState {
    id: u16,
    type_name: String,
    sequence: u32,
}

/// Writes an episode; see the module docs for the guarantees.
pub struct EpisodeWriter {
    mcap: Option<mcap::Writer<BufWriter<File>>>,
    sync_handle: File,
    partial_path: PathBuf,
    final_path: PathBuf,
    options: EpisodeWriterOptions,
    channels: Vec<ChannelState>,
    by_topic: HashMap<String, usize>,
    encode_buf: Vec<u8>,
    last_flush: Instant,
    meta: EpisodeMeta,
    meta_dirty: bool,
    messages_written: u64,
    flushes: u64,
}

impl std::fmt::Debug for EpisodeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpisodeWriter")
            .field("path", &self.partial_path)
            .field("messages_written", &self.messages_written)
            .finish_non_exhaustive()
    }
}

/// `x.mcap` → `x.mcap.partial`.
pub fn partial_path_for(final_path: &Path) -> PathBuf {
    let mut s = final_path.as_os_str().to_owned();
    s.push(PARTIAL_SUFFIX);
    PathBuf::from(s)
}

/// The options every reel MCAP file is written with.
pub(crate) fn mcap_write_options(
    profile: &str,
    library: &str,
    options: &EpisodeWriterOptions,
) -> mcap::WriteOptions {
    mcap::WriteOptions::new()
        .profile(profile)
        .library(library)
        .compression(Some(mcap::Compression::Zstd))
        .compression_level(options.compression_level)
        .compression_threads(options.compression_threads)
        .chunk_size(Some(options.chunk_size_bytes))
}

/// The QoS rosbag2 records in channel metadata (metadata format ≤ v8, integer
/// enums). `/tf_static` is transient-local so `ros2 bag play` latches it.
pub fn offered_qos_profiles(topic: &str) -> String {
    let (history, depth, durability) = if topic == "/tf_static" {
        (1, 1, 1)
    } else {
        (1, 10, 2)
    };
    format!(
        "- history: {history}\n  depth: {depth}\n  reliability: 1\n  durability: {durability}\n  \
deadline:\n    sec: 0\n    nsec: 0\n  lifespan:\n    sec: 0\n    nsec: 0\n  liveliness: 1\n  \
liveliness_lease_duration:\n    sec: 0\n    nsec: 0\n  avoid_ros_namespace_conventions: false"
    )
}

impl EpisodeWriter {
    /// Starts `path` (which should end in `.mcap`) by creating `path.partial`.
    /// Refuses to touch either file if it exists.
    pub fn create(
        path: impl AsRef<Path>,
        meta: EpisodeMeta,
        options: EpisodeWriterOptions,
    ) -> Result<Self> {
        let final_path = path.as_ref().to_path_buf();
        let partial_path = partial_path_for(&final_path);
        if final_path.exists() {
            return Err(Error::AlreadyExists { path: final_path });
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial_path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::AlreadyExists {
                    path: partial_path.clone(),
                },
                _ => Error::Io {
                    path: partial_path.clone(),
                    source: e,
                },
            })?;
        let sync_handle = file.try_clone().map_err(Error::io(&partial_path))?;
        let library = format!("reel {}", env!("CARGO_PKG_VERSION"));
        let mcap = mcap_write_options("ros2", &library, &options)
            .create(BufWriter::with_capacity(1 << 20, file))
            .map_err(|source| Error::Write {
                path: partial_path.clone(),
                source,
            })?;
        let mut writer = Self {
            mcap: Some(mcap),
            sync_handle,
            partial_path,
            final_path,
            options,
            channels: Vec::new(),
            by_topic: HashMap::new(),
            encode_buf: Vec::new(),
            last_flush: Instant::now(),
            meta,
            meta_dirty: false,
            messages_written: 0,
            flushes: 0,
        };
        writer.write_meta()?;
        writer.flush()?;
        Ok(writer)
    }

    /// The file being written (`*.mcap.partial`).
    pub fn partial_path(&self) -> &Path {
        &self.partial_path
    }

    /// The name the episode gets when finished.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Messages written so far.
    pub fn messages_written(&self) -> u64 {
        self.messages_written
    }

    /// Chunks closed and pushed to the disk so far: when it changes,
    /// everything written before is durable.
    pub fn flushes(&self) -> u64 {
        self.flushes
    }

    /// The episode metadata as it will be stored on close.
    pub fn meta(&self) -> &EpisodeMeta {
        &self.meta
    }

    /// Changes the metadata; stored again on close.
    pub fn meta_mut(&mut self) -> &mut EpisodeMeta {
        self.meta_dirty = true;
        &mut self.meta
    }

    /// Sets the outcome label stored on close.
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.meta_mut().outcome = outcome;
    }

    fn mcap(&mut self) -> &mut mcap::Writer<BufWriter<File>> {
        // `mcap` is only taken by `finish`, which consumes `self`.
        self.mcap
            .as_mut()
            .unwrap_or_else(|| unreachable!("episode writer used after finish"))
    }

    fn write_err(&self) -> impl FnOnce(mcap::McapError) -> Error {
        let path = self.partial_path.clone();
        move |source| Error::Write { path, source }
    }

    fn write_meta(&mut self) -> Result<()> {
        let record = Metadata {
            name: EPISODE_METADATA_NAME.to_string(),
            metadata: self.meta.to_map(),
        };
        let err = self.write_err();
        self.mcap().write_metadata(&record).map_err(err)
    }

    /// Registers `topic` for messages of type `M`. Registering the same topic
    /// again with the same type returns the same handle.
    pub fn add_topic<M: RosMessage>(&mut self, topic: &str) -> Result<Topic<M>> {
        if let Some(&index) = self.by_topic.get(topic) {
            let existing = &self.channels[index].type_name;
            if existing != M::TYPE_NAME {
                return Err(Error::TopicTypeMismatch {
                    topic: topic.to_string(),
                    existing: existing.clone(),
                    requested: M::TYPE_NAME.to_string(),
                });
            }
            return Ok(Topic {
                index,
                _type: PhantomData,
            });
        }
        let err = self.write_err();
        let schema_id = self
            .mcap()
            .add_schema(M::TYPE_NAME, "ros2msg", M::schema_text().as_bytes())
            .map_err(err)?;
        let metadata = BTreeMap::from([(
            "offered_qos_profiles".to_string(),
            offered_qos_profiles(topic),
        )]);
        let err = self.write_err();
        let id = self
            .mcap()
            .add_channel(schema_id, topic, "cdr", &metadata)
            .map_err(err)?;
        let index = self.channels.len();
        self.channels.push(ChannelState {
            id,
            type_name: M::TYPE_NAME.to_string(),
            sequence: 0,
        });
        self.by_topic.insert(topic.to_string(), index);
        Ok(Topic {
            index,
            _type: PhantomData,
        })
    }

    /// Registers a channel with its own schema and message encoding, for
    /// messages that are copied rather than encoded here (imports keep types
    /// reel does not know byte for byte). A topic already registered is
    /// refused: one topic, one type.
    pub fn add_raw_channel(&mut self, spec: &RawChannelSpec<'_>) -> Result<RawChannel> {
        if let Some(&index) = self.by_topic.get(spec.topic) {
            return Err(Error::TopicTypeMismatch {
                topic: spec.topic.to_string(),
                existing: self.channels[index].type_name.clone(),
                requested: spec.schema_name.to_string(),
            });
        }
        let schema_id = if spec.schema_name.is_empty() && spec.schema_data.is_empty() {
            0
        } else {
            let err = self.write_err();
            self.mcap()
                .add_schema(spec.schema_name, spec.schema_encoding, spec.schema_data)
                .map_err(err)?
        };
        let err = self.write_err();
        let id = self
            .mcap()
            .add_channel(schema_id, spec.topic, spec.message_encoding, spec.metadata)
            .map_err(err)?;
        let index = self.channels.len();
        self.channels.push(ChannelState {
            id,
            type_name: spec.schema_name.to_string(),
            sequence: 0,
        });
        self.by_topic.insert(spec.topic.to_string(), index);
        Ok(RawChannel { index })
    }

    /// Writes one message of a raw channel as given (already encoded).
    pub fn write_raw(
        &mut self,
        channel: RawChannel,
        data: &[u8],
        log_time_nanos: u64,
        publish_time_nanos: u64,
    ) -> Result<()> {
        self.write_encoded(channel.index, data, log_time_nanos, publish_time_nanos)
    }

    /// Encodes and writes one message. `log_time_nanos` is when the host
    /// received it, `publish_time_nanos` the best estimate of acquisition
    /// (both on the host clock, see [`crate::time`]).
    pub fn write<M: RosMessage>(
        &mut self,
        topic: Topic<M>,
        message: &M,
        log_time_nanos: u64,
        publish_time_nanos: u64,
    ) -> Result<()> {
        let mut buf = std::mem::take(&mut self.encode_buf);
        message.encode_into(&mut buf);
        let result = self.write_encoded(topic.index, &buf, log_time_nanos, publish_time_nanos);
        self.encode_buf = buf;
        result
    }

    fn write_encoded(
        &mut self,
        index: usize,
        data: &[u8],
        log_time: u64,
        publish_time: u64,
    ) -> Result<()> {
        let path = &self.partial_path;
        let channel = self
            .channels
            .get_mut(index)
            .ok_or_else(|| Error::UnknownTopic { path: path.clone() })?;
        let header = MessageHeader {
            channel_id: channel.id,
            sequence: channel.sequence,
            log_time,
            publish_time,
        };
        channel.sequence = channel.sequence.wrapping_add(1);
        let err = self.write_err();
        self.mcap()
            .write_to_known_channel(&header, data)
            .map_err(err)?;
        self.messages_written += 1;
        self.flush_if_due()?;
        Ok(())
    }

    /// Stores a file (rig config, URDF, calibration) in the episode.
    pub fn attach(
        &mut self,
        name: &str,
        media_type: &str,
        data: &[u8],
        time_nanos: u64,
    ) -> Result<()> {
        let attachment = mcap::Attachment {
            log_time: time_nanos,
            create_time: time_nanos,
            name: name.to_string(),
            media_type: media_type.to_string(),
            data: std::borrow::Cow::Borrowed(data),
        };
        let err = self.write_err();
        self.mcap().attach(&attachment).map_err(err)
    }

    /// Closes the open chunk if it is older than `max_chunk_duration`.
    /// (Chunk boundaries therefore depend on wall time; a generator that
    /// wants byte-identical files sets `max_chunk_duration` to `Duration::MAX`.) Called
    /// after every write; a writer thread that may sit idle should also call
    /// it on a timer so its last messages reach the disk.
    pub fn flush_if_due(&mut self) -> Result<bool> {
        if self.last_flush.elapsed() >= self.options.max_chunk_duration {
            self.flush()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Closes the open chunk and pushes everything to the OS (and the disk if
    /// `sync_on_flush`): all messages written so far survive a crash.
    pub fn flush(&mut self) -> Result<()> {
        let err = self.write_err();
        self.mcap().flush().map_err(err)?;
        if self.options.sync_on_flush {
            self.sync_handle
                .sync_data()
                .map_err(Error::io(&self.partial_path))?;
        }
        self.last_flush = Instant::now();
        self.flushes += 1;
        Ok(())
    }

    /// Writes the summary, syncs, and renames `x.mcap.partial` to `x.mcap`.
    /// Returns the final path.
    pub fn finish(mut self) -> Result<PathBuf> {
        if self.meta_dirty {
            self.write_meta()?;
        }
        let err = self.write_err();
        let mut mcap = self
            .mcap
            .take()
            .unwrap_or_else(|| unreachable!("finish runs once"));
        mcap.finish().map_err(err)?;
        // `into_inner` flushes nothing: flush the BufWriter ourselves.
        let mut buffered = mcap.into_inner();
        std::io::Write::flush(&mut buffered).map_err(Error::io(&self.partial_path))?;
        self.sync_handle
            .sync_all()
            .map_err(Error::io(&self.partial_path))?;
        if self.final_path.exists() {
            return Err(Error::AlreadyExists {
                path: self.final_path.clone(),
            });
        }
        std::fs::rename(&self.partial_path, &self.final_path)
            .map_err(Error::io(&self.final_path))?;
        if let Some(dir) = self.final_path.parent() {
            // Make the rename itself durable.
            crate::fs::sync_dir(dir);
        }
        Ok(self.final_path.clone())
    }
}
