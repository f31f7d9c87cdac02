//! A linear scan of an MCAP file's data section that knows where every record
//! starts, so readers can work on files without a summary and recovery can say
//! exactly what it kept and what it lost.
//!
//! Records are lexed here (a 1-byte opcode and a u64 length are the whole
//! framing) and parsed with `mcap::parse_record`; chunks are decompressed with
//! `mcap::read::ChunkReader`, which checks their CRC. A chunk that fails is
//! skipped whole and reported; a record cut off by the end of the file ends the
//! scan.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use mcap::records::{self, op, Record};
use mcap::{Channel, McapError, Message, Schema};

/// Opcode + length prefix of every record.
const RECORD_PREFIX: usize = 9;

/// One thing found in the data section.
#[derive(Debug)]
pub enum ScanEvent<'a> {
    /// The file header (profile, library).
    Header(records::Header),
    /// A channel, the first time it is defined.
    Channel(Arc<Channel<'static>>),
    /// A message with its channel.
    Message(Message<'a>),
    /// A metadata record.
    Metadata(records::Metadata),
    /// An attachment.
    Attachment(mcap::Attachment<'a>),
    /// A chunk that failed its CRC or decompression and was skipped.
    ChunkDropped {
        /// File offset of the chunk record.
        offset: u64,
        /// Compressed length of the record.
        length: u64,
        /// Why it was dropped.
        error: McapError,
    },
    /// A channel naming a schema id the file never defines (read as schemaless).
    UnknownSchema {
        /// The channel's topic.
        topic: String,
        /// The missing schema id.
        schema_id: u16,
    },
    /// A message whose channel was never defined; skipped.
    Orphan {
        /// File offset of the containing record.
        offset: u64,
        /// Its channel id.
        channel_id: u16,
    },
}

/// How the scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEnd {
    /// Reached the DataEnd record: the data section is whole.
    Complete {
        /// Offset just after the DataEnd record.
        data_end: u64,
    },
    /// The file stops inside a record (the writer died) or without DataEnd.
    Truncated {
        /// Offset of the first byte not covered by a complete record.
        offset: u64,
        /// What was found there.
        reason: String,
    },
    /// A complete record could not be parsed.
    Corrupt {
        /// Offset of the record.
        offset: u64,
        /// What the parser said.
        reason: String,
    },
}

impl ScanEnd {
    /// Offset up to which every record was complete.
    pub fn good_until(&self) -> u64 {
        match self {
            Self::Complete { data_end } => *data_end,
            Self::Truncated { offset, .. } | Self::Corrupt { offset, .. } => *offset,
        }
    }
}

/// Counts kept while scanning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanCounts {
    /// Chunks decompressed successfully.
    pub chunks: u64,
    /// Chunks skipped for a bad CRC or bad compression.
    pub chunks_dropped: u64,
    /// Compression formats seen in chunks (`zstd`, `lz4`, `""`).
    pub compressions: Vec<String>,
}

/// Iterator of [`ScanEvent`]s; call [`Scanner::end`] once it returns `None`.
pub struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    pending: VecDeque<ScanEvent<'a>>,
    schemas: HashMap<u16, Arc<Schema<'static>>>,
    channels: HashMap<u16, Arc<Channel<'static>>>,
    end: Option<ScanEnd>,
    counts: ScanCounts,
}

impl std::fmt::Debug for Scanner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<'a> Scanner<'a> {
    /// Scans `buf`, which must start with the MCAP magic (checked by the caller).
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: mcap::MAGIC.len().min(buf.len()),
            pending: VecDeque::new(),
            schemas: HashMap::new(),
            channels: HashMap::new(),
            end: None,
            counts: ScanCounts::default(),
        }
    }

    /// How the scan ended (`None` while it is still running).
    pub fn end(&self) -> Option<&ScanEnd> {
        self.end.as_ref()
    }

    /// Offset of the next record to read: everything before it has been
    /// handed out (or is queued), so a streaming reader may let it go.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Chunk counts so far.
    pub fn counts(&self) -> &ScanCounts {
        &self.counts
    }

    fn stop(&mut self, end: ScanEnd) {
        self.end = Some(end);
    }

    fn add_schema(&mut self, header: records::SchemaHeader, data: Cow<'_, [u8]>) {
        self.schemas.insert(
            header.id,
            Arc::new(Schema {
                id: header.id,
                name: header.name,
                encoding: header.encoding,
                data: Cow::Owned(data.into_owned()),
            }),
        );
    }

    fn add_channel(&mut self, c: records::Channel) {
        let schema = self.schemas.get(&c.schema_id).cloned();
        if schema.is_none() && c.schema_id != 0 && !self.channels.contains_key(&c.id) {
            self.pending.push_back(ScanEvent::UnknownSchema {
                topic: c.topic.clone(),
                schema_id: c.schema_id,
            });
        }
        let channel = Arc::new(Channel {
            id: c.id,
            topic: c.topic,
            schema,
            message_encoding: c.message_encoding,
            metadata: c.metadata,
        });
        if self.channels.insert(c.id, channel.clone()).is_none() {
            self.pending.push_back(ScanEvent::Channel(channel));
        }
    }

    fn add_message(&mut self, offset: u64, header: records::MessageHeader, data: Cow<'a, [u8]>) {
        match self.channels.get(&header.channel_id) {
            Some(channel) => self.pending.push_back(ScanEvent::Message(Message {
                channel: channel.clone(),
                sequence: header.sequence,
                log_time: header.log_time,
                publish_time: header.publish_time,
                data,
            })),
            None => self.pending.push_back(ScanEvent::Orphan {
                offset,
                channel_id: header.channel_id,
            }),
        }
    }

    fn read_chunk(&mut self, offset: u64, length: u64, header: records::ChunkHeader, data: &[u8]) {
        let compression = header.compression.clone();
        // Decompress the whole chunk first so a bad one is dropped whole; the
        // records are owned, so they outlive `data`.
        let records = chunk_records(&header, data);
        match records {
            Ok(records) => {
                self.counts.chunks += 1;
                if !self.counts.compressions.contains(&compression) {
                    self.counts.compressions.push(compression);
                }
                for record in records {
                    match record {
                        Record::Schema { header, data } => self.add_schema(header, data),
                        Record::Channel(c) => self.add_channel(c),
                        Record::Message { header, data } => self.add_message(offset, header, data),
                        _ => {}
                    }
                }
            }
            Err(error) => {
                self.counts.chunks_dropped += 1;
                self.pending.push_back(ScanEvent::ChunkDropped {
                    offset,
                    length,
                    error,
                });
            }
        }
    }

    /// Lexes and handles the next top-level record; false when the scan ended.
    fn step(&mut self) -> bool {
        let buf: &'a [u8] = self.buf;
        let offset = self.pos as u64;
        let left = buf.len() - self.pos;
        if left == 0 {
            self.stop(ScanEnd::Truncated {
                offset,
                reason: "file ends without a DataEnd record".into(),
            });
            return false;
        }
        if left < RECORD_PREFIX {
            self.stop(ScanEnd::Truncated {
                offset,
                reason: format!("{left} stray bytes where a record should start"),
            });
            return false;
        }
        let opcode = buf[self.pos];
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&buf[self.pos + 1..self.pos + RECORD_PREFIX]);
        let len = u64::from_le_bytes(len_bytes);
        if len > (left - RECORD_PREFIX) as u64 {
            let reason = if opcode == op::CHUNK && len == u64::MAX {
                "a chunk the writer never closed".to_string()
            } else {
                format!(
                    "record 0x{opcode:02x} of {len} bytes but only {} bytes left",
                    left - RECORD_PREFIX
                )
            };
            self.stop(ScanEnd::Truncated { offset, reason });
            return false;
        }
        let start = self.pos + RECORD_PREFIX;
        let body = &buf[start..start + len as usize];
        self.pos = start + len as usize;
        let record = match mcap::parse_record(opcode, body) {
            Ok(r) => r,
            Err(e) => {
                self.stop(ScanEnd::Corrupt {
                    offset,
                    reason: format!("record 0x{opcode:02x}: {e}"),
                });
                return false;
            }
        };
        match record {
            Record::Header(h) => self.pending.push_back(ScanEvent::Header(h)),
            Record::Schema { header, data } => self.add_schema(header, data),
            Record::Channel(c) => self.add_channel(c),
            Record::Message { header, data } => self.add_message(offset, header, data),
            Record::Chunk { header, data } => {
                self.read_chunk(offset, len + RECORD_PREFIX as u64, header, &data);
            }
            Record::Metadata(m) => self.pending.push_back(ScanEvent::Metadata(m)),
            Record::Attachment { header, data, .. } => {
                self.pending
                    .push_back(ScanEvent::Attachment(mcap::Attachment {
                        log_time: header.log_time,
                        create_time: header.create_time,
                        name: header.name,
                        media_type: header.media_type,
                        data,
                    }))
            }
            Record::DataEnd(_) => {
                self.stop(ScanEnd::Complete {
                    data_end: self.pos as u64,
                });
                return false;
            }
            Record::Footer(_) => {
                // A footer with no DataEnd before it: old or hand-made writers.
                self.stop(ScanEnd::Complete { data_end: offset });
                return false;
            }
            _ => {}
        }
        true
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = ScanEvent<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.end.is_some() || !self.step() {
                return self.pending.pop_front();
            }
        }
    }
}

/// Most bytes `compressed` bytes can expand to: as many uncompressed; 255
/// times as many in LZ4; 32,768 times in zstd (a 4-byte RLE block gives at
/// most 128 KiB); never over 1 GiB, beyond any chunk a recorder writes.
fn plausible_uncompressed(compression: &str, compressed: usize) -> u64 {
    let compressed = compressed as u64;
    let bound = match compression {
        "" => compressed,
        "lz4" => compressed.saturating_mul(255).saturating_add(64),
        _ => compressed.saturating_mul(32_768).saturating_add(1024),
    };
    bound.min(1 << 30)
}

/// The records of a chunk, decompressed and lexed here rather than by
/// `mcap::read::ChunkReader`, which reserves whatever a record inside the
/// chunk claims to hold (a flipped length byte asked it for petabytes).
/// Nothing is allocated beyond the bytes the chunk really expands to, and
/// never beyond what its compressed size can expand to.
fn chunk_records(
    header: &records::ChunkHeader,
    data: &[u8],
) -> Result<Vec<Record<'static>>, McapError> {
    use std::io::Read;
    let claimed = header.uncompressed_size;
    if claimed > plausible_uncompressed(&header.compression, data.len()) {
        return Err(McapError::ChunkTooLarge(claimed));
    }
    let decompressed: std::borrow::Cow<'_, [u8]> = match header.compression.as_str() {
        "" => std::borrow::Cow::Borrowed(data),
        codec @ ("zstd" | "lz4") => {
            let mut out = Vec::new();
            let failed = |e: std::io::Error| McapError::DecompressionError(e.to_string());
            let read = if codec == "zstd" {
                zstd::stream::read::Decoder::new(data)
                    .map_err(failed)?
                    .take(claimed + 1)
                    .read_to_end(&mut out)
            } else {
                lz4::Decoder::new(data)
                    .map_err(failed)?
                    .take(claimed + 1)
                    .read_to_end(&mut out)
            };
            read.map_err(failed)?;
            std::borrow::Cow::Owned(out)
        }
        other => return Err(McapError::UnsupportedCompression(other.to_string())),
    };
    if decompressed.len() as u64 != claimed {
        return Err(McapError::DecompressionError(format!(
            "the chunk expands to {} bytes, its header says {claimed}",
            decompressed.len()
        )));
    }
    if header.uncompressed_crc != 0 {
        let calculated = crc32fast::hash(&decompressed);
        if calculated != header.uncompressed_crc {
            return Err(McapError::BadChunkCrc {
                saved: header.uncompressed_crc,
                calculated,
            });
        }
    }
    let mut out = Vec::new();
    let mut rest: &[u8] = &decompressed;
    while !rest.is_empty() {
        let Some((&opcode, after)) = rest.split_first() else {
            break;
        };
        let (Some(len), Some(body)) = (after.get(..8), after.get(8..)) else {
            return Err(McapError::UnexpectedEoc);
        };
        let len = u64::from_le_bytes(len.try_into().unwrap_or([0xff; 8]));
        let Some(body) = usize::try_from(len).ok().and_then(|n| body.get(..n)) else {
            return Err(McapError::UnexpectedEoc);
        };
        out.push(mcap::read::parse_record(opcode, body)?.into_owned());
        rest = &after[8 + body.len()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(
        compression: &str,
        uncompressed_size: u64,
        compressed_size: u64,
    ) -> records::ChunkHeader {
        records::ChunkHeader {
            message_start_time: 0,
            message_end_time: 0,
            uncompressed_size,
            uncompressed_crc: 0,
            compression: compression.into(),
            compressed_size,
        }
    }

    // Found by the fuzz target (tests/hostile_inputs.rs): both made the
    // mcap crate's chunk reader abort on a petabyte allocation.
    #[test]
    fn a_record_claiming_more_than_its_chunk_is_refused() {
        let mut data = vec![0x05];
        data.extend_from_slice(&(1u64 << 54).to_le_bytes());
        data.extend_from_slice(&[0; 16]);
        let err =
            chunk_records(&header("", data.len() as u64, data.len() as u64), &data).unwrap_err();
        assert!(matches!(err, McapError::UnexpectedEoc), "{err}");
    }

    #[test]
    fn a_chunk_claiming_more_than_its_bytes_can_hold_is_refused() {
        let data = [0u8; 16];
        let err = chunk_records(&header("zstd", 1 << 60, 16), &data).unwrap_err();
        assert!(matches!(err, McapError::ChunkTooLarge(_)), "{err}");
        let err = chunk_records(&header("", 17, 16), &data).unwrap_err();
        assert!(matches!(err, McapError::ChunkTooLarge(_)), "{err}");
    }
}
