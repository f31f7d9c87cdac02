//! ROS 1 bags (format 2.0: `#ROSBAG V2.0`, chunks uncompressed, bz2 or lz4),
//! read record by record from the file, never mapped or loaded whole.
//! Messages of the types reel uses are translated to their ROS 2 form and
//! stored as CDR ([`translate`]); any other type is translated from its own
//! definition ([`generic`]); one whose definition cannot be read is kept in
//! its ROS 1 encoding with its `ros1msg` definition, and a warning says so.
//!
//! The record framing is read here rather than with the `rosbag` crate,
//! which reserves whatever a chunk header claims to expand to: every length
//! below is checked against the bytes the file or chunk really holds.

pub mod generic;
pub mod translate;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::source::{Loss, Sink, SourceChannel, SourceEvent};
use crate::ImportError;

const MAGIC: &[u8] = b"#ROSBAG V2.0\n";
const FORMAT: &str = "ROS 1 bag";
/// No chunk a recorder writes expands beyond this (rosbag's default chunk
/// is 768 KiB); a larger claim is damage.
const MAX_CHUNK: u64 = 1 << 30;

const OP_MESSAGE: u8 = 0x02;
const OP_CHUNK: u8 = 0x05;
const OP_CONNECTION: u8 = 0x07;

/// A ROS 1 bag file.
#[derive(Debug, Clone)]
pub struct Bag {
    /// The file.
    pub path: PathBuf,
}

/// `name=value` fields of a record header or a connection header.
fn fields(mut b: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    while !b.is_empty() {
        let (len, rest) = b.split_at_checked(4).ok_or("a field cut short")?;
        let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
        let field = rest.get(..len).ok_or("a field longer than its header")?;
        let eq = field
            .iter()
            .position(|&c| c == b'=')
            .ok_or("a field without '='")?;
        out.insert(
            String::from_utf8_lossy(&field[..eq]).into_owned(),
            field[eq + 1..].to_vec(),
        );
        b = &rest[len..];
    }
    Ok(out)
}

fn u32_field(f: &BTreeMap<String, Vec<u8>>, name: &str) -> Result<u32, String> {
    f.get(name)
        .and_then(|v| v.get(..4))
        .map(|v| u32::from_le_bytes(v.try_into().unwrap_or_default()))
        .ok_or_else(|| format!("no {name} field"))
}

/// One record: its header fields and data.
struct Record {
    header: BTreeMap<String, Vec<u8>>,
    data: Vec<u8>,
}

impl Record {
    fn op(&self) -> Option<u8> {
        self.header.get("op").and_then(|o| o.first().copied())
    }
}

/// A record's header fields.
type Fields = BTreeMap<String, Vec<u8>>;

/// Records of a decompressed chunk: (header fields, data).
fn chunk_records(mut b: &[u8]) -> Result<Vec<(Fields, &[u8])>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let take = |b: &mut &[u8]| -> Result<usize, String> {
            let (len, rest) = b.split_at_checked(4).ok_or("a record cut short")?;
            *b = rest;
            Ok(u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize)
        };
        let n = take(&mut b)?;
        let header = fields(b.get(..n).ok_or("a record header longer than the chunk")?)?;
        b = &b[n..];
        let n = take(&mut b)?;
        let data = b.get(..n).ok_or("a record longer than the chunk")?;
        b = &b[n..];
        out.push((header, data));
    }
    Ok(out)
}

/// How a connection's messages reach the episode.
enum Translation {
    /// A type reel knows: through its own ROS 2 type.
    Known(String),
    /// Any other type: from its definition.
    Generic(Box<generic::Definition>),
    /// Kept in ROS 1 encoding.
    Raw,
}

/// Connections seen so far, by connection id.
struct Connections {
    by_conn: HashMap<u32, (u32, std::rc::Rc<Translation>)>,
    ids: HashMap<(String, String), u32>,
    channels: Vec<SourceChannel>,
}

impl Connections {
    /// Registers connection `conn` from its connection header `data`.
    fn add(
        &mut self,
        path: &Path,
        conn: u32,
        data: &[u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), ImportError> {
        if self.by_conn.contains_key(&conn) {
            return Ok(());
        }
        let f = fields(data)
            .map_err(|e| ImportError::corrupt(path, FORMAT, format!("connection {conn}: {e}")))?;
        let text = |k: &str| {
            f.get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let (topic, ros1_type) = (text("topic"), text("type"));
        let definition = f.get("message_definition").cloned().unwrap_or_default();
        let (channel, translation) = match translate::ros2_type(&ros1_type) {
            Some(ros2) => (
                SourceChannel {
                    topic,
                    type_name: ros2.into(),
                    schema_encoding: "ros2msg".into(),
                    schema: reel_episode::ros2::known_schema_text(ros2)
                        .unwrap_or_default()
                        .into_bytes(),
                    message_encoding: "cdr".into(),
                    metadata: BTreeMap::new(),
                },
                Translation::Known(ros1_type.clone()),
            ),
            None => {
                match generic::Definition::parse(&ros1_type, &String::from_utf8_lossy(&definition))
                {
                    Ok(def) => (
                        SourceChannel {
                            topic,
                            type_name: def.ros2_name(),
                            schema_encoding: "ros2msg".into(),
                            schema: def.schema().as_bytes().to_vec(),
                            message_encoding: "cdr".into(),
                            metadata: BTreeMap::new(),
                        },
                        Translation::Generic(Box::new(def)),
                    ),
                    Err(why) => {
                        tracing::warn!(
                        "{}: {topic} ({ros1_type}) is kept in its ROS 1 encoding ({why}); ROS 2 tools will not decode it",
                        path.display()
                    );
                        (
                            SourceChannel {
                                topic,
                                type_name: ros1_type.clone(),
                                schema_encoding: "ros1msg".into(),
                                schema: definition,
                                message_encoding: "ros1".into(),
                                metadata: BTreeMap::from([("md5sum".to_string(), text("md5sum"))]),
                            },
                            Translation::Raw,
                        )
                    }
                }
            }
        };
        let key = (channel.topic.clone(), channel.type_name.clone());
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.channels.len()).unwrap_or(u32::MAX);
                self.ids.insert(key, id);
                self.channels.push(channel);
                sink(SourceEvent::Channel {
                    id,
                    channel: &self.channels[id as usize],
                })?;
                id
            }
        };
        self.by_conn
            .insert(conn, (id, std::rc::Rc::new(translation)));
        Ok(())
    }
}

/// Reads the next top-level record, or says why the file ends here.
fn next_record(r: &mut impl Read, pos: &mut u64, len: u64) -> Result<Option<Record>, String> {
    if *pos == len {
        return Ok(None);
    }
    let mut word = [0u8; 4];
    let mut read_len = |r: &mut dyn Read, pos: &mut u64, what: &str| -> Result<usize, String> {
        if len - *pos < 4 {
            return Err(format!("the file ends inside a record's {what} length"));
        }
        r.read_exact(&mut word).map_err(|e| e.to_string())?;
        *pos += 4;
        let n = u64::from(u32::from_le_bytes(word));
        if n > len - *pos {
            return Err(format!(
                "a record's {what} of {n} bytes, but only {} bytes are left",
                len - *pos
            ));
        }
        Ok(n as usize)
    };
    let n = read_len(r, pos, "header")?;
    let mut header = vec![0u8; n];
    r.read_exact(&mut header).map_err(|e| e.to_string())?;
    *pos += n as u64;
    let n = read_len(r, pos, "data")?;
    let mut data = vec![0u8; n];
    r.read_exact(&mut data).map_err(|e| e.to_string())?;
    *pos += n as u64;
    Ok(Some(Record {
        header: fields(&header).map_err(|e| format!("corrupt:{e}"))?,
        data,
    }))
}

fn decompress(compression: &[u8], data: &[u8], size: u64) -> Result<Vec<u8>, String> {
    if size > MAX_CHUNK {
        return Err(format!("a chunk claiming {size} bytes"));
    }
    let mut out = Vec::new();
    match compression {
        b"none" => out.extend_from_slice(data),
        b"bz2" => {
            bzip2::read::BzDecoder::new(data)
                .take(size + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("bz2: {e}"))?;
        }
        b"lz4" => {
            // roslz4 writes the LZ4 frame format.
            lz4::Decoder::new(data)
                .map_err(|e| format!("lz4: {e}"))?
                .take(size + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("lz4: {e}"))?;
        }
        other => return Err(format!("compression {:?}", String::from_utf8_lossy(other))),
    }
    if out.len() as u64 != size {
        return Err(format!(
            "expands to {} bytes, its header says {size}",
            out.len()
        ));
    }
    Ok(out)
}

impl Bag {
    /// Checks the magic of `path`.
    pub fn open(path: &Path) -> Result<Self, ImportError> {
        let mut head = [0u8; 13];
        let mut f = std::fs::File::open(path).map_err(ImportError::io(path))?;
        if f.read_exact(&mut head).is_err() || head != MAGIC {
            return Err(ImportError::corrupt(
                path,
                FORMAT,
                "no #ROSBAG V2.0 line (a bag of format 1.x is not read)",
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// Reads every record in file order; returns what was lost.
    pub fn read(&self, sink: &mut Sink<'_>) -> Result<Vec<Loss>, ImportError> {
        let path = &self.path;
        let file = std::fs::File::open(path).map_err(ImportError::io(path))?;
        let len = file.metadata().map_err(ImportError::io(path))?.len();
        let mut r = BufReader::with_capacity(1 << 20, file);
        r.read_exact(&mut [0u8; 13])
            .map_err(ImportError::io(path))?;
        let mut pos = MAGIC.len() as u64;
        let mut losses = Vec::new();
        let mut loss = |reason: &'static str, detail: String, messages: Option<u64>| {
            losses.push(Loss {
                file: path.clone(),
                reason,
                detail,
                messages,
            });
        };
        let mut conns = Connections {
            by_conn: HashMap::new(),
            ids: HashMap::new(),
            channels: Vec::new(),
        };
        let mut buf = Vec::new();
        let mut undecodable: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut message = |conns: &Connections,
                           header: &BTreeMap<String, Vec<u8>>,
                           data: &[u8],
                           sink: &mut Sink<'_>,
                           undecodable: &mut BTreeMap<String, (u64, String)>|
         -> Result<(), ImportError> {
            let (Ok(conn), Some(time)) = (
                u32_field(header, "conn"),
                header.get("time").and_then(|t| t.get(..8)),
            ) else {
                return Ok(());
            };
            let Some((id, translated)) = conns.by_conn.get(&conn) else {
                return Ok(());
            };
            let sec = u64::from(u32::from_le_bytes(time[..4].try_into().unwrap_or_default()));
            let nsec = u64::from(u32::from_le_bytes(time[4..].try_into().unwrap_or_default()));
            let t = sec * 1_000_000_000 + nsec;
            buf.clear();
            let translated = match translated.as_ref() {
                Translation::Known(ros1_type) => Some(translate::to_cdr(ros1_type, data, &mut buf)),
                Translation::Generic(def) => Some(def.to_cdr(data, &mut buf)),
                Translation::Raw => None,
            };
            let bytes: &[u8] = match translated {
                Some(Err(e)) => {
                    let entry = undecodable
                        .entry(conns.channels[*id as usize].topic.clone())
                        .or_default();
                    entry.0 += 1;
                    entry.1 = e;
                    return Ok(());
                }
                Some(Ok(())) => &buf,
                None => data,
            };
            sink(SourceEvent::Message {
                channel: *id,
                log_time: t,
                publish_time: t,
                data: bytes,
            })
        };
        loop {
            let at = pos;
            let record = match next_record(&mut r, &mut pos, len) {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(e) if e.starts_with("corrupt:") => {
                    loss(
                        "corrupt",
                        format!(
                            "damaged record header at byte {at} of {len} ({}); the rest is lost",
                            &e[8..]
                        ),
                        None,
                    );
                    break;
                }
                Err(e) => {
                    loss(
                        "truncated",
                        format!("read up to byte {at} of {len}, then {e}; the rest is lost"),
                        None,
                    );
                    break;
                }
            };
            match record.op() {
                Some(OP_CHUNK) => {
                    let compression = record
                        .header
                        .get("compression")
                        .cloned()
                        .unwrap_or_default();
                    let size = u64::from(u32_field(&record.header, "size").unwrap_or(0));
                    let data = match decompress(&compression, &record.data, size) {
                        Ok(d) => d,
                        Err(e) => {
                            loss(
                                "chunk_dropped",
                                format!("chunk at byte {at} skipped: {e}"),
                                None,
                            );
                            continue;
                        }
                    };
                    let inner = match chunk_records(&data) {
                        Ok(i) => i,
                        Err(e) => {
                            loss(
                                "chunk_dropped",
                                format!("chunk at byte {at} skipped: {e}"),
                                None,
                            );
                            continue;
                        }
                    };
                    for (header, data) in inner {
                        match header.get("op").and_then(|o| o.first().copied()) {
                            Some(OP_CONNECTION) => {
                                if let Ok(conn) = u32_field(&header, "conn") {
                                    conns.add(path, conn, data, sink)?;
                                }
                            }
                            Some(OP_MESSAGE) => {
                                message(&conns, &header, data, sink, &mut undecodable)?
                            }
                            _ => {}
                        }
                    }
                }
                Some(OP_CONNECTION) => {
                    if let Ok(conn) = u32_field(&record.header, "conn") {
                        conns.add(path, conn, &record.data, sink)?;
                    }
                }
                Some(OP_MESSAGE) => {
                    message(&conns, &record.header, &record.data, sink, &mut undecodable)?
                }
                // Bag header, index data, chunk info: not needed for a linear read.
                _ => {}
            }
        }
        for (topic, (n, why)) in undecodable {
            loss(
                "undecodable",
                format!("{topic}: {n} messages could not be translated ({why})"),
                Some(n),
            );
        }
        Ok(losses)
    }
}
