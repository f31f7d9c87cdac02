//! Opens any MCAP file (reel's or another tool's) for reading.
//!
//! Files with a summary are read through their chunk indexes; files without
//! one (finished without a summary, or cut off by a crash) are scanned
//! linearly with [`Scanner`]. Either way a message comes out as an
//! [`mcap::Message`] with its channel and schema.

use std::fs::File;
use std::path::{Path, PathBuf};

use mcap::records::{self, op};
use mcap::{Message, Summary};

use super::meta::{EpisodeMeta, EPISODE_METADATA_NAME};
use super::scan::{ScanEnd, ScanEvent, Scanner};
use super::writer::PARTIAL_SUFFIX;
use crate::error::{Error, Result};
use crate::ros2::RosMessage;

/// How a file was left by its writer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum FileState {
    /// Finished, with a summary, and not named `.partial`.
    Closed,
    /// Finished (footer and end magic) but without a summary: read linearly.
    ClosedWithoutSummary,
    /// Finished, but still named `*.partial`: the writer did not call finish
    /// (it was dropped on an error path). `reel recover` renames it.
    FinishedButPartial,
    /// No footer or end magic: the writer died. `reel recover` rebuilds it.
    Truncated,
    /// A footer is there but the summary it points to does not parse.
    BadSummary {
        /// What the parser said.
        reason: String,
    },
}

impl FileState {
    /// True for a file that needs no repair.
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Closed | Self::ClosedWithoutSummary)
    }
}

/// The schema name of a channel (`sensor_msgs/msg/JointState`), or "" for a
/// schemaless one.
pub fn schema_name<'a>(channel: &'a mcap::Channel<'_>) -> &'a str {
    channel.schema.as_ref().map_or("", |s| s.name.as_str())
}

/// The episode files in `dir`, sorted by name (not recursive): finished
/// `*.mcap` and unfinished `*.mcap.partial`.
pub fn episode_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && (name.ends_with(".mcap") || name.ends_with(PARTIAL_SUFFIX))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// A file opened for reading (memory-mapped).
pub struct EpisodeReader {
    path: PathBuf,
    map: memmap2::Mmap,
    header: records::Header,
    summary: Option<Summary>,
    state: FileState,
}

impl std::fmt::Debug for EpisodeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpisodeReader")
            .field("path", &self.path)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// An attachment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    /// File name.
    pub name: String,
    /// MIME type.
    pub media_type: String,
    /// When it was attached (ns).
    pub log_time: u64,
    /// Contents.
    pub data: Vec<u8>,
}

impl EpisodeReader {
    /// Opens `path`. Fails with a clear error for a missing file, a file that
    /// is not MCAP, or one whose first record is not a Header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(Error::io(&path))?;
        let meta = file.metadata().map_err(Error::io(&path))?;
        if meta.is_dir() {
            return Err(Error::Io {
                path,
                source: std::io::Error::other("is a directory, not an MCAP file"),
            });
        }
        if meta.len() < mcap::MAGIC.len() as u64 {
            return Err(Error::NotMcap { path });
        }
        // SAFETY: the map is read-only. reel only ever appends to or patches
        // files it is writing, never truncates them, so the mapped range stays
        // valid; a third party truncating the file while we read it would be
        // the one way to fault, as with any mmap-based MCAP reader.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(Error::io(&path))?;
        if !map.starts_with(mcap::MAGIC) {
            return Err(Error::NotMcap { path });
        }
        let header = Self::read_header(&path, &map)?;

        let has_end = map.len() >= 2 * mcap::MAGIC.len() + 29 && map.ends_with(mcap::MAGIC);
        let named_partial = path.to_string_lossy().ends_with(PARTIAL_SUFFIX);
        let (summary, state) = if !has_end {
            (None, FileState::Truncated)
        } else {
            match Summary::read(&map) {
                Ok(Some(s)) if named_partial => (Some(s), FileState::FinishedButPartial),
                Ok(Some(s)) => (Some(s), FileState::Closed),
                Ok(None) if named_partial => (None, FileState::FinishedButPartial),
                Ok(None) => (None, FileState::ClosedWithoutSummary),
                // The spec lets a summary repeat channels without their
                // schemas; the mcap crate cannot index such a summary, so
                // the file is read linearly. Not damage.
                Err(mcap::McapError::UnknownSchema(..)) if named_partial => {
                    (None, FileState::FinishedButPartial)
                }
                Err(mcap::McapError::UnknownSchema(..)) => (None, FileState::Closed),
                Err(e) => (
                    None,
                    FileState::BadSummary {
                        reason: e.to_string(),
                    },
                ),
            }
        };
        if summary.is_none() {
            tracing::debug!(file = %path.display(), ?state, "no usable summary: messages are read linearly");
        }
        Ok(Self {
            path,
            map,
            header,
            summary,
            state,
        })
    }

    fn read_header(path: &Path, map: &[u8]) -> Result<records::Header> {
        let start = mcap::MAGIC.len();
        let damaged = |reason: &str| Error::Malformed {
            path: path.to_path_buf(),
            offset: start as u64,
            reason: reason.to_string(),
        };
        let prefix = map
            .get(start..start + 9)
            .ok_or_else(|| damaged("file ends before the header record"))?;
        if prefix[0] != op::HEADER {
            return Err(damaged("first record is not a Header"));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&prefix[1..9]);
        let len = usize::try_from(u64::from_le_bytes(len)).unwrap_or(usize::MAX);
        let body = map
            .get(start + 9..(start + 9).saturating_add(len))
            .ok_or_else(|| damaged("file ends inside the header record"))?;
        match mcap::parse_record(op::HEADER, body) {
            Ok(records::Record::Header(h)) => Ok(h),
            Ok(_) => Err(damaged("first record is not a Header")),
            Err(source) => Err(Error::Damaged {
                path: path.to_path_buf(),
                offset: start as u64,
                source,
            }),
        }
    }

    /// Tells the kernel reads will be sparse (indexes and a few chunks), so
    /// a page fault does not pull in the file's neighbourhood. A hint only.
    pub fn expect_sparse_reads(&self) {
        let _ = self.map.advise(memmap2::Advice::Random);
    }

    /// Tells the kernel `len` bytes at `offset` will be read soon, so they
    /// arrive in one request rather than page by page. A hint only.
    pub fn will_read(&self, offset: u64, len: u64) {
        let (Ok(offset), Ok(len)) = (usize::try_from(offset), usize::try_from(len)) else {
            return;
        };
        if offset.saturating_add(len) <= self.map.len() {
            let _ = self
                .map
                .advise_range(memmap2::Advice::WillNeed, offset, len);
        }
    }

    /// Lets the kernel drop the pages of the first `offset` bytes from this
    /// process, so a linear pass over a file of any size keeps a bounded
    /// resident set (mapped file pages count as resident until dropped).
    /// Reading them again later is correct, only slower. A hint only.
    pub fn release_before(&self, offset: u64) {
        const PAGE: usize = 4096;
        let end = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.map.len())
            / PAGE
            * PAGE;
        if end == 0 {
            return;
        }
        // SAFETY: the map is a read-only shared mapping of a file
        // (`Mmap::map`): MADV_DONTNEED there only drops cached pages, and
        // the next access reads the same bytes from the file again.
        #[allow(unsafe_code)]
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, end)
        };
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Header profile (`ros2` for reel episodes).
    pub fn profile(&self) -> &str {
        &self.header.profile
    }

    /// Header library (the writing program).
    pub fn library(&self) -> &str {
        &self.header.library
    }

    /// How the writer left the file.
    pub fn state(&self) -> &FileState {
        &self.state
    }

    /// The summary, if the file has a readable one.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// A linear scan of the data section.
    pub fn scan(&self) -> Scanner<'_> {
        Scanner::new(&self.map)
    }

    /// All messages in file order: through the chunk indexes when the file
    /// has them, else by a linear scan. A damaged chunk or a cut-off tail ends
    /// the iteration with an error naming the file and offset.
    pub fn messages(&self) -> Messages<'_> {
        match &self.summary {
            Some(summary) if summary_covers_channels(summary) => {
                let mut chunks: Vec<_> = summary.chunk_indexes.iter().collect();
                chunks.sort_by_key(|c| c.chunk_start_offset);
                Messages {
                    inner: MessagesInner::Indexed {
                        reader: self,
                        summary,
                        chunks: chunks.into_iter(),
                        current: None,
                    },
                }
            }
            _ => Messages {
                inner: MessagesInner::Linear {
                    reader: self,
                    scanner: self.scan(),
                    failed: false,
                },
            },
        }
    }

    /// Decodes a message as `M`, with an error naming file and topic.
    pub fn decode<M: RosMessage>(&self, message: &Message<'_>, index: u64) -> Result<M> {
        M::from_cdr(&message.data).map_err(|source| Error::Decode {
            path: self.path.clone(),
            topic: message.channel.topic.clone(),
            type_name: M::TYPE_NAME.to_string(),
            index,
            source,
        })
    }

    /// Every metadata record, in file order.
    pub fn metadata(&self) -> Result<Vec<records::Metadata>> {
        if let Some(summary) = &self.summary {
            if !summary.metadata_indexes.is_empty() {
                return summary
                    .metadata_indexes
                    .iter()
                    .map(|idx| {
                        mcap::read::metadata(&self.map, idx).map_err(|source| Error::Damaged {
                            path: self.path.clone(),
                            offset: idx.offset,
                            source,
                        })
                    })
                    .collect();
            }
            // The statistics count them: none means none, no scan of the file.
            if summary
                .stats
                .as_ref()
                .is_some_and(|s| s.metadata_count == 0)
            {
                return Ok(Vec::new());
            }
        }
        Ok(self
            .scan()
            .filter_map(|e| match e {
                ScanEvent::Metadata(m) => Some(m),
                _ => None,
            })
            .collect())
    }

    /// The episode metadata (the last `reel.episode` record), if any.
    pub fn episode_meta(&self) -> Result<Option<EpisodeMeta>> {
        let last = self
            .metadata()?
            .into_iter()
            .rev()
            .find(|m| m.name == EPISODE_METADATA_NAME);
        last.map(|m| {
            EpisodeMeta::from_map(&m.metadata).map_err(|reason| Error::BadMetadata {
                path: self.path.clone(),
                reason: reason.0,
            })
        })
        .transpose()
    }

    /// Every attachment, in file order.
    pub fn attachments(&self) -> Result<Vec<StoredAttachment>> {
        if let Some(summary) = &self.summary {
            if !summary.attachment_indexes.is_empty() {
                return summary
                    .attachment_indexes
                    .iter()
                    .map(|idx| {
                        mcap::read::attachment(&self.map, idx)
                            .map(|a| StoredAttachment {
                                name: a.name,
                                media_type: a.media_type,
                                log_time: a.log_time,
                                data: a.data.into_owned(),
                            })
                            .map_err(|source| Error::Damaged {
                                path: self.path.clone(),
                                offset: idx.offset,
                                source,
                            })
                    })
                    .collect();
            }
            // The statistics count them: none means none, no scan of the file
            // (which would make opening a long episode as slow as reading it).
            if summary
                .stats
                .as_ref()
                .is_some_and(|s| s.attachment_count == 0)
            {
                return Ok(Vec::new());
            }
        }
        Ok(self
            .scan()
            .filter_map(|e| match e {
                ScanEvent::Attachment(a) => Some(StoredAttachment {
                    name: a.name,
                    media_type: a.media_type,
                    log_time: a.log_time,
                    data: a.data.into_owned(),
                }),
                _ => None,
            })
            .collect())
    }
}

/// True when the summary can drive reading: it has chunk indexes and defines
/// every channel they (and the statistics) refer to. Writers without
/// `repeat_channels` leave channels out of the summary; such files are read
/// linearly.
fn summary_covers_channels(summary: &Summary) -> bool {
    if summary.chunk_indexes.is_empty() || summary.channels.is_empty() {
        return false;
    }
    let indexed = summary
        .chunk_indexes
        .iter()
        .flat_map(|ci| ci.message_index_offsets.keys());
    let counted = summary
        .stats
        .iter()
        .flat_map(|s| s.channel_message_counts.keys());
    indexed
        .chain(counted)
        .all(|id| summary.channels.contains_key(id))
}

/// Iterator returned by [`EpisodeReader::messages`].
pub struct Messages<'a> {
    inner: MessagesInner<'a>,
}

type ChunkIter<'a> = Box<dyn Iterator<Item = mcap::McapResult<Message<'a>>> + 'a>;

enum MessagesInner<'a> {
    Indexed {
        reader: &'a EpisodeReader,
        summary: &'a Summary,
        chunks: std::vec::IntoIter<&'a records::ChunkIndex>,
        current: Option<(u64, ChunkIter<'a>)>,
    },
    Linear {
        reader: &'a EpisodeReader,
        scanner: Scanner<'a>,
        failed: bool,
    },
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            MessagesInner::Indexed {
                reader,
                summary,
                chunks,
                current,
            } => loop {
                if let Some((offset, iter)) = current {
                    match iter.next() {
                        Some(Ok(m)) => return Some(Ok(m)),
                        Some(Err(source)) => {
                            let offset = *offset;
                            *current = None;
                            chunks.for_each(drop);
                            return Some(Err(Error::Damaged {
                                path: reader.path.clone(),
                                offset,
                                source,
                            }));
                        }
                        None => *current = None,
                    }
                }
                let index = chunks.next()?;
                match summary.stream_chunk(&reader.map, index) {
                    Ok(iter) => *current = Some((index.chunk_start_offset, Box::new(iter))),
                    Err(source) => {
                        chunks.for_each(drop);
                        return Some(Err(Error::Damaged {
                            path: reader.path.clone(),
                            offset: index.chunk_start_offset,
                            source,
                        }));
                    }
                }
            },
            MessagesInner::Linear {
                reader,
                scanner,
                failed,
            } => {
                if *failed {
                    return None;
                }
                for event in scanner.by_ref() {
                    match event {
                        ScanEvent::Message(m) => return Some(Ok(m)),
                        ScanEvent::ChunkDropped { offset, error, .. } => {
                            *failed = true;
                            return Some(Err(Error::Damaged {
                                path: reader.path.clone(),
                                offset,
                                source: error,
                            }));
                        }
                        _ => {}
                    }
                }
                *failed = true;
                match scanner.end() {
                    Some(ScanEnd::Complete { .. }) | None => None,
                    // A finished file whose data section simply has no DataEnd is fine.
                    Some(ScanEnd::Truncated { .. }) if reader.state.is_clean() => None,
                    Some(ScanEnd::Truncated { offset, reason })
                    | Some(ScanEnd::Corrupt { offset, reason }) => Some(Err(Error::Malformed {
                        path: reader.path.clone(),
                        offset: *offset,
                        reason: reason.clone(),
                    })),
                }
            }
        }
    }
}
