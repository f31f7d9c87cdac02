//! The recorder: one thread per device feeds a bounded queue; one writer
//! thread owns the episode file ([`writer`]). Devices run from
//! [`Recorder::start`] on, so rates and faults show before an episode
//! starts; episodes are opened and closed with [`Recorder::start_episode`] /
//! [`Recorder::stop_episode`] / [`Recorder::discard_episode`].

pub mod arm;
pub mod camera;
pub mod imu;
pub mod lidar;
pub mod sink;
pub mod writer;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use reel_episode::robot::RobotModel;
use reel_episode::ros2::geometry_msgs::TransformStamped;
use reel_episode::time::host_now_nanos;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriterOptions, Outcome};

use crate::drivers::camera::frame_id;
use crate::drivers::lidar::{decoder_for, imu_for, Identity, LidarImu};
use crate::error::RecorderError;
use crate::rig::{CameraFormat, LoadedRig, Rig, Role};
use arm::{ArmTopics, FollowLeader, LeaderShare};
use camera::CameraTopics;
use lidar::LidarTopics;
use sink::{DeviceStatus, Sink};
use writer::{
    Command, EpisodePlan, EpisodeSummary, TopicKind, TopicSpec, WriterConfig, WriterState,
};

/// Recorder settings.
#[derive(Debug, Clone)]
pub struct RecorderOptions {
    /// Where episodes go.
    pub out_dir: PathBuf,
    /// Task text (the rig's default when empty).
    pub task: String,
    /// Operator name stored in the metadata.
    pub operator: Option<String>,
    /// Messages the queue between devices and writer holds.
    pub queue_capacity: usize,
    /// Episode writer tuning.
    pub writer_options: EpisodeWriterOptions,
    /// Free space kept on the output filesystem; an episode stops below it.
    pub min_free_bytes: u64,
    /// How free space is measured (statvfs by default).
    pub free_space: writer::FreeSpace,
    /// Where written messages are offered live (`reel record --view`).
    pub tap: Option<crossbeam_channel::Sender<sink::Tapped>>,
    /// How long the start waits for each LiDAR's first packets to check
    /// its model.
    pub lidar_check_timeout: Duration,
}

impl RecorderOptions {
    /// Defaults for `out_dir`: a 4096-message queue (about 2 s of the
    /// bimanual rig), 64 MB of reserve.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            task: String::new(),
            operator: None,
            queue_capacity: 4096,
            writer_options: EpisodeWriterOptions::default(),
            min_free_bytes: 64 << 20,
            free_space: writer::FreeSpace::default(),
            tap: None,
            lidar_check_timeout: Duration::from_secs(1),
        }
    }
}

/// One device in the status view.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DeviceView {
    /// `arm follower`, `camera front`, `lidar top`.
    pub name: String,
    /// Answers now.
    pub connected: bool,
    /// Messages per second over the last second.
    pub rate_hz: f64,
    /// Configured rate.
    pub expected_hz: f64,
    /// Messages dropped (queue full) since start.
    pub dropped: u64,
    /// Read errors since start.
    pub errors: u64,
    /// Corrupted or lost replies on the wire (most are retried away).
    pub wire_faults: u64,
    /// Times lost since start.
    pub disconnects: u64,
    /// Packets received but refused (not turned into messages) since start.
    #[serde(default)]
    pub rejected: u64,
    /// Packets the device sent that never arrived, since start.
    #[serde(default)]
    pub lost: u64,
    /// Last error text.
    pub last_error: String,
}

/// The recorder as the status line and the control API show it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RecorderStatus {
    /// Rig name.
    pub rig: String,
    /// Recording now.
    pub recording: bool,
    /// The open episode.
    pub episode: Option<PathBuf>,
    /// Seconds since it started.
    pub elapsed_s: f64,
    /// Messages written to it.
    pub messages: u64,
    /// Episodes closed since the recorder started.
    pub episodes_closed: usize,
    /// Messages waiting for the writer.
    pub queue: usize,
    /// The last error that ended an episode.
    pub last_error: Option<String>,
    /// Devices.
    pub devices: Vec<DeviceView>,
}

struct Device {
    status: Arc<DeviceStatus>,
    expected_hz: f64,
    rate_millihz: Arc<AtomicU64>,
}

/// A running recorder.
pub struct Recorder {
    rig: LoadedRig,
    options: RecorderOptions,
    stop: Arc<AtomicBool>,
    device_threads: Vec<JoinHandle<()>>,
    writer_thread: Option<JoinHandle<()>>,
    monitor_thread: Option<JoinHandle<()>>,
    commands: Sender<Command>,
    data_tx: Option<Sender<sink::Envelope>>,
    devices: Vec<Device>,
    state: Arc<Mutex<WriterState>>,
    episode_counter: AtomicU64,
    /// The rig's URDF (file name, text), read once at start.
    urdf: Option<(String, String)>,
    /// The URDF's fixed joints of every follower that publishes its links,
    /// for `/tf_static` at each episode start (computed once).
    /// Fixed transforms every episode starts with: the URDF's fixed
    /// joints and sensors' internal frames (a LiDAR's IMU).
    link_statics: Vec<reel_episode::ros2::geometry_msgs::TransformStamped>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("rig", &self.rig.rig.rig.name)
            .finish_non_exhaustive()
    }
}

/// The topic table of a rig, with each device's topic indices.
struct Plan {
    topics: Vec<TopicSpec>,
    events: usize,
    description: usize,
}

impl Plan {
    /// The topics every episode has: events and the robot description.
    fn new() -> Self {
        let mut plan = Self {
            topics: Vec::new(),
            events: 0,
            description: 0,
        };
        plan.events = plan.add(topics::EVENTS.to_string(), TopicKind::Text);
        plan.description = plan.add(topics::ROBOT_DESCRIPTION.to_string(), TopicKind::Text);
        plan
    }

    fn add(&mut self, name: String, kind: TopicKind) -> usize {
        self.topics.push(TopicSpec { name, kind });
        self.topics.len() - 1
    }
}

impl Recorder {
    /// Starts every device of the rig and the writer thread.
    pub fn start(rig: LoadedRig, options: RecorderOptions) -> Result<Self, RecorderError> {
        std::fs::create_dir_all(&options.out_dir).map_err(|source| RecorderError::Io {
            path: options.out_dir.clone(),
            source,
        })?;
        let followers = rig
            .rig
            .arms
            .iter()
            .filter(|a| a.role == Role::Follower)
            .count();
        let (urdf, links_model) = load_urdf(&rig, followers > 0)?;
        let (data_tx, data_rx) = crossbeam_channel::bounded(options.queue_capacity);
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
        let mut spawner = Spawner {
            plan: Plan::new(),
            data_tx,
            stop: Arc::new(AtomicBool::new(false)),
            devices: Vec::new(),
            threads: Vec::new(),
            lidar_probes: Vec::new(),
            sensor_statics: Vec::new(),
        };
        // The followers' links on /tf. One follower keeps the URDF's frame
        // names (camera mounts name them); several get `<arm>/` prefixes,
        // as robot_state_publisher's frame_prefix.
        let links = links_model.map(|model| {
            let topic = spawner.plan.add(topics::TF.to_string(), TopicKind::Tf);
            (model, topic)
        });
        let mut link_statics = spawner.arms(&rig.rig, links.as_ref(), followers)?;
        spawner.cameras(&rig.rig)?;
        if let Err(e) = spawner
            .lidars(&rig)
            .and_then(|()| spawner.check_lidars(options.lidar_check_timeout))
        {
            spawner.abandon();
            return Err(e);
        }
        let Spawner {
            plan,
            data_tx,
            stop,
            devices,
            threads,
            lidar_probes: _,
            sensor_statics,
        } = spawner;
        link_statics.extend(sensor_statics);

        let state = Arc::new(Mutex::new(WriterState::default()));
        let config = WriterConfig {
            topics: plan.topics,
            events_topic: plan.events,
            description_topic: plan.description,
            writer_options: options.writer_options.clone(),
            min_free_bytes: options.min_free_bytes,
            free_space: options.free_space.clone(),
            tap: options.tap.clone(),
        };
        let statuses: Vec<Arc<DeviceStatus>> = devices.iter().map(|d| d.status.clone()).collect();
        let writer_thread = {
            let (statuses, state) = (statuses.clone(), state.clone());
            spawn("writer".into(), move || {
                writer::run(&config, &data_rx, &cmd_rx, &statuses, &state);
            })?
        };
        let monitor_thread = {
            let stop = stop.clone();
            let counters: Vec<(Arc<DeviceStatus>, Arc<AtomicU64>)> = devices
                .iter()
                .map(|d| (d.status.clone(), d.rate_millihz.clone()))
                .collect();
            spawn("rates".into(), move || monitor(&counters, &stop))?
        };
        Ok(Self {
            rig,
            options,
            stop,
            device_threads: threads,
            writer_thread: Some(writer_thread),
            monitor_thread: Some(monitor_thread),
            commands: cmd_tx,
            data_tx: Some(data_tx),
            devices,
            state,
            episode_counter: AtomicU64::new(0),
            urdf,
            link_statics,
        })
    }

    /// The rig.
    pub fn rig(&self) -> &LoadedRig {
        &self.rig
    }

    /// Opens a new episode file in the output folder; returns its path.
    pub fn start_episode(&self, task: Option<&str>) -> Result<PathBuf, RecorderError> {
        let r = &self.rig.rig;
        let task = task
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .or_else(|| (!self.options.task.is_empty()).then(|| self.options.task.clone()))
            .unwrap_or_else(|| r.rig.task.clone());
        let mut meta = EpisodeMeta::new(task, r.rig.robot_type.clone());
        meta.operator = self.options.operator.clone();
        meta.site = r.rig.site.clone();
        meta.rig_config_hash = Some(self.rig.sha256.clone());
        meta.nominal_rates_hz = r.nominal_rates_hz();
        meta.source_params.insert("rig".into(), r.rig.name.clone());
        meta.source_params.insert(
            "devices".into(),
            self.devices
                .iter()
                .map(|d| d.status.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        );
        let n = self.episode_counter.fetch_add(1, Ordering::Relaxed);
        let stamp = reel_episode::time::format_utc(host_now_nanos())
            .replace([':', '-'], "")
            .replace('.', "_");
        let path = self
            .options
            .out_dir
            .join(format!("{}_{stamp}_{n:03}.mcap", r.rig.name));
        let mut attachments = vec![(
            "rig.toml".to_string(),
            "application/toml".to_string(),
            self.rig.text.clone().into_bytes(),
        )];
        if let Some((name, urdf)) = &self.urdf {
            attachments.push((
                name.clone(),
                "application/xml".into(),
                urdf.clone().into_bytes(),
            ));
        }
        let plan = EpisodePlan {
            path,
            meta,
            attachments,
            robot_description: self.urdf.as_ref().map(|(_, urdf)| urdf.clone()),
            camera_infos: r
                .cameras
                .iter()
                .filter_map(|c| {
                    let k = c.intrinsics.as_ref()?;
                    let info = k.camera_info(0, &frame_id(&c.name));
                    Some((topics::camera_info(&c.name), info))
                })
                .collect(),
            mounts: r
                .cameras
                .iter()
                .filter_map(|c| Some(c.mount.as_ref()?.transform(0, &frame_id(&c.name))))
                .chain(
                    r.lidars
                        .iter()
                        .filter_map(|l| Some(l.mount.as_ref()?.transform(0, &l.frame_id()))),
                )
                .chain(self.link_statics.iter().cloned())
                .collect(),
        };
        self.ask(|reply| Command::Start(Box::new(plan), reply))
    }

    /// Closes the open episode with `outcome`.
    pub fn stop_episode(&self, outcome: Outcome) -> Result<EpisodeSummary, RecorderError> {
        self.ask(|reply| Command::Stop(outcome, reply))
    }

    /// Closes and deletes the open episode.
    pub fn discard_episode(&self) -> Result<(), RecorderError> {
        self.ask(Command::Discard)
    }

    fn ask<T>(
        &self,
        make: impl FnOnce(Sender<Result<T, RecorderError>>) -> Command,
    ) -> Result<T, RecorderError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.commands
            .send(make(tx))
            .map_err(|_| RecorderError::Writer("has stopped"))?;
        rx.recv_timeout(Duration::from_secs(30))
            .map_err(|_| RecorderError::Writer("did not answer"))?
    }

    /// Whether an episode is open.
    pub fn is_recording(&self) -> bool {
        self.state
            .lock()
            .map(|s| s.episode.is_some())
            .unwrap_or(false)
    }

    /// Episodes closed so far (including any closed early by an error).
    pub fn closed_episodes(&self) -> Vec<EpisodeSummary> {
        self.state
            .lock()
            .map(|s| s.closed.clone())
            .unwrap_or_default()
    }

    /// Sensor-to-disk latencies recorded so far, µs (see `WriterState`).
    pub fn disk_latency_us(&self) -> Vec<u32> {
        self.state
            .lock()
            .map(|s| s.disk_latency_us.clone())
            .unwrap_or_default()
    }

    /// Waits up to `timeout` for every device of the rig to answer; the
    /// first that does not is an error naming it (an absent arm, camera or
    /// LiDAR at start is a mistake to fix, not an empty episode to record).
    /// A device lost later is retried every second and its gap recorded.
    pub fn wait_for_devices(&self, timeout: Duration) -> Result<(), RecorderError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let absent = self
                .devices
                .iter()
                .find(|d| !d.status.connected.load(Ordering::Relaxed));
            let Some(device) = absent else {
                return Ok(());
            };
            if std::time::Instant::now() >= deadline {
                let last = device
                    .status
                    .last_error
                    .lock()
                    .map(|e| e.clone())
                    .unwrap_or_default();
                let name = device.status.name.clone();
                let reason = match last.strip_prefix(&format!("{name}: ")) {
                    Some(rest) => rest.to_string(),
                    None if last.is_empty() => format!(
                        "nothing heard from it in {:.0} s; is it connected, switched on and at the rig's address?",
                        timeout.as_secs_f64()
                    ),
                    None => last,
                };
                return Err(RecorderError::Absent {
                    device: name,
                    reason,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A snapshot for the status line and the control API.
    pub fn status(&self) -> RecorderStatus {
        let (episode, started, messages, closed, last_error) = self
            .state
            .lock()
            .map(|s| {
                (
                    s.episode.clone(),
                    s.started_nanos,
                    s.messages,
                    s.closed.len(),
                    s.last_error.clone(),
                )
            })
            .unwrap_or_default();
        RecorderStatus {
            rig: self.rig.rig.rig.name.clone(),
            recording: episode.is_some(),
            episode,
            elapsed_s: started.map_or(0.0, |s| host_now_nanos().saturating_sub(s) as f64 / 1e9),
            messages,
            episodes_closed: closed,
            queue: self.data_tx.as_ref().map_or(0, Sender::len),
            last_error,
            devices: self
                .devices
                .iter()
                .map(|d| DeviceView {
                    name: d.status.name.clone(),
                    connected: d.status.connected.load(Ordering::Relaxed),
                    rate_hz: d.rate_millihz.load(Ordering::Relaxed) as f64 / 1000.0,
                    expected_hz: d.expected_hz,
                    dropped: d.status.dropped.load(Ordering::Relaxed),
                    errors: d.status.errors.load(Ordering::Relaxed),
                    wire_faults: d.status.wire_faults.load(Ordering::Relaxed),
                    disconnects: d.status.disconnects.load(Ordering::Relaxed),
                    rejected: d.status.rejected(),
                    lost: d.status.lost(),
                    last_error: d
                        .status
                        .last_error
                        .lock()
                        .map(|e| e.clone())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Stops the devices and the writer; an open episode is closed first.
    pub fn shutdown(mut self) -> Vec<EpisodeSummary> {
        if self.is_recording() {
            let _ = self.stop_episode(Outcome::Unknown);
        }
        self.stop_all();
        self.closed_episodes()
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.device_threads.drain(..) {
            let _ = t.join();
        }
        // Devices are gone; dropping our sender lets the writer drain and exit.
        self.data_tx = None;
        if let Some(t) = self.writer_thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.monitor_thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// The rig's URDF, read once: attached to every episode as (file name,
/// text), and parsed when followers put their links on /tf.
#[allow(clippy::type_complexity)]
fn load_urdf(
    rig: &LoadedRig,
    parse: bool,
) -> Result<(Option<(String, String)>, Option<Arc<RobotModel>>), RecorderError> {
    let Some(path) = rig.urdf_path() else {
        return Ok((None, None));
    };
    let urdf_error = |reason: String| RecorderError::Urdf {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| urdf_error(e.to_string()))?;
    let model = if parse {
        Some(Arc::new(
            RobotModel::parse(&text).map_err(|e| urdf_error(e.to_string()))?,
        ))
    } else {
        None
    };
    let name = path
        .file_name()
        .map_or("robot.urdf".into(), |n| n.to_string_lossy().into_owned());
    Ok((Some((name, text)), model))
}

/// Starts one session thread per device, each with its topics in the plan.
struct Spawner {
    plan: Plan,
    data_tx: Sender<sink::Envelope>,
    stop: Arc<AtomicBool>,
    devices: Vec<Device>,
    threads: Vec<JoinHandle<()>>,
    /// Each LiDAR's `lidar NAME (ADDRESS)` and where its identity comes.
    lidar_probes: Vec<(String, crossbeam_channel::Receiver<Identity>)>,
    /// Fixed transforms between a sensor's frames (a LiDAR's IMU).
    sensor_statics: Vec<TransformStamped>,
}

impl Spawner {
    /// A device's status and its sink into the writer queue.
    fn device(&mut self, name: String, expected_hz: f64) -> (Arc<DeviceStatus>, Sink) {
        let status = DeviceStatus::new(name);
        self.devices.push(Device {
            status: status.clone(),
            expected_hz,
            rate_millihz: Arc::default(),
        });
        let sink = Sink::new(self.data_tx.clone(), status.clone());
        (status, sink)
    }

    /// Every arm: leaders publish their positions, followers follow their
    /// teleop leader; followers put their links on `/tf`. Returns the URDF's
    /// fixed joints for `/tf_static`.
    fn arms(
        &mut self,
        r: &Rig,
        links: Option<&(Arc<RobotModel>, usize)>,
        followers: usize,
    ) -> Result<Vec<TransformStamped>, RecorderError> {
        let leaders: BTreeMap<String, Arc<LeaderShare>> = r
            .arms
            .iter()
            .filter(|a| a.role == Role::Leader)
            .map(|a| (a.name.clone(), Arc::new(LeaderShare::default())))
            .collect();
        let mut link_statics = Vec::new();
        for a in &r.arms {
            let topic = match a.role {
                Role::Leader => topics::joint_commands(&a.name),
                Role::Follower => topics::joint_states(&a.name),
            };
            let arm_links = links
                .filter(|_| a.role == Role::Follower)
                .map(|(model, topic)| arm::Links {
                    topic: *topic,
                    model: model.clone(),
                    prefix: if followers > 1 {
                        format!("{}/", a.name)
                    } else {
                        String::new()
                    },
                });
            if let Some(l) = &arm_links {
                link_statics.extend(l.model.fixed_transforms(0, &l.prefix));
            }
            let arm_topics = ArmTopics {
                joints: self.plan.add(topic, TopicKind::Joints),
                events: self.plan.events,
                links: arm_links,
            };
            let (_, sink) = self.device(format!("arm {}", a.name), a.rate_hz);
            let publish_to = leaders.get(&a.name).cloned();
            let follow = r
                .teleop
                .iter()
                .find(|t| t.follower == a.name)
                .and_then(|t| {
                    leaders.get(&t.leader).map(|l| FollowLeader {
                        leader: l.clone(),
                        max_step_rad: t.max_step_rad,
                        stale_after: Duration::from_millis(100),
                        release_torque_on_exit: t.release_torque_on_exit,
                    })
                });
            let (arm, stop) = (a.clone(), self.stop.clone());
            self.threads.push(spawn(format!("arm {}", a.name), move || {
                arm::run(
                    &arm,
                    &arm_topics,
                    &sink,
                    &stop,
                    publish_to.as_deref(),
                    follow.as_ref(),
                );
            })?);
        }
        Ok(link_statics)
    }

    /// Every camera, stored as JPEG or H.264.
    fn cameras(&mut self, r: &Rig) -> Result<(), RecorderError> {
        for c in &r.cameras {
            let (name, kind) = match c.format {
                CameraFormat::Jpeg => (topics::camera_image(&c.name), TopicKind::Image),
                CameraFormat::H264 => (topics::camera_video(&c.name), TopicKind::Video),
            };
            let cam_topics = CameraTopics {
                frames: self.plan.add(name, kind),
                events: self.plan.events,
            };
            let (_, sink) = self.device(format!("camera {}", c.name), f64::from(c.fps));
            let (cam, stop) = (c.clone(), self.stop.clone());
            self.threads
                .push(spawn(format!("camera {}", c.name), move || {
                    camera::run(&cam, &cam_topics, &sink, &stop);
                })?);
        }
        Ok(())
    }

    /// Every LiDAR, with its raw packets when the rig stores them. Each
    /// one's socket is bound here, so a port in use fails the start.
    fn lidars(&mut self, rig: &LoadedRig) -> Result<(), RecorderError> {
        let rig_dir = rig.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        for l in &rig.rig.lidars {
            let device = format!("lidar {}", l.name);
            let fail = |reason: String| RecorderError::Device {
                device: format!("{device} ({})", l.address),
                reason,
            };
            let points = self
                .plan
                .add(topics::lidar_points(&l.name), TopicKind::Cloud);
            let packets = l.store_packets.then(|| {
                self.plan
                    .add(topics::lidar_packets(&l.name), TopicKind::Packets)
            });
            let topics = LidarTopics {
                points,
                packets,
                events: self.plan.events,
            };
            let mut decoder = decoder_for(l, &rig_dir).map_err(|e| fail(e.to_string()))?;
            let socket = UdpSocket::bind(&l.address)
                .map_err(|e| fail(format!("cannot listen: {e}; is another recorder running?")))?;
            let (status, sink) = self.device(device.clone(), f64::from(l.rpm) / 60.0);
            let (identified, identity) = crossbeam_channel::bounded(1);
            self.lidar_probes
                .push((format!("{device} ({})", l.address), identity));
            if let Some(imu) = imu_for(l, &rig_dir).map_err(|e| fail(e.to_string()))? {
                self.lidar_imu(l, imu)?;
            }
            let (frame_id, stop) = (l.frame_id(), self.stop.clone());
            self.threads.push(spawn(device.clone(), move || {
                let session = lidar::LidarSession {
                    device,
                    frame_id,
                    topics,
                    sink: &sink,
                    identified,
                };
                if let Err(e) = lidar::run(&session, &socket, decoder.as_mut(), &stop) {
                    status.error(format!("{}: {e}", session.device));
                }
            })?);
        }
        Ok(())
    }

    /// A LiDAR's IMU: its topic, device, socket and thread, and where it
    /// sits in the LiDAR's frame (for `/tf_static`).
    fn lidar_imu(&mut self, l: &crate::rig::Lidar, imu: LidarImu) -> Result<(), RecorderError> {
        let device = format!("imu {}", l.name);
        let address = l.imu_address.clone().unwrap_or_default();
        let socket = UdpSocket::bind(&address).map_err(|e| RecorderError::Device {
            device: format!("{device} ({address})"),
            reason: format!("cannot listen: {e}; is another recorder running?"),
        })?;
        let frame_id = format!("{}_imu", l.frame_id());
        self.sensor_statics.push(
            reel_episode::geometry::Iso::from_matrix(imu.rotation, imu.translation).to_msg(
                0,
                &l.frame_id(),
                &frame_id,
            ),
        );
        let topic = self.plan.add(topics::lidar_imu(&l.name), TopicKind::Imu);
        let events = self.plan.events;
        let (status, sink) = self.device(device.clone(), imu.rate_hz);
        let mut decoder = imu.decoder;
        let stop = self.stop.clone();
        self.threads.push(spawn(device.clone(), move || {
            let session = imu::ImuSession {
                device,
                frame_id,
                topic,
                events,
                sink: &sink,
            };
            if let Err(e) = imu::run(&session, &socket, decoder.as_mut(), &stop) {
                status.error(format!("{}: {e}", session.device));
            }
        })?);
        Ok(())
    }

    /// Waits up to `timeout` for each LiDAR's first packets to show what it
    /// is; a sensor that is not the rig's model fails the start. One that
    /// sends nothing yet is waited for by its loop, which refuses it then.
    fn check_lidars(&self, timeout: Duration) -> Result<(), RecorderError> {
        let deadline = std::time::Instant::now() + timeout;
        for (device, identity) in &self.lidar_probes {
            match identity.recv_deadline(deadline) {
                Ok(Identity::Mismatch(reason)) => {
                    return Err(RecorderError::Device {
                        device: device.clone(),
                        reason,
                    })
                }
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(device = %device, "no packets yet; the sensor will be checked when they come")
                }
            }
        }
        Ok(())
    }

    /// Stops and joins the threads started so far (a failed start).
    fn abandon(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.data_tx);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, RecorderError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .map_err(|source| RecorderError::Thread { name, source })
}

/// Sleeps `total`, waking early when `stop` is set (checked every 20 ms).
pub(crate) fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(20);
    let mut left = total;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

/// Updates every device's rate once a second.
fn monitor(counters: &[(Arc<DeviceStatus>, Arc<AtomicU64>)], stop: &AtomicBool) {
    let mut last: Vec<u64> = counters
        .iter()
        .map(|c| c.0.produced.load(Ordering::Relaxed))
        .collect();
    let mut last_t = host_now_nanos();
    while !stop.load(Ordering::Relaxed) {
        sleep_unless_stopped(Duration::from_secs(1), stop);
        let now = host_now_nanos();
        let dt = (now - last_t) as f64 / 1e9;
        last_t = now;
        for (i, (status, rate)) in counters.iter().enumerate() {
            let produced = status.produced.load(Ordering::Relaxed);
            let hz = (produced - last[i]) as f64 / dt;
            last[i] = produced;
            rate.store((hz * 1000.0) as u64, Ordering::Relaxed);
        }
    }
}
