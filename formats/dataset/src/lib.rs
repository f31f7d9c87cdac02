//! Dataset targets of reel episodes: episodes → LeRobot v3.0 datasets ([`lerobot`]) and LAS
//! point clouds ([`las`]); every export carries a [`manifest`] (sha256 of
//! every file, checked by `reel check`) and a dataset [`card`].
//!
//! Output is written under a temporary name and renamed at the end, so a
//! failed or interrupted export never leaves something that looks complete.

pub mod align;
pub mod card;
pub mod deid;
pub mod las;
pub mod lerobot;
pub mod manifest;
pub mod release;
pub mod source;
pub mod stats;

use std::path::{Path, PathBuf};

/// Errors of the exporters. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A source episode or config that cannot be exported as it is.
    #[error("{}: {reason}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The output cannot be written where asked.
    #[error("{}: {reason}", path.display())]
    Output {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The operating system refused an operation.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Reading an episode failed.
    #[error(transparent)]
    Episode(#[from] reel_episode::Error),
    /// A table could not be built (a bug in reel if it happens).
    #[error("{}: {source}", path.display())]
    Table {
        /// The table's file.
        path: PathBuf,
        /// What Arrow said.
        source: arrow_schema::ArrowError,
    },
}

impl ExportError {
    /// A problem with an input file.
    pub fn input(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Self::Input {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// A problem with the output.
    pub fn output(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Self::Output {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An Arrow error building the table of `path`.
    pub fn table(path: impl AsRef<Path>) -> impl FnOnce(arrow_schema::ArrowError) -> Self {
        let path = path.as_ref().to_path_buf();
        move |source| Self::Table { path, source }
    }

    /// An OS error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// Expands the export's inputs: files are taken as they are, directories
/// give their `*.mcap` files (sorted by name, not recursive). Unfinished
/// `*.mcap.partial` files are refused with the fix.
pub fn episode_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ExportError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let found =
                reel_episode::episode_files_in(input).map_err(|e| ExportError::io(input, e))?;
            if let Some(p) = found
                .iter()
                .find(|p| p.to_string_lossy().ends_with(reel_episode::PARTIAL_SUFFIX))
            {
                return Err(ExportError::input(
                    p,
                    "an unfinished recording; run `reel recover` on it (or move it away) first",
                ));
            }
            let before = out.len();
            out.extend(
                found
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "mcap")),
            );
            if out.len() == before {
                return Err(ExportError::input(
                    input,
                    "no *.mcap episodes in this directory",
                ));
            }
        } else if input.exists() {
            out.push(input.clone());
        } else {
            return Err(ExportError::input(
                input,
                "no such file or directory; check the path",
            ));
        }
    }
    if out.is_empty() {
        return Err(ExportError::input(".", "no episodes given"));
    }
    Ok(out)
}

/// Removes what unfinished runs left for `target` (their staging
/// directories, `.NAME.reel-partial-PID`): for a retried shard, whose
/// earlier attempt was killed. Returns what was removed.
pub fn remove_partials(target: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = target.file_name() else {
        return Ok(Vec::new());
    };
    let prefix = format!(".{}.reel-partial-", name.to_string_lossy());
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| ExportError::io(&path, e))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// A directory written under a temporary sibling name and renamed into
/// place by [`Staging::commit`]; dropped uncommitted, it is removed.
#[derive(Debug)]
pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Stages a new directory for `target`, which must not exist or be empty.
    pub fn new(target: &Path) -> Result<Self, ExportError> {
        if target.exists() {
            let empty = std::fs::read_dir(target)
                .map_err(|e| ExportError::io(target, e))?
                .next()
                .is_none();
            if !empty {
                return Err(ExportError::output(
                    target,
                    "already exists and is not empty; choose a new directory",
                ));
            }
        }
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| ExportError::io(parent, e))?;
        let name = target
            .file_name()
            .ok_or_else(|| ExportError::output(target, "not a directory name"))?
            .to_string_lossy();
        let tmp = parent.join(format!(".{name}.reel-partial-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| ExportError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| ExportError::io(&tmp, e))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the staged directory to the target.
    pub fn commit(mut self) -> Result<PathBuf, ExportError> {
        if self.target.exists() {
            std::fs::remove_dir(&self.target).map_err(|e| ExportError::io(&self.target, e))?;
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| ExportError::io(&self.target, e))?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so the
/// file is either the old or the new version, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    reel_episode::fs::write_atomically(path, bytes).map_err(|e| ExportError::io(path, e))
}
