//! Files replaced whole, with one durability rule for all of reel: the new
//! content goes to a temporary file beside the target, is synced, renamed
//! over the target, and the folder is synced, so after a crash or power
//! loss the target is either the old version or the new one, complete.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A temporary name beside `path` (hidden, tagged with the process id, so
/// two processes never share one).
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.reel-partial-{}", std::process::id()))
}

/// Syncs a folder, so a rename or a new file in it survives a crash. Some
/// filesystems refuse to sync folders; that is not an error.
pub fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Moves a finished temporary file over `path`: syncs its content, renames
/// it, syncs the folder.
pub fn commit(temporary: &Path, path: &Path) -> std::io::Result<()> {
    File::open(temporary)?.sync_all()?;
    std::fs::rename(temporary, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// Replaces `path` with what `write` writes into a temporary file; on any
/// error the target is untouched and the temporary file removed.
pub fn replace_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temporary = temporary_path(path);
    let result = write(&temporary).and_then(|()| commit(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

/// Replaces `path` with `bytes`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_with(path, |temporary| {
        let mut f = File::create(temporary)?;
        f.write_all(bytes)
    })
}

/// Copies `path` to a backup beside it named after it and `stamp`
/// (`rig.toml.20261204T101500.bak`), never over an existing file: a second
/// backup within the same stamp gets `-2`, `-3`, ... Returns the backup.
pub fn backup_copy(path: &Path, stamp: &str) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(path)?;
    for n in 1u32.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let backup = path.with_file_name(format!("{name}.{stamp}{suffix}.bak"));
        // create_new: two writers racing for one name cannot both win.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&backup)
        {
            Ok(mut f) => {
                f.write_all(&bytes)?;
                f.sync_all()?;
                sync_dir(path.parent().unwrap_or(Path::new(".")));
                return Ok(backup);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("u32 backups of one file within one stamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_replacement_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_atomically(&path, b"old").unwrap();
        let failed = replace_with(&path, |tmp| {
            std::fs::write(tmp, b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn backups_never_overwrite_one_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rig.toml");
        std::fs::write(&path, "one").unwrap();
        let first = backup_copy(&path, "20261204T101500").unwrap();
        std::fs::write(&path, "two").unwrap();
        let second = backup_copy(&path, "20261204T101500").unwrap();
        assert_ne!(first, second);
        assert_eq!(std::fs::read_to_string(first).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(second).unwrap(), "two");
    }
}
