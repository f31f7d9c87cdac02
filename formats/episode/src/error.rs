//! Errors of reel-episode. Variants carry the values needed to act on them;
//! file paths are added once, where a file is opened.

use std::path::PathBuf;

/// Why bytes could not be decoded as a CDR message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdrError {
    /// The message ends before a field.
    #[error("message ends at byte {at}, {need} more bytes needed")]
    Truncated {
        /// Offset of the field (from the start of the message).
        at: usize,
        /// Bytes that were needed.
        need: usize,
    },
    /// The 4-byte encapsulation header is not CDR or XCDR2 (plain).
    #[error("unsupported CDR encapsulation header {header:02x?}")]
    Encapsulation {
        /// The header bytes.
        header: [u8; 4],
    },
    /// A sequence count larger than the bytes that follow could hold.
    #[error("sequence of {count} elements at byte {at} cannot fit in the {remaining} bytes left")]
    BadLength {
        /// Offset of the count.
        at: usize,
        /// The count read.
        count: usize,
        /// Bytes left in the message.
        remaining: usize,
    },
    /// A bool that is neither 0 nor 1.
    #[error("bool at byte {at} has value {value}")]
    BadBool {
        /// Offset.
        at: usize,
        /// Value read.
        value: u8,
    },
    /// A string without its terminating NUL.
    #[error("string at byte {at} is not NUL-terminated")]
    StringNotTerminated {
        /// Offset of the length.
        at: usize,
    },
    /// A string that is not UTF-8.
    #[error("string at byte {at} is not UTF-8")]
    StringNotUtf8 {
        /// Offset of the length.
        at: usize,
    },
    /// More bytes follow the message than padding explains.
    #[error("{count} unexpected bytes after the message (wrong type?)")]
    TrailingBytes {
        /// Bytes left over.
        count: usize,
    },
}

/// Errors of episode reading, writing and recovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an operation on a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file does not exist.
    #[error("{}: no such file; check the path", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the MCAP magic bytes.
    #[error("{}: not an MCAP file (no MCAP magic at the start); check the path", path.display())]
    NotMcap {
        /// The file.
        path: PathBuf,
    },
    /// The MCAP structure is damaged where it must not be.
    #[error("{}: damaged MCAP at byte {offset}: {source}; try `reel recover`", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record that failed.
        offset: u64,
        /// What the mcap parser said.
        source: mcap::McapError,
    },
    /// The file's framing is broken or cut off (the writer died, or the file
    /// was damaged).
    #[error("{}: {reason} at byte {offset}; if a recording was interrupted, run `reel recover` on it", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem.
        offset: u64,
        /// What was found.
        reason: String,
    },
    /// The mcap writer failed.
    #[error("{}: writing MCAP: {}", path.display(), mcap_error_text(source))]
    Write {
        /// The file.
        path: PathBuf,
        /// What the mcap writer said.
        source: mcap::McapError,
    },
    /// A message could not be decoded as its schema says.
    #[error("{}: message {index} on {topic} is not a valid {type_name}: {source}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The topic.
        topic: String,
        /// The schema name.
        type_name: String,
        /// Index of the message in the file.
        index: u64,
        /// Why.
        source: CdrError,
    },
    /// Refused to overwrite an existing file.
    #[error("{} already exists; choose another name or remove it first", path.display())]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// A topic was used with two different types.
    #[error("topic {topic} is already registered as {existing}, not {requested}")]
    TopicTypeMismatch {
        /// The topic.
        topic: String,
        /// The type it has.
        existing: String,
        /// The type asked for.
        requested: String,
    },
    /// A topic handle that this writer did not hand out.
    #[error("{}: topic handle belongs to another episode writer", path.display())]
    UnknownTopic {
        /// The file being written.
        path: PathBuf,
    },
    /// Nothing in the file could be recovered.
    #[error("{}: no complete MCAP records after the header; nothing to recover", path.display())]
    NothingToRecover {
        /// The file.
        path: PathBuf,
    },
    /// Episode metadata that does not parse.
    #[error("{}: bad `reel.episode` metadata: {reason}", path.display())]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| match source.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound { path },
            _ => Self::Io { path, source },
        }
    }
}

/// The mcap error with its OS cause ("No space left on device"), which the
/// crate's own message leaves out.
fn mcap_error_text(e: &mcap::McapError) -> String {
    match e {
        mcap::McapError::Io(io) => format!("{io}"),
        other => other.to_string(),
    }
}
