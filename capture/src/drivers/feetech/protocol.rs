//! Feetech SCS/STS packets (STS3215 in SO-100/SO-101 arms): pure bytes ↔
//! typed packets, no I/O. The framing is Dynamixel Protocol 1.0's.
//!
//! ```text
//! instruction: FF FF | ID | LEN | INST | P1..Pn | CHK    LEN = n + 2
//! status:      FF FF | ID | LEN | ERR  | P1..Pn | CHK    CHK = ~(ID + LEN + INST/ERR + ΣP) & 0xFF
//! ```
//! No stuffing, no CRC; addresses and lengths are one byte. The two kinds of
//! packet look alike on the wire, so the caller says which one it expects.
//! STS/SMS values are little endian with sign-magnitude signs
//! ([`encode_sign_magnitude`]); SCS values are big endian.
//!
//! Sources: feetech-servo-sdk 1.0.0, LeRobot 0.4.4 `motors/feetech`, Feetech
//! `SMS_STS.h` (see `shared/spec/hardware.md` §2).

use crate::drivers::sync_write;
use crate::error::ProtocolError;

/// ID every servo listens to.
pub const BROADCAST_ID: u8 = 0xFE;
/// Largest packet the SDK accepts.
pub const MAX_PACKET: usize = 250;

/// Instruction codes.
pub mod instr {
    /// Ping.
    pub const PING: u8 = 0x01;
    /// Read `[addr, len]`.
    pub const READ: u8 = 0x02;
    /// Write `[addr, data…]`.
    pub const WRITE: u8 = 0x03;
    /// Reg Write.
    pub const REG_WRITE: u8 = 0x04;
    /// Action.
    pub const ACTION: u8 = 0x05;
    /// Sync Read `[addr, len, id…]`.
    pub const SYNC_READ: u8 = 0x82;
    /// Sync Write `[addr, len, N × (id, data)]`.
    pub const SYNC_WRITE: u8 = 0x83;
}

/// STS3215 control table (addresses, sizes in the comments).
pub mod reg {
    /// Model number (2); STS3215 = 777.
    pub const MODEL_NUMBER: u8 = 3;
    /// ID (1).
    pub const ID: u8 = 5;
    /// Baud rate code (1).
    pub const BAUD_RATE: u8 = 6;
    /// Return delay (1).
    pub const RETURN_DELAY: u8 = 7;
    /// Min position limit (2).
    pub const MIN_POSITION_LIMIT: u8 = 9;
    /// Max position limit (2).
    pub const MAX_POSITION_LIMIT: u8 = 11;
    /// Homing offset (2, sign bit 11).
    pub const HOMING_OFFSET: u8 = 31;
    /// Operating mode (1).
    pub const OPERATING_MODE: u8 = 33;
    /// Torque enable (1).
    pub const TORQUE_ENABLE: u8 = 40;
    /// Acceleration (1).
    pub const ACCELERATION: u8 = 41;
    /// Goal position (2, sign bit 15).
    pub const GOAL_POSITION: u8 = 42;
    /// Goal speed (2, sign bit 15).
    pub const GOAL_SPEED: u8 = 46;
    /// EEPROM lock (1).
    pub const LOCK: u8 = 55;
    /// Present position (2, sign bit 15).
    pub const PRESENT_POSITION: u8 = 56;
    /// Present speed (2, sign bit 15).
    pub const PRESENT_SPEED: u8 = 58;
    /// Present load (2, sign bit 10).
    pub const PRESENT_LOAD: u8 = 60;
    /// Present voltage, 0.1 V (1).
    pub const PRESENT_VOLTAGE: u8 = 62;
    /// Present temperature, °C (1).
    pub const PRESENT_TEMPERATURE: u8 = 63;
    /// Moving flag (1).
    pub const MOVING: u8 = 66;
    /// Present current, 6.5 mA (2).
    pub const PRESENT_CURRENT: u8 = 69;
}

/// `~(sum of bytes) & 0xFF` over ID..last parameter.
pub fn checksum(bytes: &[u8]) -> u8 {
    !bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}

/// Encodes `value` in sign-magnitude with the sign at `sign_bit` (15 for
/// positions and speeds, 11 for the homing offset, 10 for load). Magnitudes
/// that do not fit below the sign bit saturate.
pub fn encode_sign_magnitude(value: i32, sign_bit: u32) -> u16 {
    let max = (1u32 << sign_bit) - 1;
    let magnitude = value.unsigned_abs().min(max) as u16;
    if value < 0 {
        magnitude | (1 << sign_bit)
    } else {
        magnitude
    }
}

/// Decodes a sign-magnitude value with the sign at `sign_bit`.
pub fn decode_sign_magnitude(raw: u16, sign_bit: u32) -> i32 {
    let magnitude = i32::from(raw & ((1u16 << sign_bit) - 1));
    if raw & (1 << sign_bit) != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Status error bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusError(pub u8);

impl StatusError {
    /// Names of the bits that are set.
    pub fn describe(self) -> Vec<&'static str> {
        [
            (0x01, "input voltage"),
            (0x02, "angle sensor"),
            (0x04, "overheat"),
            (0x08, "over-current"),
            (0x20, "overload"),
        ]
        .iter()
        .filter(|(bit, _)| self.0 & bit != 0)
        .map(|(_, name)| *name)
        .collect()
    }
}

/// An instruction with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// Ping.
    Ping,
    /// Read `length` bytes at `address`.
    Read {
        /// Address.
        address: u8,
        /// Bytes.
        length: u8,
    },
    /// Write `data` at `address`.
    Write {
        /// Address.
        address: u8,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Register a write for Action.
    RegWrite {
        /// Address.
        address: u8,
        /// Bytes.
        data: Vec<u8>,
    },
    /// Execute registered writes.
    Action,
    /// Read the same range from several servos; each answers in order.
    SyncRead {
        /// Address.
        address: u8,
        /// Bytes per servo.
        length: u8,
        /// Servos.
        ids: Vec<u8>,
    },
    /// Write the same range on several servos.
    SyncWrite {
        /// Address.
        address: u8,
        /// Bytes per servo.
        length: u8,
        /// (ID, `length` bytes) per servo.
        writes: Vec<(u8, Vec<u8>)>,
    },
    /// Anything else, as raw parameters.
    Other {
        /// Instruction byte.
        code: u8,
        /// Parameters.
        params: Vec<u8>,
    },
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
            Self::SyncRead { .. } => instr::SYNC_READ,
            Self::SyncWrite { .. } => instr::SYNC_WRITE,
            Self::Other { code, .. } => *code,
        }
    }

    /// Parameters.
    pub fn params(&self) -> Vec<u8> {
        match self {
            Self::Ping | Self::Action => Vec::new(),
            Self::Read { address, length } => vec![*address, *length],
            Self::Write { address, data } | Self::RegWrite { address, data } => {
                let mut p = vec![*address];
                p.extend_from_slice(data);
                p
            }
            Self::SyncRead {
                address,
                length,
                ids,
            } => {
                let mut p = vec![*address, *length];
                p.extend_from_slice(ids);
                p
            }
            Self::SyncWrite {
                address,
                length,
                writes,
            } => {
                let mut p = vec![*address, *length];
                sync_write::join(&mut p, writes);
                p
            }
            Self::Other { params, .. } => params.clone(),
        }
    }

    /// Parses an instruction from its code and parameters.
    pub fn parse(code: u8, params: &[u8]) -> Result<Self, ProtocolError> {
        let bad = |expected: &'static str| ProtocolError::BadParams {
            instruction: code,
            expected,
            got: params.len(),
        };
        Ok(match code {
            instr::PING => Self::Ping,
            instr::ACTION => Self::Action,
            instr::READ => match params {
                [address, length] => Self::Read {
                    address: *address,
                    length: *length,
                },
                _ => return Err(bad("2 bytes: address, length")),
            },
            instr::WRITE | instr::REG_WRITE => {
                let [address, data @ ..] = params else {
                    return Err(bad("address and data"));
                };
                if data.is_empty() {
                    return Err(bad("address and data"));
                }
                if code == instr::WRITE {
                    Self::Write {
                        address: *address,
                        data: data.to_vec(),
                    }
                } else {
                    Self::RegWrite {
                        address: *address,
                        data: data.to_vec(),
                    }
                }
            }
            instr::SYNC_READ => match params {
                [address, length, ids @ ..] if !ids.is_empty() => Self::SyncRead {
                    address: *address,
                    length: *length,
                    ids: ids.to_vec(),
                },
                _ => return Err(bad("address, length and at least one ID")),
            },
            instr::SYNC_WRITE => {
                let [address, length, rest @ ..] = params else {
                    return Err(bad("address and length"));
                };
                let writes = sync_write::split(rest, usize::from(*length))
                    .ok_or_else(|| bad("address, length, then N × (ID + length bytes)"))?;
                Self::SyncWrite {
                    address: *address,
                    length: *length,
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

/// An instruction addressed to a servo (or broadcast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionPacket {
    /// Target ID or [`BROADCAST_ID`].
    pub id: u8,
    /// What to do.
    pub instruction: Instruction,
}

/// A servo's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPacket {
    /// Replying ID.
    pub id: u8,
    /// Error bits.
    pub error: StatusError,
    /// Parameters.
    pub params: Vec<u8>,
}

fn frame(id: u8, second: u8, params: &[u8]) -> Vec<u8> {
    let len = (params.len() + 2) as u8;
    let mut out = Vec::with_capacity(params.len() + 6);
    out.extend_from_slice(&[0xFF, 0xFF, id, len, second]);
    out.extend_from_slice(params);
    out.push(checksum(&out[2..]));
    out
}

impl InstructionPacket {
    /// Wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        frame(self.id, self.instruction.code(), &self.instruction.params())
    }

    /// Parses one complete instruction packet.
    pub fn decode(packet: &[u8]) -> Result<Self, ProtocolError> {
        let (id, code, params) = check_frame(packet)?;
        Ok(Self {
            id,
            instruction: Instruction::parse(code, params)?,
        })
    }
}

impl StatusPacket {
    /// Wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        frame(self.id, self.error.0, &self.params)
    }

    /// Parses one complete status packet.
    pub fn decode(packet: &[u8]) -> Result<Self, ProtocolError> {
        let (id, error, params) = check_frame(packet)?;
        Ok(Self {
            id,
            error: StatusError(error),
            params: params.to_vec(),
        })
    }
}

/// Checks header, length and checksum; returns (id, instruction or error byte, params).
fn check_frame(packet: &[u8]) -> Result<(u8, u8, &[u8]), ProtocolError> {
    if packet.len() < 6 {
        return Err(ProtocolError::Truncated {
            need: 6,
            got: packet.len(),
        });
    }
    if packet[..2] != [0xFF, 0xFF] {
        return Err(ProtocolError::BadHeader);
    }
    let len = usize::from(packet[3]);
    if len < 2 || packet.len() != len + 4 {
        return Err(ProtocolError::BadLength {
            length_field: len,
            packet_len: packet.len(),
        });
    }
    let expected = checksum(&packet[2..packet.len() - 1]);
    let got = packet[packet.len() - 1];
    if expected != got {
        return Err(ProtocolError::Checksum { expected, got });
    }
    Ok((packet[2], packet[4], &packet[5..packet.len() - 1]))
}

/// Finds packets in a byte stream (sans-io). Noise before a header is
/// skipped; a frame with a bad checksum is reported and the search resumes one
/// byte later, so a stray `FF FF` in noise cannot swallow real packets.
#[derive(Debug, Default)]
pub struct PacketDecoder {
    buf: Vec<u8>,
    skipped: u64,
}

impl PacketDecoder {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes discarded while looking for a header.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The next complete frame's raw bytes, if one has arrived.
    pub fn next_raw(&mut self) -> Option<Result<Vec<u8>, ProtocolError>> {
        loop {
            // Header FF FF then an ID that is not FF (a third FF means the
            // header starts one byte later).
            match self
                .buf
                .windows(3)
                .position(|w| w[0] == 0xFF && w[1] == 0xFF && w[2] != 0xFF)
            {
                Some(s) => {
                    self.skipped += s as u64;
                    self.buf.drain(..s);
                }
                None => {
                    let keep = self.buf.len().min(2);
                    let drop = self.buf.len() - keep;
                    self.skipped += drop as u64;
                    self.buf.drain(..drop);
                    return None;
                }
            }
            if self.buf.len() < 4 {
                return None;
            }
            let len = usize::from(self.buf[3]);
            if len < 2 || len + 4 > MAX_PACKET {
                self.buf.drain(..1);
                self.skipped += 1;
                continue;
            }
            if self.buf.len() < len + 4 {
                return None;
            }
            let expected = checksum(&self.buf[2..len + 3]);
            let got = self.buf[len + 3];
            if expected != got {
                self.buf.drain(..1);
                self.skipped += 1;
                return Some(Err(ProtocolError::Checksum { expected, got }));
            }
            return Some(Ok(self.buf.drain(..len + 4).collect()));
        }
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
    fn worked_examples_of_the_spec() {
        let ping = InstructionPacket {
            id: 1,
            instruction: Instruction::Ping,
        };
        assert_eq!(ping.encode(), hex("FF FF 01 02 01 FB"));
        let pong = StatusPacket {
            id: 1,
            error: StatusError(0),
            params: vec![],
        };
        assert_eq!(pong.encode(), hex("FF FF 01 02 00 FC"));
        let read = InstructionPacket {
            id: 1,
            instruction: Instruction::Read {
                address: reg::PRESENT_POSITION,
                length: 2,
            },
        };
        assert_eq!(read.encode(), hex("FF FF 01 04 02 38 02 BE"));
        let reply = StatusPacket::decode(&hex("FF FF 01 04 00 00 08 F2")).unwrap();
        assert_eq!(u16::from_le_bytes([reply.params[0], reply.params[1]]), 2048);
        let model = StatusPacket::decode(&hex("FF FF 01 04 00 09 03 EE")).unwrap();
        assert_eq!(u16::from_le_bytes([model.params[0], model.params[1]]), 777);
        let sync_read = InstructionPacket {
            id: BROADCAST_ID,
            instruction: Instruction::SyncRead {
                address: reg::PRESENT_POSITION,
                length: 2,
                ids: vec![1, 2, 3, 4, 5, 6],
            },
        };
        assert_eq!(
            sync_read.encode(),
            hex("FF FF FE 0A 82 38 02 01 02 03 04 05 06 26")
        );
        let sync_write = InstructionPacket {
            id: BROADCAST_ID,
            instruction: Instruction::SyncWrite {
                address: reg::GOAL_POSITION,
                length: 2,
                writes: vec![
                    (1, 2048u16.to_le_bytes().to_vec()),
                    (2, 1024u16.to_le_bytes().to_vec()),
                ],
            },
        };
        assert_eq!(
            sync_write.encode(),
            hex("FF FF FE 0A 83 2A 02 01 00 08 02 00 04 39")
        );
        // The vendor manual's example reply: position 1304, checksum DD.
        let manual = StatusPacket::decode(&hex("FF FF 01 04 00 18 05 DD")).unwrap();
        assert_eq!(
            u16::from_le_bytes([manual.params[0], manual.params[1]]),
            1304
        );
    }

    #[test]
    fn sign_magnitude() {
        assert_eq!(encode_sign_magnitude(-100, 15), 0x8064);
        assert_eq!(0x8064u16.to_le_bytes(), [0x64, 0x80]);
        assert_eq!(decode_sign_magnitude(0x8064, 15), -100);
        assert_eq!(encode_sign_magnitude(-5, 11), 0x0805);
        assert_eq!(decode_sign_magnitude(0x0805, 11), -5);
        assert_eq!(decode_sign_magnitude(0x0405, 10), -5);
        assert_eq!(encode_sign_magnitude(5000, 11), 2047);
        for v in -2047..=2047 {
            assert_eq!(decode_sign_magnitude(encode_sign_magnitude(v, 11), 11), v);
        }
    }
}
