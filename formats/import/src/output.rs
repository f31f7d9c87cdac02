//! Where an imported episode goes and what it says about its source: the
//! file name, the skip of a source already imported (same sha256), a
//! re-import that replaces the old file only once complete, and the
//! `reel.episode` lineage every importer writes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use reel_episode::{EpisodeMeta, EpisodeReader, EpisodeWriter, SourceKind};

use crate::source::Loss;
use crate::ImportError;

/// A stable episode id from the source's sha256 (UUID layout, version 8):
/// importing the same bytes twice gives the same id.
pub(crate) fn episode_id(sha256: &str) -> String {
    let digest = reel_episode::sha256_hex(format!("reel-import\0{sha256}").as_bytes());
    let mut b: Vec<char> = digest[..32].chars().collect();
    b[12] = '8';
    b[16] = ['8', '9', 'a', 'b'][usize::from(b[16].to_digit(16).unwrap_or(0) as u8 & 3)];
    let s: String = b.into_iter().collect();
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// The episodes already imported into a folder, by their source's sha256:
/// read once per import, however many episodes it places.
pub(crate) struct Imported {
    by_sha256: HashMap<String, PathBuf>,
}

impl Imported {
    /// Reads the `reel.episode` of every episode in `out` (none yet: empty).
    pub(crate) fn scan(out: &Path) -> Result<Self, ImportError> {
        let mut by_sha256 = HashMap::new();
        if out.is_dir() {
            for file in reel_episode::episode_files_in(out).map_err(ImportError::io(out))? {
                let Ok(reader) = EpisodeReader::open(&file) else {
                    continue;
                };
                if let Ok(Some(meta)) = reader.episode_meta() {
                    if meta.source == SourceKind::Import {
                        if let Some(sha) = meta.source_params.get("sha256") {
                            by_sha256.entry(sha.clone()).or_insert(file);
                        }
                    }
                }
            }
        }
        Ok(Self { by_sha256 })
    }
}

/// The episode's file name: the bag folder's or the file's name.
pub(crate) fn episode_name(source: &Path) -> String {
    let name = if source.is_dir() {
        source.file_name()
    } else {
        source.file_stem()
    };
    let name = name
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." {
        "imported".into()
    } else {
        name
    }
}

/// Where to write an episode, or the earlier import that makes it unnecessary.
pub(crate) enum Placement {
    /// Already imported (same sha256) and not forced: the earlier episode.
    Skip(PathBuf),
    /// Write here.
    Write(Target),
}

/// The file an import writes, and the earlier import it replaces.
pub(crate) struct Target {
    /// The episode's path (the writer adds `.partial` until it finishes).
    pub write_path: PathBuf,
    replace: Option<PathBuf>,
}

/// Where the episode named `name` of a source with `sha256` goes in `out`.
pub(crate) fn place(
    imported: &Imported,
    out: &Path,
    name: &str,
    sha256: &str,
    force: bool,
) -> Result<Placement, ImportError> {
    std::fs::create_dir_all(out).map_err(ImportError::io(out))?;
    let existing = imported.by_sha256.get(sha256).cloned();
    Ok(match existing {
        Some(old) if !force => Placement::Skip(old),
        // A re-import is written beside the old file and replaces it only
        // once complete.
        Some(old) => Placement::Write(Target {
            write_path: old.with_extension("reimport.mcap"),
            replace: Some(old),
        }),
        None => {
            let plain = out.join(format!("{name}.mcap"));
            let taken = plain.exists() || reel_episode::partial_path_for(&plain).exists();
            Placement::Write(Target {
                write_path: if taken {
                    out.join(format!("{name}-{}.mcap", &sha256[..8]))
                } else {
                    plain
                },
                replace: None,
            })
        }
    })
}

impl Target {
    /// Finishes the episode and puts it in place; returns its path.
    pub(crate) fn finish(self, writer: EpisodeWriter) -> Result<PathBuf, ImportError> {
        let episode = writer.finish()?;
        match self.replace {
            Some(old) => {
                std::fs::rename(&episode, &old).map_err(ImportError::io(&old))?;
                Ok(old)
            }
            None => Ok(episode),
        }
    }
}

/// The `reel.episode` of an imported episode: `source = import`, the
/// format, the source's absolute path, its files and their sha256; the id
/// derived from the sha256.
pub(crate) fn lineage_meta(
    task: &str,
    robot_type: &str,
    format: &str,
    path: &Path,
    files: &[String],
    sha256: &str,
) -> EpisodeMeta {
    let mut meta = EpisodeMeta::new(task, robot_type);
    meta.episode_id = episode_id(sha256);
    meta.source = SourceKind::Import;
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let params = &mut meta.source_params;
    params.insert("format".into(), format.into());
    params.insert("path".into(), absolute.display().to_string());
    params.insert(
        "files".into(),
        serde_json::to_string(files).unwrap_or_default(),
    );
    params.insert("sha256".into(), sha256.into());
    meta
}

/// Time of sample `i` of a source without a clock, on the grid of `fps`:
/// reel's export grid itself ([`reel_dataset::align::Grid`], whole
/// nanoseconds rounded down), so an export of the import finds every sample
/// on its own grid. A fractional rate (only `--fps` can give one) rounds
/// the same way.
pub(crate) fn grid_nanos(i: u64, fps: f64) -> u64 {
    if fps.fract() == 0.0 && fps >= 1.0 && fps <= f64::from(u32::MAX) {
        let grid = reel_dataset::align::Grid {
            start_nanos: 0,
            fps: fps as u32,
            frames: 0,
        };
        u64::try_from(grid.time(usize::try_from(i).unwrap_or(usize::MAX))).unwrap_or(0)
    } else {
        (i as f64 * 1e9 / fps).floor() as u64
    }
}

/// Each loss as an `/episode/events` message at `time`, so `reel info`
/// and `reel check` report it.
pub(crate) fn write_losses(
    writer: &mut EpisodeWriter,
    losses: &[Loss],
    time: u64,
) -> Result<(), ImportError> {
    if losses.is_empty() {
        return Ok(());
    }
    let topic = writer
        .add_topic::<reel_episode::ros2::std_msgs::StringMsg>(reel_episode::topics::EVENTS)?;
    for loss in losses {
        let event = serde_json::json!({
            "event": "import_loss",
            "reason": loss.reason,
            "file": loss.file,
            "count": loss.messages.unwrap_or(0),
            "detail": loss.detail,
        });
        let msg = reel_episode::ros2::std_msgs::StringMsg {
            data: event.to_string(),
        };
        writer.write(topic, &msg, time, time)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_ids_are_stable_uuid_v8() {
        let id = episode_id("abc");
        assert_eq!(id, episode_id("abc"));
        assert_ne!(id, episode_id("abd"));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert!("89ab".contains(&id[19..20]), "{id}");
    }
}
