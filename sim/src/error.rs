//! Errors of the simulator: one line naming the file (and line) and what to do.

use std::path::{Path, PathBuf};

/// Everything that can stop a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A scenario, URDF or mesh that cannot be used as written.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file at fault.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
    /// Writing the episode failed.
    #[error("{}: {source}", path.display())]
    Episode {
        /// The episode file.
        path: PathBuf,
        /// The writer's error.
        source: Box<reel_episode::Error>,
    },
}

impl SimError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn input(path: &Path, message: impl Into<String>) -> Self {
        Self::Input {
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }

    pub(crate) fn at_line(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Self::Input {
            path: path.to_path_buf(),
            line: Some(line),
            message: message.into(),
        }
    }
}

/// 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}
