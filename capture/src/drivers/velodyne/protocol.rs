//! Velodyne VLP-16 data packets: the 1206-byte UDP payload ↔ typed packet,
//! and points with their exact firing times. No I/O.
//!
//! ```text
//! 12 blocks × 100 B: FF EE | azimuth u16 (0.01°) | 32 × [distance u16 (2 mm), reflectivity u8]
//! 1200: timestamp u32 (µs past the hour) | 1204: return mode | 1205: product id
//! ```
//! A VLP-16 block holds two firing sequences of the 16 lasers (channels 0–15,
//! then 16–31); in dual-return mode blocks come in pairs with the same
//! azimuth (even = last return, odd = strongest).
//!
//! Source: VLP-16 User Manual 63-9243 Rev D §9, velodyne_decoder, the ROS
//! velodyne driver (see `shared/spec/hardware.md` §3).

use crate::error::LidarError;
pub use reel_episode::vlp16::{
    ring_of_laser, ELEVATION_DEG, LASERS, LASER_PERIOD_US, SEQUENCE_PERIOD_US,
    VERTICAL_CORRECTION_MM,
};

/// UDP payload size of a data packet.
pub const DATA_PACKET_LEN: usize = 1206;
/// UDP port of data packets.
pub const DATA_PORT: u16 = 2368;
/// UDP port of position (GPS) packets.
pub const POSITION_PORT: u16 = 8308;
/// Blocks per packet.
pub const BLOCKS: usize = 12;
/// Channel records per block.
pub const CHANNELS_PER_BLOCK: usize = 32;
/// Block flag, as read little endian.
pub const BLOCK_FLAG: u16 = 0xEEFF;
/// Distance unit, metres.
pub const DISTANCE_UNIT_M: f64 = 0.002;
/// Time between consecutive packets in single-return mode, µs (24 sequences).
pub const PACKET_PERIOD_US: f64 = 24.0 * SEQUENCE_PERIOD_US;
/// Product id byte of a VLP-16 (newer firmware; older firmware writes 0x21 too).
pub const PRODUCT_VLP16: u8 = 0x22;

/// How the sensor reports returns (byte 1204).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnMode {
    /// 0x37.
    Strongest,
    /// 0x38.
    Last,
    /// 0x39: blocks in pairs, last then strongest.
    Dual,
}

impl ReturnMode {
    /// From the packet byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x37 => Some(Self::Strongest),
            0x38 => Some(Self::Last),
            0x39 => Some(Self::Dual),
            _ => None,
        }
    }
    /// The packet byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Strongest => 0x37,
            Self::Last => 0x38,
            Self::Dual => 0x39,
        }
    }
}

/// One block: an azimuth and 32 channel records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Azimuth of the first firing, 0.01° (0..35999).
    pub azimuth: u16,
    /// Distance in 2 mm units (0 = no return).
    pub distance: [u16; CHANNELS_PER_BLOCK],
    /// Calibrated reflectivity.
    pub reflectivity: [u8; CHANNELS_PER_BLOCK],
}

/// A decoded data packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPacket {
    /// The 12 blocks.
    pub blocks: Vec<Block>,
    /// Time of the first firing, µs past the top of the hour (sensor clock).
    pub timestamp_us: u32,
    /// Return mode.
    pub return_mode: ReturnMode,
    /// Product id byte.
    pub product_id: u8,
}

impl DataPacket {
    /// Parses a 1206-byte payload.
    pub fn parse(payload: &[u8]) -> Result<Self, LidarError> {
        if payload.len() != DATA_PACKET_LEN {
            return Err(LidarError::PacketLength {
                got: payload.len(),
                expected: DATA_PACKET_LEN,
            });
        }
        let mut blocks = Vec::with_capacity(BLOCKS);
        for b in 0..BLOCKS {
            let raw = &payload[b * 100..(b + 1) * 100];
            let flag = u16::from_le_bytes([raw[0], raw[1]]);
            if flag != BLOCK_FLAG {
                return Err(LidarError::BlockFlag { block: b, flag });
            }
            let azimuth = u16::from_le_bytes([raw[2], raw[3]]);
            if azimuth >= 36_000 {
                return Err(LidarError::Azimuth { block: b, azimuth });
            }
            let mut distance = [0u16; CHANNELS_PER_BLOCK];
            let mut reflectivity = [0u8; CHANNELS_PER_BLOCK];
            for c in 0..CHANNELS_PER_BLOCK {
                let r = &raw[4 + 3 * c..7 + 3 * c];
                distance[c] = u16::from_le_bytes([r[0], r[1]]);
                reflectivity[c] = r[2];
            }
            blocks.push(Block {
                azimuth,
                distance,
                reflectivity,
            });
        }
        let timestamp_us =
            u32::from_le_bytes([payload[1200], payload[1201], payload[1202], payload[1203]]);
        let return_mode = ReturnMode::from_byte(payload[1204]).ok_or(LidarError::ReturnMode {
            byte: payload[1204],
        })?;
        Ok(Self {
            blocks,
            timestamp_us,
            return_mode,
            product_id: payload[1205],
        })
    }

    /// The 1206-byte payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DATA_PACKET_LEN);
        for b in &self.blocks {
            out.extend_from_slice(&BLOCK_FLAG.to_le_bytes());
            out.extend_from_slice(&b.azimuth.to_le_bytes());
            for c in 0..CHANNELS_PER_BLOCK {
                out.extend_from_slice(&b.distance[c].to_le_bytes());
                out.push(b.reflectivity[c]);
            }
        }
        out.extend_from_slice(&self.timestamp_us.to_le_bytes());
        out.push(self.return_mode.byte());
        out.push(self.product_id);
        out
    }

    /// Mean azimuth advance per firing sequence in this packet (0.01°),
    /// used for the last block and by callers that need a rate.
    fn sequence_gap(&self) -> f64 {
        let step = if self.return_mode == ReturnMode::Dual {
            2
        } else {
            1
        };
        let first = self.blocks[0].azimuth as i64;
        let last = self.blocks[BLOCKS - step].azimuth as i64;
        let blocks_between = (BLOCKS - step) / step;
        let span = (last - first).rem_euclid(36_000);
        span as f64 / blocks_between.max(1) as f64 / 2.0
    }

    /// Every return as a point, in firing order.
    pub fn points(&self) -> Vec<Point> {
        let mut points = Vec::with_capacity(BLOCKS * CHANNELS_PER_BLOCK);
        let dual = self.return_mode == ReturnMode::Dual;
        let step = if dual { 2 } else { 1 };
        let default_gap = self.sequence_gap();
        for (b, block) in self.blocks.iter().enumerate() {
            // Azimuth advance over one firing sequence (half a block).
            let next = self.blocks.get(b + step).map(|n| n.azimuth);
            let seq_gap = match next {
                Some(n) => {
                    (i64::from(n) - i64::from(block.azimuth)).rem_euclid(36_000) as f64 / 2.0
                }
                None => default_gap,
            };
            // Sequence index of this block's first firing within the packet.
            let block_seq = if dual { (b / 2) * 2 } else { b * 2 };
            for c in 0..CHANNELS_PER_BLOCK {
                let d = block.distance[c];
                if d == 0 {
                    continue;
                }
                // In dual mode the strongest block repeats the last one when they coincide.
                if dual && b % 2 == 1 && self.blocks[b - 1].distance[c] == d {
                    continue;
                }
                let laser = c % LASERS;
                let firing = c / LASERS;
                let offset_us = SEQUENCE_PERIOD_US * firing as f64 + LASER_PERIOD_US * laser as f64;
                let az = f64::from(block.azimuth) + seq_gap * offset_us / SEQUENCE_PERIOD_US;
                let az_rad = (az.rem_euclid(36_000.0) / 100.0).to_radians();
                let el = ELEVATION_DEG[laser].to_radians();
                let r = f64::from(d) * DISTANCE_UNIT_M;
                let xy = r * el.cos();
                // Velodyne frame: Y forward, X right, azimuth clockwise from +Y.
                // ROS (REP 103): x forward, y left, z up.
                let x = xy * az_rad.cos();
                let y = -xy * az_rad.sin();
                let z = r * el.sin() + VERTICAL_CORRECTION_MM[laser] * 1e-3;
                points.push(Point {
                    x: x as f32,
                    y: y as f32,
                    z: z as f32,
                    intensity: f32::from(block.reflectivity[c]),
                    ring: ring_of_laser(laser),
                    azimuth: az.rem_euclid(36_000.0) as f32,
                    time_us: f64::from(self.timestamp_us)
                        + SEQUENCE_PERIOD_US * (block_seq + firing) as f64
                        + LASER_PERIOD_US * laser as f64,
                    last_return: dual && b % 2 == 0,
                });
            }
        }
        points
    }
}

/// One decoded return.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Metres, sensor frame (ROS convention).
    pub x: f32,
    /// Metres.
    pub y: f32,
    /// Metres.
    pub z: f32,
    /// Calibrated reflectivity (0–255).
    pub intensity: f32,
    /// Beam, 0 = lowest.
    pub ring: u16,
    /// Azimuth, 0.01°.
    pub azimuth: f32,
    /// Firing time, µs past the hour on the sensor clock (not wrapped).
    pub time_us: f64,
    /// In dual mode: from the last-return block.
    pub last_return: bool,
}

/// Checks that a stream of packet timestamps is a VLP-16's: consecutive
/// packets 1327 µs apart in single-return mode, 664 µs in dual. An HDL-32E
/// (553 µs) or VLP-32C sends packets faster and is refused by name.
pub fn check_vlp16_timing(timestamps_us: &[u32], mode: ReturnMode) -> Result<(), LidarError> {
    let mut gaps: Vec<u32> = timestamps_us
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]))
        .filter(|&g| g > 0 && g < 100_000)
        .collect();
    if gaps.len() < 3 {
        return Ok(());
    }
    gaps.sort_unstable();
    let median = f64::from(gaps[gaps.len() / 2]);
    let expected = if mode == ReturnMode::Dual {
        PACKET_PERIOD_US / 2.0
    } else {
        PACKET_PERIOD_US
    };
    if (median - expected).abs() > expected * 0.1 {
        let likely = if (median - 552.96).abs() < 30.0 {
            "an HDL-32E"
        } else if (median - 663.6).abs() < 30.0 && mode != ReturnMode::Dual {
            "a VLP-32C or a dual-return stream"
        } else {
            "another sensor"
        };
        return Err(LidarError::NotVlp16 {
            median_gap_us: median,
            expected_gap_us: expected,
            likely,
        });
    }
    Ok(())
}
