//! Ouster UDP packets ↔ columns of pixels, for the LEGACY and RNG19
//! profiles, and LEGACY IMU packets. No I/O.
//!
//! ```text
//! LEGACY:  columns × [ts u64 | measurement_id u16 | frame_id u16 | encoder u32 |
//!                      pixels × 12 B | status u32]
//! RNG19:   header 32 B [packet_type u16 | frame_id u16 | init_id u24 | prod_sn u40 | …]
//!          columns × [ts u64 | measurement_id u16 | status u16 | pixels × 12/16 B]
//!          footer 32 B
//! pixel (LEGACY, single): range u32 (20/19 bits, mm) | reflectivity u8 @4 | signal u16 @6 | NIR u16 @8
//! pixel (dual): range u32 (19 bits) with reflectivity @3 | range2 u32 (19 bits) with reflectivity2 @7 | …
//! IMU (LEGACY, 48 B): sys ts | accel ts | gyro ts (u64 ns) | accel xyz (f32, g) | gyro xyz (f32, °/s)
//! ```
//! Source: the Ouster sensor firmware user manual (lidar data format) and
//! ouster-sdk `ouster_core/src/parsing.cpp`.

use super::metadata::{Profile, SensorInfo};

/// Bytes of a LEGACY IMU packet.
pub const IMU_PACKET_LEN: usize = 48;

/// Where things are in one sensor's lidar packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Pixel layout.
    pub profile: Profile,
    /// Columns per packet.
    pub columns: usize,
    /// Pixels per column.
    pub pixels: usize,
}

impl Layout {
    /// The layout of `info`'s packets.
    pub fn of(info: &SensorInfo) -> Self {
        Self {
            profile: info.profile,
            columns: usize::from(info.columns_per_packet),
            pixels: usize::from(info.pixels_per_column),
        }
    }

    fn legacy(&self) -> bool {
        self.profile == Profile::Legacy
    }

    /// Packet header bytes.
    pub fn header_len(&self) -> usize {
        if self.legacy() {
            0
        } else {
            32
        }
    }

    /// Column header bytes.
    pub fn column_header_len(&self) -> usize {
        if self.legacy() {
            16
        } else {
            12
        }
    }

    /// Bytes per pixel.
    pub fn pixel_len(&self) -> usize {
        match self.profile {
            Profile::Dual => 16,
            Profile::Legacy | Profile::Single => 12,
        }
    }

    /// Bytes of one column.
    pub fn column_len(&self) -> usize {
        self.column_header_len()
            + self.pixels * self.pixel_len()
            + if self.legacy() { 4 } else { 0 }
    }

    /// Bytes of one packet.
    pub fn packet_len(&self) -> usize {
        let footer = if self.legacy() { 0 } else { 32 };
        self.header_len() + self.columns * self.column_len() + footer
    }
}

/// One return of one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Return {
    /// Millimetres; 0 = none.
    pub range_mm: u32,
    /// Calibrated reflectivity.
    pub reflectivity: u8,
}

/// One column of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// When it was measured, ns (sensor clock).
    pub timestamp_nanos: u64,
    /// Its index in the frame (0..columns_per_frame).
    pub measurement_id: u16,
    /// False when the sensor marked it invalid (outside the column window,
    /// dropped internally).
    pub valid: bool,
    /// Per pixel (top beam first): the first (strongest) return and, in
    /// dual-return profiles, the second.
    pub pixels: Vec<[Return; 2]>,
}

/// A lidar packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LidarPacket {
    /// Frame it belongs to.
    pub frame_id: u16,
    /// Sensor start id (0 in LEGACY packets).
    pub init_id: u32,
    /// Serial number (0 in LEGACY packets).
    pub prod_sn: u64,
    /// Its columns.
    pub columns: Vec<Column>,
}

/// Why a packet does not parse: a reason code and one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketError {
    /// `bad_length`, `bad_column`.
    pub reason: &'static str,
    /// One sentence.
    pub detail: String,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

impl LidarPacket {
    /// Parses `payload` laid out as `layout`; `columns_per_frame` bounds
    /// the measurement ids.
    pub fn parse(
        payload: &[u8],
        layout: &Layout,
        columns_per_frame: u16,
    ) -> Result<Self, PacketError> {
        if payload.len() != layout.packet_len() {
            return Err(PacketError {
                reason: "bad_length",
                detail: format!(
                    "packet of {} bytes, the metadata's {} profile with {} beams gives {}: the sensor's configuration changed, or the metadata is another sensor's",
                    payload.len(),
                    layout.profile.name(),
                    layout.pixels,
                    layout.packet_len()
                ),
            });
        }
        let legacy = layout.profile == Profile::Legacy;
        let (frame_id, init_id, prod_sn) = if legacy {
            (u16_at(payload, 10), 0, 0)
        } else {
            let init = u32_at(payload, 4) & 0x00FF_FFFF;
            let sn = u64_at(payload, 4) >> 24 & 0xFF_FFFF_FFFF;
            (u16_at(payload, 2), init, sn)
        };
        let mut columns = Vec::with_capacity(layout.columns);
        for c in 0..layout.columns {
            let col =
                &payload[layout.header_len() + c * layout.column_len()..][..layout.column_len()];
            let measurement_id = u16_at(col, 8);
            if measurement_id >= columns_per_frame {
                return Err(PacketError {
                    reason: "bad_column",
                    detail: format!(
                        "column {c} has measurement id {measurement_id}, beyond the frame's {columns_per_frame} columns"
                    ),
                });
            }
            let valid = if legacy {
                u32_at(col, col.len() - 4) & 1 == 1
            } else {
                u16_at(col, 10) & 1 == 1
            };
            let pixels = (0..layout.pixels)
                .map(|p| {
                    let px = &col[layout.column_header_len() + p * layout.pixel_len()..];
                    match layout.profile {
                        Profile::Legacy => [
                            Return {
                                range_mm: u32_at(px, 0) & 0x000F_FFFF,
                                reflectivity: px[4],
                            },
                            Return::default(),
                        ],
                        Profile::Single => [
                            Return {
                                range_mm: u32_at(px, 0) & 0x0007_FFFF,
                                reflectivity: px[4],
                            },
                            Return::default(),
                        ],
                        Profile::Dual => [
                            Return {
                                range_mm: u32_at(px, 0) & 0x0007_FFFF,
                                reflectivity: px[3],
                            },
                            Return {
                                range_mm: u32_at(px, 4) & 0x0007_FFFF,
                                reflectivity: px[7],
                            },
                        ],
                    }
                })
                .collect();
            columns.push(Column {
                timestamp_nanos: u64_at(col, 0),
                measurement_id,
                valid,
                pixels,
            });
        }
        Ok(Self {
            frame_id,
            init_id,
            prod_sn,
            columns,
        })
    }

    /// The packet's bytes (the emulator's side).
    pub fn encode(&self, layout: &Layout) -> Vec<u8> {
        let mut out = vec![0u8; layout.packet_len()];
        let legacy = layout.profile == Profile::Legacy;
        if !legacy {
            out[0..2].copy_from_slice(&1u16.to_le_bytes()); // packet type: lidar
            out[2..4].copy_from_slice(&self.frame_id.to_le_bytes());
            let id_sn =
                u64::from(self.init_id & 0x00FF_FFFF) | (self.prod_sn & 0xFF_FFFF_FFFF) << 24;
            out[4..12].copy_from_slice(&id_sn.to_le_bytes());
        }
        for (c, column) in self.columns.iter().enumerate() {
            let base = layout.header_len() + c * layout.column_len();
            let col = &mut out[base..base + layout.column_len()];
            col[0..8].copy_from_slice(&column.timestamp_nanos.to_le_bytes());
            col[8..10].copy_from_slice(&column.measurement_id.to_le_bytes());
            if legacy {
                col[10..12].copy_from_slice(&self.frame_id.to_le_bytes());
                let status: u32 = if column.valid { 0xFFFF_FFFF } else { 0 };
                let n = col.len();
                col[n - 4..].copy_from_slice(&status.to_le_bytes());
            } else {
                col[10..12].copy_from_slice(&u16::from(column.valid).to_le_bytes());
            }
            for (p, [first, second]) in column.pixels.iter().enumerate() {
                let o = layout.column_header_len() + p * layout.pixel_len();
                let px = &mut col[o..o + layout.pixel_len()];
                match layout.profile {
                    Profile::Legacy | Profile::Single => {
                        px[0..4].copy_from_slice(&first.range_mm.to_le_bytes());
                        px[4] = first.reflectivity;
                    }
                    Profile::Dual => {
                        px[0..4].copy_from_slice(&first.range_mm.to_le_bytes());
                        px[3] = first.reflectivity;
                        px[4..8].copy_from_slice(&second.range_mm.to_le_bytes());
                        px[7] = second.reflectivity;
                    }
                }
            }
        }
        out
    }
}

/// A LEGACY IMU packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImuPacket {
    /// Host-side system time stamp the sensor wrote, ns.
    pub sys_nanos: u64,
    /// When the accelerometer was read, ns (sensor clock).
    pub accel_nanos: u64,
    /// When the gyroscope was read, ns (sensor clock).
    pub gyro_nanos: u64,
    /// Linear acceleration, g, IMU frame.
    pub accel_g: [f32; 3],
    /// Angular velocity, degrees per second, IMU frame.
    pub gyro_dps: [f32; 3],
}

impl ImuPacket {
    /// Parses a 48-byte LEGACY IMU packet.
    pub fn parse(payload: &[u8]) -> Result<Self, PacketError> {
        if payload.len() != IMU_PACKET_LEN {
            return Err(PacketError {
                reason: "bad_length",
                detail: format!(
                    "IMU packet of {} bytes, not {IMU_PACKET_LEN}",
                    payload.len()
                ),
            });
        }
        let f = |o: usize| {
            f32::from_le_bytes([payload[o], payload[o + 1], payload[o + 2], payload[o + 3]])
        };
        let values = [f(24), f(28), f(32), f(36), f(40), f(44)];
        if !values.iter().all(|v| v.is_finite()) {
            return Err(PacketError {
                reason: "bad_value",
                detail: "IMU packet holds a value that is not a number".into(),
            });
        }
        Ok(Self {
            sys_nanos: u64_at(payload, 0),
            accel_nanos: u64_at(payload, 8),
            gyro_nanos: u64_at(payload, 16),
            accel_g: [values[0], values[1], values[2]],
            gyro_dps: [values[3], values[4], values[5]],
        })
    }

    /// The 48 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(IMU_PACKET_LEN);
        for t in [self.sys_nanos, self.accel_nanos, self.gyro_nanos] {
            out.extend_from_slice(&t.to_le_bytes());
        }
        for v in self.accel_g.iter().chain(&self.gyro_dps) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }
}
