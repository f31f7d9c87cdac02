//! Why an import failed, in one line naming the file and what to do.

use std::path::{Path, PathBuf};

/// An import that could not start or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Nothing in it says which recording format it is.
    #[error("{}: not a recording reel can import ({reason}); give a rosbag2 folder (metadata.yaml), a .mcap or .db3 file", path.display())]
    Unrecognized {
        /// The file or folder.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A known format that this version does not read yet.
    #[error("{}: {format} is recognized but not imported by this version of reel; convert it to a rosbag2 bag first (for example with `rosbags-convert`)", path.display())]
    NotYetSupported {
        /// The file.
        path: PathBuf,
        /// The format found.
        format: &'static str,
    },
    /// The file is of a known format but its content is damaged before
    /// anything could be read.
    #[error("{}: damaged {format} ({reason}); nothing was imported", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The format.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The mapping file is not valid, or does not fit the source.
    #[error("{}: {reason}", path.display())]
    Mapping {
        /// The mapping file (or the source it was proposed for).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The episode could not be written.
    #[error(transparent)]
    Episode(#[from] reel_episode::Error),
}

impl ImportError {
    /// An I/O error on `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A damaged file of `format`.
    pub fn corrupt(path: &Path, format: &'static str, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.to_path_buf(),
            format,
            reason: reason.into(),
        }
    }
}
