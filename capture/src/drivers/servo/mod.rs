//! Servo buses, protocol-neutral: [`ServoBus`] is what a session loop
//! talks to; [`open_bus`] opens one speaking the rig's protocol.

pub mod bus;

use std::path::Path;

pub use bus::{BusStats, RawJointReading, ServoBus, StateRead};

use super::dynamixel::bus::DynamixelBus;
use super::feetech::bus::FeetechBus;
use crate::error::BusError;
use crate::rig::Protocol;
use crate::serial::SerialLink;

/// Opens the bus at `port` speaking `protocol`.
pub fn open_bus(protocol: Protocol, port: &Path, baud: u32) -> Result<Box<dyn ServoBus>, BusError> {
    let link = SerialLink::open(port, baud)?;
    Ok(match protocol {
        Protocol::Dynamixel => Box::new(DynamixelBus::new(link)),
        Protocol::Feetech => Box::new(FeetechBus::new(link)),
    })
}

/// Pings every ID in `ids`; returns (ID, model number) of those that answer.
pub fn scan(bus: &mut dyn ServoBus, ids: impl IntoIterator<Item = u8>) -> Vec<(u8, u16)> {
    ids.into_iter()
        .filter_map(|id| bus.ping(id).ok().map(|model| (id, model)))
        .collect()
}
