//! Rebuilds a valid, indexed episode from what a crashed writer left.
//!
//! Every complete record is kept: whole chunks (CRC-checked), metadata and
//! attachments; a damaged chunk is skipped and reported; the scan stops at the
//! record the crash cut off. The input is never modified: the result is
//! written to a new file (through `OUT.recovering`, renamed when complete),
//! so an interrupted recovery can simply be run again.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mcap::records::MessageHeader;
use serde::Serialize;

use super::reader::EpisodeReader;
use super::scan::{ScanEnd, ScanEvent};
use super::writer::{mcap_write_options, EpisodeWriterOptions, PARTIAL_SUFFIX};
use crate::error::{Error, Result};

/// Options of [`recover`].
#[derive(Debug, Clone, Default)]
pub struct RecoverOptions {
    /// Where to write; default: the input without `.partial`, or
    /// `NAME.recovered.mcap` for an input without that suffix.
    pub output: Option<PathBuf>,
}

/// What recovery kept and lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoveryReport {
    /// The damaged file (unchanged).
    pub input: PathBuf,
    /// The recovered episode.
    pub output: PathBuf,
    /// Size of the input.
    pub input_bytes: u64,
    /// Bytes of the input covered by complete records.
    pub kept_bytes: u64,
    /// Bytes after the last complete record, lost.
    pub lost_tail_bytes: u64,
    /// What was found at the end of the readable part, if the file was cut off.
    pub tail: Option<String>,
    /// Chunks copied.
    pub chunks_kept: u64,
    /// Chunks skipped because they were damaged.
    pub chunks_dropped: u64,
    /// Messages copied.
    pub messages_kept: u64,
    /// Messages per topic.
    pub messages_per_topic: BTreeMap<String, u64>,
    /// Messages skipped because their channel was never defined.
    pub orphan_messages: u64,
    /// Metadata records copied.
    pub metadata_records: u64,
    /// Attachments copied.
    pub attachments: u64,
    /// First log time kept.
    pub first_nanos: Option<u64>,
    /// Last log time kept.
    pub last_nanos: Option<u64>,
}

impl RecoveryReport {
    /// True when something in the input could not be carried over.
    pub fn lost_anything(&self) -> bool {
        self.lost_tail_bytes > 0 || self.chunks_dropped > 0 || self.orphan_messages > 0
    }
}

/// The default output path for `input`.
pub fn default_output(input: &Path) -> PathBuf {
    let s = input.to_string_lossy();
    match s.strip_suffix(PARTIAL_SUFFIX) {
        Some(stripped) => PathBuf::from(stripped),
        None => {
            let stem = s.strip_suffix(".mcap").unwrap_or(&s);
            PathBuf::from(format!("{stem}.recovered.mcap"))
        }
    }
}

/// Recovers `input` into a new file; see the module docs.
pub fn recover(input: impl AsRef<Path>, options: &RecoverOptions) -> Result<RecoveryReport> {
    let input = input.as_ref().to_path_buf();
    let reader = EpisodeReader::open(&input)?;
    let output = options
        .output
        .clone()
        .unwrap_or_else(|| default_output(&input));
    if output.exists() {
        return Err(Error::AlreadyExists { path: output });
    }
    // Not `OUT.partial`: that is usually the input.
    let temp = {
        let mut s = output.as_os_str().to_owned();
        s.push(".recovering");
        PathBuf::from(s)
    };
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::AlreadyExists { path: temp.clone() },
            _ => Error::Io {
                path: temp.clone(),
                source: e,
            },
        })?;
    let result = copy_complete_records(&reader, file, &temp);
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    if report.messages_kept == 0 && report.metadata_records == 0 && report.attachments == 0 {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::NothingToRecover { path: input });
    }
    crate::fs::commit(&temp, &output).map_err(Error::io(&output))?;
    report.input = input;
    report.output = output;
    Ok(report)
}

fn copy_complete_records(
    reader: &EpisodeReader,
    file: File,
    temp: &Path,
) -> Result<RecoveryReport> {
    let sync = file.try_clone().map_err(Error::io(temp))?;
    let werr = |source| Error::Write {
        path: temp.to_path_buf(),
        source,
    };
    let opts = mcap_write_options(
        reader.profile(),
        reader.library(),
        &EpisodeWriterOptions::default(),
    );
    let mut out = opts.create(BufWriter::new(file)).map_err(werr)?;
    let mut report = RecoveryReport {
        input: PathBuf::new(),
        output: PathBuf::new(),
        input_bytes: reader.bytes().len() as u64,
        kept_bytes: 0,
        lost_tail_bytes: 0,
        tail: None,
        chunks_kept: 0,
        chunks_dropped: 0,
        messages_kept: 0,
        messages_per_topic: BTreeMap::new(),
        orphan_messages: 0,
        metadata_records: 0,
        attachments: 0,
        first_nanos: None,
        last_nanos: None,
    };
    let mut channel_ids: HashMap<u16, u16> = HashMap::new();
    let mut scanner = reader.scan();
    for event in scanner.by_ref() {
        match event {
            ScanEvent::Channel(c) => {
                let schema_id = match &c.schema {
                    Some(s) => out
                        .add_schema(&s.name, &s.encoding, &s.data)
                        .map_err(werr)?,
                    None => 0,
                };
                let id = out
                    .add_channel(schema_id, &c.topic, &c.message_encoding, &c.metadata)
                    .map_err(werr)?;
                channel_ids.insert(c.id, id);
            }
            ScanEvent::Message(m) => {
                let Some(&channel_id) = channel_ids.get(&m.channel.id) else {
                    report.orphan_messages += 1;
                    continue;
                };
                let header = MessageHeader {
                    channel_id,
                    sequence: m.sequence,
                    log_time: m.log_time,
                    publish_time: m.publish_time,
                };
                out.write_to_known_channel(&header, &m.data).map_err(werr)?;
                report.messages_kept += 1;
                *report
                    .messages_per_topic
                    .entry(m.channel.topic.clone())
                    .or_default() += 1;
                report.first_nanos =
                    Some(report.first_nanos.map_or(m.log_time, |t| t.min(m.log_time)));
                report.last_nanos =
                    Some(report.last_nanos.map_or(m.log_time, |t| t.max(m.log_time)));
            }
            ScanEvent::Metadata(m) => {
                out.write_metadata(&m).map_err(werr)?;
                report.metadata_records += 1;
            }
            ScanEvent::Attachment(a) => {
                out.attach(&a).map_err(werr)?;
                report.attachments += 1;
            }
            ScanEvent::ChunkDropped { .. } => report.chunks_dropped += 1,
            ScanEvent::Orphan { .. } => report.orphan_messages += 1,
            ScanEvent::UnknownSchema { .. } | ScanEvent::Header(_) => {}
        }
    }
    report.chunks_kept = scanner.counts().chunks;
    let end = scanner
        .end()
        .cloned()
        .unwrap_or(ScanEnd::Complete { data_end: 0 });
    report.kept_bytes = end.good_until();
    if let ScanEnd::Truncated { reason, .. } | ScanEnd::Corrupt { reason, .. } = &end {
        if !reader.state().is_clean() {
            report.lost_tail_bytes = report.input_bytes - report.kept_bytes;
            report.tail = Some(reason.clone());
        }
    }
    out.finish().map_err(werr)?;
    let mut buffered = out.into_inner();
    buffered.flush().map_err(Error::io(temp))?;
    sync.sync_all().map_err(Error::io(temp))?;
    Ok(report)
}
