//! Feetech SCS/STS bus driver (STS3215, little-endian "protocol 0") over a
//! [`SerialLink`].

use std::path::Path;
use std::time::Duration;

use super::protocol::{
    decode_sign_magnitude, encode_sign_magnitude, reg, Instruction, InstructionPacket,
    PacketDecoder, StatusPacket, BROADCAST_ID,
};
use crate::drivers::servo::bus::{
    BusStats, RawJointReading, ServoBus, StateRead, Status, StatusStream, Transactor,
};
use crate::error::{BusError, ProtocolError};
use crate::serial::SerialLink;

/// Present Position (56) through Present Current (69..70): 15 bytes.
const STATE_ADDRESS: u8 = reg::PRESENT_POSITION;
const STATE_LEN: u8 = 15;

impl StatusStream for PacketDecoder {
    /// FF FF, ID, LEN, ERR, checksum.
    const STATUS_OVERHEAD: usize = 6;
    fn push(&mut self, bytes: &[u8]) {
        PacketDecoder::push(self, bytes);
    }
    fn next_status(&mut self) -> Option<Result<Status, ProtocolError>> {
        // Feetech statuses and instructions share one frame; the caller
        // skips an echoed request by its ID (broadcast 0xFE).
        Some(self.next_raw()?.and_then(|raw| {
            StatusPacket::decode(&raw).map(|s| Status {
                id: s.id,
                error: s.error.0,
                params: s.params,
            })
        }))
    }
    fn skipped(&self) -> u64 {
        PacketDecoder::skipped(self)
    }
}

/// A Feetech STS bus.
#[derive(Debug)]
pub struct FeetechBus {
    bus: Transactor<PacketDecoder>,
}

impl FeetechBus {
    /// Wraps an open link.
    pub fn new(link: SerialLink) -> Self {
        Self {
            bus: Transactor::new(link),
        }
    }
}

fn le16(p: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([p[at], p[at + 1]])
}

fn packet(id: u8, instruction: Instruction) -> Vec<u8> {
    InstructionPacket { id, instruction }.encode()
}

impl ServoBus for FeetechBus {
    fn ping(&mut self, id: u8) -> Result<u16, BusError> {
        // A Feetech ping reply carries no model; read it from address 3.
        self.bus
            .transact(&packet(id, Instruction::Ping), &[id], 0)?;
        let read_model = packet(
            id,
            Instruction::Read {
                address: reg::MODEL_NUMBER,
                length: 2,
            },
        );
        let (replies, _, _) = self.bus.transact(&read_model, &[id], 2)?;
        Ok(le16(&replies[0].params, 0))
    }

    fn read_state(&mut self, ids: &[u8]) -> Result<StateRead, BusError> {
        let request = packet(
            BROADCAST_ID,
            Instruction::SyncRead {
                address: STATE_ADDRESS,
                length: STATE_LEN,
                ids: ids.to_vec(),
            },
        );
        self.bus
            .read_state(&request, ids, usize::from(STATE_LEN), |r| {
                let p = &r.params;
                RawJointReading {
                    id: r.id,
                    position: decode_sign_magnitude(le16(p, 0), 15),
                    velocity: decode_sign_magnitude(le16(p, 2), 15),
                    // Present Current at 69 = offset 13.
                    current: decode_sign_magnitude(le16(p, 13), 15),
                    error_bits: r.error,
                }
            })
    }

    fn write_goal_positions(&mut self, goals: &[(u8, i32)]) -> Result<(), BusError> {
        self.bus.send_only(&packet(
            BROADCAST_ID,
            Instruction::SyncWrite {
                address: reg::GOAL_POSITION,
                length: 2,
                writes: goals
                    .iter()
                    .map(|&(id, ticks)| {
                        (id, encode_sign_magnitude(ticks, 15).to_le_bytes().to_vec())
                    })
                    .collect(),
            },
        ))
    }

    fn set_torque(&mut self, ids: &[u8], on: bool) -> Result<(), BusError> {
        self.bus.send_only(&packet(
            BROADCAST_ID,
            Instruction::SyncWrite {
                address: reg::TORQUE_ENABLE,
                length: 1,
                writes: ids.iter().map(|&id| (id, vec![u8::from(on)])).collect(),
            },
        ))
    }

    fn set_reply_margin(&mut self, margin: Duration) {
        self.bus.reply_margin = margin;
    }

    fn stats(&self) -> BusStats {
        self.bus.stats
    }

    fn port(&self) -> &Path {
        self.bus.link.path()
    }
}
