//! `manifest.json`: sha256 and size of every file of an export, the reel
//! version, and the source episodes with their hashes; [`check`] compares a
//! directory with it (what `reel check` runs).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{write_atomically, ExportError};
use crate::card::{Card, CardEpisode};
pub use crate::release::{next_version, parse_semver, Derivation, Release, VersionError};

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
    /// Lineage: sha256 of the rig config it was recorded with.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rig_config_hash: Option<String>,
    /// Lineage: the sim scenario (file name and sha256) and seed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scenario: Option<String>,
    /// Lineage: seed of a synthetic episode.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seed: Option<u64>,
    /// Lineage: the `reel x.y.z` that wrote the episode.
    #[serde(default)]
    pub software_version: String,
    /// Lineage: the episode this one was derived from (a sim replay's
    /// source), when it was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent: Option<String>,
    /// Lineage of an imported episode: the source's format, file and
    /// sha256 as `reel import` recorded them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub imported_from: Option<ImportedFrom>,
    /// The operator's pseudonym (exports made with a pseudonym key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operator: Option<String>,
    /// The site's pseudonym (exports made with a pseudonym key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub site: Option<String>,
}

/// Where an imported episode came from (its `reel.episode` lineage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedFrom {
    /// Source format (`rosbag2-mcap`, `rosbag2-sqlite3`, ...).
    pub format: String,
    /// The source path when it was imported.
    pub path: String,
    /// sha256 of the source's data files.
    pub sha256: String,
    /// The import mapping applied (TOML).
    pub mapping: String,
}

impl ImportedFrom {
    /// The lineage of an episode whose metadata says it was imported.
    pub fn of(meta: &reel_episode::EpisodeMeta) -> Option<Self> {
        if meta.source != reel_episode::SourceKind::Import {
            return None;
        }
        let p = &meta.source_params;
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        Some(Self {
            format: get("format"),
            path: get("path"),
            sha256: get("sha256"),
            mapping: get("mapping"),
        })
    }
}

impl SourceEntry {
    /// The entry for the episode file `path` (its hash and size already
    /// known) with what its metadata says; the per-dataset fields are None.
    pub fn describe(
        path: &Path,
        sha256: String,
        size: u64,
        meta: Option<&reel_episode::EpisodeMeta>,
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
            rig_config_hash: meta.and_then(|m| m.rig_config_hash.clone()),
            scenario: meta.and_then(|m| {
                let p = &m.source_params;
                p.get("scenario")
                    .map(|name| match p.get("scenario_sha256") {
                        Some(h) => format!("{name} (sha256 {h})"),
                        None => name.clone(),
                    })
            }),
            seed: meta.and_then(|m| m.seed),
            software_version: meta.map(|m| m.software_version.clone()).unwrap_or_default(),
            parent: meta.and_then(|m| {
                m.source_params
                    .get("parent_episode")
                    .or_else(|| m.source_params.get("replay_of"))
                    .cloned()
            }),
            imported_from: meta.and_then(ImportedFrom::of),
            operator: None,
            site: None,
        }
    }
}

impl SourceEntry {
    /// This episode's line in the dataset card.
    pub fn card_episode(&self) -> CardEpisode {
        CardEpisode {
            index: self.episode_index.unwrap_or(0),
            episode_id: self.episode_id.clone(),
            source: self.source.clone(),
            frames: self.frames.unwrap_or(0),
            task: self.task.clone(),
            outcome: self.outcome.clone(),
            dropped: self.dropped_frames.unwrap_or(0) as usize,
            operator: self.operator.clone(),
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
    /// The dataset's version (semver), for exports that keep one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// Every release so far, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub changelog: Vec<Release>,
    /// The dataset this one was made from (`reel filter`, `reel split`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub derived_from: Option<Derivation>,
    /// The releases this one joins (`reel merge`), in episode order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub merged_from: Vec<Derivation>,
    /// What the dataset card says apart from its tasks, episodes and
    /// versions, so a derived dataset's card can be written again.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub card: Option<Card>,
}

/// What a manifest records besides files and sources.
#[derive(Debug, Clone, Default)]
pub struct ManifestExtras {
    /// Releases, oldest first.
    pub changelog: Vec<Release>,
    /// The source dataset of a derived one.
    pub derived_from: Option<Derivation>,
    /// The releases a merged one joins.
    pub merged_from: Vec<Derivation>,
    /// The card's content.
    pub card: Option<Card>,
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
        extras: ManifestExtras,
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
            generator: reel_episode::software_version(),
            created: reel_episode::time::format_utc(reel_episode::time::host_now_nanos()),
            kind: kind.into(),
            sources,
            files,
            version: extras.changelog.last().map(|r| r.version.clone()),
            changelog: extras.changelog,
            derived_from: extras.derived_from,
            merged_from: extras.merged_from,
            card: extras.card,
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
    check_with_progress(root, &|_, _| {})
}

/// [`check`], calling `progress(files hashed, files listed)` as it goes.
pub fn check_with_progress(
    root: &Path,
    progress: &dyn Fn(usize, usize),
) -> Result<CheckReport, ExportError> {
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
    for (k, rel) in on_disk.iter().enumerate() {
        progress(k, on_disk.len());
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

/// How two releases of a dataset differ ([`diff`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiffReport {
    /// Version of the old release.
    pub old_version: Option<String>,
    /// Version of the new release.
    pub new_version: Option<String>,
    /// Episodes (ids) only in the new one.
    pub added: Vec<String>,
    /// Episodes only in the old one.
    pub removed: Vec<String>,
    /// Episodes in both whose source file, frames, task or outcome differ,
    /// with what differs.
    pub changed: Vec<(String, Vec<String>)>,
    /// Episodes in both, unchanged.
    pub unchanged: usize,
    /// Files (paths) only in the new one.
    pub files_added: Vec<String>,
    /// Files only in the old one.
    pub files_removed: Vec<String>,
    /// Files in both with another hash.
    pub files_changed: Vec<String>,
}

impl DiffReport {
    /// True when the two hold the same episodes and files.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.files_added.is_empty()
            && self.files_removed.is_empty()
            && self.files_changed.is_empty()
    }
}

/// Compares the manifests of two exports (episodes by their reel id, files
/// by path and sha256). Reads only the manifests.
pub fn diff(old: &Path, new: &Path) -> Result<DiffReport, ExportError> {
    let (a, b) = (Manifest::read(old)?, Manifest::read(new)?);
    let mut r = DiffReport {
        old_version: a.version.clone(),
        new_version: b.version.clone(),
        ..Default::default()
    };
    let by_id = |m: &Manifest| -> BTreeMap<String, SourceEntry> {
        m.sources
            .iter()
            .map(|s| (s.episode_id.clone(), s.clone()))
            .collect()
    };
    let (ea, eb) = (by_id(&a), by_id(&b));
    for (id, s) in &eb {
        match ea.get(id) {
            None => r.added.push(id.clone()),
            Some(o) => {
                let mut what = Vec::new();
                if o.sha256 != s.sha256 {
                    what.push("source file".to_string());
                }
                if o.frames != s.frames {
                    what.push(format!("frames {:?} → {:?}", o.frames, s.frames));
                }
                if o.task != s.task {
                    what.push(format!("task {:?} → {:?}", o.task, s.task));
                }
                if o.outcome != s.outcome {
                    what.push(format!("outcome {} → {}", o.outcome, s.outcome));
                }
                if what.is_empty() {
                    r.unchanged += 1;
                } else {
                    r.changed.push((id.clone(), what));
                }
            }
        }
    }
    r.removed = ea
        .keys()
        .filter(|id| !eb.contains_key(*id))
        .cloned()
        .collect();
    let files = |m: &Manifest| -> BTreeMap<String, String> {
        m.files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect()
    };
    let (fa, fb) = (files(&a), files(&b));
    for (p, h) in &fb {
        match fa.get(p) {
            None => r.files_added.push(p.clone()),
            Some(o) if o != h => r.files_changed.push(p.clone()),
            _ => {}
        }
    }
    r.files_removed = fa
        .keys()
        .filter(|p| !fb.contains_key(*p))
        .cloned()
        .collect();
    Ok(r)
}
