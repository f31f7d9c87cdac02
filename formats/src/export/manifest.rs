//! `manifest.json`: sha256 and size of every file of an export, the reel
//! version, and the source episodes with their hashes; [`check`] compares a
//! directory with it (what `reel check` runs).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{write_atomically, ExportError};

/// The manifest's file name (at the export's root).
pub const MANIFEST: &str = "manifest.json";
/// Marks an append that has not finished (removed at its end).
pub const APPEND_MARKER: &str = ".reel-append-in-progress";

/// One file of the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the root, with `/` separators.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// sha256, lower-case hex.
    pub sha256: String,
}

/// One source episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// `reel.episode` id.
    pub episode_id: String,
    /// The file name it was read from.
    pub file: String,
    /// sha256 of that file.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// `capture`, `sim`, ...
    pub source: String,
    /// Index in the dataset, where the export has episodes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub episode_index: Option<u64>,
    /// Frames it gave, where the export has frames.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frames: Option<u64>,
    /// Grid frames left out by alignment.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dropped_frames: Option<u64>,
    /// The episode's task.
    #[serde(default)]
    pub task: String,
    /// The episode's outcome label.
    #[serde(default)]
    pub outcome: String,
}

impl SourceEntry {
    /// The entry for the episode file `path` (its hash and size already
    /// known) with what its metadata says; the per-dataset fields are None.
    pub fn describe(
        path: &Path,
        sha256: String,
        size: u64,
        meta: Option<&crate::episode::EpisodeMeta>,
    ) -> Self {
        Self {
            episode_id: meta.map(|m| m.episode_id.clone()).unwrap_or_default(),
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256,
            size,
            source: meta.map_or("other", |m| m.source.as_str()).to_string(),
            episode_index: None,
            frames: None,
            dropped_frames: None,
            task: meta.map(|m| m.task.clone()).unwrap_or_default(),
            outcome: meta
                .map(|m| m.outcome.as_str().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `reel-manifest/1`.
    pub format: String,
    /// What wrote it (`reel x.y.z`).
    pub generator: String,
    /// When (UTC, RFC 3339).
    pub created: String,
    /// What kind of export (`lerobot-v3.0`, `las`).
    pub kind: String,
    /// Source episodes.
    pub sources: Vec<SourceEntry>,
    /// Every file but the manifest, sorted by path.
    pub files: Vec<FileEntry>,
}

/// Hashes one file.
pub fn hash_file(path: &Path) -> Result<(u64, String), ExportError> {
    let mut f = std::fs::File::open(path).map_err(|e| ExportError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| ExportError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, hex))
}

/// Every regular file under `root` (relative, `/`-separated, sorted),
/// without the manifest and reel's own temporary files.
pub fn list_files(root: &Path) -> Result<Vec<String>, ExportError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), ExportError> {
        for e in std::fs::read_dir(dir).map_err(|e| ExportError::io(dir, e))? {
            let e = e.map_err(|e| ExportError::io(dir, e))?;
            let p = e.path();
            let ty = e.file_type().map_err(|e| ExportError::io(&p, e))?;
            if ty.is_dir() {
                walk(root, &p, out)?;
            } else if ty.is_file() {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let rel = rel.join("/");
                if rel != MANIFEST && rel != APPEND_MARKER && !rel.ends_with(".reel-tmp") {
                    out.push(rel);
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

impl Manifest {
    /// Lists every file under `root` and writes `root/manifest.json`.
    /// Files in `unchanged` (entries of an earlier manifest for files this
    /// run did not write) keep their entry instead of being read again, so
    /// an append neither re-reads the dataset nor blesses a file that was
    /// damaged since; every other file is hashed.
    pub fn write(
        root: &Path,
        kind: &str,
        sources: Vec<SourceEntry>,
        unchanged: &[FileEntry],
    ) -> Result<Self, ExportError> {
        let known: BTreeMap<&str, &FileEntry> =
            unchanged.iter().map(|f| (f.path.as_str(), f)).collect();
        let mut files = Vec::new();
        for rel in list_files(root)? {
            if let Some(entry) = known.get(rel.as_str()) {
                files.push((*entry).clone());
                continue;
            }
            let (size, sha256) = hash_file(&root.join(&rel))?;
            files.push(FileEntry {
                path: rel,
                size,
                sha256,
            });
        }
        let m = Self {
            format: "reel-manifest/1".into(),
            generator: crate::software_version(),
            created: crate::time::format_utc(crate::time::host_now_nanos()),
            kind: kind.into(),
            sources,
            files,
        };
        let json =
            serde_json::to_vec_pretty(&m).map_err(|e| ExportError::output(root, e.to_string()))?;
        write_atomically(&root.join(MANIFEST), &json)?;
        Ok(m)
    }

    /// Reads `root/manifest.json`.
    pub fn read(root: &Path) -> Result<Self, ExportError> {
        let path = root.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ExportError::input(
                &path,
                "no manifest; this directory was not written by `reel export`",
            ),
            _ => ExportError::io(&path, e),
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| ExportError::input(&path, format!("not a reel manifest: {e}")))
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Files that match.
    pub ok: usize,
    /// Files whose size or hash differ.
    pub changed: Vec<String>,
    /// Files in the manifest but not on disk.
    pub missing: Vec<String>,
    /// Files on disk but not in the manifest.
    pub added: Vec<String>,
    /// An append was interrupted (the dataset is mid-update).
    pub incomplete_append: bool,
}

impl CheckReport {
    /// True when the directory is exactly what the manifest lists.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty()
            && self.missing.is_empty()
            && self.added.is_empty()
            && !self.incomplete_append
    }
}

/// Compares `root` with its manifest.
pub fn check(root: &Path) -> Result<CheckReport, ExportError> {
    if !root.is_dir() {
        return Err(ExportError::input(
            root,
            "not a directory; give the export's root",
        ));
    }
    let manifest = Manifest::read(root)?;
    let listed: BTreeMap<&str, &FileEntry> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut report = CheckReport {
        incomplete_append: root.join(APPEND_MARKER).exists(),
        ..Default::default()
    };
    let on_disk = list_files(root)?;
    for rel in &on_disk {
        match listed.get(rel.as_str()) {
            None => report.added.push(rel.clone()),
            Some(entry) => {
                let (size, sha) = hash_file(&root.join(rel))?;
                if size == entry.size && sha == entry.sha256 {
                    report.ok += 1;
                } else {
                    report.changed.push(rel.clone());
                }
            }
        }
    }
    let present: std::collections::BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
    report.missing = listed
        .keys()
        .filter(|p| !present.contains(**p))
        .map(|p| p.to_string())
        .collect();
    Ok(report)
}
