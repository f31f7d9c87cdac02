//! reel-viewer: an episode, a directory of episodes or a LeRobot v3 dataset
//! as rerun recordings with a purpose-built blueprint — spawned in the native
//! viewer, saved as `.rrd`, streamed to a running viewer, or served to the
//! web viewer. Episodes are streamed message by message, so the first frame
//! shows at once and memory does not grow with the episode.

pub mod columns;
pub mod dataset;
pub mod episode;
pub mod layout;
pub mod output;
pub mod points;
pub mod quality;
pub mod robot;
pub mod streams;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use episode::{EpisodeLogger, EpisodeSource, EpisodeStats, RobotSource, StreamKind};
pub use output::{Output, Target};

/// The timeline of sensor acquisition time (`header.stamp`, ns since the Unix epoch).
pub const SENSOR_TIME: &str = "sensor_time";

/// Why a view failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// An input that cannot be shown.
    #[error("{}: {reason}", path.display())]
    Input {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// An episode index past the episodes there are.
    #[error("{}: episode {index}: there are {count} episode(s) (0-based)", path.display())]
    NoSuchEpisode {
        /// The folder or dataset.
        path: PathBuf,
        /// The index asked for.
        index: usize,
        /// Episodes there are.
        count: usize,
    },
    /// One message that does not decode.
    #[error("{topic}: {reason}")]
    Message {
        /// Its topic.
        topic: String,
        /// Decoder error.
        reason: String,
    },
    /// The viewer, file or server could not be reached or started.
    #[error("{0}")]
    Sink(String),
    /// A flush to the viewer or file failed or timed out.
    #[error("sending to the viewer or file: {0}")]
    Flush(#[from] rerun::sink::SinkFlushError),
    /// rerun refused a log call.
    #[error("rerun: {0}")]
    Rerun(#[from] rerun::RecordingStreamError),
}

/// An entity path part from a name: characters rerun would escape become `_`.
pub fn entity_part(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// Options of `reel view`.
#[derive(Debug, Clone, Default)]
pub struct ViewOptions {
    /// Only this episode (position in the directory, or `episode_index`).
    pub episode: Option<usize>,
    /// URDF and mesh folders for the robot.
    pub robot: RobotSource,
}

/// What was shown.
#[derive(Debug, Default)]
pub struct ViewSummary {
    /// Per recording: its name and stats.
    pub recordings: Vec<(String, EpisodeStats)>,
}

impl ViewSummary {
    /// All warnings, prefixed by recording.
    pub fn warnings(&self) -> Vec<String> {
        self.recordings
            .iter()
            .flat_map(|(_, s)| s.warnings.iter().cloned())
            .collect()
    }
}

/// What `PATH` holds.
#[derive(Debug)]
enum Input {
    Episodes(Vec<PathBuf>),
    Dataset(PathBuf),
}

fn classify(path: &Path) -> Result<Input, ViewError> {
    let meta = std::fs::metadata(path).map_err(|e| ViewError::Input {
        path: path.to_path_buf(),
        reason: format!(
            "cannot open ({e}); give an episode (.mcap), a folder of episodes or a LeRobot dataset"
        ),
    })?;
    if meta.is_file() {
        return Ok(Input::Episodes(vec![path.to_path_buf()]));
    }
    if dataset::Dataset::is_dataset(path) {
        return Ok(Input::Dataset(path.to_path_buf()));
    }
    let files = reel_episode::episode_files_in(path).map_err(|e| ViewError::Input {
        path: path.to_path_buf(),
        reason: format!("cannot list: {e}"),
    })?;
    if files.is_empty() {
        return Err(ViewError::Input {
            path: path.to_path_buf(),
            reason: "no episodes (*.mcap) and no LeRobot dataset (meta/info.json) here".into(),
        });
    }
    Ok(Input::Episodes(files))
}

fn pick<T>(items: Vec<T>, episode: Option<usize>, path: &Path) -> Result<Vec<T>, ViewError> {
    match episode {
        None => Ok(items),
        Some(i) if i < items.len() => Ok(items.into_iter().nth(i).into_iter().collect()),
        Some(i) => Err(ViewError::NoSuchEpisode {
            path: path.to_path_buf(),
            index: i,
            count: items.len(),
        }),
    }
}

/// Shows `path` on `output`.
pub fn view(path: &Path, output: &Output, options: &ViewOptions) -> Result<ViewSummary, ViewError> {
    view_with_progress(path, output, options, &|_, _| {})
}

/// [`view`], calling `progress(episodes done, episodes)` after each one.
pub fn view_with_progress(
    path: &Path,
    output: &Output,
    options: &ViewOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<ViewSummary, ViewError> {
    let mut summary = ViewSummary::default();
    match classify(path)? {
        Input::Episodes(files) => {
            let files = pick(files, options.episode, path)?;
            let total = files.len();
            for (k, file) in files.into_iter().enumerate() {
                progress(k, total);
                tracing::debug!(episode = %file.display(), "viewing");
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                let stats = view_episode(&file, output, options)?;
                summary.recordings.push((name, stats));
            }
        }
        Input::Dataset(root) => {
            let ds = dataset::Dataset::open(&root)?;
            let episodes = match options.episode {
                None => ds.episodes.clone(),
                Some(i) => {
                    let found: Vec<_> = ds
                        .episodes
                        .iter()
                        .filter(|e| e.index == i as i64)
                        .cloned()
                        .collect();
                    if found.is_empty() {
                        return Err(ViewError::NoSuchEpisode {
                            path: root.clone(),
                            index: i,
                            count: ds.episodes.len(),
                        });
                    }
                    found
                }
            };
            let robot_model = match &options.robot.urdf {
                Some(p) => Some(reel_episode::robot::RobotModel::read(p).map_err(|e| {
                    ViewError::Input {
                        path: p.clone(),
                        reason: e.to_string(),
                    }
                })?),
                None => None,
            };
            let mesh_dirs = options
                .robot
                .search_dirs(options.robot.urdf.as_ref().and_then(|p| p.parent()));
            let layout = ds.layout(robot_model.is_some());
            let cameras: BTreeMap<String, String> = ds
                .video_keys
                .iter()
                .map(|k| (k.clone(), dataset::Dataset::camera_path(k)))
                .collect();
            for (k, ep) in episodes.iter().enumerate() {
                progress(k, episodes.len());
                let name = format!(
                    "{} episode {}",
                    root.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                    ep.index
                );
                let id = format!("{}-episode-{}", root.display(), ep.index);
                let rec = output.recording(&name, &id)?;
                layout.send(&rec, &cameras, &["values"])?;
                let robot = robot_model.clone().map(|m| {
                    robot::RobotAnimator::new(
                        m,
                        &ds.robot_type,
                        reel_episode::geometry::Iso::IDENTITY,
                        &dataset::DATASET_TIMELINES,
                        output.rows_per_chunk(),
                    )
                });
                let stats = ds.stream(ep, &rec, robot, &mesh_dirs, output.rows_per_chunk())?;
                summary.recordings.push((name, stats));
            }
        }
    }
    output.flush()?;
    Ok(summary)
}

/// Streams one episode file into its own recording.
pub fn view_episode(
    file: &Path,
    output: &Output,
    options: &ViewOptions,
) -> Result<EpisodeStats, ViewError> {
    let source = EpisodeSource::open(file)?;
    let meta = source.reader.episode_meta().ok().flatten();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let id = meta
        .as_ref()
        .map(|m| m.episode_id.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| file.display().to_string());
    let rec = output.recording(&name, &id)?;
    // An attached URDF has no folder of its own; `--urdf` replaces it.
    let mut logger = EpisodeLogger::new(
        rec,
        source.urdf.clone().map(|u| (u, None)),
        options.robot.clone(),
    )
    .with_rows_per_chunk(output.rows_per_chunk());
    let mut layout = source.layout.clone();
    layout.has_robot |= source.urdf.is_some() || options.robot.urdf.is_some();
    layout.timeline = Some(SENSOR_TIME.to_string());
    let cameras = source.prime(&mut logger, &layout);
    layout.send(logger.recording(), &cameras, &episode::JOINT_QUANTITIES)?;
    if let Some(m) = &meta {
        let mut lines = vec![
            format!("episode {}", m.episode_id),
            format!(
                "source {}  robot {}  outcome {}",
                m.source.as_str(),
                m.robot_type,
                m.outcome.as_str()
            ),
        ];
        if !m.task.is_empty() {
            lines.push(format!("task: {}", m.task));
        }
        logger
            .recording()
            .log_static("episode", &rerun::TextDocument::new(lines.join("\n")))?;
    }
    logger.log_world()?;
    source.stream(&mut logger)?;
    logger.finish()
}
