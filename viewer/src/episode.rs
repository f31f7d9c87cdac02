//! One episode (MCAP, as capture and sim write it) as a rerun recording,
//! streamed message by message in file order so the first frames reach the
//! viewer at once and memory does not grow with the episode's length.
//!
//! The same [`EpisodeLogger`] serves files and live recordings (`reel record
//! --view` hands it each message as it is written).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use reel_formats::episode::{EpisodeReader, FileState};
use reel_formats::geometry::Iso;
use reel_formats::robot::RobotModel;
use reel_formats::ros2::foxglove_msgs::CompressedVideo;
use reel_formats::ros2::sensor_msgs::{CameraInfo, CompressedImage, JointState, PointCloud2};
use reel_formats::ros2::std_msgs::StringMsg;
use reel_formats::ros2::tf2_msgs::TFMessage;
use reel_formats::ros2::RosMessage;

use crate::layout::Layout;
use crate::quality::{Flag, StreamQuality};
use crate::robot::RobotAnimator;
use crate::{entity_part, ViewError, SENSOR_TIME};

/// What a topic carries, from its schema name and topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamKind {
    /// `/robot/<arm>/joint_states` or `/joint_commands`.
    Joints {
        /// Arm name.
        arm: String,
        /// True for leader commands.
        commands: bool,
    },
    /// JPEG/PNG images of a camera.
    Image(String),
    /// H.264 video of a camera.
    Video(String),
    /// Intrinsics of a camera.
    CameraInfo(String),
    /// A LiDAR's revolutions.
    Points(String),
    /// `/tf` or `/tf_static`.
    Tf {
        /// `/tf_static`.
        is_static: bool,
    },
    /// `/episode/events`.
    Events,
    /// `/robot_description`.
    RobotDescription,
    /// Anything else (raw packets, unknown topics): counted, not drawn.
    Other,
}

impl StreamKind {
    /// Classifies a channel.
    pub fn of(topic: &str, schema: &str) -> Self {
        let parts: Vec<&str> = topic.trim_start_matches('/').split('/').collect();
        let name = || parts.get(1).map(|s| s.to_string()).unwrap_or_default();
        match (schema, parts.first().copied()) {
            ("sensor_msgs/msg/JointState", _) => {
                let arm = if parts.first() == Some(&"robot") {
                    name()
                } else {
                    topic.trim_matches('/').replace('/', "_")
                };
                Self::Joints {
                    arm,
                    commands: topic.ends_with("joint_commands"),
                }
            }
            ("sensor_msgs/msg/CompressedImage", Some("camera")) => Self::Image(name()),
            ("foxglove_msgs/msg/CompressedVideo", Some("camera")) => Self::Video(name()),
            ("sensor_msgs/msg/CameraInfo", Some("camera")) => Self::CameraInfo(name()),
            ("sensor_msgs/msg/PointCloud2", Some("lidar")) => Self::Points(name()),
            ("sensor_msgs/msg/CompressedImage", _) => {
                Self::Image(topic.trim_matches('/').replace('/', "_"))
            }
            ("sensor_msgs/msg/PointCloud2", _) => {
                Self::Points(topic.trim_matches('/').replace('/', "_"))
            }
            ("tf2_msgs/msg/TFMessage", _) => Self::Tf {
                is_static: topic == reel_formats::topics::TF_STATIC,
            },
            ("std_msgs/msg/String", _) if topic == reel_formats::topics::EVENTS => Self::Events,
            ("std_msgs/msg/String", _) if topic == reel_formats::topics::ROBOT_DESCRIPTION => {
                Self::RobotDescription
            }
            _ => Self::Other,
        }
    }
}

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

/// Logs one episode's messages into a recording.
pub struct EpisodeLogger {
    rec: rerun::RecordingStream,
    robot_source: RobotSource,
    /// The URDF text and the folder its meshes are relative to.
    urdf: Option<(String, Option<PathBuf>)>,
    robots: HashMap<String, RobotAnimator>,
    /// Follower arms in first-seen order (their bases are spread along y).
    arm_order: Vec<String>,
    quality: HashMap<String, StreamQuality>,
    /// Frame → entity path, nested parent-first.
    frames: HashMap<String, String>,
    cameras: HashMap<String, String>,
    camera_shown: HashMap<String, bool>,
    pinholes: HashMap<String, ([f64; 4], [u32; 2])>,
    lidars: HashMap<String, String>,
    series_named: HashMap<String, usize>,
    kinds: HashMap<String, StreamKind>,
    stats: EpisodeStats,
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
            robots: HashMap::new(),
            arm_order: Vec::new(),
            quality: HashMap::new(),
            frames: HashMap::new(),
            cameras: HashMap::new(),
            camera_shown: HashMap::new(),
            pinholes: HashMap::new(),
            lidars: HashMap::new(),
            series_named: HashMap::new(),
            kinds: HashMap::new(),
            stats: EpisodeStats::default(),
        }
    }

    /// The recording.
    pub fn recording(&self) -> &rerun::RecordingStream {
        &self.rec
    }

    /// What was logged so far.
    pub fn stats(&self) -> &EpisodeStats {
        &self.stats
    }

    /// Logs the world's axes (z up, as ROS) once.
    pub fn log_world(&self) -> Result<(), ViewError> {
        self.rec
            .log_static("world", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP())?;
        Ok(())
    }

    /// Records a warning: kept for the report and logged as a warning line.
    pub fn warn(&mut self, text: String) -> Result<(), ViewError> {
        self.rec.log_static(
            format!("quality/warnings/{}", self.stats.warnings.len()).as_str(),
            &rerun::TextLog::new(text.clone()).with_level(rerun::TextLogLevel::WARN),
        )?;
        self.stats.warnings.push(text);
        Ok(())
    }

    fn set_time(&mut self, stamp: i64) {
        self.rec.set_timestamp_nanos_since_epoch(SENSOR_TIME, stamp);
        self.stats.time_range = Some(match self.stats.time_range {
            Some((a, b)) => (a.min(stamp), b.max(stamp)),
            None => (stamp, stamp),
        });
    }

    fn quality(&mut self, topic: &str, stamp: i64, received: i64) -> Result<(), ViewError> {
        let flags = self
            .quality
            .entry(topic.to_string())
            .or_default()
            .observe(stamp, received);
        for flag in flags {
            self.stats.flags += 1;
            let level = if flag.is_warning() {
                rerun::TextLogLevel::WARN
            } else {
                rerun::TextLogLevel::INFO
            };
            let path = format!("quality/{}", entity_part(topic.trim_start_matches('/')));
            self.rec.log(
                path.as_str(),
                &rerun::TextLog::new(flag.describe(topic)).with_level(level),
            )?;
            if let Flag::Missing { interval_s, .. } = flag {
                // A visible marker in the plots: the hole's length over time.
                self.rec.log(
                    format!("{path}/hole_s").as_str(),
                    &rerun::Scalars::new([interval_s]),
                )?;
            }
        }
        Ok(())
    }

    fn count(&mut self, topic: &str) {
        *self.stats.logged.entry(topic.to_string()).or_default() += 1;
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
        let kind = match self.kinds.get(topic) {
            Some(k) => k.clone(),
            None => {
                let k = StreamKind::of(topic, schema);
                self.kinds.insert(topic.to_string(), k.clone());
                k
            }
        };
        let received = log_time as i64;
        match kind {
            StreamKind::Joints { arm, commands } => {
                let m: JointState = decode(topic, data)?;
                let stamp = stamp_or(m.header.stamp.to_nanos() as i64, received);
                self.set_time(stamp);
                self.quality(topic, stamp, received)?;
                let base = format!(
                    "joints/{}{}",
                    entity_part(&arm),
                    if commands { "_commands" } else { "" }
                );
                let n = m.name.len();
                if self.series_named.get(&base) != Some(&n) {
                    for q in ["position", "velocity", "effort"] {
                        let unit = match q {
                            "position" => "rad",
                            "velocity" => "rad/s",
                            _ => "A / N·m",
                        };
                        let names: Vec<String> =
                            m.name.iter().map(|j| format!("{j} [{unit}]")).collect();
                        self.rec.log_static(
                            format!("{base}/{q}").as_str(),
                            &rerun::SeriesLines::new().with_names(names),
                        )?;
                    }
                    self.series_named.insert(base.clone(), n);
                }
                for (q, values) in [
                    ("position", &m.position),
                    ("velocity", &m.velocity),
                    ("effort", &m.effort),
                ] {
                    if !values.is_empty() {
                        self.rec.log(
                            format!("{base}/{q}").as_str(),
                            &rerun::Scalars::new(values.iter().copied()),
                        )?;
                    }
                }
                if !commands && !m.position.is_empty() {
                    self.animate(&arm, &m.name, &m.position)?;
                }
                self.count(topic);
            }
            StreamKind::Image(camera) => {
                let m: CompressedImage = decode(topic, data)?;
                let stamp = stamp_or(m.header.stamp.to_nanos() as i64, received);
                self.set_time(stamp);
                self.quality(topic, stamp, received)?;
                let path = self.camera_path(&camera, &m.header.frame_id);
                let media = match m.format.split(';').next().unwrap_or("").trim() {
                    "png" => "image/png",
                    _ => "image/jpeg",
                };
                if m.format.contains("h264") {
                    self.rec.log(
                        path.as_str(),
                        &rerun::VideoStream::new(rerun::components::VideoCodec::H264)
                            .with_sample(m.data),
                    )?;
                } else {
                    self.rec.log(
                        path.as_str(),
                        &rerun::EncodedImage::new(m.data).with_media_type(media),
                    )?;
                }
                self.first_frame(&camera)?;
                self.count(topic);
            }
            StreamKind::Video(camera) => {
                let m: CompressedVideo = decode(topic, data)?;
                let stamp = stamp_or(m.timestamp.to_nanos() as i64, received);
                self.set_time(stamp);
                self.quality(topic, stamp, received)?;
                let path = self.camera_path(&camera, &m.frame_id);
                let codec = match m.format.as_str() {
                    "h265" | "hevc" => rerun::components::VideoCodec::H265,
                    "av1" => rerun::components::VideoCodec::AV1,
                    _ => rerun::components::VideoCodec::H264,
                };
                self.rec.log(
                    path.as_str(),
                    &rerun::VideoStream::new(codec).with_sample(m.data),
                )?;
                self.first_frame(&camera)?;
                self.count(topic);
            }
            StreamKind::CameraInfo(camera) => {
                let m: CameraInfo = decode(topic, data)?;
                let stamp = stamp_or(m.header.stamp.to_nanos() as i64, received);
                let k = [m.k[0], m.k[4], m.k[2], m.k[5]];
                let res = [m.width, m.height];
                if self.pinholes.get(&camera) != Some(&(k, res)) && k[0] > 0.0 && k[1] > 0.0 {
                    self.set_time(stamp);
                    let path = self.camera_path(&camera, &m.header.frame_id);
                    self.rec.log(
                        path.as_str(),
                        &rerun::Pinhole::from_focal_length_and_resolution(
                            [k[0] as f32, k[1] as f32],
                            [res[0] as f32, res[1] as f32],
                        )
                        .with_principal_point([k[2] as f32, k[3] as f32])
                        .with_image_plane_distance(0.15),
                    )?;
                    self.pinholes.insert(camera, (k, res));
                }
                self.count(topic);
            }
            StreamKind::Points(lidar) => {
                let m: PointCloud2 = decode(topic, data)?;
                let stamp = stamp_or(m.header.stamp.to_nanos() as i64, received);
                self.set_time(stamp);
                self.quality(topic, stamp, received)?;
                let path = self.lidar_path(&lidar, &m.header.frame_id);
                match crate::points::points3d(&m) {
                    Ok(points) => self.rec.log(path.as_str(), &points)?,
                    Err(reason) => {
                        let text = format!("{topic}: {reason}; the cloud is not drawn");
                        if !self.stats.warnings.contains(&text) {
                            self.warn(text)?;
                        }
                    }
                }
                self.count(topic);
            }
            StreamKind::Tf { is_static } => {
                let m: TFMessage = decode(topic, data)?;
                for t in &m.transforms {
                    let path = self.frame_path(&t.child_frame_id, Some(&t.header.frame_id));
                    let iso = iso_of(t);
                    let tf = crate::robot::transform(&iso, None);
                    if is_static {
                        self.rec.log_static(path.as_str(), &tf)?;
                        self.rec
                            .log_static(path.as_str(), &rerun::TransformAxes3D::new(0.05))?;
                    } else {
                        let stamp = stamp_or(t.header.stamp.to_nanos() as i64, received);
                        self.set_time(stamp);
                        self.rec.log(path.as_str(), &tf)?;
                    }
                }
                self.count(topic);
            }
            StreamKind::Events => {
                let m: StringMsg = decode(topic, data)?;
                self.set_time(received);
                let (level, text) = event_line(&m.data);
                self.rec
                    .log("events", &rerun::TextLog::new(text).with_level(level))?;
                self.count(topic);
            }
            StreamKind::RobotDescription => {
                if self.urdf.is_none() {
                    let m: StringMsg = decode(topic, data)?;
                    self.urdf = Some((m.data, None));
                }
                self.count(topic);
            }
            StreamKind::Other => {}
        }
        Ok(())
    }

    /// The first frame of a camera is pushed out at once (time to first frame).
    fn first_frame(&mut self, camera: &str) -> Result<(), ViewError> {
        if !self.camera_shown.contains_key(camera) {
            self.camera_shown.insert(camera.to_string(), true);
            self.rec.flush_blocking()?;
            self.stats
                .first_frame_at
                .get_or_insert_with(std::time::Instant::now);
        }
        Ok(())
    }

    /// The entity of `frame`, nested under its parent's; a frame first seen
    /// without a parent hangs off `world/tf`.
    fn frame_path(&mut self, frame: &str, parent: Option<&str>) -> String {
        if let Some(p) = self.frames.get(frame) {
            return p.clone();
        }
        let parent_path = match parent {
            Some(parent) if !parent.is_empty() && parent != frame => self.frame_path(parent, None),
            _ => "world/tf".to_string(),
        };
        let path = format!("{parent_path}/{}", entity_part(frame));
        self.frames.insert(frame.to_string(), path.clone());
        path
    }

    /// `world/tf/…/<frame>/<camera>` when the camera's frame is in `/tf`, so
    /// its frustum sits in the 3D view; otherwise `cameras/<camera>` (2D only).
    fn camera_path(&mut self, camera: &str, frame: &str) -> String {
        if let Some(p) = self.cameras.get(camera) {
            return p.clone();
        }
        let path = match self.frames.get(frame) {
            Some(f) => format!("{f}/{}", entity_part(camera)),
            None => format!("cameras/{}", entity_part(camera)),
        };
        self.cameras.insert(camera.to_string(), path.clone());
        path
    }

    fn lidar_path(&mut self, lidar: &str, frame: &str) -> String {
        if let Some(p) = self.lidars.get(lidar) {
            return p.clone();
        }
        let path = match self.frames.get(frame) {
            Some(f) => format!("{f}/{}", entity_part(lidar)),
            None => format!("world/lidar/{}", entity_part(lidar)),
        };
        self.lidars.insert(lidar.to_string(), path.clone());
        path
    }

    fn animate(&mut self, arm: &str, names: &[String], positions: &[f64]) -> Result<(), ViewError> {
        if !self.robots.contains_key(arm) {
            let Some((text, dir)) = self.urdf.clone() else {
                return Ok(());
            };
            let model = match RobotModel::parse(&text) {
                Ok(m) => m,
                Err(e) => {
                    self.urdf = None;
                    return self.warn(format!("robot description: {e}; the 3D robot is not drawn"));
                }
            };
            // Arms whose bases the episode does not give stand 0.5 m apart.
            let index = self.arm_order.len();
            self.arm_order.push(arm.to_string());
            let base = Iso::translation([0.0, -0.5 * index as f64, 0.0]);
            let animator = RobotAnimator::new(model, arm, base);
            let mut dirs: Vec<PathBuf> = dir.into_iter().collect();
            dirs.extend(self.robot_source.mesh_dirs.iter().cloned());
            for w in animator.log_static(&self.rec, &dirs)? {
                self.warn(w)?;
            }
            self.robots.insert(arm.to_string(), animator);
        }
        let warning = match self.robots.get_mut(arm) {
            Some(r) => r.log_positions(&self.rec, names, positions)?,
            None => None,
        };
        if let Some(w) = warning {
            self.warn(w)?;
        }
        Ok(())
    }

    /// Summary lines per stream, logged at the end.
    pub fn finish(&mut self) -> Result<EpisodeStats, ViewError> {
        let mut lines = Vec::new();
        let mut topics: Vec<_> = self.quality.iter().collect();
        topics.sort_by(|a, b| a.0.cmp(b.0));
        for (topic, q) in topics {
            let c = q.counts;
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

fn stamp_or(stamp: i64, received: i64) -> i64 {
    if stamp > 0 {
        stamp
    } else {
        received
    }
}

fn iso_of(t: &reel_formats::ros2::geometry_msgs::TransformStamped) -> Iso {
    let r = &t.transform.rotation;
    let v = &t.transform.translation;
    let n = (r.w * r.w + r.x * r.x + r.y * r.y + r.z * r.z)
        .sqrt()
        .max(1e-12);
    Iso {
        q: [r.w / n, r.x / n, r.y / n, r.z / n],
        t: [v.x, v.y, v.z],
    }
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
                let schema = ch.schema.as_ref().map(|s| s.name.as_str()).unwrap_or("");
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
        for m in self.reader.messages().take(5000) {
            let Ok(m) = m else { break };
            let schema = m
                .channel
                .schema
                .as_ref()
                .map(|s| s.name.as_str())
                .unwrap_or("");
            match StreamKind::of(&m.channel.topic, schema) {
                StreamKind::Tf { .. } => {
                    if let Ok(tf) = TFMessage::from_cdr(&m.data) {
                        for t in &tf.transforms {
                            logger.frame_path(&t.child_frame_id, Some(&t.header.frame_id));
                        }
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
            {
                break;
            }
        }
        layout
            .cameras
            .iter()
            .map(|c| {
                let frame = frame_ids.get(c).cloned().unwrap_or_default();
                (c.clone(), logger.camera_path(c, &frame))
            })
            .collect()
    }

    /// Streams every readable message into `logger`. A damaged chunk ends the
    /// stream with a warning, keeping what was logged.
    pub fn stream(&self, logger: &mut EpisodeLogger) -> Result<(), ViewError> {
        for w in &self.warnings {
            logger.warn(w.clone())?;
        }
        for m in self.reader.messages() {
            match m {
                Ok(m) => {
                    let schema = m
                        .channel
                        .schema
                        .as_ref()
                        .map(|s| s.name.as_str())
                        .unwrap_or("");
                    let topic = m.channel.topic.clone();
                    if let Err(e) = logger.log_message(&topic, schema, m.log_time, &m.data) {
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
        Ok(())
    }
}
