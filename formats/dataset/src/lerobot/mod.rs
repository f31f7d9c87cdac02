//! Episodes → a LeRobot v3.0 dataset (`spec/lerobot_v3.md`), new or
//! appended to: aligned frames in `data/`, AV1/H.264 videos concatenated
//! per camera in `videos/`, `meta/{info.json, stats.json, tasks.parquet,
//! episodes/}`, plus `manifest.json` and a dataset card.

pub mod curate;
pub mod mapping;
pub mod plan;
pub mod subtasks;
pub mod tables;
pub mod video;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use self::mapping::{FeatureSource, Mapping};
use self::plan::{plan_episode, AlignReport, EpisodePlan, GapPolicy};
use self::subtasks::SubtaskPolicy;
use self::tables::{DataFile, DataRows, EpisodeRow, VideoLocation, DEFAULT_FEATURES};
use self::video::{encode_camera, EncodedCamera};
use super::card::{Card, CardEpisode, CardFeature};
use super::manifest::{FileEntry, Manifest, SourceEntry, APPEND_MARKER};
use super::source::SourceEpisode;
use super::stats::FeatureStats;
use super::{write_atomically, ExportError, Staging};
use reel_media::{VideoCodec, VideoSettings};

/// LeRobot's maximum number of files per chunk directory.
pub const CHUNKS_SIZE: u32 = 1000;
/// Data (and meta/episodes) file rollover, MiB.
pub const DATA_FILES_SIZE_IN_MB: u64 = 100;
/// Video file rollover, MiB.
pub const VIDEO_FILES_SIZE_IN_MB: u64 = 200;
const DATA_PATH: &str = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet";
const VIDEO_PATH: &str = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4";

/// Options of `reel export lerobot`.
#[derive(Debug, Clone)]
pub struct LeRobotOptions {
    /// Output frames per second.
    pub fps: u32,
    /// Dataset name (`user/name`).
    pub repo_id: String,
    /// Robot type; None → from the episodes.
    pub robot_type: Option<String>,
    /// Video codec.
    pub codec: VideoCodec,
    /// CRF; None → 30 (LeRobot's default).
    pub crf: Option<u32>,
    /// Parallel encoding jobs.
    pub jobs: usize,
    /// A mapping file replacing the default feature mapping.
    pub mapping: Option<PathBuf>,
    /// What to do with frames a stream cannot supply.
    pub on_gap: GapPolicy,
    /// Licence for the card.
    pub license: String,
    /// Regions blacked out in every frame of a camera (de-identification).
    pub masks: Vec<crate::deid::Mask>,
    /// This release's version (semver); None → 1.0.0 for a new dataset,
    /// the next minor version for an append.
    pub version: Option<String>,
    /// This release's changelog note; None → what was added.
    pub changelog: Option<String>,
    /// Which annotated segments become the per-frame `subtask_index`.
    pub subtasks: SubtaskPolicy,
    /// With a key, operators and sites are exported as keyed pseudonyms
    /// (manifest and card); without, they are left out.
    pub pseudonym_key: Option<crate::deid::PseudonymKey>,
}

/// One exported episode.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEpisode {
    /// Source file.
    pub source: PathBuf,
    /// Its `reel.episode` id.
    pub episode_id: String,
    /// Index in the dataset.
    pub episode_index: u64,
    /// Frames written.
    pub frames: u64,
    /// What alignment did.
    pub alignment: AlignReport,
}

/// What an export did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The dataset.
    pub out: PathBuf,
    /// True when episodes were appended to an existing dataset.
    pub appended: bool,
    /// Episodes written by this run.
    pub episodes: Vec<ExportedEpisode>,
    /// Dataset totals after the run.
    pub total_episodes: u64,
    /// Dataset totals after the run.
    pub total_frames: u64,
    /// Seconds reading and aligning the sources.
    pub read_s: f64,
    /// Seconds decoding and encoding video.
    pub encode_s: f64,
    /// Seconds writing tables, joining videos, manifest.
    pub write_s: f64,
}

/// File index counters (`chunk-c/file-f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cursor {
    chunk: u32,
    file: u32,
}

impl Cursor {
    fn next(self) -> Self {
        if self.file + 1 >= CHUNKS_SIZE {
            Self {
                chunk: self.chunk + 1,
                file: 0,
            }
        } else {
            Self {
                chunk: self.chunk,
                file: self.file + 1,
            }
        }
    }

    fn path(self, prefix: &str, ext: &str) -> String {
        format!(
            "{prefix}/chunk-{:03}/file-{:03}.{ext}",
            self.chunk, self.file
        )
    }

    /// The cursor after the last `chunk-*/file-*.ext` under `dir`, or 0/0.
    fn after_existing(dir: &Path) -> Self {
        let mut last: Option<Self> = None;
        for chunk in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = chunk.file_name().to_string_lossy().into_owned();
            let Some(c) = name
                .strip_prefix("chunk-")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            for file in std::fs::read_dir(chunk.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let fname = file.file_name().to_string_lossy().into_owned();
                let Some(f) = fname
                    .strip_prefix("file-")
                    .and_then(|n| n.split('.').next())
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let cur = Self { chunk: c, file: f };
                if last.is_none_or(|l| (l.chunk, l.file) < (c, f)) {
                    last = Some(cur);
                }
            }
        }
        last.map(Self::next).unwrap_or_default()
    }
}

/// Data files written one episode (row group) at a time, rolling over to
/// the next file by LeRobot's rule: when the file's size plus the average
/// bytes per row so far times the episode's rows reaches the limit.
struct DataFiles {
    dir: PathBuf,
    cursor: Cursor,
    file: Option<DataFile>,
    bytes: u64,
    rows: u64,
}

impl DataFiles {
    fn new(dir: &Path, first: Cursor) -> Self {
        Self {
            dir: dir.to_path_buf(),
            cursor: first,
            file: None,
            bytes: 0,
            rows: 0,
        }
    }

    /// Writes one episode's rows; returns the file they went to.
    fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<Cursor, ExportError> {
        let n = batch.num_rows() as u64;
        if let Some(f) = &self.file {
            let avg = if self.rows > 0 {
                self.bytes as f64 / self.rows as f64
            } else {
                0.0
            };
            let limit = (DATA_FILES_SIZE_IN_MB * 1024 * 1024) as f64;
            if f.bytes_written() as f64 + avg * n as f64 >= limit {
                self.file.take().map(DataFile::close).transpose()?;
                self.cursor = self.cursor.next();
            }
        }
        let f = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(DataFile::create(
                &self.dir.join(self.cursor.path("data", "parquet")),
                batch.schema(),
            )?),
        };
        let before = f.bytes_written();
        f.write_batch(batch)?;
        self.bytes += f.bytes_written() - before;
        self.rows += n;
        Ok(self.cursor)
    }

    fn close(self) -> Result<(), ExportError> {
        self.file.map(DataFile::close).transpose().map(|_| ())
    }
}

/// The parts of an existing dataset an append builds on.
#[derive(Debug)]
struct Existing {
    info: Value,
    tasks: Vec<String>,
    stats: BTreeMap<String, FeatureStats>,
    /// Its manifest: the source list, and the entries of the files an
    /// append leaves as they are.
    manifest: Manifest,
    total_episodes: u64,
    total_frames: u64,
}

/// The features of the dataset already at `out`, if there is one to read
/// (`read_existing` reports what is wrong with one that is not).
fn existing_features(out: &Path) -> Option<Value> {
    let bytes = std::fs::read(out.join("meta/info.json")).ok()?;
    let info: Value = serde_json::from_slice(&bytes).ok()?;
    Some(info["features"].clone()).filter(Value::is_object)
}

fn read_existing(out: &Path, features: &Value, fps: u32) -> Result<Option<Existing>, ExportError> {
    let info_path = out.join("meta/info.json");
    if !out.exists()
        || std::fs::read_dir(out)
            .map_err(|e| ExportError::io(out, e))?
            .next()
            .is_none()
    {
        return Ok(None);
    }
    if !info_path.exists() {
        return Err(ExportError::output(
            out,
            "exists and is not a LeRobot dataset (no meta/info.json); choose a new directory",
        ));
    }
    if out.join(APPEND_MARKER).exists() {
        return Err(ExportError::output(
            out,
            "an earlier append to this dataset did not finish; restore it from a copy (reel check lists what changed)",
        ));
    }
    let text = std::fs::read(&info_path).map_err(|e| ExportError::io(&info_path, e))?;
    let info: Value = serde_json::from_slice(&text)
        .map_err(|e| ExportError::input(&info_path, format!("not JSON: {e}")))?;
    let different = |what: String| {
        ExportError::output(
            out,
            format!("already holds a different dataset ({what}); export to a new directory or use a matching mapping and --fps"),
        )
    };
    if info["codebase_version"] != "v3.0" {
        return Err(different(format!(
            "codebase_version {}",
            info["codebase_version"]
        )));
    }
    if info["fps"].as_u64() != Some(u64::from(fps)) {
        return Err(different(format!("fps {} instead of {fps}", info["fps"])));
    }
    let strip = |f: &Value| -> Value {
        let mut f = f.clone();
        if let Some(o) = f.as_object_mut() {
            for (_, spec) in o.iter_mut() {
                if let Some(s) = spec.as_object_mut() {
                    s.remove("info");
                }
            }
        }
        f
    };
    if strip(&info["features"]) != strip(features) {
        return Err(different("other features, shapes or joint names".into()));
    }
    let manifest = Manifest::read(out)?;
    let tasks = tables::read_labels(&out.join("meta/tasks.parquet"), "task")?;
    let stats_path = out.join("meta/stats.json");
    let stats_json: Value = std::fs::read(&stats_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let mut stats = BTreeMap::new();
    if let Some(o) = stats_json.as_object() {
        for (k, v) in o {
            if let Some(s) = FeatureStats::from_json(v) {
                stats.insert(k.clone(), s);
            }
        }
    }
    Ok(Some(Existing {
        total_episodes: info["total_episodes"].as_u64().unwrap_or(0),
        total_frames: info["total_frames"].as_u64().unwrap_or(0),
        info,
        tasks,
        stats,
        manifest,
    }))
}

/// Runs `f(i)` for i in 0..n on `jobs` threads; stops at the first error.
fn parallel<T: Send>(
    n: usize,
    jobs: usize,
    f: impl Fn(usize) -> Result<T, ExportError> + Sync,
) -> Result<Vec<T>, ExportError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<T, ExportError>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let r = f(i);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                if let Ok(mut g) = results.lock() {
                    g[i] = Some(r);
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| ExportError::output(".", "a worker thread panicked"))?;
    let mut out = Vec::with_capacity(n);
    let mut first_err = None;
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn feature_spec(
    mapping: &Mapping,
    first: &SourceEpisode,
    settings: VideoSettings,
    with_subtasks: bool,
) -> Value {
    let mut features = serde_json::Map::new();
    for f in &mapping.features {
        let spec = match &f.source {
            FeatureSource::Joints { topics, field } => {
                let names = Mapping::joint_names(first, topics, *field);
                json!({"dtype": "float32", "shape": [names.len()], "names": names})
            }
            FeatureSource::Camera { topic } => {
                let c = &first.cameras[topic];
                json!({
                    "dtype": "video",
                    "shape": [c.height, c.width, 3],
                    "names": ["height", "width", "channels"],
                    "info": {
                        "video.height": c.height,
                        "video.width": c.width,
                        "video.codec": settings.codec.name(),
                        "video.pix_fmt": "yuv420p",
                        "video.is_depth_map": false,
                        "video.fps": settings.fps,
                        "video.channels": 3,
                        "video.g": settings.gop,
                        "video.crf": settings.crf,
                        "has_audio": false
                    }
                })
            }
        };
        features.insert(f.name.clone(), spec);
    }
    if with_subtasks {
        features.insert(
            subtasks::FEATURE.into(),
            json!({"dtype": "int64", "shape": [1], "names": null}),
        );
    }
    features.insert(
        "timestamp".into(),
        json!({"dtype": "float32", "shape": [1], "names": null}),
    );
    for name in &DEFAULT_FEATURES[1..] {
        features.insert(
            (*name).into(),
            json!({"dtype": "int64", "shape": [1], "names": null}),
        );
    }
    Value::Object(features)
}

/// Exports `inputs` (episode files or directories) to the dataset at `out`,
/// creating it or appending to it.
pub fn export(
    inputs: &[PathBuf],
    out: &Path,
    opts: &LeRobotOptions,
) -> Result<ExportSummary, ExportError> {
    let t0 = Instant::now();
    if opts.fps == 0 {
        return Err(ExportError::input(out, "--fps must be a positive integer"));
    }
    let files = super::episode_files(inputs)?;
    let sources = parallel(files.len(), opts.jobs, |i| SourceEpisode::read(&files[i]))?;
    let first = &sources[0];
    let mapping = match &opts.mapping {
        Some(p) => Mapping::from_file(p)?,
        None => Mapping::default_for(first)?,
    };
    let mut settings = VideoSettings::lerobot_default(opts.codec, opts.fps);
    if let Some(crf) = opts.crf {
        settings.crf = crf;
    }
    // Subtasks: a new dataset has the feature when any episode has
    // segments; an append follows the dataset.
    let wanted = sources.iter().any(|ep| opts.subtasks.has_segments(ep));
    let with_subtasks = match existing_features(out) {
        Some(f) => {
            let has = f.get(subtasks::FEATURE).is_some();
            if wanted && !has {
                return Err(ExportError::output(
                    out,
                    "has no subtask_index feature but these episodes have annotated segments; export them to a new dataset, or pass --subtasks none",
                ));
            }
            has
        }
        None => wanted,
    };
    // Every episode must have the mapped topics and fit the first one's
    // features (names, sizes).
    let mut features = Value::Null;
    for ep in &sources {
        mapping.check(ep)?;
        let f = feature_spec(&mapping, ep, settings, with_subtasks);
        if features.is_null() {
            features = f;
            continue;
        }
        if f != features {
            return Err(ExportError::input(
                &ep.path,
                format!(
                    "its joints or camera sizes differ from {}; export episodes of the same rig together",
                    first.path.display()
                ),
            ));
        }
    }
    let existing = read_existing(out, &features, opts.fps)?;
    if let Some(ex) = &existing {
        for ep in &sources {
            if let Some(dup) = ex
                .manifest
                .sources
                .iter()
                .find(|s| s.sha256 == ep.sha256 || s.episode_id == ep.meta.episode_id)
            {
                return Err(ExportError::input(
                    &ep.path,
                    format!(
                        "episode {} is already in {} (as {}); leave it out",
                        ep.meta.episode_id,
                        out.display(),
                        dup.file
                    ),
                ));
            }
        }
    }
    let plans: Vec<EpisodePlan> = sources
        .iter()
        .map(|ep| plan_episode(ep, &mapping, opts.fps, opts.on_gap))
        .collect::<Result<_, _>>()?;
    if let Some((ep, _)) = sources.iter().zip(&plans).find(|(_, p)| p.frames < 2) {
        return Err(ExportError::input(
            &ep.path,
            "fewer than 2 frames left after alignment; nothing to export",
        ));
    }
    let read_s = t0.elapsed().as_secs_f64();

    // Staging: a new dataset is built beside `out` and renamed; an append
    // builds its new files in a hidden folder inside `out`.
    let staging_new = if existing.is_none() {
        Some(Staging::new(out)?)
    } else {
        None
    };
    let append_dir = out.join(format!(".reel-append-{}", std::process::id()));
    let stage: PathBuf = match &staging_new {
        Some(s) => s.path().to_path_buf(),
        None => {
            std::fs::create_dir_all(&append_dir).map_err(|e| ExportError::io(&append_dir, e))?;
            append_dir.clone()
        }
    };
    let result = build(
        &stage,
        out,
        opts,
        &mapping,
        &sources,
        &plans,
        &features,
        settings,
        existing.as_ref(),
        read_s,
        t0,
    );
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if staging_new.is_none() {
                let _ = std::fs::remove_dir_all(&append_dir);
            }
            return Err(e);
        }
    };
    match staging_new {
        Some(s) => {
            s.commit()?;
        }
        None => {
            let _ = std::fs::remove_dir_all(&append_dir);
        }
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn build(
    stage: &Path,
    out: &Path,
    opts: &LeRobotOptions,
    mapping: &Mapping,
    sources: &[SourceEpisode],
    plans: &[EpisodePlan],
    features: &Value,
    settings: VideoSettings,
    existing: Option<&Existing>,
    read_s: f64,
    t0: Instant,
) -> Result<ExportSummary, ExportError> {
    let appending = existing.is_some();
    // The release: decided first, so a version that is not newer fails
    // before any work.
    let mut changelog: Vec<super::manifest::Release> = existing
        .map(|e| e.manifest.changelog.clone())
        .unwrap_or_default();
    let version = super::manifest::next_version(
        existing.and_then(|e| e.manifest.version.as_deref()),
        opts.version.as_deref(),
    )
    .map_err(|e| ExportError::input(out, e.to_string()))?;
    changelog.push(super::manifest::Release {
        version: version.clone(),
        created: reel_episode::time::format_utc(reel_episode::time::host_now_nanos()),
        note: opts.changelog.clone().unwrap_or_else(|| {
            format!(
                "{} {} episode(s)",
                if appending { "added" } else { "first release:" },
                sources.len()
            )
        }),
    });
    // Where the finished dataset lives while this runs: file counters
    // continue from it, and the metadata is written there.
    let root = if appending { out } else { stage };
    let ep_base = existing.map_or(0, |e| e.total_episodes);
    let frame_base = existing.map_or(0, |e| e.total_frames);

    // Video: every (episode, camera) pair is one job.
    let cameras: Vec<(String, String)> = mapping
        .features
        .iter()
        .filter_map(|f| match &f.source {
            FeatureSource::Camera { topic } => Some((f.name.clone(), topic.clone())),
            FeatureSource::Joints { .. } => None,
        })
        .collect();
    let tmp_dir = stage.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(|e| ExportError::io(&tmp_dir, e))?;
    let t_enc = Instant::now();
    let n_cam = cameras.len();
    let encoded: Vec<EncodedCamera> = parallel(sources.len() * n_cam, opts.jobs, |job| {
        let (e, c) = (job / n_cam, job % n_cam);
        let topic = &cameras[c].1;
        let series = &sources[e].cameras[topic];
        let tmp = tmp_dir.join(format!("ep{e:06}-cam{c:02}.mp4"));
        encode_camera(
            &sources[e].path,
            topic,
            series.codec,
            &plans[e].cameras[c].1,
            (series.width, series.height),
            settings,
            &opts
                .masks
                .iter()
                .filter(|m| m.applies_to(topic))
                .collect::<Vec<_>>(),
            &tmp,
        )
    })?;
    let encode_s = t_enc.elapsed().as_secs_f64();

    // Tasks.
    let mut tasks: Vec<String> = existing.map(|e| e.tasks.clone()).unwrap_or_default();
    let mut task_of = Vec::new();
    for ep in sources {
        let t = ep.meta.task.clone();
        let i = tasks.iter().position(|x| *x == t).unwrap_or_else(|| {
            tasks.push(t);
            tasks.len() - 1
        });
        task_of.push(i as i64);
    }

    // Videos: join each camera's episodes, rolling files over by size.
    let mut locations: Vec<Vec<(String, VideoLocation)>> = vec![Vec::new(); sources.len()];
    for (c, (key, _)) in cameras.iter().enumerate() {
        let mut cursor = Cursor::after_existing(&root.join("videos").join(key));
        let limit = VIDEO_FILES_SIZE_IN_MB * 1024 * 1024;
        let mut concat: Option<reel_media::Mp4Concat> = None;
        let mut concat_size = 0u64;
        let mut frames_in_file = 0u64;
        for e in 0..sources.len() {
            let tmp = tmp_dir.join(format!("ep{e:06}-cam{c:02}.mp4"));
            let size = std::fs::metadata(&tmp)
                .map_err(|err| ExportError::io(&tmp, err))?
                .len();
            if concat.is_some() && concat_size + size >= limit {
                concat
                    .take()
                    .map(|m| m.finish())
                    .transpose()
                    .map_err(|err| ExportError::output(stage, err.to_string()))?;
                cursor = cursor.next();
                concat_size = 0;
                frames_in_file = 0;
            }
            let rel = cursor.path(&format!("videos/{key}"), "mp4");
            let path = stage.join(&rel);
            if concat.is_none() {
                if let Some(d) = path.parent() {
                    std::fs::create_dir_all(d).map_err(|err| ExportError::io(d, err))?;
                }
                concat = Some(reel_media::Mp4Concat::new(&path, opts.fps));
            }
            let m = concat
                .as_mut()
                .ok_or_else(|| ExportError::output(&path, "no video writer"))?;
            let n = m
                .append(&tmp)
                .map_err(|err| ExportError::output(&path, err.to_string()))?;
            if n != encoded[e * n_cam + c].frames || n != plans[e].frames as u64 {
                return Err(ExportError::output(
                    &path,
                    format!(
                        "episode {e} has {n} video frames for {} rows; this is a bug in reel",
                        plans[e].frames
                    ),
                ));
            }
            let fps = f64::from(opts.fps);
            locations[e].push((
                key.clone(),
                VideoLocation {
                    chunk: cursor.chunk,
                    file: cursor.file,
                    from_timestamp: frames_in_file as f64 / fps,
                    to_timestamp: (frames_in_file + n) as f64 / fps,
                },
            ));
            frames_in_file += n;
            concat_size += size;
            std::fs::remove_file(&tmp).map_err(|err| ExportError::io(&tmp, err))?;
        }
        if let Some(m) = concat {
            m.finish()
                .map_err(|err| ExportError::output(stage, err.to_string()))?;
        }
    }
    let _ = std::fs::remove_dir(&tmp_dir);

    // Data tables, one row group per episode, rolling over by size.
    let vector_dims: Vec<(String, usize)> = plans[0]
        .joints
        .iter()
        .map(|(n, d, _)| (n.clone(), *d))
        .collect();
    let with_subtasks = features.get(subtasks::FEATURE).is_some();
    let mut subtask_labels = if appending {
        subtasks::read_table(out)?
    } else {
        Vec::new()
    };
    let schema = tables::data_schema(&vector_dims, with_subtasks);
    let mut data_files = DataFiles::new(stage, Cursor::after_existing(&root.join("data")));
    let mut rows_out = Vec::new();
    let mut next_index = frame_base as i64;
    for (e, plan) in plans.iter().enumerate() {
        let rows = DataRows {
            vectors: plan.joints.clone(),
            frames: plan.frames,
            episode_index: (ep_base + e as u64) as i64,
            first_index: next_index,
            task_index: task_of[e],
            subtasks: with_subtasks.then(|| {
                opts.subtasks
                    .per_frame(&sources[e], &plan.frame_ns, &mut subtask_labels)
            }),
            fps: opts.fps,
        };
        let batch = rows.to_batch(&schema).map_err(ExportError::table(stage))?;
        let data_cursor = data_files.write(&batch)?;
        let mut stats: Vec<(String, FeatureStats)> = Vec::new();
        let mut joint_iter = plan.joints.iter();
        let mut cam_i = 0;
        for feat in &mapping.features {
            match feat.source {
                FeatureSource::Joints { .. } => {
                    let (name, dim, values) = joint_iter
                        .next()
                        .ok_or_else(|| ExportError::output(stage, "feature mismatch"))?;
                    let rows: Vec<Vec<f64>> = values
                        .chunks_exact(*dim)
                        .map(|r| r.iter().map(|x| f64::from(*x)).collect())
                        .collect();
                    let s = FeatureStats::of_rows(&rows, *dim)
                        .ok_or_else(|| ExportError::output(stage, "empty episode"))?;
                    stats.push((name.clone(), s));
                }
                FeatureSource::Camera { .. } => {
                    stats.push((feat.name.clone(), encoded[e * n_cam + cam_i].stats.clone()));
                    cam_i += 1;
                }
            }
        }
        stats.extend(rows.subtask_stats());
        stats.extend(rows.default_feature_stats());
        rows_out.push(EpisodeRow {
            episode_index: rows.episode_index,
            tasks: vec![sources[e].meta.task.clone()],
            length: plan.frames as i64,
            data_chunk: data_cursor.chunk,
            data_file: data_cursor.file,
            from_index: next_index,
            to_index: next_index + plan.frames as i64,
            videos: locations[e].clone(),
            stats,
        });
        next_index += plan.frames as i64;
    }
    data_files.close()?;

    // meta/episodes: one new file per run.
    let meta_cursor = Cursor::after_existing(&root.join("meta/episodes"));
    let batch = tables::episodes_batch(&rows_out, meta_cursor.chunk, meta_cursor.file)
        .map_err(|e| ExportError::output(stage, format!("episodes table: {e}")))?;
    tables::write_table(
        &stage.join(meta_cursor.path("meta/episodes", "parquet")),
        &batch,
    )?;

    // Stats: the old dataset's aggregate with the new episodes'.
    let mut by_feature: BTreeMap<String, Vec<&FeatureStats>> = BTreeMap::new();
    if let Some(ex) = existing {
        for (k, s) in &ex.stats {
            by_feature.entry(k.clone()).or_default().push(s);
        }
    }
    for r in &rows_out {
        for (k, s) in &r.stats {
            by_feature.entry(k.clone()).or_default().push(s);
        }
    }
    let mut stats_json = serde_json::Map::new();
    for (k, parts) in &by_feature {
        if let Some(s) = FeatureStats::aggregate(parts) {
            stats_json.insert(k.clone(), s.to_json());
        }
    }

    let total_episodes = ep_base + sources.len() as u64;
    let total_frames = frame_base + plans.iter().map(|p| p.frames as u64).sum::<u64>();
    let robot_type = opts
        .robot_type
        .clone()
        .or_else(|| existing.and_then(|e| e.info["robot_type"].as_str().map(str::to_string)))
        .unwrap_or_else(|| sources[0].meta.robot_type.clone());
    let mut features_out = features.clone();
    if let Some(ex) = existing {
        // Keep the video info LeRobot (or reel) wrote first.
        features_out = ex.info["features"].clone();
    }
    let info = json!({
        "codebase_version": "v3.0",
        "robot_type": robot_type,
        "total_episodes": total_episodes,
        "total_frames": total_frames,
        "total_tasks": tasks.len(),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
        "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
        "fps": opts.fps,
        "splits": {"train": format!("0:{total_episodes}")},
        "data_path": DATA_PATH,
        "video_path": if cameras.is_empty() { Value::Null } else { Value::from(VIDEO_PATH) },
        "features": features_out,
    });

    // Source list for the manifest and the card.
    let mut manifest_sources: Vec<SourceEntry> = existing
        .map(|e| e.manifest.sources.clone())
        .unwrap_or_default();
    let mut exported = Vec::new();
    for (e, ep) in sources.iter().enumerate() {
        let index = ep_base + e as u64;
        let pseudonym = |field: &str, value: &Option<String>| {
            opts.pseudonym_key
                .as_ref()
                .zip(value.as_deref())
                .map(|(k, v)| k.pseudonym(field, v))
        };
        manifest_sources.push(SourceEntry {
            operator: pseudonym("operator", &ep.meta.operator),
            site: pseudonym("site", &ep.meta.site),
            episode_index: Some(index),
            frames: Some(plans[e].frames as u64),
            dropped_frames: Some(plans[e].report.dropped.len() as u64),
            ..SourceEntry::describe(&ep.path, ep.sha256.clone(), ep.size, Some(&ep.meta))
        });
        exported.push(ExportedEpisode {
            source: ep.path.clone(),
            episode_id: ep.meta.episode_id.clone(),
            episode_index: index,
            frames: plans[e].frames as u64,
            alignment: plans[e].report.clone(),
        });
    }
    let card = make_card(
        opts,
        &robot_type,
        mapping,
        &info,
        &tasks,
        existing.is_some(),
        sources,
        &manifest_sources,
        settings,
        &changelog,
        &subtask_labels,
    );

    if appending {
        // Move the new files into place, then rewrite the metadata; the
        // marker makes an interrupted append visible to `reel check` and to
        // the next export.
        std::fs::write(out.join(APPEND_MARKER), b"").map_err(|e| ExportError::io(out, e))?;
        for rel in super::manifest::list_files(stage)? {
            let dst = out.join(&rel);
            if dst.exists() {
                return Err(ExportError::output(
                    &dst,
                    "already exists; the dataset changed during the export",
                ));
            }
            if let Some(d) = dst.parent() {
                std::fs::create_dir_all(d).map_err(|e| ExportError::io(d, e))?;
            }
            std::fs::rename(stage.join(&rel), &dst).map_err(|e| ExportError::io(&dst, e))?;
        }
    }
    // Metadata, each file replaced atomically; info.json last, since it
    // is what makes the new episodes count.
    std::fs::create_dir_all(root.join("meta")).map_err(|e| ExportError::io(root, e))?;
    let tasks_path = root.join("meta/tasks.parquet");
    let batch = tables::tasks_batch(&tasks).map_err(ExportError::table(&tasks_path))?;
    tables::replace_table(&tasks_path, &batch)?;
    write_json(&root.join("meta/stats.json"), &Value::Object(stats_json))?;
    if with_subtasks {
        subtasks::write_table(root, &subtask_labels)?;
    }
    // What de-identification removed, this export's entries after the earlier ones.
    let mut deid = crate::deid::Report::read_or_default(root)?;
    for (e, ep) in sources.iter().enumerate() {
        for (c, (_, topic)) in cameras.iter().enumerate() {
            for m in opts.masks.iter().filter(|m| m.applies_to(topic)) {
                deid.masks.push(crate::deid::AppliedMask {
                    mask: m.clone(),
                    episode_index: ep_base + e as u64,
                    frames: encoded[e * n_cam + c].masked,
                });
            }
        }
        let id = &ep.meta.episode_id;
        if ep.meta.operator.is_some() {
            deid.operator_removed_from.push(id.clone());
        }
        if ep.meta.site.is_some() {
            deid.site_removed_from.push(id.clone());
        }
        if opts.pseudonym_key.is_some() && (ep.meta.operator.is_some() || ep.meta.site.is_some()) {
            deid.pseudonymised_in.push(id.clone());
            deid.pseudonym_method = Some(crate::deid::PSEUDONYM_METHOD.into());
        }
    }
    let deid_path = root.join(crate::deid::REPORT);
    if !deid.masks.is_empty()
        || !deid.operator_removed_from.is_empty()
        || !deid.site_removed_from.is_empty()
        || deid_path.exists()
    {
        deid.never_exported = crate::deid::Report::never_exported_fields();
        write_json(
            &deid_path,
            &serde_json::to_value(&deid)
                .map_err(|e| ExportError::output(&deid_path, e.to_string()))?,
        )?;
    }
    write_atomically(&root.join("README.md"), card.render().as_bytes())?;
    write_json(&root.join("meta/info.json"), &info)?;
    if appending {
        // Hashes cover the finished files; the append's folder is not part of it.
        let _ = std::fs::remove_dir_all(stage);
    }
    // The metadata above is rewritten on every run; everything else an
    // earlier export wrote is untouched.
    let rewritten = [
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        "README.md",
        crate::deid::REPORT,
        subtasks::TABLE,
    ];
    let unchanged: Vec<FileEntry> = existing
        .map(|e| {
            e.manifest
                .files
                .iter()
                .filter(|f| !rewritten.contains(&f.path.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Manifest::write(
        root,
        "lerobot-v3.0",
        manifest_sources,
        &unchanged,
        super::manifest::ManifestExtras {
            changelog,
            derived_from: existing.and_then(|e| e.manifest.derived_from.clone()),
            card: Some(card),
        },
    )?;
    if appending {
        std::fs::remove_file(out.join(APPEND_MARKER)).map_err(|e| ExportError::io(out, e))?;
    }
    Ok(ExportSummary {
        out: out.to_path_buf(),
        appended: appending,
        episodes: exported,
        total_episodes,
        total_frames,
        read_s,
        encode_s,
        write_s: t0.elapsed().as_secs_f64() - read_s - encode_s,
    })
}

fn write_json(path: &Path, value: &Value) -> Result<(), ExportError> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| ExportError::output(path, e.to_string()))?;
    write_atomically(path, &bytes)
}

#[allow(clippy::too_many_arguments)]
fn make_card(
    opts: &LeRobotOptions,
    robot_type: &str,
    mapping: &Mapping,
    info: &Value,
    tasks: &[String],
    appended: bool,
    sources: &[SourceEpisode],
    all: &[SourceEntry],
    settings: VideoSettings,
    changelog: &[super::manifest::Release],
    subtask_labels: &[String],
) -> Card {
    let mut features = Vec::new();
    for f in &mapping.features {
        let spec = &info["features"][&f.name];
        let shape: Vec<usize> = spec["shape"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_u64().map(|v| v as usize))
                    .collect()
            })
            .unwrap_or_default();
        let names: Vec<String> = spec["names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let (dtype, unit, source) = match &f.source {
            FeatureSource::Joints { topics, field } => (
                "float32".to_string(),
                field.unit().to_string(),
                format!(
                    "{} ({field:?}), interpolated linearly to the frame times",
                    topics.join(" + ")
                ),
            ),
            FeatureSource::Camera { topic } => (
                "video".to_string(),
                "RGB, loaded as float32 in [0,1]".to_string(),
                format!("{topic}, nearest frame by acquisition time"),
            ),
        };
        features.push(CardFeature {
            name: f.name.clone(),
            dtype,
            shape,
            unit,
            source,
            names,
        });
    }
    if info["features"].get(subtasks::FEATURE).is_some() {
        features.push(CardFeature {
            name: subtasks::FEATURE.into(),
            dtype: "int64".into(),
            shape: vec![1],
            unit: format!(
                "row of {} ({} labels), -1 where no segment covers the frame",
                subtasks::TABLE,
                subtask_labels.len()
            ),
            source: format!(
                "`reel annotate` segments ({}), the shortest covering the frame time",
                match opts.subtasks {
                    SubtaskPolicy::Confirmed => "only those a person set or confirmed",
                    _ => "automatic pre-labels included",
                }
            ),
            names: Vec::new(),
        });
    }
    for (name, unit) in [
        ("timestamp", "s from the episode start (frame_index / fps)"),
        ("frame_index", "frame number within the episode"),
        ("episode_index", "episode number"),
        ("index", "global frame number"),
        ("task_index", "row of meta/tasks.parquet"),
    ] {
        let dtype = if name == "timestamp" {
            "float32"
        } else {
            "int64"
        };
        features.push(CardFeature {
            name: name.into(),
            dtype: dtype.into(),
            shape: vec![1],
            unit: unit.into(),
            source: "LeRobot default feature".into(),
            names: Vec::new(),
        });
    }
    let mut collection: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for ep in sources {
        let line = match ep.meta.source {
            reel_episode::SourceKind::Capture => format!(
                "Recorded with `reel record` on rig config sha256 {} (robot `{}`); every sample time-stamped on one host clock.",
                ep.meta.rig_config_hash.as_deref().unwrap_or("unknown"),
                ep.meta.robot_type
            ),
            reel_episode::SourceKind::Sim => {
                // Scenario-level parameters only: the per-episode draws
                // and seeds stay in each episode's metadata.
                let params: Vec<String> = ["scenario", "scenario_sha256", "policy", "physics", "renderer"].iter().filter_map(|k| ep.meta.source_params.get(*k).map(|v| format!("{k}={v}"))).collect();
                format!("Synthesized with `reel sim` ({}); per-episode seeds are in each source episode's metadata.", params.join(", "))
            }
            _ => format!("Episodes of source `{}` written by {}.", ep.meta.source.as_str(), ep.meta.software_version),
        };
        if seen.insert(line.clone()) {
            collection.push(line);
        }
    }
    if appended {
        collection.push("Episodes were added in more than one export; manifest.json lists every source episode with its sha256.".into());
    }
    let episodes = all.iter().map(CardEpisode::from_source).collect();
    let video = match settings.codec {
        VideoCodec::Av1 => format!(
            "AV1 (SVT-AV1 preset {}, crf {}, keyframe every {} frames), yuv420p, MP4, {} fps",
            settings.preset, settings.crf, settings.gop, settings.fps
        ),
        VideoCodec::H264 => format!(
            "H.264 (libx264, crf {}, keyframe every {} frames), yuv420p, MP4, {} fps",
            settings.crf, settings.gop, settings.fps
        ),
    };
    Card {
        repo_id: opts.repo_id.clone(),
        changelog: changelog.to_vec(),
        splits: BTreeMap::from([("train".to_string(), format!("0:{}", all.len()))]),
        license: opts.license.clone(),
        robot_type: robot_type.into(),
        fps: opts.fps,
        video,
        features,
        tasks: tasks.to_vec(),
        episodes,
        collection,
        alignment: format!(
            "streams keep their native rates in the source episodes and are aligned to {} fps here: joints interpolated linearly (both neighbours within {} ms), images the nearest frame (within one frame period); the episode is trimmed to the span every stream covers; frames a stream cannot supply are {}.",
            opts.fps,
            plan::JOINT_TOLERANCE_NS / 1_000_000,
            match opts.on_gap {
                GapPolicy::DropFrame => "left out and counted below",
                GapPolicy::FailEpisode => "an error (no such frames in this dataset)",
            }
        ),
    }
}
