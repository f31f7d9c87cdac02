//! What every LiDAR driver decodes to, whatever the family: points on the
//! sensor's clock, scans (a Velodyne revolution, an Ouster frame, a Livox
//! integration window) as the episode's `PointCloud2`, and the reasons a
//! packet was not turned into points. The recorder's LiDAR loop
//! (`recorder::lidar`) drives any [`LidarDecoder`] the same way.

use reel_episode::ros2::sensor_msgs::PointCloud2;
use reel_episode::ros2::std_msgs::Header;

/// One return, in the sensor frame (x forward, y left, z up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LidarPoint {
    /// Metres.
    pub x: f32,
    /// Metres.
    pub y: f32,
    /// Metres.
    pub z: f32,
    /// Intensity or reflectivity as the sensor reports it.
    pub intensity: f32,
    /// Beam, 0 = lowest (a Livox line).
    pub ring: u16,
    /// When it was measured, ns on the sensor's clock.
    pub time_nanos: u64,
    /// Which return: Velodyne 1 strongest, 2 last, 3 both; Ouster 1 first,
    /// 2 second; 0 where the sensor reports one.
    pub return_type: u8,
}

/// A raw packet kept for lossless re-processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// Host time it arrived, ns.
    pub host_nanos: u64,
    /// The UDP payload.
    pub data: Vec<u8>,
}

/// The points of one scan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scan {
    /// When its first point was measured, ns on the sensor's clock.
    pub start_nanos: u64,
    /// Points in measurement order.
    pub points: Vec<LidarPoint>,
    /// Packets that made it.
    pub packets: usize,
    /// The packets themselves, when the decoder keeps them.
    pub raw: Vec<RawPacket>,
}

impl Scan {
    /// A scan of `points` from `packets` packets.
    pub fn new(points: Vec<LidarPoint>, packets: usize) -> Self {
        let start_nanos = points.iter().map(|p| p.time_nanos).min().unwrap_or(0);
        Self {
            start_nanos,
            points,
            packets,
            raw: Vec::new(),
        }
    }

    /// The cloud as the episode stores it: x, y, z, intensity (f32), ring
    /// (u16), `return_type` (u8, in every return mode so that clouds of one
    /// sensor keep one layout), and per-point time since `header.stamp`
    /// (f32 seconds). `stamp_nanos` is the host-clock time of the first
    /// point.
    pub fn to_point_cloud2(&self, stamp_nanos: u64, frame_id: &str) -> PointCloud2 {
        let mut data =
            Vec::with_capacity(self.points.len() * PointCloud2::LIDAR_POINT_STEP as usize);
        for p in &self.points {
            let t = (p.time_nanos.saturating_sub(self.start_nanos) as f64 * 1e-9) as f32;
            PointCloud2::push_lidar_point(
                &mut data,
                [p.x, p.y, p.z],
                p.intensity,
                p.ring,
                p.return_type,
                t,
            );
        }
        PointCloud2::lidar(Header::new(stamp_nanos, frame_id), data)
    }
}

/// Why a packet was not turned into points. `reason` is a short code the
/// episode's events and `reel info` group by; `detail` says what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// `bad_length`, `bad_block`, `bad_azimuth`, `bad_return_mode`,
    /// `wrong_sensor`, `bad_header`, ...
    pub reason: &'static str,
    /// One sentence.
    pub detail: String,
    /// Packets it covers: 1, or the packets held back to identify the
    /// sensor when they turn out to be from another one.
    pub packets: u64,
}

impl Rejection {
    /// A rejection of one packet for `reason`.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
            packets: 1,
        }
    }

    /// The same rejection for `packets` packets.
    pub fn covering(mut self, packets: u64) -> Self {
        self.packets = packets;
        self
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.reason)
    }
}

/// What the packets seen so far say the sensor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Too few packets yet.
    Pending,
    /// The packets fit the rig's model (the model's name).
    Confirmed(String),
    /// They do not: one sentence saying what they are instead. Every later
    /// packet is refused as `wrong_sensor`.
    Mismatch(String),
}

/// What one accepted packet gave.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Scans the packet completed (usually none or one).
    pub scans: Vec<Scan>,
    /// Device time the packet left the sensor (its last measurement), ns,
    /// for mapping the sensor clock onto the host's; None while the
    /// decoder holds packets back to identify the sensor.
    pub sent_device_nanos: Option<u64>,
    /// Packets the sensor sent before this one that never arrived (a gap in
    /// its timestamps or sequence numbers).
    pub lost_before: u64,
}

/// One LiDAR family's packet decoder and scan assembler.
pub trait LidarDecoder: Send {
    /// The sensor's name as reel writes it (`VLP-16`, `OS-1-64`, ...).
    fn model_name(&self) -> String;

    /// Decodes one UDP payload that arrived at `host_nanos`.
    fn push(&mut self, payload: &[u8], host_nanos: u64) -> Result<Decoded, Rejection>;

    /// What the packets say the sensor is.
    fn identity(&self) -> &Identity;

    /// The scans not yet complete (at silence or the end of a recording),
    /// with the packets held back to identify the sensor.
    fn finish(&mut self) -> Vec<Scan>;
}

/// One inertial sample, SI units, in the IMU's frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImuSample {
    /// When it was measured, ns on the sensor's clock.
    pub time_nanos: u64,
    /// Linear acceleration, m/s², gravity included.
    pub accel_mps2: [f64; 3],
    /// Angular velocity, rad/s.
    pub gyro_radps: [f64; 3],
}

/// One family's IMU packet decoder.
pub trait ImuDecoder: Send {
    /// The samples of one UDP payload.
    fn push(&mut self, payload: &[u8]) -> Result<Vec<ImuSample>, Rejection>;
}
