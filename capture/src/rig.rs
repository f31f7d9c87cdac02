//! The rig config (TOML): which devices a recording reads, at what rates,
//! under which names, with which calibration. Samples: `samples/rigs/`.
//!
//! Joint values are stored in SI units (rad, rad/s, A) using each joint's
//! calibration; the raw ticks stay recoverable because the calibration is
//! attached to every episode with the rig config.

use std::collections::BTreeSet;
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

use reel_episode::calibration::{CameraModel, LensModel, Mount};
use serde::{Deserialize, Serialize};

use crate::error::RigError;

/// A whole rig.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rig {
    /// Rig-wide settings.
    pub rig: RigInfo,
    /// Arms (servo buses).
    #[serde(default, rename = "arm")]
    pub arms: Vec<Arm>,
    /// Cameras.
    #[serde(default, rename = "camera")]
    pub cameras: Vec<Camera>,
    /// LiDARs.
    #[serde(default, rename = "lidar")]
    pub lidars: Vec<Lidar>,
    /// Leader → follower mirroring.
    #[serde(default, rename = "teleop")]
    pub teleop: Vec<Teleop>,
}

/// Rig-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RigInfo {
    /// Rig name.
    pub name: String,
    /// Robot type recorded in episodes (`so101`, `aloha`, ...).
    pub robot_type: String,
    /// Default task text.
    #[serde(default)]
    pub task: String,
    /// URDF, relative to the config file.
    #[serde(default)]
    pub urdf: Option<PathBuf>,
    /// Where the rig stands (lab, building), stored in each episode;
    /// exports leave it out or pseudonymise it.
    #[serde(default)]
    pub site: Option<String>,
}

/// Servo protocol of an arm's bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Dynamixel Protocol 2.0.
    Dynamixel,
    /// Feetech SCS/STS.
    Feetech,
}

/// Leader arms are moved by the operator; followers do the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Moved by hand; its positions become `joint_commands`.
    Leader,
    /// Driven; its positions are `joint_states`.
    Follower,
}

/// One arm: a serial bus of servos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Name used in topics (`/robot/<name>/joint_states`).
    pub name: String,
    /// Leader or follower.
    pub role: Role,
    /// Bus protocol.
    pub protocol: Protocol,
    /// Serial device (the emulator creates a pty link at this path).
    pub port: PathBuf,
    /// Baud rate.
    pub baud: u32,
    /// Sync-read rate.
    pub rate_hz: f64,
    /// How late past its wire time a reply may come, ms: the USB-serial
    /// adapter's latency (1 ms once its latency timer is lowered; an FTDI
    /// left at its 16 ms default needs about 20).
    #[serde(default = "default_reply_margin_ms")]
    pub reply_margin_ms: f64,
    /// Servos, in order.
    #[serde(rename = "joint")]
    pub joints: Vec<Joint>,
}

/// Servo models reel knows, with their resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServoModel {
    /// Feetech STS3215 (SO-100/101).
    Sts3215,
    /// Dynamixel XL330-M288.
    Xl330M288,
    /// Dynamixel XL330-M077.
    Xl330M077,
    /// Dynamixel XL430-W250.
    Xl430W250,
    /// Dynamixel XM430-W350.
    Xm430W350,
}

impl ServoModel {
    /// Position ticks per revolution.
    pub fn ticks_per_rev(self) -> f64 {
        4096.0
    }
    /// Model number reported by ping / address 0 (Dynamixel) or 3 (Feetech).
    pub fn model_number(self) -> u16 {
        match self {
            Self::Sts3215 => 777,
            Self::Xl330M288 => 1200,
            Self::Xl330M077 => 1190,
            Self::Xl430W250 => 1060,
            Self::Xm430W350 => 1020,
        }
    }
    /// The protocol the model speaks.
    pub fn protocol(self) -> Protocol {
        match self {
            Self::Sts3215 => Protocol::Feetech,
            _ => Protocol::Dynamixel,
        }
    }
    /// Velocity register unit in rad/s (Feetech: step/s; Dynamixel: 0.229 rpm).
    pub fn velocity_unit_rad_s(self) -> f64 {
        match self {
            Self::Sts3215 => TAU / 4096.0,
            _ => 0.229 * TAU / 60.0,
        }
    }
    /// Current register unit in amperes (STS3215 6.5 mA, XL330 1 mA,
    /// XM430 2.69 mA; XL430 reports load, not current: 0).
    pub fn current_unit_a(self) -> f64 {
        match self {
            Self::Sts3215 => 0.0065,
            Self::Xl330M288 | Self::Xl330M077 => 0.001,
            Self::Xm430W350 => 0.00269,
            Self::Xl430W250 => 0.0,
        }
    }
}

/// One servo and its calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Joint {
    /// Joint name (as in the URDF).
    pub name: String,
    /// Bus ID.
    pub id: u8,
    /// Servo model.
    pub model: ServoModel,
    /// Tick value at 0 rad.
    #[serde(default = "default_offset")]
    pub offset_ticks: i32,
    /// +1, or -1 when the servo turns against the joint's positive direction.
    #[serde(default = "default_direction")]
    pub direction: i8,
    /// Allowed tick range [min, max].
    #[serde(default = "default_range")]
    pub range_ticks: [i32; 2],
}

fn default_offset() -> i32 {
    2048
}
fn default_direction() -> i8 {
    1
}
fn default_range() -> [i32; 2] {
    [0, 4095]
}

impl Joint {
    /// Raw position ticks → joint angle, rad.
    pub fn ticks_to_rad(&self, ticks: i32) -> f64 {
        f64::from(self.direction) * f64::from(ticks - self.offset_ticks) * TAU
            / self.model.ticks_per_rev()
    }
    /// Joint angle → the nearest tick, clamped to `range_ticks`.
    pub fn rad_to_ticks(&self, rad: f64) -> i32 {
        let ticks = f64::from(self.offset_ticks)
            + f64::from(self.direction) * rad * self.model.ticks_per_rev() / TAU;
        (ticks.round() as i32).clamp(self.range_ticks[0], self.range_ticks[1])
    }
    /// Raw velocity → rad/s.
    pub fn velocity_to_rad_s(&self, raw: i32) -> f64 {
        f64::from(self.direction) * f64::from(raw) * self.model.velocity_unit_rad_s()
    }
    /// Raw current → A.
    pub fn current_to_a(&self, raw: i32) -> f64 {
        f64::from(self.direction) * f64::from(raw) * self.model.current_unit_a()
    }
}

/// A camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// Name used in topics.
    pub name: String,
    /// `testsrc2` (FFmpeg's synthetic source), a V4L2 device path, or an rtsp/http URL.
    pub source: String,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Stored as JPEG frames or H.264 video.
    #[serde(default = "default_camera_format")]
    pub format: CameraFormat,
    /// Known delay from exposure to the frame's time (its arrival, or
    /// the V4L2 kernel stamp), subtracted from every stamp. `reel calib
    /// time-offset --rig` measures it against the joints and stores it.
    #[serde(default)]
    pub latency_ms: f64,
    /// How frames without a kernel stamp are timed: `arrival` (the host
    /// time a frame arrived), `cadence` (the camera exposes on its own
    /// fixed frame clock, which reel fits to the arrivals so scheduling
    /// and network delays drop out; see [`crate::clock::FrameCadence`]) or
    /// `device` (the stream's presentation times, mapped by
    /// [`crate::clock::ClockFit`]).
    #[serde(default)]
    pub stamps: CameraStamps,
    /// `reel emulate` serves this camera: an MJPEG-over-HTTP stream at the
    /// `source` URL (which must be `http://127.0.0.1:PORT/...`), each frame
    /// stamped with its acquisition time.
    #[serde(default)]
    pub emulated: bool,
    /// Intrinsics (`reel calib intrinsics --rig`); episodes then carry them
    /// on `/camera/<name>/camera_info`.
    /// The table holds the lens model by its ROS name, focal lengths,
    /// principal point and distortion; the image size is the camera's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "intrinsics_table"
    )]
    pub intrinsics: Option<CameraModel>,
    /// Where the optical frame sits (`reel calib hand-eye --rig`); episodes
    /// then carry it on `/tf_static`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<Mount>,
}

impl Camera {
    /// The `HOST:PORT` of an `http://HOST:PORT/...` source.
    pub fn emulator_address(&self) -> Option<std::net::SocketAddr> {
        let rest = self.source.strip_prefix("http://")?;
        let host_port = rest.split('/').next()?;
        host_port.parse().ok()
    }
}

fn default_camera_format() -> CameraFormat {
    CameraFormat::Jpeg
}

/// How a camera's frames are timed (V4L2 frames carry a kernel stamp
/// either way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraStamps {
    /// When the frame arrived, minus `latency_ms`.
    #[default]
    Arrival,
    /// On the camera's fixed frame clock, fitted to the arrivals, minus
    /// `latency_ms`. Only for cameras at a fixed frame rate.
    Cadence,
    /// By the stream's own presentation times (RTP timestamps of RTSP,
    /// MPEG-TS PTS), the sender's clock mapped to the host clock by an
    /// offset + drift fit on the arrivals' lower envelope, minus
    /// `latency_ms`. Frames without one fall back to their arrival.
    Device,
}

/// How a camera is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraFormat {
    /// `sensor_msgs/CompressedImage` JPEG.
    Jpeg,
    /// `foxglove_msgs/CompressedVideo` H.264.
    H264,
}

/// A LiDAR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lidar {
    /// Name used in topics.
    pub name: String,
    /// `vlp16`, `puck-hires`, `vlp32c`, `hdl32e` (Velodyne); `ouster` or
    /// an Ouster product line (`os0-32`, `os1-64`, ...); see [`LidarModel`].
    pub model: String,
    /// Address to listen on for data packets (`127.0.0.1:2368`; Ouster
    /// 7502).
    pub address: String,
    /// Address to listen on for IMU packets (Ouster 7503), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imu_address: Option<String>,
    /// The sensor's metadata JSON (Ouster: beam angles, columns, packet
    /// profile, as `GET /api/v1/sensor/metadata` gives it), relative to the
    /// rig file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PathBuf>,
    /// Rotation speed (300–1200; an Ouster's comes from its metadata).
    #[serde(default = "default_rpm")]
    pub rpm: u32,
    /// Where a spinning sensor's scans begin, degrees from straight ahead
    /// (x), counter-clockwise seen from above.
    #[serde(default)]
    pub cut_azimuth_deg: f64,
    /// Also store the raw packets for lossless re-processing (Velodyne).
    #[serde(default)]
    pub store_packets: bool,
    /// Where the LiDAR's frame sits (`reel calib camera-lidar --rig`);
    /// episodes then carry it on `/tf_static`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<Mount>,
}

impl Lidar {
    /// The frame id of its clouds.
    pub fn frame_id(&self) -> String {
        format!("lidar_{}", self.name)
    }

    /// Its model; None for a name reel does not know.
    pub fn kind(&self) -> Option<LidarModel> {
        LidarModel::parse(&self.model)
    }
}

/// The LiDARs reel records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LidarModel {
    /// A Velodyne, by its published geometry.
    Velodyne(reel_episode::velodyne::Model),
    /// An Ouster OS0/OS1/OS2: beams and columns come from its metadata
    /// JSON; `Some(line)` when the rig names a product line the metadata
    /// must match (`os1-64` → (1, 64)).
    Ouster(Option<(u8, u16)>),
    /// A Livox Mid-360 or HAP; its stream is cut into `rpm / 60` scans a
    /// second.
    Livox(crate::drivers::livox::protocol::Model),
}

impl LidarModel {
    /// Every name a rig may use, for messages.
    pub const NAMES: &str =
        "vlp16, puck-hires, vlp32c, hdl32e, ouster, os0-32 … os2-128, mid360, hap";

    /// From a rig's `model`.
    pub fn parse(name: &str) -> Option<Self> {
        if let Some(m) = reel_episode::velodyne::Model::parse(name) {
            return Some(Self::Velodyne(m));
        }
        if let Some(m) = crate::drivers::livox::protocol::Model::parse(name) {
            return Some(Self::Livox(m));
        }
        let key: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if key == "ouster" {
            return Some(Self::Ouster(None));
        }
        let rest = key.strip_prefix("os")?;
        let (line, beams) = rest.split_at(1.min(rest.len()));
        let line: u8 = line.parse().ok().filter(|l| *l <= 2)?;
        let beams: u16 = beams.parse().ok().filter(|b| [32, 64, 128].contains(b))?;
        Some(Self::Ouster(Some((line, beams))))
    }
}

fn default_rpm() -> u32 {
    600
}

/// Mirrors a leader's joints onto a follower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teleop {
    /// Leader arm name.
    pub leader: String,
    /// Follower arm name.
    pub follower: String,
    /// Largest step per command, rad (rate limit).
    #[serde(default = "default_max_step")]
    pub max_step_rad: f64,
    /// Switch the follower's torque off when recording ends. Off by default:
    /// a real arm without torque falls where it stands.
    #[serde(default)]
    pub release_torque_on_exit: bool,
}

fn default_max_step() -> f64 {
    0.05
}

fn default_reply_margin_ms() -> f64 {
    crate::drivers::servo::bus::DEFAULT_REPLY_MARGIN.as_secs_f64() * 1e3
}

/// A parsed rig config with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedRig {
    /// The config.
    pub rig: Rig,
    /// The file.
    pub path: PathBuf,
    /// Its bytes (attached to episodes).
    pub text: String,
    /// sha256 of the bytes, hex (the episode's `rig_config_hash`).
    pub sha256: String,
}

impl LoadedRig {
    /// Reads, parses and validates `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RigError> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|source| RigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut rig = Rig::parse(&text).map_err(|reason| RigError::Invalid {
            path: path.clone(),
            reason: reason.0,
        })?;
        // Files the rig names are relative to its folder.
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        for l in &mut rig.lidars {
            if let Some(m) = &mut l.metadata {
                *m = dir.join(&*m);
            }
        }
        let sha256 = reel_episode::sha256_hex(text.as_bytes());
        Ok(Self {
            rig,
            path,
            text,
            sha256,
        })
    }

    /// The URDF path, resolved against the config's folder.
    pub fn urdf_path(&self) -> Option<PathBuf> {
        let urdf = self.rig.rig.urdf.as_ref()?;
        Some(self.path.parent().unwrap_or(Path::new(".")).join(urdf))
    }
}

impl Rig {
    /// The rate every data topic is configured for (topic → Hz): what
    /// `reel check` measures an episode's completeness against.
    pub fn nominal_rates_hz(&self) -> std::collections::BTreeMap<String, f64> {
        use reel_episode::topics;
        let mut rates = std::collections::BTreeMap::new();
        for a in &self.arms {
            let topic = match a.role {
                Role::Leader => topics::joint_commands(&a.name),
                Role::Follower => topics::joint_states(&a.name),
            };
            rates.insert(topic, a.rate_hz);
        }
        for c in &self.cameras {
            let topic = match c.format {
                CameraFormat::Jpeg => topics::camera_image(&c.name),
                CameraFormat::H264 => topics::camera_video(&c.name),
            };
            rates.insert(topic, f64::from(c.fps));
        }
        for l in &self.lidars {
            let hz = f64::from(l.rpm) / 60.0;
            rates.insert(topics::lidar_points(&l.name), hz);
            if l.imu_address.is_some() {
                // Ouster IMUs send 100 samples a second, Livox ones 200.
                let imu_hz = match l.kind() {
                    Some(LidarModel::Livox(_)) => 200.0,
                    _ => 100.0,
                };
                rates.insert(topics::lidar_imu(&l.name), imu_hz);
            }
            if l.store_packets {
                rates.insert(topics::lidar_packets(&l.name), hz);
            }
        }
        rates
    }

    /// Parses and validates TOML text; the error is one sentence.
    pub fn parse(text: &str) -> Result<Self, InvalidRig> {
        let rig: Rig = toml::from_str(text).map_err(|e| {
            let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    InvalidRig(format!("line {line}: {message}"))
                }
                None => InvalidRig(message),
            }
        })?;
        let mut rig = rig;
        // The intrinsics table leaves the image size to the camera.
        for c in &mut rig.cameras {
            if let Some(k) = &mut c.intrinsics {
                k.width = c.width;
                k.height = c.height;
            }
        }
        rig.validate()?;
        Ok(rig)
    }

    fn validate(&self) -> Result<(), InvalidRig> {
        let mut names = BTreeSet::new();
        let all_names = self
            .arms
            .iter()
            .map(|a| ("arm", &a.name))
            .chain(self.cameras.iter().map(|c| ("camera", &c.name)))
            .chain(self.lidars.iter().map(|l| ("lidar", &l.name)));
        for (kind, name) in all_names {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(InvalidRig(format!(
                    "{kind} name {name:?} must be letters, digits or _ (it becomes a topic)"
                )));
            }
            if !names.insert((kind, name)) {
                return Err(InvalidRig(format!("two {kind}s are named {name:?}")));
            }
        }
        for arm in &self.arms {
            if arm.joints.is_empty() {
                return Err(InvalidRig(format!("arm {:?} has no joints", arm.name)));
            }
            if !(arm.rate_hz > 0.0 && arm.rate_hz <= 2000.0) {
                return Err(InvalidRig(format!(
                    "arm {:?}: rate_hz {} is outside 0..2000",
                    arm.name, arm.rate_hz
                )));
            }
            if !(0.0..=1000.0).contains(&arm.reply_margin_ms) {
                return Err(InvalidRig(format!(
                    "arm {:?}: reply_margin_ms {} is outside 0..1000",
                    arm.name, arm.reply_margin_ms
                )));
            }
            let mut ids = BTreeSet::new();
            for j in &arm.joints {
                if j.model.protocol() != arm.protocol {
                    return Err(InvalidRig(format!(
                        "arm {:?}: joint {:?} is a {:?} servo on a {:?} bus",
                        arm.name, j.name, j.model, arm.protocol
                    )));
                }
                if !ids.insert(j.id) {
                    return Err(InvalidRig(format!(
                        "arm {:?}: two joints have id {}",
                        arm.name, j.id
                    )));
                }
                if j.id >= 0xFD {
                    return Err(InvalidRig(format!(
                        "arm {:?}: joint {:?} has id {} (max 252)",
                        arm.name, j.name, j.id
                    )));
                }
                if j.direction != 1 && j.direction != -1 {
                    return Err(InvalidRig(format!(
                        "arm {:?}: joint {:?} direction must be 1 or -1",
                        arm.name, j.name
                    )));
                }
                if j.range_ticks[0] >= j.range_ticks[1] {
                    return Err(InvalidRig(format!(
                        "arm {:?}: joint {:?} range_ticks must be [min, max]",
                        arm.name, j.name
                    )));
                }
            }
        }
        for c in &self.cameras {
            if let Some(k) = &c.intrinsics {
                k.check()
                    .map_err(|e| InvalidRig(format!("camera {:?} intrinsics: {e}", c.name)))?;
            }
            if c.width == 0 || c.height == 0 || c.fps == 0 {
                return Err(InvalidRig(format!(
                    "camera {:?} needs width, height and fps above 0",
                    c.name
                )));
            }
            if c.emulated && c.emulator_address().is_none() {
                return Err(InvalidRig(format!(
                    "camera {:?} is emulated, so its source must be http://HOST:PORT/..., not {:?}",
                    c.name, c.source
                )));
            }
            if !(0.0..=1000.0).contains(&c.latency_ms) {
                return Err(InvalidRig(format!(
                    "camera {:?}: latency_ms must be 0..1000",
                    c.name
                )));
            }
        }
        for l in &self.lidars {
            let Some(kind) = l.kind() else {
                return Err(InvalidRig(format!(
                    "lidar {:?}: model {:?} is not one reel records ({})",
                    l.name,
                    l.model,
                    LidarModel::NAMES
                )));
            };
            if matches!(kind, LidarModel::Ouster(_)) && l.metadata.is_none() {
                return Err(InvalidRig(format!(
                    "lidar {:?}: an Ouster needs `metadata`, its metadata JSON (curl http://SENSOR/api/v1/sensor/metadata)",
                    l.name
                )));
            }
            if l.imu_address.is_some() && matches!(kind, LidarModel::Velodyne(_)) {
                return Err(InvalidRig(format!(
                    "lidar {:?}: a {} has no IMU; remove imu_address",
                    l.name, l.model
                )));
            }
            if l.store_packets && !matches!(kind, LidarModel::Velodyne(_)) {
                return Err(InvalidRig(format!(
                    "lidar {:?}: store_packets is for Velodyne sensors (velodyne_msgs)",
                    l.name
                )));
            }
            if !(300..=1200).contains(&l.rpm) {
                return Err(InvalidRig(format!(
                    "lidar {:?}: rpm {} is outside 300..1200",
                    l.name, l.rpm
                )));
            }
            for address in std::iter::once(&l.address).chain(&l.imu_address) {
                address.parse::<std::net::SocketAddr>().map_err(|_| {
                    InvalidRig(format!(
                        "lidar {:?}: address {address:?} is not host:port",
                        l.name
                    ))
                })?;
            }
        }
        for t in &self.teleop {
            let leader = self.arms.iter().find(|a| a.name == t.leader);
            let follower = self.arms.iter().find(|a| a.name == t.follower);
            match (leader, follower) {
                (Some(l), Some(f)) => {
                    if l.role != Role::Leader || f.role != Role::Follower {
                        return Err(InvalidRig(format!(
                            "teleop {} → {}: needs a leader and a follower",
                            t.leader, t.follower
                        )));
                    }
                    if l.joints.len() != f.joints.len() {
                        return Err(InvalidRig(format!(
                            "teleop {} → {}: joint counts differ",
                            t.leader, t.follower
                        )));
                    }
                    // A step of 0 would never move; above a radian per
                    // command the rate limit no longer protects anything.
                    if !(t.max_step_rad > 0.0 && t.max_step_rad <= 1.0) {
                        return Err(InvalidRig(format!(
                            "teleop {} → {}: max_step_rad {} must be above 0 and at most 1",
                            t.leader, t.follower, t.max_step_rad
                        )));
                    }
                }
                _ => {
                    return Err(InvalidRig(format!(
                        "teleop names unknown arm {:?} or {:?}",
                        t.leader, t.follower
                    )))
                }
            }
        }
        Ok(())
    }
}
/// A camera's `intrinsics` table in a rig config: the lens model by its
/// ROS name (`plumb_bob`, `equidistant`), fx, fy, cx, cy, distortion. The
/// image size is the camera's own `width` and `height`.
mod intrinsics_table {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{CameraModel, LensModel};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        model: String,
        fx: f64,
        fy: f64,
        cx: f64,
        cy: f64,
        #[serde(default)]
        distortion: Vec<f64>,
    }

    pub fn serialize<S: Serializer>(k: &Option<CameraModel>, s: S) -> Result<S::Ok, S::Error> {
        k.as_ref()
            .map(|k| Table {
                model: k.lens.ros_name().into(),
                fx: k.fx,
                fy: k.fy,
                cx: k.cx,
                cy: k.cy,
                distortion: k.distortion.clone(),
            })
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<CameraModel>, D::Error> {
        let Some(t) = Option::<Table>::deserialize(d)? else {
            return Ok(None);
        };
        let lens = LensModel::parse(&t.model).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "distortion model {:?}: expected plumb_bob or equidistant",
                t.model
            ))
        })?;
        Ok(Some(CameraModel {
            lens,
            width: 0,
            height: 0,
            fx: t.fx,
            fy: t.fy,
            cx: t.cx,
            cy: t.cy,
            distortion: t.distortion,
        }))
    }
}

/// Why a rig config's text is not a valid rig: one sentence, which
/// [`RigError::Invalid`] completes with the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRig(pub String);
