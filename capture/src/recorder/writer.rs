//! The writer thread: the only owner of the episode file. It takes messages
//! from the device queue, writes them while an episode is open, closes a
//! chunk at least every second even when idle, watches the free disk space,
//! and records drops and its own failures as events.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::geometry_msgs::TransformStamped;
use reel_episode::ros2::sensor_msgs::{CameraInfo, CompressedImage, Imu, JointState, PointCloud2};
use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::ros2::velodyne_msgs::VelodyneScan;
use reel_episode::time::host_now_nanos;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions, Outcome, Topic};

use super::sink::{DeviceStatus, Envelope, Losses, Payload, Tapped, LOST};
use crate::error::RecorderError;

/// Message type of a topic in the recorder's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// `sensor_msgs/msg/JointState`.
    Joints,
    /// `sensor_msgs/msg/CompressedImage`.
    Image,
    /// `foxglove_msgs/msg/CompressedVideo`.
    Video,
    /// `sensor_msgs/msg/PointCloud2`.
    Cloud,
    /// `tf2_msgs/msg/TFMessage` (robot links).
    Tf,
    /// `velodyne_msgs/msg/VelodyneScan`.
    Packets,
    /// `sensor_msgs/msg/Imu`.
    Imu,
    /// `std_msgs/msg/String` (events, robot description).
    Text,
}

/// One topic the recorder writes.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Its type.
    pub kind: TopicKind,
}

enum Handle {
    Joints(Topic<JointState>),
    Image(Topic<CompressedImage>),
    Video(Topic<CompressedVideo>),
    Cloud(Topic<PointCloud2>),
    Tf(Topic<TFMessage>),
    Packets(Topic<VelodyneScan>),
    Imu(Topic<Imu>),
    Text(Topic<StringMsg>),
}

/// What an episode needs besides messages.
#[derive(Debug, Clone)]
pub struct EpisodePlan {
    /// Final file name.
    pub path: PathBuf,
    /// Metadata.
    pub meta: EpisodeMeta,
    /// Attachments: (name, media type, bytes).
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// The URDF for `/robot_description`, if any.
    pub robot_description: Option<String>,
    /// Each calibrated camera's `camera_info` topic and message (stamped
    /// when the episode opens).
    pub camera_infos: Vec<(String, CameraInfo)>,
    /// Sensor mounts for `/tf_static` (stamped when the episode opens).
    pub mounts: Vec<TransformStamped>,
}

/// Commands to the writer thread; each carries its reply channel.
pub enum Command {
    /// Open an episode.
    Start(Box<EpisodePlan>, Sender<Result<PathBuf, RecorderError>>),
    /// Close the open episode.
    Stop(Outcome, Sender<Result<EpisodeSummary, RecorderError>>),
    /// Close and delete the open episode.
    Discard(Sender<Result<(), RecorderError>>),
}

/// What a closed episode holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpisodeSummary {
    /// The file.
    pub path: PathBuf,
    /// Messages written.
    pub messages: u64,
    /// Seconds from start to stop.
    pub duration_s: f64,
    /// Messages dropped because the queue was full, per device.
    pub dropped: Vec<(String, u64)>,
    /// Packets lost or refused during the episode: device, reason code
    /// (`lost`, `bad_length`, `wrong_sensor`, ...), packets.
    pub packet_losses: Vec<(String, String, u64)>,
    /// Set when the episode ended early (disk full, write error).
    pub error: Option<String>,
}

/// State shared with the recorder's status view.
#[derive(Debug, Default)]
pub struct WriterState {
    /// The open episode's final path.
    pub episode: Option<PathBuf>,
    /// Host time it started.
    pub started_nanos: Option<u64>,
    /// Messages written in it.
    pub messages: u64,
    /// The last episode-ending error.
    pub last_error: Option<String>,
    /// Episodes closed since start.
    pub closed: Vec<EpisodeSummary>,
    /// Sensor-to-disk latency of written messages, µs: from acquisition
    /// (`publish_nanos`) to the sync of the chunk that holds the message.
    /// The newest 4 million are kept.
    pub disk_latency_us: Vec<u32>,
}

struct Open {
    /// Acquisition times of messages not yet synced to disk.
    pending: Vec<u64>,
    flushes_seen: u64,
    writer: EpisodeWriter,
    handles: Vec<Handle>,
    started: u64,
    dropped_at_start: Vec<u64>,
    dropped_reported: Vec<u64>,
    losses_at_start: Vec<Losses>,
    losses_reported: Vec<Losses>,
    received_at_start: Vec<u64>,
}

/// Settings of the writer thread.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Topic table; envelope `topic` indexes it.
    pub topics: Vec<TopicSpec>,
    /// Index of `/episode/events` in it.
    pub events_topic: usize,
    /// Index of `/robot_description`.
    pub description_topic: usize,
    /// Episode writer tuning.
    pub writer_options: EpisodeWriterOptions,
    /// Stop the episode when the output's filesystem has less free space.
    pub min_free_bytes: u64,
    /// How free space is measured.
    pub free_space: FreeSpace,
    /// Live viewer tap, if any.
    pub tap: Option<Sender<Tapped>>,
}

/// Runs the writer until the data channel closes.
pub fn run(
    config: &WriterConfig,
    data: &Receiver<Envelope>,
    commands: &Receiver<Command>,
    devices: &[Arc<DeviceStatus>],
    state: &Mutex<WriterState>,
) {
    let mut open: Option<Open> = None;
    let mut last_check = Instant::now();
    loop {
        crossbeam_channel::select! {
            recv(data) -> msg => match msg {
                Ok(env) => {
                    if let Some(o) = open.as_mut() {
                        match write(o, &env) {
                            Ok(()) => offer(config, &env),
                            Err(e) => fail(&mut open, config, devices, state, e),
                        }
                    }
                }
                Err(_) => break,
            },
            recv(commands) -> cmd => match cmd {
                Ok(Command::Start(plan, reply)) => {
                    let r = if open.is_some() {
                        Err(RecorderError::State("an episode is already being recorded; stop it first"))
                    } else {
                        let started = Tapped::Started {
                            path: plan.path.clone(),
                            urdf: plan.robot_description.clone(),
                        };
                        start(config, *plan, devices).map(|o| {
                            if let Some(tap) = &config.tap {
                                let _ = tap.try_send(started);
                            }
                            let path = o.writer.final_path().to_path_buf();
                            tracing::info!(episode = %path.display(), "episode started");
                            if let Ok(mut s) = state.lock() {
                                s.episode = Some(path.clone());
                                s.started_nanos = Some(o.started);
                                s.messages = 0;
                                s.last_error = None;
                            }
                            open = Some(o);
                            path
                        })
                    };
                    let _ = reply.send(r);
                }
                Ok(Command::Stop(outcome, reply)) => {
                    let r = match open.take() {
                        None => Err(RecorderError::State("no episode is being recorded")),
                        Some(o) => finish(o, config, devices, outcome, None),
                    };
                    tap_stopped(config);
                    record_closed(state, &r);
                    let _ = reply.send(r);
                }
                Ok(Command::Discard(reply)) => {
                    let r = match open.take() {
                        None => Err(RecorderError::State("no episode is being recorded")),
                        Some(o) => discard(o),
                    };
                    tap_stopped(config);
                    if let Ok(mut s) = state.lock() {
                        s.episode = None;
                        s.started_nanos = None;
                    }
                    let _ = reply.send(r);
                }
                Err(_) => break,
            },
            default(Duration::from_millis(100)) => {}
        }
        if let Some(o) = open.as_mut() {
            // Status and latency change with each synced chunk: look then,
            // not at every message.
            if o.writer.flushes() != o.flushes_seen {
                if let Ok(mut s) = state.lock() {
                    s.messages = o.writer.messages_written();
                    account_latency(o, &mut s);
                }
            }
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                if let Err(e) = housekeeping(o, config, devices) {
                    fail(&mut open, config, devices, state, e);
                }
            } else if let Err(e) = o.writer.flush_if_due() {
                fail(&mut open, config, devices, state, e.into());
            }
        }
    }
    // The devices are gone: close what is open.
    if let Some(o) = open.take() {
        let r = finish(o, config, devices, Outcome::Unknown, None);
        record_closed(state, &r);
    }
}

/// Offers a written message to the live viewer, if one listens.
fn offer(config: &WriterConfig, env: &Envelope) {
    if let (Some(tap), Some(topic)) = (&config.tap, config.topics.get(env.topic)) {
        let _ = tap.try_send(Tapped::Message {
            topic: topic.name.clone(),
            log_nanos: env.log_nanos,
            payload: env.payload.clone(),
        });
    }
}

fn tap_stopped(config: &WriterConfig) {
    if let Some(tap) = &config.tap {
        let _ = tap.try_send(Tapped::Stopped);
    }
}

fn record_closed(state: &Mutex<WriterState>, r: &Result<EpisodeSummary, RecorderError>) {
    match r {
        Ok(summary) => tracing::info!(
            episode = %summary.path.display(),
            messages = summary.messages,
            duration_s = summary.duration_s,
            "episode closed"
        ),
        Err(e) => tracing::warn!("closing the episode failed: {e}"),
    }
    if let Ok(mut s) = state.lock() {
        s.episode = None;
        s.started_nanos = None;
        match r {
            Ok(summary) => {
                if let Some(e) = &summary.error {
                    s.last_error = Some(e.clone());
                }
                s.closed.push(summary.clone());
            }
            Err(e) => s.last_error = Some(e.to_string()),
        }
    }
}

fn start(
    config: &WriterConfig,
    plan: EpisodePlan,
    devices: &[Arc<DeviceStatus>],
) -> Result<Open, RecorderError> {
    let dir = plan.path.parent().unwrap_or(Path::new("."));
    check_space(&config.free_space, dir, config.min_free_bytes)?;
    let mut writer = EpisodeWriter::create(&plan.path, plan.meta, config.writer_options.clone())?;
    let mut handles = Vec::with_capacity(config.topics.len());
    for t in &config.topics {
        let h = match t.kind {
            TopicKind::Joints => writer.add_topic(&t.name).map(Handle::Joints),
            TopicKind::Image => writer.add_topic(&t.name).map(Handle::Image),
            TopicKind::Video => writer.add_topic(&t.name).map(Handle::Video),
            TopicKind::Cloud => writer.add_topic(&t.name).map(Handle::Cloud),
            TopicKind::Tf => writer.add_topic(&t.name).map(Handle::Tf),
            TopicKind::Packets => writer.add_topic(&t.name).map(Handle::Packets),
            TopicKind::Imu => writer.add_topic(&t.name).map(Handle::Imu),
            TopicKind::Text => writer.add_topic(&t.name).map(Handle::Text),
        }?;
        handles.push(h);
    }
    let now = host_now_nanos();
    for (name, media, bytes) in &plan.attachments {
        writer.attach(name, media, bytes, now)?;
    }
    let dropped: Vec<u64> = devices
        .iter()
        .map(|d| d.dropped.load(Ordering::Relaxed))
        .collect();
    let mut open = Open {
        pending: Vec::new(),
        flushes_seen: 0,
        writer,
        handles,
        started: now,
        dropped_at_start: dropped.clone(),
        dropped_reported: dropped,
        losses_at_start: devices.iter().map(|d| d.losses()).collect(),
        losses_reported: devices.iter().map(|d| d.losses()).collect(),
        received_at_start: devices
            .iter()
            .map(|d| d.packets_received.load(Ordering::Relaxed))
            .collect(),
    };
    if let Some(urdf) = plan.robot_description {
        write_text(&mut open, config.description_topic, urdf, now)?;
    }
    // Calibrations once, at the start, like ROS's latched topics.
    for (topic, mut info) in plan.camera_infos {
        info.header.stamp = Time::from_nanos(now);
        let t = open.writer.add_topic::<CameraInfo>(&topic)?;
        open.writer.write(t, &info, now, now)?;
    }
    if !plan.mounts.is_empty() {
        let mut transforms = plan.mounts;
        for t in &mut transforms {
            t.header.stamp = Time::from_nanos(now);
        }
        let t = open
            .writer
            .add_topic::<TFMessage>(reel_episode::topics::TF_STATIC)?;
        open.writer.write(t, &TFMessage { transforms }, now, now)?;
    }
    let disconnected: Vec<&str> = devices
        .iter()
        .filter(|d| !d.connected.load(Ordering::Relaxed))
        .map(|d| d.name.as_str())
        .collect();
    let start_event = serde_json::json!({"event": "start", "devices_not_answering": disconnected});
    write_text(&mut open, config.events_topic, start_event.to_string(), now)?;
    Ok(open)
}

fn write_text(open: &mut Open, topic: usize, text: String, at: u64) -> Result<(), RecorderError> {
    match open.handles.get(topic) {
        Some(Handle::Text(t)) => Ok(open.writer.write(*t, &StringMsg { data: text }, at, at)?),
        _ => Err(RecorderError::WrongPayload(topic)),
    }
}

/// Moves the pending acquisition times into the latency record once the
/// writer has synced the chunk they are in.
fn account_latency(open: &mut Open, state: &mut WriterState) {
    open.flushes_seen = open.writer.flushes();
    let now = host_now_nanos();
    if state.disk_latency_us.len() > 4_000_000 {
        state.disk_latency_us.drain(..1_000_000);
    }
    state.disk_latency_us.extend(
        open.pending
            .drain(..)
            .map(|t| u32::try_from(now.saturating_sub(t) / 1000).unwrap_or(u32::MAX)),
    );
}

fn write(open: &mut Open, env: &Envelope) -> Result<(), RecorderError> {
    let (log, publish) = (env.log_nanos, env.publish_nanos);
    open.pending.push(publish);
    let w = &mut open.writer;
    let r = match (open.handles.get(env.topic), &env.payload) {
        (Some(Handle::Joints(t)), Payload::Joints(m)) => w.write(*t, m, log, publish),
        (Some(Handle::Image(t)), Payload::Image(m)) => w.write(*t, m, log, publish),
        (Some(Handle::Video(t)), Payload::Video(m)) => w.write(*t, m, log, publish),
        (Some(Handle::Cloud(t)), Payload::Cloud(m)) => w.write(*t, m, log, publish),
        (Some(Handle::Tf(t)), Payload::Tf(m)) => w.write(*t, m, log, publish),
        (Some(Handle::Packets(t)), Payload::Scan(m)) => w.write(*t, m, log, publish),
        (Some(Handle::Imu(t)), Payload::Imu(m)) => w.write(*t, m.as_ref(), log, publish),
        (Some(Handle::Text(t)), Payload::Event(s)) => {
            w.write(*t, &StringMsg { data: s.clone() }, log, publish)
        }
        _ => return Err(RecorderError::WrongPayload(env.topic)),
    };
    Ok(r?)
}

/// Free space at `dir`, bytes.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

/// How the writer learns the free space of the output's filesystem:
/// [`free_bytes`] (statvfs), or another measure (a quota, a test's small
/// disk).
#[derive(Clone)]
pub struct FreeSpace(std::sync::Arc<FreeSpaceFn>);

/// Free bytes at a directory, `None` when unknown.
type FreeSpaceFn = dyn Fn(&Path) -> Option<u64> + Send + Sync;

impl FreeSpace {
    /// Free space from any function of the output directory.
    pub fn new(probe: impl Fn(&Path) -> Option<u64> + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(probe))
    }
    fn at(&self, dir: &Path) -> Option<u64> {
        (self.0)(dir)
    }
}

impl Default for FreeSpace {
    fn default() -> Self {
        Self::new(free_bytes)
    }
}

impl std::fmt::Debug for FreeSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreeSpace")
    }
}

fn check_space(space: &FreeSpace, dir: &Path, min: u64) -> Result<(), RecorderError> {
    match space.at(dir) {
        Some(free) if free < min => Err(RecorderError::DiskFull {
            path: dir.to_path_buf(),
            free,
            reserve: min,
        }),
        _ => Ok(()),
    }
}

/// Once a second: drops as events, free space, chunk flush.
fn housekeeping(
    open: &mut Open,
    config: &WriterConfig,
    devices: &[Arc<DeviceStatus>],
) -> Result<(), RecorderError> {
    let now = host_now_nanos();
    for (i, d) in devices.iter().enumerate() {
        let dropped = d.dropped.load(Ordering::Relaxed);
        if dropped > open.dropped_reported[i] {
            let ev = serde_json::json!({"event": "dropped", "device": d.name,
                "count": dropped - open.dropped_reported[i], "reason": "writer queue full"});
            open.dropped_reported[i] = dropped;
            write_text(open, config.events_topic, ev.to_string(), now)?;
        }
    }
    report_losses(open, config, devices, now)?;
    let dir = open
        .writer
        .final_path()
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    check_space(&config.free_space, &dir, config.min_free_bytes)?;
    open.writer.flush_if_due()?;
    Ok(())
}

/// Packets lost or refused since the last report, as `packets_lost` and
/// `packets_rejected` events (one per device and reason).
fn report_losses(
    open: &mut Open,
    config: &WriterConfig,
    devices: &[Arc<DeviceStatus>],
    now: u64,
) -> Result<(), RecorderError> {
    for (i, d) in devices.iter().enumerate() {
        for (reason, loss) in d.losses() {
            let before = open.losses_reported[i].get(reason).map_or(0, |l| l.packets);
            if loss.packets <= before {
                continue;
            }
            let event = if reason == LOST {
                "packets_lost"
            } else {
                "packets_rejected"
            };
            let ev = serde_json::json!({"event": event, "device": d.name, "reason": reason,
                "count": loss.packets - before, "detail": loss.detail});
            write_text(open, config.events_topic, ev.to_string(), now)?;
            open.losses_reported[i].insert(reason, loss);
        }
    }
    Ok(())
}

fn finish(
    mut open: Open,
    config: &WriterConfig,
    devices: &[Arc<DeviceStatus>],
    outcome: Outcome,
    error: Option<String>,
) -> Result<EpisodeSummary, RecorderError> {
    let now = host_now_nanos();
    let dropped: Vec<(String, u64)> = devices
        .iter()
        .zip(&open.dropped_at_start)
        .map(|(d, &at)| (d.name.clone(), d.dropped.load(Ordering::Relaxed) - at))
        .collect();
    let _ = report_losses(&mut open, config, devices, now);
    let packet_losses: Vec<(String, String, u64)> = devices
        .iter()
        .zip(&open.losses_at_start)
        .flat_map(|(d, at)| {
            d.losses().into_iter().filter_map(move |(reason, loss)| {
                let n = loss.packets - at.get(reason).map_or(0, |l| l.packets);
                (n > 0).then(|| (d.name.clone(), reason.to_string(), n))
            })
        })
        .collect();
    let received: Vec<serde_json::Value> = devices
        .iter()
        .zip(&open.received_at_start)
        .map(|(d, &at)| (d, d.packets_received.load(Ordering::Relaxed) - at))
        .filter(|(_, n)| *n > 0)
        .map(|(d, n)| serde_json::json!({"device": d.name, "count": n}))
        .collect();
    let stop = serde_json::json!({"event": "stop", "outcome": outcome.as_str(),
        "packets_received": received,
        "dropped": dropped.iter().map(|(n, c)| serde_json::json!({"device": n, "count": c})).collect::<Vec<_>>(),
        "packet_losses": packet_losses.iter().map(|(n, r, c)| serde_json::json!({"device": n, "reason": r, "count": c})).collect::<Vec<_>>(),
        "error": error});
    // On a full disk these may fail; the close below decides.
    let _ = write_text(&mut open, config.events_topic, stop.to_string(), now);
    open.writer.set_outcome(outcome);
    let messages = open.writer.messages_written();
    let path = open.writer.finish()?;
    Ok(EpisodeSummary {
        path,
        messages,
        duration_s: (now - open.started) as f64 / 1e9,
        dropped,
        packet_losses,
        error,
    })
}

fn discard(open: Open) -> Result<(), RecorderError> {
    let partial = open.writer.partial_path().to_path_buf();
    drop(open);
    std::fs::remove_file(&partial).map_err(|source| RecorderError::Io {
        path: partial,
        source,
    })
}

/// The episode cannot go on (disk full, write error): close it as well as
/// possible. A clean close keeps everything; when even that fails, the
/// `.partial` file keeps every chunk flushed so far, and the error says so.
fn fail(
    open: &mut Option<Open>,
    config: &WriterConfig,
    devices: &[Arc<DeviceStatus>],
    state: &Mutex<WriterState>,
    error: RecorderError,
) {
    let Some(o) = open.take() else { return };
    let partial = o.writer.partial_path().to_path_buf();
    let error = error.to_string();
    tracing::warn!(episode = %partial.display(), "the episode cannot go on: {error}");
    let result = match finish(o, config, devices, Outcome::Unknown, Some(error.clone())) {
        Ok(summary) => Ok(summary),
        Err(close_error) => Err(RecorderError::CloseFailed {
            error: error.clone(),
            close: close_error.to_string(),
            partial,
        }),
    };
    record_closed(state, &result);
    if let Ok(mut s) = state.lock() {
        s.last_error = Some(match &result {
            Ok(_) => format!("episode closed early: {error}"),
            Err(e) => e.to_string(),
        });
    }
}
