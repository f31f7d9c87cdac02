//! Dynamixel Protocol 2.0 packets: pure bytes ↔ typed packets, no I/O.
//!
//! ```text
//! instruction: FF FF FD 00 | ID | LEN_L LEN_H | INST | P1..Pn | CRC_L CRC_H   LEN = n + 3
//! status:      FF FF FD 00 | ID | LEN_L LEN_H | 55   | ERR | P1..Pn | CRC    LEN = n + 4
//! ```
//! - CRC-16/UMTS (poly 0x8005, init 0, no reflection) over every byte from the
//!   first `FF` to the last parameter, after stuffing, sent low byte first.
//! - Byte stuffing: in INST..last parameter every `FF FF FD` gets an extra
//!   `FD`; LEN and CRC count the stuffed bytes. Fast Sync/Bulk Read statuses
//!   are never stuffed.
//! - Fast Sync Read status: `FF FF FD 00 FE LEN 55` then per device
//!   `[ERR, ID, data…, CRC_L, CRC_H]`, each CRC cumulative from the first `FF`.
//!
//! Sources: ROBOTIS e-Manual "Protocol 2.0", dynamixel-sdk 4.1.0 (see
//! `shared/spec/hardware.md` §1); every e-Manual example packet is a test.

use crate::drivers::sync_write;
use crate::error::ProtocolError;

/// `FF FF FD 00`.
pub const HEADER: [u8; 4] = [0xFF, 0xFF, 0xFD, 0x00];
/// ID every device listens to.
pub const BROADCAST_ID: u8 = 0xFE;
/// Instruction byte of every status packet.
pub const STATUS_INSTRUCTION: u8 = 0x55;
/// Largest ID a device may have.
pub const MAX_ID: u8 = 0xFC;

/// Instruction codes.
pub mod instr {
    /// Ping.
    pub const PING: u8 = 0x01;
    /// Read.
    pub const READ: u8 = 0x02;
    /// Write.
    pub const WRITE: u8 = 0x03;
    /// Reg Write.
    pub const REG_WRITE: u8 = 0x04;
    /// Action.
    pub const ACTION: u8 = 0x05;
    /// Factory Reset.
    pub const FACTORY_RESET: u8 = 0x06;
    /// Reboot.
    pub const REBOOT: u8 = 0x08;
    /// Clear.
    pub const CLEAR: u8 = 0x10;
    /// Sync Read.
    pub const SYNC_READ: u8 = 0x82;
    /// Sync Write.
    pub const SYNC_WRITE: u8 = 0x83;
    /// Fast Sync Read.
    pub const FAST_SYNC_READ: u8 = 0x8A;
    /// Bulk Read.
    pub const BULK_READ: u8 = 0x92;
    /// Bulk Write.
    pub const BULK_WRITE: u8 = 0x93;
    /// Fast Bulk Read.
    pub const FAST_BULK_READ: u8 = 0x9A;
}

/// X-series control table addresses used by reel (e-Manual, XL330/XL430/XM430).
pub mod reg {
    /// Model number (2 bytes).
    pub const MODEL_NUMBER: u16 = 0;
    /// Firmware version (1).
    pub const FIRMWARE_VERSION: u16 = 6;
    /// ID (1).
    pub const ID: u16 = 7;
    /// Baud rate code (1).
    pub const BAUD_RATE: u16 = 8;
    /// Return delay, 2 µs units (1).
    pub const RETURN_DELAY_TIME: u16 = 9;
    /// Drive mode, bit 0 = reverse (1).
    pub const DRIVE_MODE: u16 = 10;
    /// Operating mode (1).
    pub const OPERATING_MODE: u16 = 11;
    /// Homing offset, pulses (4, signed).
    pub const HOMING_OFFSET: u16 = 20;
    /// Torque enable (1).
    pub const TORQUE_ENABLE: u16 = 64;
    /// Hardware error status (1).
    pub const HARDWARE_ERROR_STATUS: u16 = 70;
    /// Goal position, pulses (4, signed).
    pub const GOAL_POSITION: u16 = 116;
    /// Realtime tick, ms, wraps at 32768 (2).
    pub const REALTIME_TICK: u16 = 120;
    /// Present current (XL330/XM430) or load (XL430) (2, signed).
    pub const PRESENT_CURRENT: u16 = 126;
    /// Present velocity, 0.229 rpm (4, signed).
    pub const PRESENT_VELOCITY: u16 = 128;
    /// Present position, pulses (4, signed).
    pub const PRESENT_POSITION: u16 = 132;
}

const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_UMTS);

/// CRC-16/UMTS of `bytes`, as Protocol 2.0 uses it.
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC.checksum(bytes)
}

/// Adds an `FD` after every `FF FF FD` (in INST..last parameter).
pub fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 3);
    for (i, &b) in body.iter().enumerate() {
        out.push(b);
        if b == 0xFD && i >= 2 && body[i - 2] == 0xFF && body[i - 1] == 0xFF {
            out.push(0xFD);
        }
    }
    out
}

/// Drops the `FD` that follows every `FF FF FD` (the inverse of [`stuff`]).
/// An unstuffed `FF FF FD x` (as dynamixel-sdk 4.1.0 transmits) is kept as is.
pub fn unstuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        out.push(body[i]);
        let n = out.len();
        if n >= 3 && out[n - 3..] == [0xFF, 0xFF, 0xFD] && body.get(i + 1) == Some(&0xFD) {
            i += 1;
        }
        i += 1;
    }
    out
}

/// The status error byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusError(pub u8);

impl StatusError {
    /// Bit 7: hardware alert (see Hardware Error Status, address 70).
    pub fn alert(self) -> bool {
        self.0 & 0x80 != 0
    }
    /// Bits 0–6: the error number (0 = none).
    pub fn code(self) -> u8 {
        self.0 & 0x7F
    }
    /// Name of the error number.
    pub fn describe(self) -> &'static str {
        match self.code() {
            0 => "no error",
            1 => "result fail",
            2 => "instruction error",
            3 => "CRC error",
            4 => "data range error",
            5 => "data length error",
            6 => "data limit error",
            7 => "access error",
            _ => "unknown error",
        }
    }
}

/// An instruction with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// Ping.
    Ping,
    /// Read `length` bytes at `address`.
    Read {
        /// Control table address.
        address: u16,
        /// Bytes.
        length: u16,
    },
    /// Write `data` at `address`.
    Write {
        /// Control table address.
        address: u16,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Register a write for a later Action.
    RegWrite {
        /// Control table address.
        address: u16,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Execute registered writes.
    Action,
    /// Factory reset with an option byte.
    FactoryReset(u8),
    /// Reboot.
    Reboot,
    /// Clear (option bytes, e.g. multi-turn reset `01 44 58 4C 22`).
    Clear(Vec<u8>),
    /// Read the same range from several IDs; each answers in order.
    SyncRead {
        /// Address.
        address: u16,
        /// Bytes per device.
        length: u16,
        /// Devices.
        ids: Vec<u8>,
    },
    /// Like Sync Read, but all devices answer in one status packet.
    FastSyncRead {
        /// Address.
        address: u16,
        /// Bytes per device.
        length: u16,
        /// Devices.
        ids: Vec<u8>,
    },
    /// Write the same range on several IDs.
    SyncWrite {
        /// Address.
        address: u16,
        /// Bytes per device.
        length: u16,
        /// (ID, `length` bytes) per device.
        writes: Vec<(u8, Vec<u8>)>,
    },
    /// Another instruction, kept as raw parameters.
    Other {
        /// Instruction byte.
        code: u8,
        /// Parameters (unstuffed).
        params: Vec<u8>,
    },
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

impl Instruction {
    /// The instruction byte.
    pub fn code(&self) -> u8 {
        match self {
            Self::Ping => instr::PING,
            Self::Read { .. } => instr::READ,
            Self::Write { .. } => instr::WRITE,
            Self::RegWrite { .. } => instr::REG_WRITE,
            Self::Action => instr::ACTION,
            Self::FactoryReset(_) => instr::FACTORY_RESET,
            Self::Reboot => instr::REBOOT,
            Self::Clear(_) => instr::CLEAR,
            Self::SyncRead { .. } => instr::SYNC_READ,
            Self::FastSyncRead { .. } => instr::FAST_SYNC_READ,
            Self::SyncWrite { .. } => instr::SYNC_WRITE,
            Self::Other { code, .. } => *code,
        }
    }

    /// Parameters, unstuffed.
    pub fn params(&self) -> Vec<u8> {
        let mut p = Vec::new();
        match self {
            Self::Ping | Self::Action | Self::Reboot => {}
            Self::Read { address, length } => {
                p.extend_from_slice(&address.to_le_bytes());
                p.extend_from_slice(&length.to_le_bytes());
            }
            Self::Write { address, data } | Self::RegWrite { address, data } => {
                p.extend_from_slice(&address.to_le_bytes());
                p.extend_from_slice(data);
            }
            Self::FactoryReset(option) => p.push(*option),
            Self::Clear(bytes) => p.extend_from_slice(bytes),
            Self::SyncRead {
                address,
                length,
                ids,
            }
            | Self::FastSyncRead {
                address,
                length,
                ids,
            } => {
                p.extend_from_slice(&address.to_le_bytes());
                p.extend_from_slice(&length.to_le_bytes());
                p.extend_from_slice(ids);
            }
            Self::SyncWrite {
                address,
                length,
                writes,
            } => {
                p.extend_from_slice(&address.to_le_bytes());
                p.extend_from_slice(&length.to_le_bytes());
                sync_write::join(&mut p, writes);
            }
            Self::Other { params, .. } => p.extend_from_slice(params),
        }
        p
    }

    /// Parses an instruction from its code and unstuffed parameters.
    pub fn parse(code: u8, params: &[u8]) -> Result<Self, ProtocolError> {
        let bad = |expected: &'static str| ProtocolError::BadParams {
            instruction: code,
            expected,
            got: params.len(),
        };
        Ok(match code {
            instr::PING => Self::Ping,
            instr::ACTION => Self::Action,
            instr::REBOOT => Self::Reboot,
            instr::READ => {
                if params.len() != 4 {
                    return Err(bad("4 bytes: address, length"));
                }
                Self::Read {
                    address: le16(params),
                    length: le16(&params[2..]),
                }
            }
            instr::WRITE | instr::REG_WRITE => {
                if params.len() < 3 {
                    return Err(bad("address and at least one data byte"));
                }
                let (address, data) = (le16(params), params[2..].to_vec());
                if code == instr::WRITE {
                    Self::Write { address, data }
                } else {
                    Self::RegWrite { address, data }
                }
            }
            instr::FACTORY_RESET => match params {
                [option] => Self::FactoryReset(*option),
                _ => return Err(bad("1 option byte")),
            },
            instr::CLEAR => Self::Clear(params.to_vec()),
            instr::SYNC_READ | instr::FAST_SYNC_READ => {
                if params.len() < 5 {
                    return Err(bad("address, length and at least one ID"));
                }
                let (address, length, ids) =
                    (le16(params), le16(&params[2..]), params[4..].to_vec());
                if code == instr::SYNC_READ {
                    Self::SyncRead {
                        address,
                        length,
                        ids,
                    }
                } else {
                    Self::FastSyncRead {
                        address,
                        length,
                        ids,
                    }
                }
            }
            instr::SYNC_WRITE => {
                if params.len() < 4 {
                    return Err(bad("address and length"));
                }
                let (address, length) = (le16(params), le16(&params[2..]));
                let writes = sync_write::split(&params[4..], usize::from(length))
                    .ok_or_else(|| bad("address, length, then N × (ID + length bytes)"))?;
                Self::SyncWrite {
                    address,
                    length,
                    writes,
                }
            }
            _ => Self::Other {
                code,
                params: params.to_vec(),
            },
        })
    }
}

/// An instruction addressed to a device (or broadcast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionPacket {
    /// Target ID, or [`BROADCAST_ID`].
    pub id: u8,
    /// What to do.
    pub instruction: Instruction,
}

/// A device's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPacket {
    /// Replying ID.
    pub id: u8,
    /// Error byte.
    pub error: StatusError,
    /// Parameters (unstuffed).
    pub params: Vec<u8>,
}

/// One device's part of a Fast Sync Read status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastSyncEntry {
    /// Error byte.
    pub error: StatusError,
    /// Device ID.
    pub id: u8,
    /// The requested bytes.
    pub data: Vec<u8>,
}

fn frame(id: u8, body_unstuffed: &[u8], stuffed: bool) -> Vec<u8> {
    let body = if stuffed {
        stuff(body_unstuffed)
    } else {
        body_unstuffed.to_vec()
    };
    let len = (body.len() + 2) as u16;
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(&HEADER);
    out.push(id);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc16(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

impl InstructionPacket {
    /// Wire bytes (stuffed, with CRC).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = vec![self.instruction.code()];
        body.extend_from_slice(&self.instruction.params());
        frame(self.id, &body, true)
    }
}

impl StatusPacket {
    /// Wire bytes (stuffed, with CRC).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = vec![STATUS_INSTRUCTION, self.error.0];
        body.extend_from_slice(&self.params);
        frame(self.id, &body, true)
    }
}

/// Encodes a Fast Sync Read status for `entries`, each with its cumulative CRC.
pub fn encode_fast_sync_status(entries: &[FastSyncEntry]) -> Vec<u8> {
    let data_len: usize = entries.iter().map(|e| e.data.len() + 4).sum();
    let len = (1 + data_len) as u16;
    let mut out = Vec::with_capacity(8 + data_len);
    out.extend_from_slice(&HEADER);
    out.push(BROADCAST_ID);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(STATUS_INSTRUCTION);
    for e in entries {
        out.push(e.error.0);
        out.push(e.id);
        out.extend_from_slice(&e.data);
        let crc = crc16(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// Splits a Fast Sync Read status (as returned by [`PacketDecoder`], CRC
/// already checked) into per-device entries of `data_len` bytes, checking
/// every cumulative CRC.
pub fn parse_fast_sync_status(
    packet: &[u8],
    data_len: usize,
) -> Result<Vec<FastSyncEntry>, ProtocolError> {
    let body = packet.get(8..).ok_or(ProtocolError::Truncated {
        need: 8,
        got: packet.len(),
    })?;
    // The length field covers 0x55 and every block: a packet cut at a block
    // boundary must not pass as one with fewer devices.
    let length_field = usize::from(le16(&packet[5..]));
    if packet.len() != length_field + 7 {
        return Err(ProtocolError::BadLength {
            length_field,
            packet_len: packet.len(),
        });
    }
    let block = data_len + 4;
    if body.is_empty() || !body.len().is_multiple_of(block) {
        return Err(ProtocolError::BadParams {
            instruction: STATUS_INSTRUCTION,
            expected: "N × (error, ID, data, CRC)",
            got: body.len(),
        });
    }
    let mut entries = Vec::new();
    for (i, b) in body.chunks(block).enumerate() {
        let end = 8 + i * block + 2 + data_len;
        let expected = crc16(&packet[..end]);
        let got = u16::from_le_bytes([b[block - 2], b[block - 1]]);
        if expected != got {
            return Err(ProtocolError::Crc { expected, got });
        }
        entries.push(FastSyncEntry {
            error: StatusError(b[0]),
            id: b[1],
            data: b[2..2 + data_len].to_vec(),
        });
    }
    Ok(entries)
}

/// A packet found on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Host → device.
    Instruction(InstructionPacket),
    /// Device → host.
    Status(StatusPacket),
}

/// Parses one complete packet (header through CRC).
pub fn decode(packet: &[u8]) -> Result<Packet, ProtocolError> {
    if packet.len() < 10 {
        return Err(ProtocolError::Truncated {
            need: 10,
            got: packet.len(),
        });
    }
    if packet[..4] != HEADER {
        return Err(ProtocolError::BadHeader);
    }
    let len = le16(&packet[5..]) as usize;
    if packet.len() != len + 7 || len < 3 {
        return Err(ProtocolError::BadLength {
            length_field: len,
            packet_len: packet.len(),
        });
    }
    let expected = crc16(&packet[..packet.len() - 2]);
    let got = le16(&packet[packet.len() - 2..]);
    if expected != got {
        return Err(ProtocolError::Crc { expected, got });
    }
    let id = packet[4];
    let body = unstuff(&packet[7..packet.len() - 2]);
    if body[0] == STATUS_INSTRUCTION {
        let error = *body.get(1).ok_or(ProtocolError::Truncated {
            need: 11,
            got: packet.len(),
        })?;
        Ok(Packet::Status(StatusPacket {
            id,
            error: StatusError(error),
            params: body[2..].to_vec(),
        }))
    } else {
        Ok(Packet::Instruction(InstructionPacket {
            id,
            instruction: Instruction::parse(body[0], &body[1..])?,
        }))
    }
}

/// Finds packets in a byte stream (sans-io): feed bytes as they arrive, take
/// complete packets out. Noise before a header is skipped and counted.
#[derive(Debug, Default)]
pub struct PacketDecoder {
    buf: Vec<u8>,
    skipped: u64,
}

/// Longest packet accepted (the e-Manual's buffer limit is far below this).
const MAX_PACKET: usize = 4096;

impl PacketDecoder {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes discarded while looking for a header.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next complete packet's raw bytes, if one has arrived. A packet with
    /// a bad CRC or length is returned as an error and dropped.
    pub fn next_raw(&mut self) -> Option<Result<Vec<u8>, ProtocolError>> {
        loop {
            // A header is FF FF FD followed by anything but FD (a stuffed FD).
            let start = self
                .buf
                .windows(4)
                .position(|w| w[..3] == [0xFF, 0xFF, 0xFD] && w[3] != 0xFD);
            match start {
                Some(s) => {
                    self.skipped += s as u64;
                    self.buf.drain(..s);
                }
                None => {
                    // Keep a possible header prefix at the end.
                    let keep = self.buf.len().min(3);
                    let drop = self.buf.len() - keep;
                    self.skipped += drop as u64;
                    self.buf.drain(..drop);
                    return None;
                }
            }
            if self.buf.len() < 7 {
                return None;
            }
            let len = le16(&self.buf[5..]) as usize;
            if !(3..=MAX_PACKET).contains(&len) {
                // Not a real header: skip its first byte and look again.
                self.buf.drain(..1);
                self.skipped += 1;
                continue;
            }
            if self.buf.len() < len + 7 {
                return None;
            }
            let packet: Vec<u8> = self.buf.drain(..len + 7).collect();
            let expected = crc16(&packet[..packet.len() - 2]);
            let got = le16(&packet[packet.len() - 2..]);
            if expected != got {
                return Some(Err(ProtocolError::Crc { expected, got }));
            }
            return Some(Ok(packet));
        }
    }

    /// The next complete packet, decoded.
    pub fn next_packet(&mut self) -> Option<Result<Packet, ProtocolError>> {
        self.next_raw().map(|r| r.and_then(|p| decode(&p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }

    #[test]
    fn worked_examples_of_the_spec() {
        let sync_read = InstructionPacket {
            id: BROADCAST_ID,
            instruction: Instruction::SyncRead {
                address: reg::PRESENT_POSITION,
                length: 4,
                ids: vec![1, 2, 3, 4, 5, 6],
            },
        };
        assert_eq!(
            sync_read.encode(),
            hex("FF FF FD 00 FE 0D 00 82 84 00 04 00 01 02 03 04 05 06 B2 9B")
        );
        let status = StatusPacket {
            id: 1,
            error: StatusError(0),
            params: 2048i32.to_le_bytes().to_vec(),
        };
        assert_eq!(
            status.encode(),
            hex("FF FF FD 00 01 08 00 55 00 00 08 00 00 1C 38")
        );
        let sync_write = InstructionPacket {
            id: BROADCAST_ID,
            instruction: Instruction::SyncWrite {
                address: reg::GOAL_POSITION,
                length: 4,
                writes: vec![
                    (1, 2048i32.to_le_bytes().to_vec()),
                    (2, 2048i32.to_le_bytes().to_vec()),
                ],
            },
        };
        assert_eq!(
            sync_write.encode(),
            hex("FF FF FD 00 FE 11 00 83 74 00 04 00 01 00 08 00 00 02 00 08 00 00 68 4C")
        );
        let torque = InstructionPacket {
            id: 1,
            instruction: Instruction::Write {
                address: reg::TORQUE_ENABLE,
                data: vec![1],
            },
        };
        assert_eq!(
            torque.encode(),
            hex("FF FF FD 00 01 06 00 03 40 00 01 DB 66")
        );
        // Present positions 2048 + ID, as in the spec's example.
        let entries: Vec<FastSyncEntry> = (1..=6u8)
            .map(|id| FastSyncEntry {
                error: StatusError(0),
                id,
                data: (2048 + i32::from(id)).to_le_bytes().to_vec(),
            })
            .collect();
        let expected = hex(
            "FF FF FD 00 FE 31 00 55 00 01 01 08 00 00 E4 1B 00 02 02 08 00 00 83 AA 00 03 03 08 00 00 41 07 \
             00 04 04 08 00 00 AF F2 00 05 05 08 00 00 38 CC 00 06 06 08 00 00 EA C0",
        );
        assert_eq!(encode_fast_sync_status(&entries), expected);
        assert_eq!(parse_fast_sync_status(&expected, 4).unwrap(), entries);
        let mut decoder = PacketDecoder::default();
        decoder.push(&expected);
        assert_eq!(decoder.next_raw().unwrap().unwrap(), expected);
    }

    #[test]
    fn stuffing_round_trip_and_the_spec_example() {
        let write = InstructionPacket {
            id: 1,
            instruction: Instruction::Write {
                address: 116,
                data: vec![0xFF, 0xFF, 0xFD, 0x00],
            },
        };
        let bytes = write.encode();
        assert_eq!(
            bytes,
            hex("FF FF FD 00 01 0A 00 03 74 00 FF FF FD FD 00 21 E7")
        );
        assert_eq!(decode(&bytes).unwrap(), Packet::Instruction(write.clone()));
        // dynamixel-sdk 4.1.0 sends it unstuffed; accept that too.
        let sdk = hex("FF FF FD 00 01 09 00 03 74 00 FF FF FD 00 C9 07");
        assert_eq!(decode(&sdk).unwrap(), Packet::Instruction(write));
    }
}
