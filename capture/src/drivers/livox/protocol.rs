//! Livox SDK2 data packets (Mid-360, HAP): the UDP payloads of the point
//! cloud and IMU ports ↔ typed packets. No I/O.
//!
//! ```text
//! 0 version u8 (0) | 1 length u16 (the whole payload) | 3 time_interval u16 (0.1 µs)
//! 5 dot_num u16 | 7 udp_cnt u16 | 9 frame_cnt u8 | 10 data_type u8 | 11 time_type u8
//! 12 reserved [12] | 24 crc32 u32 | 28 timestamp u64 (ns) | 36 data
//! data_type 1: dot_num × [x, y, z i32 mm | reflectivity u8 | tag u8]      (14 B)
//! data_type 2: dot_num × [x, y, z i16 cm | reflectivity u8 | tag u8]      (8 B)
//! data_type 3: dot_num × [depth u32 mm | theta u16, phi u16 (0.01°) | reflectivity | tag] (10 B)
//! data_type 0 (IMU): gyro x, y, z f32 (rad/s) | acc x, y, z f32 (g)      (24 B)
//! ```
//! Point i of a packet is measured at `timestamp + i · time_interval·100 /
//! dot_num` ns (livox_ros_driver2's rule; `time_interval` spans the first
//! to the last point, so these times are 1 % closer together than the
//! sensor's) and belongs to line `i mod lines` (4 on a Mid-360, 6 on a
//! HAP), as livox_ros_driver2 numbers them. Sources: `livox_lidar_def.h`
//! of Livox-SDK2 and `src/comm/pub_handler.cpp` of livox_ros_driver2 (both
//! MIT). The crc32 field is not checked: neither does Livox-SDK2, and its
//! polynomial and coverage are not published with the packet layout.

/// Bytes before the data.
pub const HEADER_LEN: usize = 36;

/// What a packet's data holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// One IMU sample.
    Imu,
    /// Cartesian, mm in i32.
    CartesianHigh,
    /// Cartesian, cm in i16.
    CartesianLow,
    /// Depth and two angles.
    Spherical,
}

impl DataType {
    /// From byte 10.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Self::Imu),
            1 => Some(Self::CartesianHigh),
            2 => Some(Self::CartesianLow),
            3 => Some(Self::Spherical),
            _ => None,
        }
    }

    /// Byte 10.
    pub fn byte(self) -> u8 {
        match self {
            Self::Imu => 0,
            Self::CartesianHigh => 1,
            Self::CartesianLow => 2,
            Self::Spherical => 3,
        }
    }

    /// Bytes per point (per sample for IMU).
    pub fn point_len(self) -> usize {
        match self {
            Self::Imu => 24,
            Self::CartesianHigh => 14,
            Self::CartesianLow => 8,
            Self::Spherical => 10,
        }
    }
}

/// One point, in the sensor frame (x forward, y left, z up), metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawPoint {
    /// Metres.
    pub xyz: [f64; 3],
    /// Reflectivity 0–255.
    pub reflectivity: u8,
    /// Livox tag (noise and return flags).
    pub tag: u8,
}

/// An IMU sample as the packet gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImuRaw {
    /// rad/s.
    pub gyro: [f32; 3],
    /// g.
    pub accel_g: [f32; 3],
}

/// A decoded data packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Time between the first and the last point, 0.1 µs.
    pub time_interval: u16,
    /// UDP packet counter.
    pub udp_cnt: u16,
    /// Frame counter.
    pub frame_cnt: u8,
    /// What the data holds.
    pub data_type: DataType,
    /// 0 unsynchronised (since power-on), 1 PTP/gPTP, 2 GPS.
    pub time_type: u8,
    /// First point's time, ns.
    pub timestamp_nanos: u64,
    /// The points (empty in an IMU packet).
    pub points: Vec<RawPoint>,
    /// The IMU sample of an IMU packet.
    pub imu: Option<ImuRaw>,
}

/// Why a payload is not a data packet: reason code and one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketError {
    /// `bad_length`, `bad_version`, `bad_data_type`.
    pub reason: &'static str,
    /// One sentence.
    pub detail: String,
}

fn err(reason: &'static str, detail: String) -> PacketError {
    PacketError { reason, detail }
}

impl Packet {
    /// Parses one UDP payload.
    pub fn parse(b: &[u8]) -> Result<Self, PacketError> {
        if b.len() < HEADER_LEN {
            return Err(err(
                "bad_length",
                format!(
                    "packet of {} bytes, shorter than the {HEADER_LEN}-byte header",
                    b.len()
                ),
            ));
        }
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        if b[0] != 0 {
            return Err(err(
                "bad_version",
                format!("protocol version {}, not 0", b[0]),
            ));
        }
        let length = usize::from(u16_at(1));
        if length != b.len() {
            return Err(err(
                "bad_length",
                format!("header says {length} bytes, the packet has {}", b.len()),
            ));
        }
        let data_type = DataType::from_byte(b[10]).ok_or_else(|| {
            err(
                "bad_data_type",
                format!("data type {:#04x} is not one reel reads", b[10]),
            )
        })?;
        let dot_num = usize::from(u16_at(5));
        let expected = HEADER_LEN + dot_num * data_type.point_len();
        if b.len() != expected {
            return Err(err(
                "bad_length",
                format!(
                    "{dot_num} points of type {} need {expected} bytes, the packet has {}",
                    data_type.byte(),
                    b.len()
                ),
            ));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[28..36]);
        let data = &b[HEADER_LEN..];
        let i32_at = |o: usize| {
            f64::from(i32::from_le_bytes([
                data[o],
                data[o + 1],
                data[o + 2],
                data[o + 3],
            ]))
        };
        let i16_at = |o: usize| f64::from(i16::from_le_bytes([data[o], data[o + 1]]));
        let f32_at =
            |o: usize| f32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
        let mut points = Vec::new();
        let mut imu = None;
        match data_type {
            DataType::Imu => {
                let v: Vec<f32> = (0..6).map(|k| f32_at(4 * k)).collect();
                if dot_num != 1 || !v.iter().all(|x| x.is_finite()) {
                    return Err(err(
                        "bad_value",
                        "IMU packet without one finite sample".into(),
                    ));
                }
                imu = Some(ImuRaw {
                    gyro: [v[0], v[1], v[2]],
                    accel_g: [v[3], v[4], v[5]],
                });
            }
            DataType::CartesianHigh => {
                for i in 0..dot_num {
                    let o = i * 14;
                    points.push(RawPoint {
                        xyz: [i32_at(o) * 1e-3, i32_at(o + 4) * 1e-3, i32_at(o + 8) * 1e-3],
                        reflectivity: data[o + 12],
                        tag: data[o + 13],
                    });
                }
            }
            DataType::CartesianLow => {
                for i in 0..dot_num {
                    let o = i * 8;
                    points.push(RawPoint {
                        xyz: [i16_at(o) * 1e-2, i16_at(o + 2) * 1e-2, i16_at(o + 4) * 1e-2],
                        reflectivity: data[o + 6],
                        tag: data[o + 7],
                    });
                }
            }
            DataType::Spherical => {
                for i in 0..dot_num {
                    let o = i * 10;
                    let r = f64::from(u32::from_le_bytes([
                        data[o],
                        data[o + 1],
                        data[o + 2],
                        data[o + 3],
                    ])) * 1e-3;
                    let theta = (f64::from(u16::from_le_bytes([data[o + 4], data[o + 5]])) / 100.0)
                        .to_radians();
                    let phi = (f64::from(u16::from_le_bytes([data[o + 6], data[o + 7]])) / 100.0)
                        .to_radians();
                    points.push(RawPoint {
                        xyz: [
                            r * theta.sin() * phi.cos(),
                            r * theta.sin() * phi.sin(),
                            r * theta.cos(),
                        ],
                        reflectivity: data[o + 8],
                        tag: data[o + 9],
                    });
                }
            }
        }
        Ok(Self {
            time_interval: u16_at(3),
            udp_cnt: u16_at(7),
            frame_cnt: b[9],
            data_type,
            time_type: b[11],
            timestamp_nanos: u64::from_le_bytes(ts),
            points,
            imu,
        })
    }

    /// The payload (the emulator's side): Cartesian points in the high
    /// precision layout, or the IMU sample.
    pub fn encode(&self) -> Vec<u8> {
        let dot_num = if self.data_type == DataType::Imu {
            1
        } else {
            self.points.len()
        };
        let len = HEADER_LEN + dot_num * self.data_type.point_len();
        let mut out = vec![0u8; len];
        out[1..3].copy_from_slice(&(len as u16).to_le_bytes());
        out[3..5].copy_from_slice(&self.time_interval.to_le_bytes());
        out[5..7].copy_from_slice(&(dot_num as u16).to_le_bytes());
        out[7..9].copy_from_slice(&self.udp_cnt.to_le_bytes());
        out[9] = self.frame_cnt;
        out[10] = self.data_type.byte();
        out[11] = self.time_type;
        out[28..36].copy_from_slice(&self.timestamp_nanos.to_le_bytes());
        let data = &mut out[HEADER_LEN..];
        match (self.data_type, &self.imu) {
            (DataType::Imu, Some(imu)) => {
                for (k, v) in imu.gyro.iter().chain(&imu.accel_g).enumerate() {
                    data[4 * k..4 * k + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
            (DataType::CartesianLow, _) => {
                for (i, p) in self.points.iter().enumerate() {
                    for (k, v) in p.xyz.iter().enumerate() {
                        let cm = (v * 100.0).round() as i16;
                        data[i * 8 + 2 * k..i * 8 + 2 * k + 2].copy_from_slice(&cm.to_le_bytes());
                    }
                    data[i * 8 + 6] = p.reflectivity;
                    data[i * 8 + 7] = p.tag;
                }
            }
            _ => {
                for (i, p) in self.points.iter().enumerate() {
                    for (k, v) in p.xyz.iter().enumerate() {
                        let mm = (v * 1000.0).round() as i32;
                        data[i * 14 + 4 * k..i * 14 + 4 * k + 4].copy_from_slice(&mm.to_le_bytes());
                    }
                    data[i * 14 + 12] = p.reflectivity;
                    data[i * 14 + 13] = p.tag;
                }
            }
        }
        out
    }

    /// Time from this packet's first point to the next packet's, ns.
    /// `time_interval` spans the first to the last point: a Mid-360 says
    /// 4750 (× 0.1 µs) for 96 points sent every 480 µs (measured on
    /// firmware 13.18.0244 by atinfinity/livox-mid360-core).
    pub fn period_nanos(&self) -> u64 {
        let n = self.points.len() as u64;
        let span = u64::from(self.time_interval) * 100;
        if n > 1 {
            span * n / (n - 1)
        } else {
            span
        }
    }

    /// Time of point `i`, ns (the first point's plus i point intervals).
    pub fn point_time(&self, i: usize) -> u64 {
        let n = self.points.len().max(1) as u64;
        self.timestamp_nanos + i as u64 * (u64::from(self.time_interval) * 100 / n)
    }
}

/// A Livox model reel records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Mid-360: 4 lines, 200 000 points/s, 360° × (−7°..52°).
    Mid360,
    /// HAP: 6 lines, 452 000 points/s, 120° × 25°.
    Hap,
}

impl Model {
    /// From a rig's `model`.
    pub fn parse(name: &str) -> Option<Self> {
        let key: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "mid360" | "livoxmid360" => Some(Self::Mid360),
            "hap" | "livoxhap" | "haptx" => Some(Self::Hap),
            _ => None,
        }
    }

    /// The vendor's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mid360 => "Mid-360",
            Self::Hap => "HAP",
        }
    }

    /// Lines, as livox_ros_driver2 numbers points.
    pub fn lines(self) -> usize {
        match self {
            Self::Mid360 => 4,
            Self::Hap => 6,
        }
    }

    /// Points per second (the data sheets).
    pub fn points_per_second(self) -> u32 {
        match self {
            Self::Mid360 => 200_000,
            Self::Hap => 452_000,
        }
    }

    /// The UDP ports the sensor sends its point and IMU packets from
    /// (Livox-SDK2's `mid360_config.json` and `hap_config.json`).
    pub fn data_ports(self) -> (u16, u16) {
        match self {
            Self::Mid360 => (56300, 56400),
            Self::Hap => (57000, 58000),
        }
    }

    /// Where the IMU sits in the point cloud frame, metres: the Mid-360
    /// user manual gives (11.0, 23.29, −44.12) mm; Livox publishes no
    /// offset for the HAP.
    pub fn imu_offset_m(self) -> [f64; 3] {
        match self {
            Self::Mid360 => [0.011, 0.02329, -0.04412],
            Self::Hap => [0.0; 3],
        }
    }
}
