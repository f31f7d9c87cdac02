//! Per-topic summary of an MCAP file: what `reel info` prints.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::events::RecorderLosses;
use super::meta::{EpisodeMeta, EPISODE_METADATA_NAME};
use super::reader::{EpisodeReader, FileState};
use super::scan::{ScanEnd, ScanEvent};
use crate::error::Result;
use crate::ros2::std_msgs::StringMsg;
use crate::ros2::RosMessage;

/// One topic's statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicInfo {
    /// Topic name.
    pub topic: String,
    /// Schema name (`sensor_msgs/msg/JointState`), empty for schemaless channels.
    pub type_name: String,
    /// Message encoding (`cdr`).
    pub message_encoding: String,
    /// Messages.
    pub message_count: u64,
    /// Sum of message payload sizes.
    pub bytes: u64,
    /// First log time (ns).
    pub first_nanos: Option<u64>,
    /// Last log time (ns).
    pub last_nanos: Option<u64>,
    /// Mean rate over the topic's own span (Hz); needs two messages.
    pub mean_rate_hz: Option<f64>,
    /// Largest interval between consecutive log times (s); needs two messages.
    pub worst_gap_secs: Option<f64>,
}

/// An attachment's name and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    /// Name.
    pub name: String,
    /// MIME type.
    pub media_type: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Everything `reel info` reports about one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeInfo {
    /// The file.
    pub path: String,
    /// File size.
    pub size_bytes: u64,
    /// Header profile.
    pub profile: String,
    /// Header library.
    pub library: String,
    /// How the writer left the file.
    pub file_state: FileState,
    /// True when the file needs no repair.
    pub cleanly_closed: bool,
    /// Things wrong with the file, one sentence each.
    pub problems: Vec<String>,
    /// Bytes after the last complete record (lost unless the writer comes back).
    pub unreadable_tail_bytes: u64,
    /// Messages.
    pub message_count: u64,
    /// First log time over all topics.
    pub start_nanos: Option<u64>,
    /// Last log time over all topics.
    pub end_nanos: Option<u64>,
    /// `end - start` in seconds.
    pub duration_secs: f64,
    /// Chunks read.
    pub chunk_count: u64,
    /// Chunk compressions seen.
    pub compressions: Vec<String>,
    /// Per-topic statistics, sorted by topic.
    pub topics: Vec<TopicInfo>,
    /// The `reel.episode` metadata, if present and valid.
    pub episode: Option<EpisodeMeta>,
    /// Other metadata records (name → map).
    pub other_metadata: Vec<(String, BTreeMap<String, String>)>,
    /// Attachments.
    pub attachments: Vec<AttachmentInfo>,
    /// Data the recorder's events say never made it into the file.
    pub losses: RecorderLosses,
}

#[derive(Default)]
struct TopicAcc {
    type_name: String,
    message_encoding: String,
    bytes: u64,
    log_times: Vec<u64>,
}

/// Reads the whole file once (linearly, validating every chunk CRC) and
/// summarizes it. Damage is reported in `problems`, not as an error, so a
/// crashed recording can still be inspected; only unreadable files fail.
/// Long: one pass over the scanner's events, each record kind handled
/// where it is met.
pub fn info(path: impl AsRef<Path>) -> Result<EpisodeInfo> {
    let reader = EpisodeReader::open(path.as_ref())?;
    let size_bytes = reader.bytes().len() as u64;
    let mut problems = Vec::new();
    let mut topics: BTreeMap<String, TopicAcc> = BTreeMap::new();
    let mut metadata = Vec::new();
    let mut attachments = Vec::new();
    let mut orphans = BTreeMap::new();
    let mut losses = RecorderLosses::default();
    let mut scanner = reader.scan();
    for event in scanner.by_ref() {
        match event {
            ScanEvent::Channel(c) => {
                let acc = topics.entry(c.topic.clone()).or_default();
                acc.type_name = super::schema_name(&c).to_string();
                acc.message_encoding = c.message_encoding.clone();
            }
            ScanEvent::Message(m) => {
                let acc = topics.entry(m.channel.topic.clone()).or_default();
                acc.bytes += m.data.len() as u64;
                acc.log_times.push(m.log_time);
                if m.channel.topic == crate::topics::EVENTS {
                    if let Ok(text) = StringMsg::from_cdr(&m.data) {
                        losses.note(&text.data);
                    }
                }
            }
            ScanEvent::Metadata(m) => metadata.push(m),
            ScanEvent::Attachment(a) => attachments.push(AttachmentInfo {
                name: a.name,
                media_type: a.media_type,
                bytes: a.data.len() as u64,
            }),
            ScanEvent::ChunkDropped { offset, error, .. } => {
                problems.push(format!("chunk at byte {offset} is damaged ({error}) and was skipped"));
            }
            ScanEvent::Orphan { channel_id, .. } => *orphans.entry(channel_id).or_insert(0u64) += 1,
            ScanEvent::UnknownSchema { topic, schema_id } => problems.push(format!(
                "{topic} names schema {schema_id}, which the file never defines; its messages cannot be decoded"
            )),
            ScanEvent::Header(_) => {}
        }
    }
    for (channel_id, n) in orphans {
        problems.push(format!(
            "{n} messages name channel {channel_id}, which the file never defines; they were skipped"
        ));
    }
    let counts = scanner.counts().clone();
    let mut unreadable_tail_bytes = 0;
    match scanner.end() {
        Some(ScanEnd::Truncated { offset, reason }) if !reader.state().is_clean() => {
            unreadable_tail_bytes = size_bytes - offset;
            problems.push(format!(
                "writer did not finish: {reason} at byte {offset} ({unreadable_tail_bytes} bytes unreadable); run `reel recover`"
            ));
        }
        Some(ScanEnd::Corrupt { offset, reason }) => {
            unreadable_tail_bytes = size_bytes - offset;
            problems.push(format!("damaged record at byte {offset}: {reason}"));
        }
        _ => {}
    }
    match reader.state() {
        FileState::FinishedButPartial => problems.push(
            "file is complete but still named .partial (writer stopped without finishing); run `reel recover`".into(),
        ),
        FileState::BadSummary { reason } => {
            problems.push(format!("summary section is damaged ({reason}); read linearly"));
        }
        _ => {}
    }

    let mut episode = None;
    let mut other_metadata = Vec::new();
    for m in metadata {
        if m.name == EPISODE_METADATA_NAME {
            match EpisodeMeta::from_map(&m.metadata) {
                Ok(meta) => episode = Some(meta),
                Err(reason) => {
                    problems.push(format!("bad {EPISODE_METADATA_NAME} metadata: {reason}"))
                }
            }
        } else {
            other_metadata.push((m.name, m.metadata));
        }
    }

    if reader.profile() == "ros2" {
        for (topic, acc) in &topics {
            if acc.message_encoding != "cdr" {
                problems.push(format!(
                    "{topic} has message encoding {:?} in a ros2 file; ROS 2 readers expect \"cdr\"",
                    acc.message_encoding
                ));
            }
        }
    }

    let topics: Vec<TopicInfo> = topics
        .into_iter()
        .map(|(topic, mut acc)| {
            acc.log_times.sort_unstable();
            let first = acc.log_times.first().copied();
            let last = acc.log_times.last().copied();
            let n = acc.log_times.len() as u64;
            let span = last.zip(first).map(|(l, f)| l - f).unwrap_or(0);
            let mean_rate_hz = (n >= 2 && span > 0).then(|| (n - 1) as f64 / (span as f64 * 1e-9));
            let worst_gap_secs = (n >= 2).then(|| {
                acc.log_times
                    .windows(2)
                    .map(|w| w[1] - w[0])
                    .max()
                    .unwrap_or(0) as f64
                    * 1e-9
            });
            TopicInfo {
                topic,
                type_name: acc.type_name,
                message_encoding: acc.message_encoding,
                message_count: n,
                bytes: acc.bytes,
                first_nanos: first,
                last_nanos: last,
                mean_rate_hz,
                worst_gap_secs,
            }
        })
        .collect();
    let message_count = topics.iter().map(|t| t.message_count).sum();
    let start_nanos = topics.iter().filter_map(|t| t.first_nanos).min();
    let end_nanos = topics.iter().filter_map(|t| t.last_nanos).max();
    let duration_secs = end_nanos
        .zip(start_nanos)
        .map_or(0.0, |(e, s)| (e - s) as f64 * 1e-9);

    Ok(EpisodeInfo {
        path: reader.path().display().to_string(),
        size_bytes,
        profile: reader.profile().to_string(),
        library: reader.library().to_string(),
        cleanly_closed: reader.state().is_clean()
            && unreadable_tail_bytes == 0
            && counts.chunks_dropped == 0,
        file_state: reader.state().clone(),
        problems,
        unreadable_tail_bytes,
        message_count,
        start_nanos,
        end_nanos,
        duration_secs,
        chunk_count: counts.chunks,
        compressions: counts.compressions,
        topics,
        episode,
        other_metadata,
        attachments,
        losses,
    })
}
