//! Dynamixel Protocol 2.0 bus driver over a [`SerialLink`].

use std::path::Path;
use std::time::Duration;

use super::protocol::{reg, Instruction, InstructionPacket, Packet, PacketDecoder, BROADCAST_ID};
use crate::clock::TickBound;
use crate::drivers::servo::bus::{
    BusStats, RawJointReading, ServoBus, StateRead, Status, StatusStream, Transactor,
};
use crate::error::{BusError, ProtocolError};
use crate::serial::SerialLink;

/// Realtime Tick (2), Moving, Moving Status, Present PWM (2), Present
/// Current (2; Present Load on XL430), Present Velocity (4), Present
/// Position (4): contiguous from address 120 on the X series. The tick
/// bounds each sample's time ([`TickBound`]).
const STATE_ADDRESS: u16 = reg::REALTIME_TICK;
const STATE_LEN: u16 = 16;
/// The Realtime Tick counts milliseconds modulo this.
const TICK_WRAP_MS: u32 = 32_768;

impl StatusStream for PacketDecoder {
    /// Header 4, ID, LEN 2, 0x55, ERR, CRC 2.
    const STATUS_OVERHEAD: usize = 11;
    fn push(&mut self, bytes: &[u8]) {
        PacketDecoder::push(self, bytes);
    }
    fn next_status(&mut self) -> Option<Result<Status, ProtocolError>> {
        loop {
            return match self.next_packet()? {
                Ok(Packet::Status(s)) => Some(Ok(Status {
                    id: s.id,
                    error: s.error.0,
                    params: s.params,
                })),
                // An echo of our own request (half-duplex adapters).
                Ok(Packet::Instruction(_)) => continue,
                Err(e) => Some(Err(e)),
            };
        }
    }
    fn skipped(&self) -> u64 {
        PacketDecoder::skipped(self)
    }
}

/// A Dynamixel 2.0 bus.
#[derive(Debug)]
pub struct DynamixelBus {
    bus: Transactor<PacketDecoder>,
    /// On the first servo's Realtime Tick.
    tick: TickBound,
}

impl DynamixelBus {
    /// Wraps an open link.
    pub fn new(link: SerialLink) -> Self {
        Self {
            bus: Transactor::new(link),
            tick: TickBound::new(TICK_WRAP_MS),
        }
    }
}

fn broadcast(instruction: Instruction) -> Vec<u8> {
    InstructionPacket {
        id: BROADCAST_ID,
        instruction,
    }
    .encode()
}

impl ServoBus for DynamixelBus {
    fn ping(&mut self, id: u8) -> Result<u16, BusError> {
        let request = InstructionPacket {
            id,
            instruction: Instruction::Ping,
        }
        .encode();
        let (replies, _, _) = self.bus.transact(&request, &[id], 3)?;
        let p = &replies[0].params;
        Ok(u16::from_le_bytes([p[0], p[1]]))
    }

    fn read_state(&mut self, ids: &[u8]) -> Result<StateRead, BusError> {
        let request = broadcast(Instruction::SyncRead {
            address: STATE_ADDRESS,
            length: STATE_LEN,
            ids: ids.to_vec(),
        });
        let first_tick = std::cell::Cell::new(None);
        let mut state = self
            .bus
            .read_state(&request, ids, usize::from(STATE_LEN), |r| {
                let p = &r.params;
                if first_tick.get().is_none() {
                    first_tick.set(Some(u16::from_le_bytes([p[0], p[1]])));
                }
                RawJointReading {
                    id: r.id,
                    current: i32::from(i16::from_le_bytes([p[6], p[7]])),
                    velocity: i32::from_le_bytes([p[8], p[9], p[10], p[11]]),
                    position: i32::from_le_bytes([p[12], p[13], p[14], p[15]]),
                    error_bits: r.error,
                }
            })?;
        if let Some(tick) = first_tick.get() {
            // Never outside the round trip, whatever the tick says.
            state.sampled_nanos = self
                .tick
                .refine(tick, state.sampled_nanos)
                .clamp(state.sent_nanos, state.received_nanos);
        }
        Ok(state)
    }

    fn write_goal_positions(&mut self, goals: &[(u8, i32)]) -> Result<(), BusError> {
        self.bus.send_only(&broadcast(Instruction::SyncWrite {
            address: reg::GOAL_POSITION,
            length: 4,
            writes: goals
                .iter()
                .map(|&(id, ticks)| (id, ticks.to_le_bytes().to_vec()))
                .collect(),
        }))
    }

    fn set_torque(&mut self, ids: &[u8], on: bool) -> Result<(), BusError> {
        self.bus.send_only(&broadcast(Instruction::SyncWrite {
            address: reg::TORQUE_ENABLE,
            length: 1,
            writes: ids.iter().map(|&id| (id, vec![u8::from(on)])).collect(),
        }))
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
