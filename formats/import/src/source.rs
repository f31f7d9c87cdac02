//! What every importer hands the episode writer: channels with their
//! schemas, then messages in source order, then what was lost.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::ImportError;

/// A stream of the source, as the source described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChannel {
    /// Topic name in the source.
    pub topic: String,
    /// Message type (`sensor_msgs/msg/JointState`).
    pub type_name: String,
    /// Schema encoding (`ros2msg`, `ros2idl`, `ros1msg`; empty when unknown).
    pub schema_encoding: String,
    /// Schema text as the source stored it (may be empty).
    pub schema: Vec<u8>,
    /// Message encoding (`cdr`, `ros1`, ...).
    pub message_encoding: String,
    /// Channel metadata (rosbag2 keeps the offered QoS here).
    pub metadata: BTreeMap<String, String>,
}

/// One thing read from a source, in source order.
#[derive(Debug)]
pub enum SourceEvent<'a> {
    /// A channel, before its first message. Ids are the importer's own.
    Channel {
        /// Id the messages refer to.
        id: u32,
        /// The channel.
        channel: &'a SourceChannel,
    },
    /// A message.
    Message {
        /// Channel id.
        channel: u32,
        /// When the recorder received it (ns).
        log_time: u64,
        /// The source's publish time (ns; rosbag2 writes the send time or
        /// the receive time here).
        publish_time: u64,
        /// The encoded message.
        data: &'a [u8],
    },
    /// A file the source carried (MCAP attachments).
    Attachment {
        /// Its name.
        name: &'a str,
        /// MIME type.
        media_type: &'a str,
        /// Contents.
        data: &'a [u8],
    },
}

/// Something of the source that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// The file.
    pub file: PathBuf,
    /// A short reason code (`truncated`, `chunk_dropped`, `corrupt`, `missing_messages`).
    pub reason: &'static str,
    /// What exactly: where, how much.
    pub detail: String,
    /// Messages lost, when the source says how many there were.
    pub messages: Option<u64>,
}

/// Receives a source's events.
pub type Sink<'s> = dyn FnMut(SourceEvent<'_>) -> Result<(), ImportError> + 's;
