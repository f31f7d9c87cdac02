//! What devices hand to the writer: typed messages on a bounded channel, and
//! per-device counters the status line and the control API read.
//! A device never waits on the writer: when the queue is full the message is
//! dropped and counted (and the writer records the count as an event).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Sender, TrySendError};
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::sensor_msgs::{CompressedImage, Imu, JointState, PointCloud2};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::ros2::velodyne_msgs::VelodyneScan;

/// A message body, by type.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Joint state or command.
    Joints(JointState),
    /// JPEG frame.
    Image(CompressedImage),
    /// H.264 access unit.
    Video(CompressedVideo),
    /// LiDAR revolution.
    Cloud(PointCloud2),
    /// Robot link poses for `/tf`.
    Tf(TFMessage),
    /// The raw packets of a LiDAR revolution.
    Scan(VelodyneScan),
    /// One inertial sample.
    Imu(Box<Imu>),
    /// An event for `/episode/events` (JSON object text).
    Event(String),
}

/// What a live viewer is offered by the writer (`RecorderOptions::tap`):
/// each message as it was written, in order, between episode boundaries.
/// Offered with `try_send`, so a slow viewer loses messages, never the recorder.
#[derive(Debug, Clone)]
pub enum Tapped {
    /// An episode file was opened.
    Started {
        /// Its final path.
        path: std::path::PathBuf,
        /// The URDF written to `/robot_description`, if any.
        urdf: Option<String>,
    },
    /// A message was written.
    Message {
        /// Its topic.
        topic: String,
        /// Host receive time (ns).
        log_nanos: u64,
        /// The body.
        payload: Payload,
    },
    /// The episode was closed or discarded.
    Stopped,
}

/// One message on its way to the episode.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Index into the recorder's topic table.
    pub topic: usize,
    /// When the host received it.
    pub log_nanos: u64,
    /// Best estimate of acquisition, host clock.
    pub publish_nanos: u64,
    /// The message.
    pub payload: Payload,
}

/// Live counters of one device.
#[derive(Debug, Default)]
pub struct DeviceStatus {
    /// Device name (`arm follower`, `camera front`, ...).
    pub name: String,
    /// Messages produced.
    pub produced: AtomicU64,
    /// Messages dropped because the writer queue was full.
    pub dropped: AtomicU64,
    /// Packets received (devices that speak in packets: LiDARs).
    pub packets_received: AtomicU64,
    /// Read errors (timeouts, bad packets) since start.
    pub errors: AtomicU64,
    /// Bad or missing replies on the wire, retried or not (bus counters).
    pub wire_faults: AtomicU64,
    /// Whether the device answers now.
    pub connected: AtomicBool,
    /// Times the device was lost.
    pub disconnects: AtomicU64,
    /// Last error text.
    pub last_error: Mutex<String>,
    /// Packets received but not turned into messages, and packets the
    /// device sent that never arrived, by reason; the writer records them
    /// as events.
    losses: Mutex<Losses>,
    /// Host time the current loss began; 0 while none is reported.
    down_since: AtomicU64,
}

/// Packets of one device that gave no message, by reason code: `lost`
/// (sent, never received) or why a received one was refused
/// (`bad_length`, `wrong_sensor`, ...).
pub type Losses = BTreeMap<&'static str, Loss>;

/// Packets lost or refused for one reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loss {
    /// Packets.
    pub packets: u64,
    /// What the last one looked like, one sentence.
    pub detail: String,
}

/// The reason code of packets a device sent that never arrived.
pub const LOST: &str = "lost";

impl DeviceStatus {
    /// A status for `name`.
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            ..Self::default()
        })
    }

    /// Counts `packets` that gave no message for `reason` (see [`Losses`]).
    pub fn lose(&self, reason: &'static str, packets: u64, detail: impl Into<String>) {
        if packets == 0 {
            return;
        }
        if let Ok(mut losses) = self.losses.lock() {
            let loss = losses.entry(reason).or_default();
            loss.packets += packets;
            loss.detail = detail.into();
        }
    }

    /// The losses so far.
    pub fn losses(&self) -> Losses {
        self.losses.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Packets refused so far (every reason but [`LOST`]).
    pub fn rejected(&self) -> u64 {
        self.losses()
            .iter()
            .filter(|(r, _)| **r != LOST)
            .map(|(_, l)| l.packets)
            .sum()
    }

    /// Packets sent that never arrived, so far.
    pub fn lost(&self) -> u64 {
        self.losses().get(LOST).map_or(0, |l| l.packets)
    }

    /// Records an error message.
    pub fn error(&self, text: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.last_error.lock() {
            *e = text.into();
        }
    }
}

/// A device's handle on the writer queue.
#[derive(Debug, Clone)]
pub struct Sink {
    tx: Sender<Envelope>,
    status: Arc<DeviceStatus>,
}

impl Sink {
    /// A sink for one device.
    pub fn new(tx: Sender<Envelope>, status: Arc<DeviceStatus>) -> Self {
        Self { tx, status }
    }

    /// The device's counters.
    pub fn status(&self) -> &Arc<DeviceStatus> {
        &self.status
    }

    /// Queues a message without blocking; a full queue drops and counts it.
    /// Returns false once the writer is gone.
    pub fn send(&self, topic: usize, log_nanos: u64, publish_nanos: u64, payload: Payload) -> bool {
        self.status.produced.fetch_add(1, Ordering::Relaxed);
        self.send_derived(topic, log_nanos, publish_nanos, payload)
    }

    /// Like [`Self::send`] for a message computed from one already sent
    /// (an arm's `/tf` from its joint state): not a sample of the device, so
    /// its rate does not count it; a drop still counts.
    pub fn send_derived(
        &self,
        topic: usize,
        log_nanos: u64,
        publish_nanos: u64,
        payload: Payload,
    ) -> bool {
        match self.tx.try_send(Envelope {
            topic,
            log_nanos,
            publish_nanos,
            payload,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.status.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// The device stopped answering (at `since_nanos`): marks it down and,
    /// once per loss, counts it and records a `device_lost` event.
    pub fn device_lost(&self, events_topic: usize, reason: &str, since_nanos: u64) {
        let s = &self.status;
        s.connected.store(false, Ordering::Relaxed);
        if s.down_since
            .compare_exchange(0, since_nanos.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        s.disconnects.fetch_add(1, Ordering::Relaxed);
        tracing::info!(device = %s.name, reason, "device lost");
        s.error(format!("{}: {reason}", s.name));
        let event = serde_json::json!({"event": "device_lost", "device": s.name,
            "reason": reason, "since_nanos": since_nanos});
        self.event(events_topic, event.to_string());
    }

    /// The device answers (at `now_nanos`): marks it up and, after a
    /// reported loss, records `device_back` with the gap.
    pub fn device_up(&self, events_topic: usize, now_nanos: u64) {
        let s = &self.status;
        s.connected.store(true, Ordering::Relaxed);
        let since = s.down_since.swap(0, Ordering::Relaxed);
        if since != 0 {
            tracing::info!(device = %s.name, gap_s = now_nanos.saturating_sub(since) as f64 / 1e9, "device back");
            let event = serde_json::json!({"event": "device_back", "device": s.name,
                "gap_start_nanos": since, "gap_end_nanos": now_nanos});
            self.event(events_topic, event.to_string());
        }
    }

    /// Queues an event (device lost, reconnected, gap) for `/episode/events`.
    pub fn event(&self, topic: usize, json: String) {
        let now = reel_episode::time::host_now_nanos();
        // Events are rare and matter: wait briefly rather than drop them.
        let _ = self.tx.send_timeout(
            Envelope {
                topic,
                log_nanos: now,
                publish_nanos: now,
                payload: Payload::Event(json),
            },
            std::time::Duration::from_millis(50),
        );
    }
}
