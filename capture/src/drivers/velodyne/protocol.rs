//! Velodyne data packets: the 1206-byte UDP payload ↔ typed packet, and
//! points with their exact firing times for each model. No I/O.
//!
//! ```text
//! 12 blocks × 100 B: FF EE | azimuth u16 (0.01°) | 32 × [distance u16, reflectivity u8]
//! 1200: timestamp u32 (µs past the hour) | 1204: return mode | 1205: product id
//! ```
//! A 16-laser block holds two firing sequences of its lasers (channels
//! 0–15, then 16–31); a 32-laser block one sequence. In dual-return mode
//! blocks come in pairs with the same azimuth (even = last, odd =
//! strongest); where the two are the same return it is one point.
//!
//! Points follow the Velodyne ROS driver and velodyne_decoder exactly: the
//! azimuth of a firing is the block's, advanced by the packet's mean rate
//! (first to last block) over the firing's time offset, rounded to 0.01°,
//! less the laser's rotation correction; x forward, y left, z up (REP 103).
//! Sources: the user manuals, velodyne_decoder `packet_decoder.cpp`
//! (`shared/spec/hardware.md` §3).

use crate::error::LidarError;
pub use reel_episode::velodyne::Model;

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
/// A full turn, 0.01°.
pub const FULL_TURN: u32 = 36_000;

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

/// Which return a point is (the cloud's `return_type` field), numbered as
/// velodyne_decoder numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReturnType {
    /// The strongest return of its firing.
    Strongest = 1,
    /// The last return of its firing.
    Last = 2,
    /// Both: the strongest return is also the last.
    Both = 3,
}

/// One block: an azimuth and 32 channel records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Azimuth of the first firing, 0.01° (0..=36000; 36000 is 0).
    pub azimuth: u16,
    /// Distance in the model's unit (0 = no return).
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
    /// Azimuth of the firing, 0.01° (0..36000), before the laser's rotation correction.
    pub azimuth: u16,
    /// Firing time, µs past the hour on the sensor clock (not wrapped).
    pub time_us: f64,
    /// Which return.
    pub return_type: ReturnType,
}

impl DataPacket {
    /// Parses a 1206-byte payload. A block azimuth of exactly 36000 is 0
    /// (firmware writes it at the wrap); larger ones are refused.
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
            if u32::from(azimuth) > FULL_TURN {
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

    /// The azimuth of the last block, 0.01° (where a revolution is cut).
    pub fn last_azimuth(&self) -> u32 {
        u32::from(self.blocks[BLOCKS - 1].azimuth) % FULL_TURN
    }

    /// Every return of `model` as a point, in firing order.
    pub fn points(&self, model: Model) -> Vec<Point> {
        let mut points = Vec::with_capacity(BLOCKS * CHANNELS_PER_BLOCK);
        let dual = self.return_mode == ReturnMode::Dual;
        // The decoders' arithmetic, in single precision: timings in
        // seconds, the packet's mean rate in 0.01° per second.
        let timing = |block: usize, channel: usize| -> f32 {
            (model.firing_offset_us(block, channel) * 1e-6) as f32
        };
        let first = i64::from(self.blocks[0].azimuth);
        let last = i64::from(self.blocks[BLOCKS - 1].azimuth);
        let azimuth_diff = (last - first).rem_euclid(i64::from(FULL_TURN)) as f32;
        let last_block = if dual { (BLOCKS - 1) / 2 } else { BLOCKS - 1 };
        let rate = azimuth_diff / (timing(last_block, 0) - timing(0, 0));
        let step = if dual { 2 } else { 1 };
        let lasers = model.lasers();
        for i in (0..BLOCKS).step_by(step) {
            let block = &self.blocks[i];
            let timed_block = if dual { i / 2 } else { i };
            let t0 = timing(timed_block, 0);
            for j in 0..CHANNELS_PER_BLOCK {
                let time = timing(timed_block, j);
                // As the decoders wrap it: a turn added, rounded, modulo a turn.
                let turned = f32::from(block.azimuth) + rate * (time - t0) + FULL_TURN as f32;
                let azimuth = (turned.round() as i64).rem_euclid(i64::from(FULL_TURN)) as u16;
                let laser = j % lasers;
                let time_us = f64::from(self.timestamp_us) + model.firing_offset_us(timed_block, j);
                let mut emit = |distance: u16, reflectivity: u8, return_type| {
                    points.push(point(
                        model,
                        laser,
                        azimuth,
                        distance,
                        reflectivity,
                        time_us,
                        return_type,
                    ));
                };
                if !dual {
                    let d = block.distance[j];
                    if d > 0 {
                        let kind = match self.return_mode {
                            ReturnMode::Last => ReturnType::Last,
                            _ => ReturnType::Strongest,
                        };
                        emit(d, block.reflectivity[j], kind);
                    }
                    continue;
                }
                let strongest = &self.blocks[i + 1];
                let (dl, ds) = (block.distance[j], strongest.distance[j]);
                if dl == ds {
                    if ds > 0 {
                        emit(ds, strongest.reflectivity[j], ReturnType::Both);
                    }
                    continue;
                }
                if dl > 0 {
                    emit(dl, block.reflectivity[j], ReturnType::Last);
                }
                if ds > 0 {
                    emit(ds, strongest.reflectivity[j], ReturnType::Strongest);
                }
            }
        }
        points
    }
}

/// One return of `laser` at `azimuth` (0.01°) in the sensor frame.
fn point(
    model: Model,
    laser: usize,
    azimuth: u16,
    distance: u16,
    reflectivity: u8,
    time_us: f64,
    return_type: ReturnType,
) -> Point {
    let angle = (f64::from(azimuth) / 100.0 - model.rotation_correction_deg(laser)).to_radians();
    let elevation = model.elevation_deg(laser).to_radians();
    let r = f64::from(distance) * model.distance_unit_m();
    let xy = r * elevation.cos();
    Point {
        x: (xy * angle.cos()) as f32,
        y: (-xy * angle.sin()) as f32,
        z: (r * elevation.sin() + model.vertical_offset_m(laser)) as f32,
        intensity: f32::from(reflectivity),
        ring: model.ring(laser),
        azimuth,
        time_us,
        return_type,
    }
}

/// Which model sent packets with `product_id` in `mode`, `median_gap_us`
/// apart: the product id names the model, and the packet rate must agree
/// (VLP-16 firmware before 3.0.29 writes the HDL-32E's id 0x21).
pub fn identify(product_id: u8, mode: ReturnMode, median_gap_us: f64) -> Result<Model, LidarError> {
    let dual = mode == ReturnMode::Dual;
    let fits = |m: Model| {
        (median_gap_us - m.packet_period_us(dual)).abs() < 0.1 * m.packet_period_us(dual)
    };
    match Model::from_product_id(product_id) {
        Some(m) if fits(m) => Ok(m),
        Some(Model::Hdl32e) if fits(Model::Vlp16) => Ok(Model::Vlp16),
        Some(m) => Err(LidarError::Unidentified {
            product_id,
            median_gap_us,
            claimed: Some((m.name(), m.packet_period_us(dual))),
        }),
        None => match Model::ALL
            .into_iter()
            .filter(|&m| fits(m))
            .collect::<Vec<_>>()[..]
        {
            [m] => Ok(m),
            _ => Err(LidarError::Unidentified {
                product_id,
                median_gap_us,
                claimed: None,
            }),
        },
    }
}

/// The median gap between consecutive packet timestamps, µs; None with
/// fewer than 3 gaps.
pub fn median_gap_us(timestamps_us: &[u32]) -> Option<f64> {
    let mut gaps: Vec<u32> = timestamps_us
        .windows(2)
        .map(|w| w[1].wrapping_sub(w[0]))
        .filter(|&g| g > 0 && g < 100_000)
        .collect();
    if gaps.len() < 3 {
        return None;
    }
    gaps.sort_unstable();
    Some(f64::from(gaps[gaps.len() / 2]))
}
