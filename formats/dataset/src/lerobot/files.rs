//! The files of a LeRobot v3.0 dataset as they are written: `chunk-c/file-f`
//! counters, data files rolled over by LeRobot's size rule, and each
//! camera's episodes joined into MP4 files rolled over by size.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::Value;

use super::tables::{DataFile, VideoLocation};
use super::{CHUNKS_SIZE, DATA_FILES_SIZE_IN_MB, VIDEO_FILES_SIZE_IN_MB};
use crate::{write_atomically, ExportError};

/// File index counters (`chunk-c/file-f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Cursor {
    pub(crate) chunk: u32,
    pub(crate) file: u32,
}

impl Cursor {
    pub(crate) fn next(self) -> Self {
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

    pub(crate) fn path(self, prefix: &str, ext: &str) -> String {
        format!(
            "{prefix}/chunk-{:03}/file-{:03}.{ext}",
            self.chunk, self.file
        )
    }

    /// The cursor after the last `chunk-*/file-*.ext` under `dir`, or 0/0.
    pub(crate) fn after_existing(dir: &Path) -> Self {
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
pub(crate) struct DataFiles {
    dir: PathBuf,
    cursor: Cursor,
    file: Option<DataFile>,
    bytes: u64,
    rows: u64,
}

impl DataFiles {
    pub(crate) fn new(dir: &Path, first: Cursor) -> Self {
        Self {
            dir: dir.to_path_buf(),
            cursor: first,
            file: None,
            bytes: 0,
            rows: 0,
        }
    }

    /// Writes one episode's rows; returns the file they went to.
    pub(crate) fn write(
        &mut self,
        batch: &arrow_array::RecordBatch,
    ) -> Result<Cursor, ExportError> {
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

    pub(crate) fn close(self) -> Result<(), ExportError> {
        self.file.map(DataFile::close).transpose().map(|_| ())
    }
}

/// One camera's episodes joined by stream copy into
/// `videos/<key>/chunk-c/file-f.mp4`, rolling over to the next file when
/// the next episode would take it past LeRobot's video file size.
pub(crate) struct VideoFiles {
    stage: PathBuf,
    key: String,
    fps: u32,
    cursor: Cursor,
    concat: Option<reel_media::Mp4Concat>,
    bytes: u64,
    frames_in_file: u64,
}

impl VideoFiles {
    /// Writes under `stage`; file counters continue after the files under
    /// `root/videos/<key>` (the dataset being appended to, or `stage`).
    pub(crate) fn new(stage: &Path, root: &Path, key: &str, fps: u32) -> Self {
        Self {
            stage: stage.to_path_buf(),
            key: key.to_string(),
            fps,
            cursor: Cursor::after_existing(&root.join("videos").join(key)),
            concat: None,
            bytes: 0,
            frames_in_file: 0,
        }
    }

    /// Appends one episode's MP4 (`frames` frames, as its rows say);
    /// returns where its frames are.
    pub(crate) fn append(
        &mut self,
        episode: &Path,
        frames: u64,
    ) -> Result<VideoLocation, ExportError> {
        let size = std::fs::metadata(episode)
            .map_err(|err| ExportError::io(episode, err))?
            .len();
        self.append_frames(episode, size, (0, None), frames)
    }

    /// Appends the frames `first..first + frames` of `source` (an episode
    /// inside another dataset's joined file), counted as `size` bytes by
    /// the rollover rule; returns where its frames are.
    pub(crate) fn append_span(
        &mut self,
        source: &Path,
        size: u64,
        first: u64,
        frames: u64,
    ) -> Result<VideoLocation, ExportError> {
        self.append_frames(source, size, (first, Some(frames)), frames)
    }

    /// Appends `span` (first frame, how many; None: to the end) of
    /// `episode`, which must hold `frames` frames there.
    fn append_frames(
        &mut self,
        episode: &Path,
        size: u64,
        span: (u64, Option<u64>),
        frames: u64,
    ) -> Result<VideoLocation, ExportError> {
        let limit = VIDEO_FILES_SIZE_IN_MB * 1024 * 1024;
        if self.concat.is_some() && self.bytes + size >= limit {
            self.finish_file()?;
            self.cursor = self.cursor.next();
        }
        let rel = self.cursor.path(&format!("videos/{}", self.key), "mp4");
        let path = self.stage.join(&rel);
        let fps = self.fps;
        let concat = match &mut self.concat {
            Some(c) => c,
            None => {
                if let Some(d) = path.parent() {
                    std::fs::create_dir_all(d).map_err(|err| ExportError::io(d, err))?;
                }
                self.concat.insert(reel_media::Mp4Concat::new(&path, fps))
            }
        };
        let n = concat
            .append_span(episode, span.0, span.1)
            .map_err(|err| ExportError::output(&path, err.to_string()))?;
        if n != frames {
            return Err(ExportError::output(
                &path,
                format!(
                    "{} has {n} video frames for {frames} rows; this is a bug in reel",
                    episode.display()
                ),
            ));
        }
        let fps = f64::from(self.fps);
        let location = VideoLocation {
            chunk: self.cursor.chunk,
            file: self.cursor.file,
            from_timestamp: self.frames_in_file as f64 / fps,
            to_timestamp: (self.frames_in_file + n) as f64 / fps,
        };
        self.frames_in_file += n;
        self.bytes += size;
        Ok(location)
    }

    fn finish_file(&mut self) -> Result<(), ExportError> {
        if let Some(m) = self.concat.take() {
            m.finish()
                .map_err(|err| ExportError::output(&self.stage, err.to_string()))?;
        }
        self.bytes = 0;
        self.frames_in_file = 0;
        Ok(())
    }

    /// Closes the last file.
    pub(crate) fn finish(mut self) -> Result<(), ExportError> {
        self.finish_file()
    }
}

/// Runs `f(i)` for i in 0..n on `jobs` threads; stops at the first error.
pub(crate) fn parallel<T: Send>(
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

/// Writes `value` as pretty JSON, replacing `path` atomically.
pub(crate) fn write_json(path: &Path, value: &Value) -> Result<(), ExportError> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| ExportError::output(path, e.to_string()))?;
    write_atomically(path, &bytes)
}
