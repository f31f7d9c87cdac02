//! One episode (MCAP, as capture and sim write it) as a rerun recording,
//! streamed message by message in file order so the first frames reach the
//! viewer at once and memory does not grow with the episode's length.
//!
//! The same [`EpisodeLogger`] serves files and live recordings (`reel record
//! --view` hands it each message as it is written).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use reel_episode::annotations;
use reel_episode::geometry::Iso;
use reel_episode::robot::RobotModel;
use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::sensor_msgs::{CameraInfo, CompressedImage, Imu, JointState, PointCloud2};
use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::ros2::RosMessage;
use reel_episode::{schema_name, EpisodeReader, FileState};

use crate::columns::{Rows, Timeline, FILE_ROWS};
use crate::layout::{Layout, IMU_QUANTITIES};
use crate::quality::{Flag, StreamQuality};
use crate::robot::RobotAnimator;
pub use crate::streams::StreamKind;
use crate::{entity_part, ViewError, SENSOR_TIME};

/// Counts of what was logged, for reports and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EpisodeStats {
    /// Messages read.
    pub messages: u64,
    /// Messages logged, by topic.
    pub logged: BTreeMap<String, u64>,
    /// First and last sensor time (ns).
    pub time_range: Option<(i64, i64)>,
    /// Quality flags raised (warnings + notes).
    pub flags: u64,
    /// Warnings shown to the reviewer (also logged into the recording).
    pub warnings: Vec<String>,
    /// When the first camera frame had left for the viewer or file.
    pub first_frame_at: Option<std::time::Instant>,
}

/// Where the robot's URDF and meshes come from.
#[derive(Debug, Clone, Default)]
pub struct RobotSource {
    /// A URDF given by the user, preferred over the episode's.
    pub urdf: Option<PathBuf>,
    /// Folders searched for meshes (after the URDF's own folder).
    pub mesh_dirs: Vec<PathBuf>,
}

impl RobotSource {
    /// Where meshes are looked for: the URDF's own folder, then `mesh_dirs`.
    pub fn search_dirs(&self, urdf_dir: Option<&Path>) -> Vec<PathBuf> {
        urdf_dir
            .map(Path::to_path_buf)
            .into_iter()
            .chain(self.mesh_dirs.iter().cloned())
            .collect()
    }
}

/// What the logger keeps per topic, so that logging a message allocates
/// no paths or keys.
struct TopicState {
    kind: StreamKind,
    quality: QualityTrack,
    logged: u64,
    /// Where the topic is drawn; for cameras and LiDARs fixed at the first message.
    entity: Option<rerun::EntityPath>,
    /// Joints: the plots of [`JOINT_QUANTITIES`]; IMUs: of
    /// [`IMU_QUANTITIES`]; buffered.
    series: Vec<Rows>,
    /// Joints: joint count the series names were logged for; IMUs: 3
    /// once named.
    named_joints: usize,
    /// Camera info: the last pinhole logged.
    pinhole: Option<([f64; 4], [u32; 2])>,
}

/// A stream's quality checks and where their flags are logged.
struct QualityTrack {
    stream: StreamQuality,
    /// `quality/<topic>` and its `hole_s` marker series.
    paths: [rerun::EntityPath; 2],
}

/// The episode player's one timeline.
const EPISODE_TIMELINES: [Timeline; 1] = [Timeline::Timestamp(SENSOR_TIME)];

impl TopicState {
    fn new(topic: &str, schema: &str, rows_per_chunk: usize) -> Self {
        let kind = StreamKind::of(topic, schema);
        let quality = format!("quality/{}", entity_part(topic.trim_start_matches('/')));
        let series = match &kind {
            StreamKind::Joints { arm, commands } => {
                let group = if *commands { "_commands" } else { "" };
                JOINT_QUANTITIES
                    .iter()
                    .map(|q| {
                        Rows::scalars(
                            format!("joints/{}{group}/{q}", entity_part(arm)).into(),
                            &EPISODE_TIMELINES,
                            rows_per_chunk,
                        )
                    })
                    .collect()
            }
            StreamKind::Imu(imu) => IMU_QUANTITIES
                .iter()
                .map(|q| {
                    Rows::scalars(
                        format!("imu/{}/{q}", entity_part(imu)).into(),
                        &EPISODE_TIMELINES,
                        rows_per_chunk,
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            kind,
            quality: QualityTrack {
                stream: StreamQuality::default(),
                paths: [quality.as_str().into(), format!("{quality}/hole_s").into()],
            },
            logged: 0,
            entity: None,
            series,
            named_joints: 0,
            pinhole: None,
        }
    }
}

/// The joint quantities plotted per arm (entity names under `joints/<arm>`).
pub const JOINT_QUANTITIES: [&str; 3] = ["position", "velocity", "effort"];
/// Their units, for the series names.
const JOINT_UNITS: [&str; 3] = ["rad", "rad/s", "A / N·m"];

/// Logs a warning line into `rec` and keeps it in `warnings` (shown by the CLI).
pub fn log_warning(
    rec: &rerun::RecordingStream,
    warnings: &mut Vec<String>,
    text: String,
) -> Result<(), ViewError> {
    rec.log_static(
        format!("quality/warnings/{}", warnings.len()).as_str(),
        &rerun::TextLog::new(text.clone()).with_level(rerun::TextLogLevel::WARN),
    )?;
    warnings.push(text);
    Ok(())
}

/// Logs one episode's messages into a recording.
pub struct EpisodeLogger {
    rec: rerun::RecordingStream,
    robot_source: RobotSource,
    /// The URDF text and the folder its meshes are relative to.
    urdf: Option<(String, Option<PathBuf>)>,
    /// Animated arms, in first-seen order (their bases are spread along y).
    robots: Vec<(String, RobotAnimator)>,
    topics: HashMap<String, TopicState>,
    /// Frame → entity path, nested parent-first.
    frames: HashMap<String, String>,
    /// Frame → parent frame, from the transforms read before streaming, so
    /// a frame is nested under its whole chain even when a child of it
    /// (a camera on the gripper in `/tf_static`) comes first.
    known_parents: HashMap<String, String>,
    /// Camera or LiDAR name → entity path (a camera's image and info topics share it).
    sensors: HashMap<String, rerun::EntityPath>,
    stats: EpisodeStats,
    /// The sensor time set last (ns).
    now: i64,
    /// Joint samples per chunk sent (see [`crate::columns`]).
    rows_per_chunk: usize,
}

impl EpisodeLogger {
    /// A logger into `rec`. `urdf` is the episode's URDF text (from its
    /// attachment), if any; `robot_source` may override it.
    pub fn new(
        rec: rerun::RecordingStream,
        urdf: Option<(String, Option<PathBuf>)>,
        robot_source: RobotSource,
    ) -> Self {
        let urdf = match &robot_source.urdf {
            Some(path) => std::fs::read_to_string(path)
                .ok()
                .map(|t| (t, path.parent().map(Path::to_path_buf))),
            None => urdf,
        };
        Self {
            rec,
            robot_source,
            urdf,
            robots: Vec::new(),
            topics: HashMap::new(),
            frames: HashMap::new(),
            known_parents: HashMap::new(),
            sensors: HashMap::new(),
            stats: EpisodeStats::default(),
            now: 0,
            rows_per_chunk: FILE_ROWS,
        }
    }

    /// Sends joint samples `rows` at a time (default [`FILE_ROWS`]): a
    /// viewer that draws as data arrives wants fewer, so plots and the robot
    /// keep up with the cameras.
    pub fn with_rows_per_chunk(mut self, rows: usize) -> Self {
        self.rows_per_chunk = rows.max(1);
        self
    }

    /// The recording.
    pub fn recording(&self) -> &rerun::RecordingStream {
        &self.rec
    }

    /// Logs the world's axes (z up, as ROS) once.
    pub fn log_world(&self) -> Result<(), ViewError> {
        self.rec
            .log_static("world", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP())?;
        Ok(())
    }

    /// Records a warning: kept for the report and logged as a warning line.
    pub fn warn(&mut self, text: String) -> Result<(), ViewError> {
        log_warning(&self.rec, &mut self.stats.warnings, text)
    }

    fn set_time(&mut self, stamp: i64) {
        self.rec.set_timestamp_nanos_since_epoch(SENSOR_TIME, stamp);
        self.now = stamp;
        self.stats.time_range = Some(match self.stats.time_range {
            Some((a, b)) => (a.min(stamp), b.max(stamp)),
            None => (stamp, stamp),
        });
    }

    /// Sets the time to `stamp` and logs what is wrong with the sample.
    fn observe(
        &mut self,
        track: &mut QualityTrack,
        topic: &str,
        stamp: Time,
        received: i64,
    ) -> Result<(), ViewError> {
        let stamp = sensor_time(stamp, received);
        self.set_time(stamp);
        let paths = &track.paths;
        for flag in track.stream.observe(stamp, received) {
            self.stats.flags += 1;
            let level = if flag.is_warning() {
                rerun::TextLogLevel::WARN
            } else {
                rerun::TextLogLevel::INFO
            };
            self.rec.log(
                paths[0].clone(),
                &rerun::TextLog::new(flag.describe(topic)).with_level(level),
            )?;
            if let Flag::Missing { interval_s, .. } = flag {
                // A visible marker in the plots: the hole's length over time.
                self.rec
                    .log(paths[1].clone(), &rerun::Scalars::new([interval_s]))?;
            }
        }
        Ok(())
    }

    /// Logs one message (`log_time` = host receive time, ns).
    pub fn log_message(
        &mut self,
        topic: &str,
        schema: &str,
        log_time: u64,
        data: &[u8],
    ) -> Result<(), ViewError> {
        self.stats.messages += 1;
        // Taken out while it is used, put back under the same key.
        let (key, mut state) = match self.topics.remove_entry(topic) {
            Some(entry) => entry,
            None => (
                topic.to_string(),
                TopicState::new(topic, schema, self.rows_per_chunk),
            ),
        };
        let result = self.log_with(&mut state, topic, log_time as i64, data);
        if result.is_ok() && state.kind != StreamKind::Other {
            state.logged += 1;
        }
        self.topics.insert(key, state);
        result
    }

    fn log_with(
        &mut self,
        state: &mut TopicState,
        topic: &str,
        received: i64,
        data: &[u8],
    ) -> Result<(), ViewError> {
        match &state.kind {
            StreamKind::Joints { arm, commands } => {
                let (arm, commands) = (arm.clone(), *commands);
                let m: JointState = decode(topic, data)?;
                self.observe(&mut state.quality, topic, m.header.stamp, received)?;
                if state.named_joints != m.name.len() {
                    for (unit, rows) in JOINT_UNITS.iter().zip(&state.series) {
                        let names: Vec<String> =
                            m.name.iter().map(|j| format!("{j} [{unit}]")).collect();
                        self.rec.log_static(
                            rows.path().clone(),
                            &rerun::SeriesLines::new().with_names(names),
                        )?;
                    }
                    state.named_joints = m.name.len();
                }
                let time = [self.now];
                for (rows, values) in
                    state
                        .series
                        .iter_mut()
                        .zip([&m.position, &m.velocity, &m.effort])
                {
                    if !values.is_empty() {
                        rows.push_scalars(&self.rec, &time, values)?;
                    }
                }
                if !commands && !m.position.is_empty() {
                    self.animate(&arm, &m.name, &m.position)?;
                }
            }
            StreamKind::Image(camera) => {
                let m: CompressedImage = decode(topic, data)?;
                self.observe(&mut state.quality, topic, m.header.stamp, received)?;
                let path = self.drawn_at(&mut state.entity, camera, &m.header.frame_id, "cameras");
                if m.format.contains("h264") {
                    self.rec.log(
                        path,
                        &rerun::VideoStream::new(rerun::components::VideoCodec::H264)
                            .with_sample(m.data),
                    )?;
                } else {
                    let media = match m.format.split(';').next().unwrap_or("").trim() {
                        "png" => "image/png",
                        _ => "image/jpeg",
                    };
                    self.rec.log(
                        path,
                        &rerun::EncodedImage::new(m.data).with_media_type(media),
                    )?;
                }
                self.first_frame(state.logged)?;
            }
            StreamKind::Video(camera) => {
                let m: CompressedVideo = decode(topic, data)?;
                self.observe(&mut state.quality, topic, m.timestamp, received)?;
                let path = self.drawn_at(&mut state.entity, camera, &m.frame_id, "cameras");
                let codec = match m.format.as_str() {
                    "h265" | "hevc" => rerun::components::VideoCodec::H265,
                    "av1" => rerun::components::VideoCodec::AV1,
                    _ => rerun::components::VideoCodec::H264,
                };
                self.rec
                    .log(path, &rerun::VideoStream::new(codec).with_sample(m.data))?;
                self.first_frame(state.logged)?;
            }
            StreamKind::CameraInfo(camera) => {
                let m: CameraInfo = decode(topic, data)?;
                let k = [m.k[0], m.k[4], m.k[2], m.k[5]];
                let res = [m.width, m.height];
                if state.pinhole != Some((k, res)) && k[0] > 0.0 && k[1] > 0.0 {
                    self.set_time(sensor_time(m.header.stamp, received));
                    let path =
                        self.drawn_at(&mut state.entity, camera, &m.header.frame_id, "cameras");
                    self.rec.log(
                        path,
                        &rerun::Pinhole::from_focal_length_and_resolution(
                            [k[0] as f32, k[1] as f32],
                            [res[0] as f32, res[1] as f32],
                        )
                        .with_principal_point([k[2] as f32, k[3] as f32])
                        .with_image_plane_distance(0.15),
                    )?;
                    state.pinhole = Some((k, res));
                }
            }
            StreamKind::Points(lidar) => {
                let m: PointCloud2 = decode(topic, data)?;
                self.observe(&mut state.quality, topic, m.header.stamp, received)?;
                let path =
                    self.drawn_at(&mut state.entity, lidar, &m.header.frame_id, "world/lidar");
                match crate::points::points3d(&m) {
                    Ok(points) => self.rec.log(path, &points)?,
                    Err(reason) => {
                        let text = format!("{topic}: {reason}; the cloud is not drawn");
                        if !self.stats.warnings.contains(&text) {
                            self.warn(text)?;
                        }
                    }
                }
            }
            StreamKind::Imu(_) => {
                let m: Imu = decode(topic, data)?;
                self.observe(&mut state.quality, topic, m.header.stamp, received)?;
                if state.named_joints == 0 {
                    for (unit, rows) in ["rad/s", "m/s²"].iter().zip(&state.series) {
                        let names: Vec<String> = ["x", "y", "z"]
                            .iter()
                            .map(|a| format!("{a} [{unit}]"))
                            .collect();
                        self.rec.log_static(
                            rows.path().clone(),
                            &rerun::SeriesLines::new().with_names(names),
                        )?;
                    }
                    state.named_joints = 3;
                }
                let time = [self.now];
                let (w, a) = (m.angular_velocity, m.linear_acceleration);
                for (rows, values) in state
                    .series
                    .iter_mut()
                    .zip([[w.x, w.y, w.z], [a.x, a.y, a.z]])
                {
                    rows.push_scalars(&self.rec, &time, &values)?;
                }
            }
            StreamKind::Tf { is_static } => {
                let is_static = *is_static;
                let m: TFMessage = decode(topic, data)?;
                for t in &m.transforms {
                    let path = self.frame_path(&t.child_frame_id, Some(&t.header.frame_id));
                    let tf = crate::robot::transform(&Iso::from_msg(t), None);
                    if is_static {
                        self.rec.log_static(path.as_str(), &tf)?;
                        self.rec
                            .log_static(path.as_str(), &rerun::TransformAxes3D::new(0.05))?;
                    } else {
                        self.set_time(sensor_time(t.header.stamp, received));
                        self.rec.log(path.as_str(), &tf)?;
                    }
                }
            }
            StreamKind::Events => {
                let m: StringMsg = decode(topic, data)?;
                self.set_time(received);
                let (level, text) = event_line(&m.data);
                self.rec
                    .log("events", &rerun::TextLog::new(text).with_level(level))?;
            }
            StreamKind::RobotDescription => {
                if self.urdf.is_none() {
                    let m: StringMsg = decode(topic, data)?;
                    self.urdf = Some((m.data, None));
                }
            }
            StreamKind::Other => {}
        }
        Ok(())
    }

    /// The first frame of a camera topic is pushed out at once (time to first frame).
    fn first_frame(&mut self, logged_before: u64) -> Result<(), ViewError> {
        if logged_before == 0 {
            self.rec.flush_blocking()?;
            self.stats
                .first_frame_at
                .get_or_insert_with(std::time::Instant::now);
        }
        Ok(())
    }

    /// The entity of `frame`, nested under its parent's (given, or known
    /// from the transforms read before streaming); a frame with no known
    /// parent hangs off `world/tf`. Fixed at the first call.
    fn frame_path(&mut self, frame: &str, parent: Option<&str>) -> String {
        if let Some(p) = self.frames.get(frame) {
            return p.clone();
        }
        // Up the chain until a placed frame or a root; a cycle in broken
        // data ends the walk too.
        let mut chain = vec![frame.to_string()];
        let mut next = parent
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or_else(|| self.known_parents.get(frame).cloned());
        let mut base = "world/tf".to_string();
        while let Some(up) = next.take() {
            if let Some(p) = self.frames.get(&up) {
                base = p.clone();
                break;
            }
            if chain.contains(&up) || chain.len() > 256 {
                break;
            }
            next = self
                .known_parents
                .get(&up)
                .filter(|p| !p.is_empty())
                .cloned();
            chain.push(up);
        }
        for f in chain.iter().rev() {
            base = format!("{base}/{}", entity_part(f));
            self.frames.insert(f.clone(), base.clone());
        }
        base
    }

    /// Where sensor `name` is drawn: `world/tf/…/<frame>/<name>` when its
    /// frame is in `/tf`, so a camera's frustum or a cloud sits in the 3D
    /// scene; otherwise `<fallback>/<name>` (cameras then show in 2D only).
    /// Fixed at the sensor's first message.
    fn sensor_path(&mut self, name: &str, frame: &str, fallback: &str) -> rerun::EntityPath {
        if let Some(p) = self.sensors.get(name) {
            return p.clone();
        }
        let path: rerun::EntityPath = match self.frames.get(frame) {
            Some(f) => format!("{f}/{}", entity_part(name)),
            None => format!("{fallback}/{}", entity_part(name)),
        }
        .into();
        self.sensors.insert(name.to_string(), path.clone());
        path
    }

    /// A topic's sensor entity, looked up once per topic.
    fn drawn_at(
        &mut self,
        entity: &mut Option<rerun::EntityPath>,
        name: &str,
        frame: &str,
        fallback: &str,
    ) -> rerun::EntityPath {
        if let Some(p) = entity {
            return p.clone();
        }
        let path = self.sensor_path(name, frame, fallback);
        *entity = Some(path.clone());
        path
    }

    /// The entity of each camera, given the frame ids known for them (the
    /// blueprint's camera views point at these).
    pub fn camera_paths(
        &mut self,
        cameras: &[String],
        frame_ids: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        cameras
            .iter()
            .map(|c| {
                let frame = frame_ids.get(c).map_or("", String::as_str);
                (c.clone(), self.sensor_path(c, frame, "cameras").to_string())
            })
            .collect()
    }

    fn animate(&mut self, arm: &str, names: &[String], positions: &[f64]) -> Result<(), ViewError> {
        let index = match self.robots.iter().position(|(a, _)| a == arm) {
            Some(i) => i,
            None => {
                let Some((text, dir)) = self.urdf.clone() else {
                    return Ok(());
                };
                let model = match RobotModel::parse(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        self.urdf = None;
                        return self
                            .warn(format!("robot description: {e}; the 3D robot is not drawn"));
                    }
                };
                // Arms whose bases the episode does not give stand 0.5 m apart.
                let base = Iso::translation([0.0, -0.5 * self.robots.len() as f64, 0.0]);
                let animator =
                    RobotAnimator::new(model, arm, base, &EPISODE_TIMELINES, self.rows_per_chunk);
                let dirs = self.robot_source.search_dirs(dir.as_deref());
                for w in animator.log_static(&self.rec, &dirs)? {
                    self.warn(w)?;
                }
                self.robots.push((arm.to_string(), animator));
                self.robots.len() - 1
            }
        };
        if let Some(w) =
            self.robots[index]
                .1
                .log_positions(&self.rec, &[self.now], names, positions)?
        {
            self.warn(w)?;
        }
        Ok(())
    }

    /// Sends the buffered joint plots and robot links.
    pub fn flush_rows(&mut self) -> Result<(), ViewError> {
        for state in self.topics.values_mut() {
            for rows in &mut state.series {
                rows.flush(&self.rec)?;
            }
        }
        for (_, robot) in &mut self.robots {
            robot.flush(&self.rec)?;
        }
        Ok(())
    }

    /// Summary lines per stream, logged at the end; the counts of what was logged.
    pub fn finish(&mut self) -> Result<EpisodeStats, ViewError> {
        self.flush_rows()?;
        let mut topics: Vec<(&String, &TopicState)> = self.topics.iter().collect();
        topics.sort_by(|a, b| a.0.cmp(b.0));
        let mut lines = Vec::new();
        for (topic, state) in &topics {
            let (q, c) = (&state.quality.stream, state.quality.stream.counts);
            if c.holes + c.not_monotonic + c.late > 0 {
                lines.push(format!(
                    "{topic}: {} samples, {} hole(s) with ~{} missing, {} out of order, {} late",
                    q.samples, c.holes, c.missing, c.not_monotonic, c.late
                ));
            }
        }
        let text = if lines.is_empty() {
            "quality: no gaps, drops, out-of-order or late samples found".to_string()
        } else {
            format!("quality:\n{}", lines.join("\n"))
        };
        self.stats.logged = topics
            .iter()
            .filter(|(_, s)| s.logged > 0)
            .map(|(t, s)| ((*t).clone(), s.logged))
            .collect();
        self.rec
            .log_static("quality/summary", &rerun::TextDocument::new(text))?;
        self.rec.flush_blocking()?;
        Ok(self.stats.clone())
    }
}

fn decode<M: RosMessage>(topic: &str, data: &[u8]) -> Result<M, ViewError> {
    M::from_cdr(data).map_err(|e| ViewError::Message {
        topic: topic.to_string(),
        reason: e.to_string(),
    })
}

/// An `/episode/events` JSON line as a log line with a level.
fn event_line(json: &str) -> (&'static str, String) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return (rerun::TextLogLevel::INFO, json.to_string());
    };
    let name = v.get("event").and_then(|e| e.as_str()).unwrap_or("event");
    let level = match name {
        "device_lost" | "dropped" | "drops" | "gap" | "disk_low" | "write_error"
        | "servo_error" => rerun::TextLogLevel::WARN,
        _ => rerun::TextLogLevel::INFO,
    };
    let detail: Vec<String> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "event")
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={other}"),
                })
                .collect()
        })
        .unwrap_or_default();
    (
        level,
        format!("{name} {}", detail.join(" ")).trim().to_string(),
    )
}

/// What an episode file offers before streaming it: its layout (for the
/// blueprint) and URDF.
pub struct EpisodeSource {
    /// The open file.
    pub reader: EpisodeReader,
    /// Streams found in the summary (empty when the file has none).
    pub layout: Layout,
    /// The URDF attachment, if any.
    pub urdf: Option<String>,
    /// Warnings about the file itself.
    pub warnings: Vec<String>,
}

impl EpisodeSource {
    /// Opens an episode; reads only the summary and attachments index.
    pub fn open(path: &Path) -> Result<Self, ViewError> {
        let reader = EpisodeReader::open(path).map_err(|e| ViewError::Input {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut warnings = Vec::new();
        match reader.state() {
            FileState::Closed | FileState::ClosedWithoutSummary => {}
            other => warnings.push(format!(
                "{}: {other:?}; showing what is readable (repair it with `reel recover`)",
                path.display()
            )),
        }
        let mut layout = Layout::default();
        if let Some(summary) = reader.summary() {
            for ch in summary.channels.values() {
                let schema = schema_name(ch);
                let kind = StreamKind::of(&ch.topic, schema);
                let written = summary
                    .stats
                    .as_ref()
                    .and_then(|s| s.channel_message_counts.get(&ch.id))
                    .is_none_or(|n| *n > 0);
                if kind == StreamKind::RobotDescription && written {
                    layout.has_robot = true;
                }
                layout.add(&kind);
            }
        }
        let urdf = reader
            .attachments()
            .ok()
            .and_then(|a| a.into_iter().find(|a| a.name.ends_with(".urdf")))
            .and_then(|a| String::from_utf8(a.data).ok());
        Ok(Self {
            reader,
            layout,
            urdf,
            warnings,
        })
    }

    /// Reads the start of the file for `/tf_static` and each camera's frame
    /// id, so camera entities (and the blueprint's views of them) are fixed
    /// before streaming starts. Stops at the first frame of every camera or
    /// after a few thousand messages; returns camera → entity path.
    pub fn prime(&self, logger: &mut EpisodeLogger, layout: &Layout) -> BTreeMap<String, String> {
        let mut frame_ids: BTreeMap<String, String> = BTreeMap::new();
        // Read on to the first /tf too (when the file has one), so the
        // links a camera hangs from are known before it is placed.
        let has_tf = self.reader.summary().is_some_and(|s| {
            s.channels
                .values()
                .any(|c| c.topic == reel_episode::topics::TF)
        });
        let mut seen_tf = false;
        for m in self.reader.messages().take(5000) {
            let Ok(m) = m else { break };
            let schema = schema_name(&m.channel);
            match StreamKind::of(&m.channel.topic, schema) {
                StreamKind::Tf { is_static } => {
                    if let Ok(tf) = TFMessage::from_cdr(&m.data) {
                        for t in &tf.transforms {
                            logger
                                .known_parents
                                .insert(t.child_frame_id.clone(), t.header.frame_id.clone());
                        }
                        seen_tf |= !is_static;
                    }
                }
                StreamKind::Image(c) => {
                    if let Ok(img) = CompressedImage::from_cdr(&m.data) {
                        frame_ids.entry(c).or_insert(img.header.frame_id);
                    }
                }
                StreamKind::Video(c) => {
                    if let Ok(v) = CompressedVideo::from_cdr(&m.data) {
                        frame_ids.entry(c).or_insert(v.frame_id);
                    }
                }
                StreamKind::CameraInfo(c) => {
                    if let Ok(i) = CameraInfo::from_cdr(&m.data) {
                        frame_ids.entry(c).or_insert(i.header.frame_id);
                    }
                }
                _ => {}
            }
            if !layout.cameras.is_empty()
                && layout.cameras.iter().all(|c| frame_ids.contains_key(c))
                && (seen_tf || !has_tf)
            {
                break;
            }
        }
        let mut children: Vec<(String, String)> = logger
            .known_parents
            .iter()
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect();
        children.sort();
        for (child, parent) in children {
            logger.frame_path(&child, Some(&parent));
        }
        logger.camera_paths(&layout.cameras, &frame_ids)
    }

    /// Streams every readable message into `logger`. A damaged chunk ends the
    /// stream with a warning, keeping what was logged.
    pub fn stream(&self, logger: &mut EpisodeLogger) -> Result<(), ViewError> {
        for w in &self.warnings {
            logger.warn(w.clone())?;
        }
        let mut since_drain = 0usize;
        for m in self.reader.messages() {
            match m {
                Ok(m) => {
                    since_drain += m.data.len();
                    if since_drain >= DRAIN_EVERY_BYTES {
                        since_drain = 0;
                        logger.recording().flush_blocking()?;
                    }
                    let schema = schema_name(&m.channel);
                    if let Err(e) =
                        logger.log_message(&m.channel.topic, schema, m.log_time, &m.data)
                    {
                        match e {
                            ViewError::Message { .. } => {
                                let text = format!(
                                    "{}: {e}; message skipped",
                                    self.reader.path().display()
                                );
                                logger.warn(text)?;
                            }
                            other => return Err(other),
                        }
                    }
                }
                Err(e) => {
                    logger.warn(format!(
                        "{e}; the rest of the file is not shown (try `reel recover`)"
                    ))?;
                    break;
                }
            }
        }
        self.log_annotations(logger)
    }

    /// The episode's annotations (`reel annotate`), when it has them: the
    /// instruction and success as a document, each segment as a line in
    /// the `annotations` log where it starts and where it ends.
    fn log_annotations(&self, logger: &mut EpisodeLogger) -> Result<(), ViewError> {
        let Ok(Some(meta)) = self.reader.episode_meta() else {
            return Ok(());
        };
        let a = match annotations::read(self.reader.path(), &meta.episode_id) {
            Ok(Some(a)) => a,
            Ok(None) => return Ok(()),
            Err(e) => return logger.warn(format!("{e}; annotations not shown")),
        };
        let rec = logger.recording().clone();
        let mut doc = vec![format!(
            "instruction: {}",
            a.instruction.as_deref().unwrap_or(&meta.task)
        )];
        doc.push(format!(
            "success: {}",
            a.success
                .map_or("unknown", |s| if s { "yes" } else { "no" })
        ));
        doc.extend(a.segments.iter().map(annotations::Segment::describe));
        rec.log_static(
            "annotations/summary",
            &rerun::TextDocument::new(doc.join("\n")),
        )?;
        let at = |s: f64| a.start_nanos as i64 + (s * 1e9).round() as i64;
        for seg in &a.segments {
            let state = if seg.confirmed { "" } else { " (to confirm)" };
            for (t, text) in [
                (at(seg.start_s), format!("▶ {}{state}", seg.label)),
                (at(seg.end_s), format!("■ {}", seg.label)),
            ] {
                rec.set_timestamp_nanos_since_epoch(SENSOR_TIME, t);
                rec.log(
                    "annotations",
                    &rerun::TextLog::new(text).with_level(rerun::TextLogLevel::INFO),
                )?;
            }
        }
        Ok(())
    }
}

/// Read bytes after which the logger waits for rerun's batcher and file
/// writer to catch up: they queue up to 1024 chunks, so a logger faster than
/// the writer would otherwise let memory grow with the episode.
const DRAIN_EVERY_BYTES: usize = 64 << 20;

/// Sensor time of a message; its reception time when the sensor gave none.
fn sensor_time(stamp: Time, received: i64) -> i64 {
    match stamp.to_nanos() as i64 {
        s if s > 0 => s,
        _ => received,
    }
}
