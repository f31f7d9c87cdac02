//! One pass over an episode: per stream the sensor stamps, host latencies,
//! gaps and per-second counts; per joint its range against the URDF; per
//! camera its calibration and sampled frames; the trajectory that
//! duplicate detection compares.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::frames::{CameraFrames, CameraSampler};
use super::Thresholds;
use reel_episode::events::RecorderLosses;
use reel_episode::robot::RobotModel;
use reel_episode::ros2::sensor_msgs::{CameraInfo, Imu, JointState};
use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::ros2::RosMessage;
use reel_episode::topics;
use reel_episode::{schema_name, EpisodeReader};
use reel_media::StoredCodec;

/// Trajectory samples per second kept for duplicate detection.
pub const TRAJECTORY_HZ: f64 = 10.0;

/// What a stream carries, from its message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamKind {
    /// `JointState` (measured or commanded).
    Joints,
    /// Camera frames (JPEG or H.264).
    Camera,
    /// Depth or raw images.
    Image,
    /// LiDAR revolutions or their raw packets.
    Lidar,
    /// Inertial samples.
    Imu,
    /// Everything else (tf, camera_info, events, robot description).
    Other,
}

impl StreamKind {
    /// The kind of a message type.
    pub fn of(type_name: &str) -> Self {
        match type_name {
            "sensor_msgs/msg/JointState" => Self::Joints,
            "sensor_msgs/msg/CompressedImage" | "foxglove_msgs/msg/CompressedVideo" => Self::Camera,
            "sensor_msgs/msg/Image" => Self::Image,
            "sensor_msgs/msg/PointCloud2" | "velodyne_msgs/msg/VelodyneScan" => Self::Lidar,
            "sensor_msgs/msg/Imu" => Self::Imu,
            _ => Self::Other,
        }
    }

    /// True for sensor data streams, whose rate and timing are checked.
    pub fn is_data(self) -> bool {
        self != Self::Other
    }
}

/// An interval without messages longer than the gap limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// Where it starts (s from the episode start).
    pub at_s: f64,
    /// How long it lasts (s).
    pub length_s: f64,
    /// Samples missing at the nominal rate.
    pub missing: u64,
}

/// p50, p99 and max of a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Quantiles {
    /// Of `values` (sorted in place); None when empty.
    pub fn of(values: &mut [f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Some(Self {
            p50: at(0.5),
            p99: at(0.99),
            max: values[values.len() - 1],
        })
    }
}

/// One data stream's timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamStats {
    /// Topic.
    pub topic: String,
    /// Message type.
    pub type_name: String,
    /// What it carries.
    pub kind: StreamKind,
    /// Messages.
    pub count: u64,
    /// The rate it should have (Hz): declared in the episode's metadata,
    /// else estimated from the median interval.
    pub nominal_hz: Option<f64>,
    /// True when the nominal rate comes from the metadata.
    pub nominal_declared: bool,
    /// `count / (⌊episode duration × nominal rate⌋ - 1)`: a stream on time
    /// has a sample per whole period of the episode's span; one period of
    /// slack covers where streams start and end (a LiDAR revolution is
    /// stamped at its start and complete a period later).
    pub rate_ratio: Option<f64>,
    /// First and last sensor stamp (s from the episode start).
    pub first_s: f64,
    /// Last sensor stamp (s from the episode start).
    pub last_s: f64,
    /// Intervals longer than the gap limit.
    pub gaps: Vec<Gap>,
    /// Longest interval between consecutive stamps (s).
    pub max_interval_s: f64,
    /// Messages in each whole second of the episode.
    pub per_second: Vec<u32>,
    /// Host receive time minus sensor stamp (ms).
    pub latency_ms: Option<Quantiles>,
    /// Median latency (ms) in each whole second of the episode.
    pub latency_per_second_ms: Vec<f32>,
    /// Times a sensor stamp went backwards.
    pub stamp_backwards: u64,
}

/// One IMU's samples over the episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImuStats {
    /// The `Imu` topic.
    pub topic: String,
    /// Samples decoded.
    pub samples: u64,
    /// Samples with a value that is not a finite number.
    pub non_finite: u64,
    /// Median magnitude of the linear acceleration, m/s²: about 9.8 when
    /// the IMU sees gravity in the units `sensor_msgs/Imu` asks for.
    pub median_accel_mps2: Option<f64>,
}

/// One joint's range over the episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JointRange {
    /// The `JointState` topic.
    pub topic: String,
    /// Joint name.
    pub name: String,
    /// Smallest finite position.
    pub min: f64,
    /// Largest finite position.
    pub max: f64,
    /// URDF limits, when the episode's URDF has this joint.
    pub limits: Option<(f64, f64)>,
    /// Samples past a limit by more than the margin.
    pub outside: u64,
    /// First time past a limit (s from the episode start).
    pub first_outside_s: Option<f64>,
    /// NaN or infinite positions.
    pub non_finite: u64,
}

/// A camera's calibration as stored in the episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationCheck {
    /// The camera's frame topic.
    pub topic: String,
    /// Its `camera_info` topic.
    pub info_topic: String,
    /// A `camera_info` message was found.
    pub present: bool,
    /// Why the calibration is implausible, when it is.
    pub problem: Option<String>,
    /// Image size the calibration is for.
    pub width: u32,
    /// Image size the calibration is for.
    pub height: u32,
}

/// Everything measured in one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeScan {
    /// The file.
    pub path: String,
    /// Its name.
    pub file_name: String,
    /// `reel.episode` id.
    pub episode_id: Option<String>,
    /// Task text.
    pub task: String,
    /// capture / sim / other.
    pub source: String,
    /// Outcome label.
    pub outcome: String,
    /// How the writer left the file.
    pub file_state: String,
    /// The file needs no repair.
    pub cleanly_closed: bool,
    /// The recording ended with a `stop` event (else it was cut off and
    /// perhaps recovered).
    pub stopped: bool,
    /// The file could not be read to its end (damaged chunk, cut-off tail).
    pub read_error: Option<String>,
    /// The metadata declares nominal rates.
    pub rates_declared: bool,
    /// Read through its indexes with sampled chunks ([`ReadMode::Sampled`]):
    /// rates and gaps use host receive times, content checks the sampled
    /// chunks only.
    pub sampled: bool,
    /// Share of chunks decompressed.
    pub decoded_fraction: f64,
    /// First sensor stamp over the data streams (ns).
    #[serde(rename = "start_ns")]
    pub start_nanos: u64,
    /// First to last sensor stamp over the data streams (s).
    pub duration_s: f64,
    /// Data streams, by topic.
    pub streams: Vec<StreamStats>,
    /// Topics of the file (with their types), data or not.
    pub topics: BTreeMap<String, String>,
    /// Joint ranges.
    pub joints: Vec<JointRange>,
    /// Joint names per `JointState` topic (compared across episodes).
    pub joint_names: BTreeMap<String, Vec<String>>,
    /// Camera calibrations.
    pub calibration: Vec<CalibrationCheck>,
    /// IMUs.
    pub imus: Vec<ImuStats>,
    /// Sampled camera frames.
    pub cameras: Vec<CameraFrames>,
    /// Data the recorder's events say never made it into the file.
    pub losses: RecorderLosses,
    /// Joint positions at [`TRAJECTORY_HZ`], every `JointState` topic's
    /// joints side by side (for duplicate detection).
    /// Kept in a shard's JSON report (so `reel check --merge-reports` finds
    /// near-duplicates across shards); `reel check` clears it otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trajectory: Vec<Vec<f32>>,
    /// sha256 of the trajectory rounded to 1 mrad (first 16 hex digits).
    pub trajectory_hash: String,
}

impl EpisodeScan {
    /// A file that could not be opened.
    pub fn unreadable(path: &Path, reason: String) -> Self {
        Self {
            path: path.display().to_string(),
            file_name: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            episode_id: None,
            task: String::new(),
            source: String::new(),
            outcome: String::new(),
            file_state: "unreadable".into(),
            cleanly_closed: false,
            stopped: false,
            read_error: Some(reason),
            rates_declared: false,
            sampled: false,
            decoded_fraction: 0.0,
            start_nanos: 0,
            duration_s: 0.0,
            streams: Vec::new(),
            topics: BTreeMap::new(),
            joints: Vec::new(),
            joint_names: BTreeMap::new(),
            calibration: Vec::new(),
            imus: Vec::new(),
            cameras: Vec::new(),
            losses: RecorderLosses::default(),
            trajectory: Vec::new(),
            trajectory_hash: String::new(),
        }
    }
}

pub use reel_episode::ros2::cdr::header_stamp;

/// How much of an episode is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Whole files up to [`FULL_READ_MAX_BYTES`], sampled above.
    Auto,
    /// Every chunk decompressed, every message looked at.
    Full,
    /// Timing of every message from the message indexes; one chunk per
    /// sampling interval decompressed for stamps, joints and frames.
    Sampled,
}

/// Files up to this size are read whole in [`ReadMode::Auto`].
pub const FULL_READ_MAX_BYTES: u64 = 64 << 20;

#[derive(Default)]
struct StreamAcc {
    type_name: String,
    kind: Option<StreamKind>,
    stamps: Vec<u64>,
    latencies: Vec<(u64, f64)>,
    backwards: u64,
    /// Last stamp seen in the current run of decoded messages.
    last_decoded: Option<u64>,
}

#[derive(Default)]
struct JointAcc {
    min: f64,
    max: f64,
    outside: u64,
    first_outside: Option<u64>,
    non_finite: u64,
    seen: bool,
}

struct TrajectoryAcc {
    first: Option<u64>,
    next_tick: u64,
    rows: Vec<Vec<f32>>,
}

/// Everything gathered while reading, turned into an [`EpisodeScan`] at the end.
struct Pass<'r> {
    reader: &'r EpisodeReader,
    margin: f64,
    sample_nanos: u64,
    trajectory_nanos: u64,
    /// Timing comes from the message indexes (sampled mode).
    indexed: bool,
    streams: BTreeMap<String, StreamAcc>,
    joints: BTreeMap<(String, String), JointAcc>,
    joint_names: BTreeMap<String, Vec<String>>,
    trajectories: BTreeMap<String, TrajectoryAcc>,
    samplers: BTreeMap<String, CameraSampler>,
    infos: BTreeMap<String, CameraInfo>,
    limits: BTreeMap<String, (f64, f64)>,
    /// Per IMU topic: samples, non-finite samples, acceleration magnitudes.
    imus: BTreeMap<String, (u64, u64, Vec<f32>)>,
    scan: EpisodeScan,
}

impl<'r> Pass<'r> {
    fn kind(&mut self, channel: &mcap::Channel<'_>) -> StreamKind {
        let acc = self.streams.entry(channel.topic.clone()).or_default();
        *acc.kind.get_or_insert_with(|| {
            acc.type_name = schema_name(channel).to_string();
            StreamKind::of(&acc.type_name)
        })
    }

    /// A message's arrival, from the file's index (sampled mode).
    fn indexed_arrival(&mut self, topic: &str, log_time: u64) {
        if let Some(acc) = self.streams.get_mut(topic) {
            acc.stamps.push(log_time);
        }
    }

    /// One decoded message.
    fn message(&mut self, m: &mcap::Message<'_>, index: u64) {
        let kind = self.kind(&m.channel);
        let topic = m.channel.topic.as_str();
        if kind == StreamKind::Other {
            self.other(m);
            return;
        }
        let stamp = header_stamp(&m.data).unwrap_or(m.publish_time);
        let indexed = self.indexed;
        let Some(acc) = self.streams.get_mut(topic) else {
            return;
        };
        if let Some(last) = acc.last_decoded {
            if stamp < last {
                acc.backwards += 1;
            }
        }
        acc.last_decoded = Some(stamp);
        if !indexed {
            acc.stamps.push(stamp);
        }
        if stamp > 0 {
            acc.latencies
                .push((stamp, (m.log_time as f64 - stamp as f64) / 1e6));
        }
        match kind {
            StreamKind::Joints => self.joints(m, index, stamp),
            StreamKind::Imu => self.imu(m, index),
            StreamKind::Camera => {
                let codec = stored_codec(schema_name(&m.channel));
                let sample_nanos = self.sample_nanos;
                let sampler = self
                    .samplers
                    .entry(topic.to_string())
                    .or_insert_with(|| CameraSampler::new(topic, codec, sample_nanos, indexed));
                let data = frame_bytes(&m.data, codec);
                if indexed {
                    sampler.sample_only(stamp, &data);
                } else {
                    sampler.push(stamp, data);
                }
            }
            _ => {}
        }
    }

    /// A new run of decoded messages (a sampled chunk): stamps are compared
    /// only within it.
    fn break_runs(&mut self) {
        for acc in self.streams.values_mut() {
            acc.last_decoded = None;
        }
    }

    fn other(&mut self, m: &mcap::Message<'_>) {
        let topic = m.channel.topic.as_str();
        match schema_name(&m.channel) {
            "std_msgs/msg/String" if topic == topics::ROBOT_DESCRIPTION => {
                if let Ok(model) = StringMsg::from_cdr(&m.data)
                    .map_err(|e| e.to_string())
                    .and_then(|s| RobotModel::parse(&s.data).map_err(|e| e.to_string()))
                {
                    self.limits.extend(
                        model
                            .actuated_joints()
                            .filter_map(|j| j.limits.map(|l| (j.name.clone(), l))),
                    );
                }
            }
            "std_msgs/msg/String" if topic == topics::EVENTS => {
                if let Ok(s) = StringMsg::from_cdr(&m.data) {
                    note_event(&mut self.scan, &s.data);
                }
            }
            "sensor_msgs/msg/CameraInfo" if !self.infos.contains_key(topic) => {
                if let Ok(info) = CameraInfo::from_cdr(&m.data) {
                    self.infos.insert(topic.to_string(), info);
                }
            }
            _ => {}
        }
    }

    fn imu(&mut self, m: &mcap::Message<'_>, index: u64) {
        let Ok(imu) = self.reader.decode::<Imu>(m, index) else {
            return;
        };
        let acc = self.imus.entry(m.channel.topic.clone()).or_default();
        acc.0 += 1;
        let (w, a) = (imu.angular_velocity, imu.linear_acceleration);
        if [w.x, w.y, w.z, a.x, a.y, a.z].iter().all(|v| v.is_finite()) {
            acc.2
                .push((a.x * a.x + a.y * a.y + a.z * a.z).sqrt() as f32);
        } else {
            acc.1 += 1;
        }
    }

    fn joints(&mut self, m: &mcap::Message<'_>, index: u64, stamp: u64) {
        let topic = m.channel.topic.as_str();
        let Ok(js) = self.reader.decode::<JointState>(m, index) else {
            return;
        };
        if !self.joint_names.contains_key(topic) {
            self.joint_names.insert(topic.to_string(), js.name.clone());
        }
        for (name, &q) in js.name.iter().zip(&js.position) {
            let j = self
                .joints
                .entry((topic.to_string(), name.clone()))
                .or_default();
            if !q.is_finite() {
                j.non_finite += 1;
                continue;
            }
            if !j.seen {
                (j.min, j.max, j.seen) = (q, q, true);
            }
            j.min = j.min.min(q);
            j.max = j.max.max(q);
            if let Some(&(lo, hi)) = joint_limit(&self.limits, name) {
                if q < lo - self.margin || q > hi + self.margin {
                    j.outside += 1;
                    j.first_outside.get_or_insert(stamp);
                }
            }
        }
        let t = self
            .trajectories
            .entry(topic.to_string())
            .or_insert(TrajectoryAcc {
                first: None,
                next_tick: 0,
                rows: Vec::new(),
            });
        let first = *t.first.get_or_insert(stamp);
        // One row per tick; a tick skipped by sampling is not filled in.
        if stamp >= first + t.next_tick {
            t.rows.push(js.position.iter().map(|&q| q as f32).collect());
            t.next_tick = (stamp - first) / self.trajectory_nanos * self.trajectory_nanos
                + self.trajectory_nanos;
        }
    }
}

/// Reads `path` and measures it. Never fails: a file that cannot be
/// opened or read to its end is reported in the scan.
pub fn scan_episode(path: &Path, thresholds: &Thresholds, mode: ReadMode) -> EpisodeScan {
    tracing::debug!(episode = %path.display(), ?mode, "scanning");
    let reader = match EpisodeReader::open(path) {
        Ok(r) => r,
        Err(e) => return EpisodeScan::unreadable(path, e.to_string()),
    };
    let mut scan = EpisodeScan::unreadable(path, String::new());
    scan.read_error = None;
    scan.file_state = format!("{:?}", reader.state());
    scan.cleanly_closed = reader.state().is_clean();
    let meta = reader.episode_meta().ok().flatten();
    let declared = meta
        .as_ref()
        .map(|m| m.nominal_rates_hz.clone())
        .unwrap_or_default();
    if let Some(m) = &meta {
        scan.episode_id = Some(m.episode_id.clone());
        scan.task = m.task.clone();
        scan.source = m.source.as_str().into();
        scan.outcome = m.outcome.as_str().into();
    }
    scan.rates_declared = !declared.is_empty();

    let indexable = reader.summary().is_some_and(|s| {
        !s.chunk_indexes.is_empty()
            && s.chunk_indexes
                .iter()
                .all(|c| !c.message_index_offsets.is_empty())
    });
    let sampled = indexable
        && match mode {
            ReadMode::Full => false,
            ReadMode::Sampled => true,
            ReadMode::Auto => reader.bytes().len() as u64 > FULL_READ_MAX_BYTES,
        };
    let sample_nanos = (thresholds.frame_sample_interval_s.max(0.01) * 1e9) as u64;
    let mut pass = Pass {
        reader: &reader,
        margin: thresholds.accuracy.joint_limit_margin,
        sample_nanos,
        trajectory_nanos: if sampled {
            sample_nanos
        } else {
            (1e9 / TRAJECTORY_HZ) as u64
        },
        indexed: sampled,
        streams: BTreeMap::new(),
        joints: BTreeMap::new(),
        joint_names: BTreeMap::new(),
        trajectories: BTreeMap::new(),
        samplers: BTreeMap::new(),
        infos: BTreeMap::new(),
        limits: BTreeMap::new(),
        imus: BTreeMap::new(),
        scan,
    };
    if sampled {
        read_sampled(&mut pass);
    } else {
        read_whole(&mut pass);
    }
    finish(pass, &declared, thresholds)
}

fn read_whole(pass: &mut Pass<'_>) {
    pass.scan.decoded_fraction = 1.0;
    for (index, message) in pass.reader.messages().enumerate() {
        match message {
            Ok(m) => pass.message(&m, index as u64),
            Err(e) => {
                pass.scan.read_error = Some(e.to_string());
                break;
            }
        }
    }
}

/// Every message's arrival from the message indexes; a chunk is
/// decompressed when a sampling interval has passed, or when it holds
/// something read once (URDF, first camera_info) or always (events).
fn read_sampled(pass: &mut Pass<'_>) {
    let reader = pass.reader;
    let Some(summary) = reader.summary() else {
        return;
    };
    reader.expect_sparse_reads();
    let map = reader.bytes();
    let mut chunks: Vec<_> = summary.chunk_indexes.iter().collect();
    chunks.sort_by_key(|c| c.chunk_start_offset);
    // Which chunks to decompress, decided from the chunk indexes alone: the
    // first of every sampling interval, every one with events, and the
    // first with the URDF or a camera's calibration.
    let mut decode = vec![false; chunks.len()];
    let mut next_tick = 0u64;
    let mut seen_once = std::collections::BTreeSet::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if chunk.message_start_time >= next_tick {
            decode[i] = true;
            // Three quarters of an interval: chunks do not start on the tick.
            next_tick = chunk.message_start_time + pass.sample_nanos * 3 / 4;
        }
        for id in chunk.message_index_offsets.keys() {
            let Some(channel) = summary.channels.get(id) else {
                continue;
            };
            let topic = channel.topic.as_str();
            let once = topic == topics::ROBOT_DESCRIPTION
                || schema_name(channel) == "sensor_msgs/msg/CameraInfo";
            if topic == topics::EVENTS || (once && seen_once.insert(*id)) {
                decode[i] = true;
            }
        }
    }
    // Ask for everything to be read at once, so the disk serves many
    // requests together instead of one page fault at a time.
    for (i, chunk) in chunks.iter().enumerate() {
        if let Some(&first) = chunk.message_index_offsets.values().min() {
            reader.will_read(first, chunk.message_index_length);
        }
        if decode[i] {
            reader.will_read(chunk.chunk_start_offset, chunk.chunk_length);
        }
    }
    let mut decoded = 0usize;
    let mut index = 0u64;
    for (i, chunk) in chunks.iter().enumerate() {
        let indexes = match summary.read_message_indexes(map, chunk) {
            Ok(i) => i,
            Err(e) => {
                pass.scan.read_error = Some(format!(
                    "message index of the chunk at byte {}: {e}",
                    chunk.chunk_start_offset
                ));
                break;
            }
        };
        // Record sizes from consecutive offsets in the decompressed chunk:
        // a camera repeating its frame repeats its size.
        let mut offsets: Vec<u64> = indexes
            .values()
            .flat_map(|v| v.iter().map(|e| e.offset))
            .chain([chunk.uncompressed_size])
            .collect();
        offsets.sort_unstable();
        let size_at = |offset: u64| {
            let i = offsets.partition_point(|&o| o <= offset);
            offsets.get(i).map_or(0, |&next| next - offset)
        };
        let mut entries = Vec::new();
        for (channel, list) in &indexes {
            let kind = pass.kind(channel);
            if kind != StreamKind::Other {
                entries.extend(list.iter().map(|e| (e.log_time, e.offset, channel, kind)));
            }
        }
        entries.sort_by_key(|e| (e.0, e.1));
        for (log_time, offset, channel, kind) in entries {
            pass.indexed_arrival(&channel.topic, log_time);
            if kind == StreamKind::Camera {
                let codec = stored_codec(schema_name(channel));
                let sample_nanos = pass.sample_nanos;
                pass.samplers
                    .entry(channel.topic.clone())
                    .or_insert_with(|| {
                        CameraSampler::new(&channel.topic, codec, sample_nanos, true)
                    })
                    .observe_size(log_time, size_at(offset));
            }
        }
        if !decode[i] {
            continue;
        }
        decoded += 1;
        pass.break_runs();
        match summary.stream_chunk(map, chunk) {
            Ok(messages) => {
                for m in messages {
                    match m {
                        Ok(m) => pass.message(&m, index),
                        Err(e) => {
                            pass.scan.read_error =
                                Some(format!("chunk at byte {}: {e}", chunk.chunk_start_offset));
                            break;
                        }
                    }
                    index += 1;
                }
            }
            Err(e) => {
                pass.scan.read_error =
                    Some(format!("chunk at byte {}: {e}", chunk.chunk_start_offset));
            }
        }
    }
    pass.scan.decoded_fraction = decoded as f64 / chunks.len().max(1) as f64;
}

/// Turns what one pass gathered into the episode's scan: its span, each
/// stream's rate, gaps, latency and content, the joints' ranges.
/// About 150 lines: one stream's statistics after another, each a few
/// lines that read the pass's accumulators in place.
fn finish(
    pass: Pass<'_>,
    declared: &BTreeMap<String, f64>,
    thresholds: &Thresholds,
) -> EpisodeScan {
    let Pass {
        streams,
        joints,
        imus,
        joint_names,
        trajectories,
        samplers,
        infos,
        limits,
        mut scan,
        indexed,
        ..
    } = pass;
    scan.sampled = indexed;
    // The episode's span over its data streams.
    let data = || streams.values().filter(|a| !a.stamps.is_empty());
    let start = data().filter_map(|a| a.stamps.iter().min().copied()).min();
    let end = data().filter_map(|a| a.stamps.iter().max().copied()).max();
    let (start, end) = (start.unwrap_or(0), end.unwrap_or(0));
    scan.start_nanos = start;
    scan.duration_s = end.saturating_sub(start) as f64 / 1e9;
    let rel = |t: u64| t.saturating_sub(start) as f64 / 1e9;
    let seconds = scan.duration_s.ceil().max(1.0) as usize;

    for (topic, acc) in &streams {
        scan.topics.insert(topic.clone(), acc.type_name.clone());
        let Some(kind) = acc.kind.filter(|k| k.is_data()) else {
            continue;
        };
        if acc.stamps.is_empty() {
            continue;
        }
        let mut sorted = acc.stamps.clone();
        sorted.sort_unstable();
        let intervals: Vec<f64> = sorted
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e9)
            .collect();
        let (nominal_hz, nominal_declared) = match declared.get(topic) {
            Some(&hz) if hz > 0.0 => (Some(hz), true),
            _ => (
                median(&intervals).filter(|&p| p > 0.0).map(|p| 1.0 / p),
                false,
            ),
        };
        let gap_limit = nominal_hz.map(|hz| thresholds.completeness.gap_periods / hz);
        let mut gaps = Vec::new();
        if let (Some(limit), Some(hz)) = (gap_limit, nominal_hz) {
            for w in sorted.windows(2) {
                let length = (w[1] - w[0]) as f64 / 1e9;
                if length > limit {
                    gaps.push(Gap {
                        at_s: rel(w[0]),
                        length_s: length,
                        missing: ((length * hz).round() as u64).saturating_sub(1),
                    });
                }
            }
        }
        let mut per_second = vec![0u32; seconds];
        for &t in &sorted {
            per_second[(rel(t) as usize).min(seconds - 1)] += 1;
        }
        let mut lat_by_second: Vec<Vec<f64>> = vec![Vec::new(); seconds];
        for &(t, l) in &acc.latencies {
            lat_by_second[(rel(t) as usize).min(seconds - 1)].push(l);
        }
        let latency_per_second_ms = lat_by_second
            .iter_mut()
            .map(|v| Quantiles::of(v).map_or(f32::NAN, |q| q.p50 as f32))
            .collect();
        let mut all: Vec<f64> = acc.latencies.iter().map(|&(_, l)| l).collect();
        let count = acc.stamps.len() as u64;
        scan.streams.push(StreamStats {
            topic: topic.clone(),
            type_name: acc.type_name.clone(),
            kind,
            count,
            nominal_hz,
            nominal_declared,
            rate_ratio: nominal_hz
                .filter(|_| scan.duration_s > 0.0)
                .map(|hz| count as f64 / ((scan.duration_s * hz).floor() - 1.0).max(1.0)),
            first_s: rel(sorted[0]),
            last_s: rel(sorted[sorted.len() - 1]),
            gaps,
            max_interval_s: intervals.iter().copied().fold(0.0, f64::max),
            per_second,
            latency_ms: Quantiles::of(&mut all),
            latency_per_second_ms,
            stamp_backwards: acc.backwards,
        });
    }
    // Declared streams that never delivered a message.
    for (topic, &hz) in declared {
        if !scan.streams.iter().any(|s| &s.topic == topic) {
            scan.streams.push(empty_stream(topic, hz, seconds));
        }
    }
    scan.streams.sort_by(|a, b| a.topic.cmp(&b.topic));

    scan.joints = joints
        .into_iter()
        .map(|((topic, name), j)| JointRange {
            limits: joint_limit(&limits, &name).copied(),
            topic,
            name,
            min: j.min,
            max: j.max,
            outside: j.outside,
            first_outside_s: j.first_outside.map(rel),
            non_finite: j.non_finite,
        })
        .collect();
    scan.joint_names = joint_names;
    scan.imus = imus
        .into_iter()
        .map(|(topic, (samples, non_finite, mut magnitudes))| {
            magnitudes.sort_by(f32::total_cmp);
            ImuStats {
                topic,
                samples,
                non_finite,
                median_accel_mps2: magnitudes.get(magnitudes.len() / 2).map(|&m| f64::from(m)),
            }
        })
        .collect();

    let mut cameras: Vec<CameraFrames> = samplers.into_values().map(|s| s.finish(start)).collect();
    cameras.sort_by(|a, b| a.topic.cmp(&b.topic));
    scan.calibration = cameras
        .iter()
        .map(|c| calibration_check(&c.topic, &infos, c))
        .collect();
    scan.cameras = cameras;

    // Trajectory: every joint topic's rows side by side, as long as the shortest.
    let rows = trajectories
        .values()
        .map(|t| t.rows.len())
        .min()
        .unwrap_or(0);
    scan.trajectory = (0..rows)
        .map(|i| {
            trajectories
                .values()
                .flat_map(|t| t.rows[i].iter().copied())
                .collect()
        })
        .collect();
    let quantized: Vec<u8> = scan
        .trajectory
        .iter()
        .flatten()
        .flat_map(|&q| ((q * 1000.0).round() as i32).to_le_bytes())
        .collect();
    scan.trajectory_hash = reel_episode::sha256_hex(&quantized)[..16].to_string();
    scan
}

/// A URDF limit for a joint name as published (`left/shoulder` matches the
/// URDF's `shoulder` when arms are prefixed).
fn joint_limit<'a>(limits: &'a BTreeMap<String, (f64, f64)>, name: &str) -> Option<&'a (f64, f64)> {
    limits
        .get(name)
        .or_else(|| name.rsplit_once('/').and_then(|(_, base)| limits.get(base)))
}

fn empty_stream(topic: &str, hz: f64, seconds: usize) -> StreamStats {
    StreamStats {
        topic: topic.to_string(),
        type_name: String::new(),
        kind: StreamKind::Other,
        count: 0,
        nominal_hz: Some(hz),
        nominal_declared: true,
        rate_ratio: Some(0.0),
        first_s: 0.0,
        last_s: 0.0,
        gaps: Vec::new(),
        max_interval_s: 0.0,
        per_second: vec![0; seconds],
        latency_ms: None,
        latency_per_second_ms: Vec::new(),
        stamp_backwards: 0,
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    Quantiles::of(&mut v).map(|q| q.p50)
}

/// How a camera topic of message type `schema` stores its frames.
fn stored_codec(schema: &str) -> StoredCodec {
    if schema == "foxglove_msgs/msg/CompressedVideo" {
        StoredCodec::H264
    } else {
        StoredCodec::Jpeg
    }
}

/// The encoded frame inside a `CompressedImage` or `CompressedVideo`
/// message: its last field, a byte sequence, so its length prefix sits
/// where the bytes that remain say it must. Decoding the whole message
/// would copy the frame for nothing.
fn frame_bytes(cdr: &[u8], codec: StoredCodec) -> Vec<u8> {
    match codec {
        StoredCodec::Jpeg => reel_episode::ros2::sensor_msgs::CompressedImage::from_cdr(cdr)
            .map(|m| m.data)
            .unwrap_or_default(),
        StoredCodec::H264 => reel_episode::ros2::foxglove_msgs::CompressedVideo::from_cdr(cdr)
            .map(|m| m.data)
            .unwrap_or_default(),
    }
}

fn note_event(scan: &mut EpisodeScan, json: &str) {
    if serde_json::from_str::<serde_json::Value>(json)
        .is_ok_and(|v| v.get("event").and_then(|e| e.as_str()) == Some("stop"))
    {
        scan.stopped = true;
    }
    scan.losses.note(json);
}

/// The camera's `camera_info` (same `/camera/<name>/` prefix) and whether
/// it is plausible for the frames seen.
fn calibration_check(
    topic: &str,
    infos: &BTreeMap<String, CameraInfo>,
    frames: &CameraFrames,
) -> CalibrationCheck {
    let name = topics::camera_of(topic).unwrap_or(topic);
    let info_topic = topics::camera_info(name);
    let mut check = CalibrationCheck {
        topic: topic.to_string(),
        info_topic: info_topic.clone(),
        present: false,
        problem: None,
        width: 0,
        height: 0,
    };
    let Some(info) = infos.get(&info_topic) else {
        return check;
    };
    check.present = true;
    check.width = info.width;
    check.height = info.height;
    let (fx, fy, cx, cy) = (info.k[0], info.k[4], info.k[2], info.k[5]);
    let (w, h) = (f64::from(info.width), f64::from(info.height));
    check.problem = if info.width == 0 || info.height == 0 {
        Some("image size is 0".into())
    } else if !(fx > 0.0 && fy > 0.0 && fx.is_finite() && fy.is_finite()) {
        Some(format!("focal lengths fx {fx}, fy {fy} are not positive"))
    } else if !(0.0..=w).contains(&cx) || !(0.0..=h).contains(&cy) {
        Some(format!(
            "principal point ({cx}, {cy}) lies outside the {w}×{h} image"
        ))
    } else if (fx / fy - 1.0).abs() > 0.2 {
        Some(format!(
            "fx {fx:.1} and fy {fy:.1} differ by more than 20 %"
        ))
    } else if info.d.iter().any(|d| !d.is_finite()) {
        Some("distortion has a non-finite coefficient".into())
    } else if let Some((fw, fh)) = frames.full_size {
        (fw != info.width || fh != info.height).then(|| {
            format!(
                "calibrated for {}×{} but frames are {fw}×{fh}",
                info.width, info.height
            )
        })
    } else {
        None
    };
    check
}
