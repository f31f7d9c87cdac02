//! One `.db3` file of a rosbag2 bag (the SQLite3 storage plugin): tables
//! `topics`, `messages` and, from rosbag2 Iron on, `message_definitions`.
//! Read through rusqlite with SQLite compiled in; rows are streamed in
//! insertion (receive) order, never loaded whole.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::ChannelTable;
use crate::source::{Loss, Sink, SourceChannel, SourceEvent};
use crate::ImportError;

const FORMAT: &str = "rosbag2 SQLite3";

/// `file:` URI opening `path` read-only and immutable (no journal or
/// `-shm` file is created beside a bag the user may not own).
fn uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => s.push_str("%25"),
            '?' => s.push_str("%3f"),
            '#' => s.push_str("%23"),
            c => s.push(c),
        }
    }
    s.push_str("?immutable=1");
    s
}

fn open(path: &Path, named: &Path) -> Result<Connection, ImportError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(uri(path), flags)
        .map_err(|e| ImportError::corrupt(named, FORMAT, e.to_string()))
}

/// A database file cut off by a crash or a failed copy: SQLite refuses
/// it whole ("malformed") because its header counts pages the file no
/// longer has. (page size, pages the header counts, pages present), when so.
fn cut_off(path: &Path) -> Result<Option<(u64, u64, u64)>, ImportError> {
    use std::io::Read;
    let mut header = [0u8; 100];
    let mut f = std::fs::File::open(path).map_err(ImportError::io(path))?;
    if f.read_exact(&mut header).is_err() {
        return Err(ImportError::corrupt(
            path,
            FORMAT,
            "shorter than an SQLite header (100 bytes)",
        ));
    }
    let len = f.metadata().map_err(ImportError::io(path))?.len();
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    if !page_size.is_power_of_two() || !(512..=65_536).contains(&page_size) {
        return Err(ImportError::corrupt(
            path,
            FORMAT,
            format!("page size {page_size} in the header"),
        ));
    }
    let counted = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    let present = len / page_size;
    Ok((counted > present).then_some((page_size, counted, present)))
}

/// A copy of a cut-off database whose header counts only the pages
/// present, so SQLite reads every row up to the cut. The source is never
/// written; the copy is deleted when dropped.
fn readable_copy(path: &Path, present: u64) -> Result<tempfile::NamedTempFile, ImportError> {
    use std::io::{Seek, SeekFrom, Write};
    let mut copy = tempfile::Builder::new()
        .prefix(".reel-import-")
        .suffix(".db3")
        .tempfile()
        .map_err(ImportError::io(&std::env::temp_dir()))?;
    let mut src = std::fs::File::open(path).map_err(ImportError::io(path))?;
    std::io::copy(&mut src, copy.as_file_mut()).map_err(ImportError::io(copy.path()))?;
    let f = copy.as_file_mut();
    f.seek(SeekFrom::Start(28)).map_err(ImportError::io(path))?;
    f.write_all(&u32::try_from(present).unwrap_or(u32::MAX).to_be_bytes())
        .map_err(ImportError::io(path))?;
    f.flush().map_err(ImportError::io(path))?;
    Ok(copy)
}

/// Column names of `table` (empty when it does not exist).
fn columns(db: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = db.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(1))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

/// Message definitions by type (rosbag2 ≥ Iron stores them).
fn definitions(db: &Connection) -> rusqlite::Result<HashMap<String, (String, Vec<u8>)>> {
    let mut out = HashMap::new();
    let cols = columns(db, "message_definitions")?;
    if !cols.iter().any(|c| c == "encoded_message_definition") {
        return Ok(out);
    }
    let mut stmt = db.prepare(
        "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (type_name, encoding, text) = row?;
        if !text.is_empty() {
            out.insert(type_name, (encoding, text.into_bytes()));
        }
    }
    Ok(out)
}

/// Reads `path`, handing channels and messages to `sink`; returns what was lost.
pub(super) fn read(
    path: &Path,
    table: &mut ChannelTable,
    sink: &mut Sink<'_>,
) -> Result<Vec<Loss>, ImportError> {
    let mut losses = Vec::new();
    let cut = cut_off(path)?;
    let copy = match cut {
        Some((page_size, counted, present)) => {
            losses.push(Loss {
                file: path.to_path_buf(),
                reason: "truncated",
                detail: format!(
                    "the file is cut off: {present} of {counted} pages of {page_size} bytes; the rows in the missing pages are lost"
                ),
                messages: None,
            });
            Some(readable_copy(path, present)?)
        }
        None => None,
    };
    let db = open(copy.as_ref().map_or(path, |c| c.path()), path)?;
    let corrupt = |e: rusqlite::Error| ImportError::corrupt(path, FORMAT, e.to_string());
    let topic_cols = columns(&db, "topics").map_err(corrupt)?;
    if !["id", "name", "type", "serialization_format"]
        .iter()
        .all(|c| topic_cols.iter().any(|t| t == c))
    {
        return Err(ImportError::corrupt(
            path,
            FORMAT,
            "no rosbag2 `topics` table (id, name, type, serialization_format)",
        ));
    }
    let definitions = definitions(&db).map_err(corrupt)?;
    let qos = if topic_cols.iter().any(|c| c == "offered_qos_profiles") {
        "offered_qos_profiles"
    } else {
        "''"
    };
    let mut ids: HashMap<i64, u32> = HashMap::new();
    {
        let mut stmt = db
            .prepare(&format!(
                "SELECT id, name, type, serialization_format, {qos} FROM topics ORDER BY id"
            ))
            .map_err(corrupt)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?.unwrap_or_default(),
                ))
            })
            .map_err(corrupt)?;
        for row in rows {
            let (id, topic, type_name, format, qos) = row.map_err(corrupt)?;
            let (schema_encoding, schema) = match definitions.get(&type_name) {
                Some((encoding, text)) => (encoding.clone(), text.clone()),
                None => super::known_schema(&type_name),
            };
            let mut metadata = BTreeMap::new();
            if !qos.is_empty() {
                metadata.insert("offered_qos_profiles".to_string(), qos);
            }
            let channel = SourceChannel {
                topic,
                type_name,
                schema_encoding,
                schema,
                message_encoding: format,
                metadata,
            };
            ids.insert(id, table.id_for(channel, sink)?);
        }
    }
    let mut stmt = db
        .prepare("SELECT topic_id, timestamp, data FROM messages ORDER BY id")
        .map_err(corrupt)?;
    let mut rows = stmt.query([]).map_err(corrupt)?;
    let mut read = 0u64;
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                losses.push(Loss {
                    file: path.to_path_buf(),
                    reason: "corrupt",
                    detail: format!("SQLite stopped after {read} messages: {e}"),
                    messages: None,
                });
                break;
            }
        };
        let decoded = (|| -> rusqlite::Result<(i64, i64, &[u8])> {
            Ok((row.get(0)?, row.get(1)?, row.get_ref(2)?.as_blob()?))
        })();
        let (topic_id, timestamp, data) = match decoded {
            Ok(v) => v,
            Err(e) => {
                losses.push(Loss {
                    file: path.to_path_buf(),
                    reason: "corrupt",
                    detail: format!("message row {} unreadable: {e}", read + 1),
                    messages: Some(1),
                });
                continue;
            }
        };
        read += 1;
        let Some(&channel) = ids.get(&topic_id) else {
            losses.push(Loss {
                file: path.to_path_buf(),
                reason: "orphan",
                detail: format!("a message names topic id {topic_id}, which the bag never defines"),
                messages: Some(1),
            });
            continue;
        };
        let time = u64::try_from(timestamp).unwrap_or(0);
        sink(SourceEvent::Message {
            channel,
            log_time: time,
            publish_time: time,
            data,
        })?;
    }
    Ok(losses)
}
