//! Calibration errors: each names the input and says what is missing.

use std::path::PathBuf;

/// Why a calibration could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum CalibError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An input could not be used, with what to do about it.
    #[error("{path}: {message}")]
    Input {
        /// The file, folder or episode.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// An argument (board spec, model name) is malformed.
    #[error("{0}")]
    Argument(String),
    /// The data does not determine the result (too few views, degenerate motion).
    #[error("{0}")]
    NotEnoughData(String),
}

impl CalibError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}
