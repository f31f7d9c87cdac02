//! One MCAP file of a bag, read linearly with reel's own scanner (which
//! survives a cut-off tail and skips a damaged chunk, saying where), so a
//! bag of any size is read in one pass with bounded memory.

use std::collections::HashMap;
use std::path::Path;

use reel_episode::{EpisodeReader, ScanEnd, ScanEvent};

use super::ChannelTable;
use crate::source::{Loss, Sink, SourceChannel, SourceEvent};
use crate::ImportError;

/// Pages behind the read position are handed back to the kernel this often.
const RELEASE_EVERY: u64 = 64 << 20;

/// Reads `path`, handing channels and messages to `sink`; returns what was lost.
pub(super) fn read(
    path: &Path,
    table: &mut ChannelTable,
    sink: &mut Sink<'_>,
) -> Result<Vec<Loss>, ImportError> {
    let reader = EpisodeReader::open(path).map_err(|e| match e {
        reel_episode::Error::Io { path, source } => ImportError::Io { path, source },
        other => ImportError::corrupt(path, "MCAP", other.to_string()),
    })?;
    let mut losses = Vec::new();
    // The file's channel ids → the bag's.
    let mut ids: HashMap<u16, u32> = HashMap::new();
    let mut scan = reader.scan();
    let mut released = 0;
    while let Some(event) = scan.next() {
        match event {
            ScanEvent::Channel(c) => {
                let (type_name, schema_encoding, schema) = match &c.schema {
                    Some(s) => (s.name.clone(), s.encoding.clone(), s.data.to_vec()),
                    None => (String::new(), String::new(), Vec::new()),
                };
                let channel = SourceChannel {
                    topic: c.topic.clone(),
                    type_name,
                    schema_encoding,
                    schema,
                    message_encoding: c.message_encoding.clone(),
                    metadata: c.metadata.clone(),
                };
                let id = table.id_for(channel, sink)?;
                ids.insert(c.id, id);
            }
            ScanEvent::Message(m) => {
                let Some(&channel) = ids.get(&m.channel.id) else {
                    continue;
                };
                sink(SourceEvent::Message {
                    channel,
                    log_time: m.log_time,
                    publish_time: m.publish_time,
                    data: &m.data,
                })?;
            }
            ScanEvent::Attachment(a) => sink(SourceEvent::Attachment {
                name: &a.name,
                media_type: &a.media_type,
                data: &a.data,
            })?,
            ScanEvent::ChunkDropped {
                offset,
                length,
                error,
            } => losses.push(Loss {
                file: path.to_path_buf(),
                reason: "chunk_dropped",
                detail: format!("chunk at byte {offset} ({length} bytes) skipped: {error}"),
                messages: None,
            }),
            ScanEvent::Orphan { offset, channel_id } => losses.push(Loss {
                file: path.to_path_buf(),
                reason: "orphan",
                detail: format!(
                    "a message at byte {offset} names channel {channel_id}, which the file never defines"
                ),
                messages: Some(1),
            }),
            ScanEvent::Header(_) | ScanEvent::Metadata(_) | ScanEvent::UnknownSchema { .. } => {}
        }
        let position = scan.position();
        if position - released >= RELEASE_EVERY {
            reader.release_before(position);
            released = position;
        }
    }
    let size = reader.bytes().len();
    match scan.end() {
        Some(ScanEnd::Complete { .. }) | None => {}
        Some(ScanEnd::Truncated { offset, reason }) => losses.push(Loss {
            file: path.to_path_buf(),
            reason: "truncated",
            detail: format!("read up to byte {offset} of {size}, then {reason}; the rest is lost"),
            messages: None,
        }),
        Some(ScanEnd::Corrupt { offset, reason }) => losses.push(Loss {
            file: path.to_path_buf(),
            reason: "corrupt",
            detail: format!(
                "damaged record at byte {offset} of {size} ({reason}); the rest is lost"
            ),
            messages: None,
        }),
    }
    Ok(losses)
}
