//! Groups data packets into whole scans (revolutions), packet by packet,
//! as velodyne_decoder's `ScanBatcher` does, so that reel and the vendor's
//! own tooling cut a capture into the same scans in every return mode.
//!
//! A scan's coverage is how far its last packet's last block has turned
//! past the cut angle. The scan is complete when the coverage, having
//! passed half a turn, falls: the packet that crossed the cut belongs to
//! the scan it completes. In dual-return mode both blocks of a pair carry
//! one azimuth, so only the turn, never the pair, cuts a scan. A scan
//! longer than 0.3 s (packets lost, a sensor paused) is closed before the
//! packet that would stretch it, which then starts the next scan.

use super::protocol::{DataPacket, FULL_TURN};

/// Longest scan, host time: a turn at 300 rpm (the slowest) takes 0.2 s.
const MAX_SCAN_NANOS: u64 = 300_000_000;

/// One packet of a scan.
#[derive(Debug, Clone)]
pub struct Batched {
    /// The decoded packet.
    pub packet: DataPacket,
    /// Its time past the hour, unwrapped across hours, µs.
    pub timestamp_us: u64,
    /// When it arrived, host ns.
    pub host_nanos: u64,
    /// Its bytes, when kept.
    pub raw: Option<Vec<u8>>,
}

/// Packet-by-packet scan assembler.
#[derive(Debug)]
pub struct ScanBatcher {
    cut: u32,
    packets: Vec<Batched>,
    coverage: u32,
}

impl ScanBatcher {
    /// Cuts scans where the beam passes `cut_azimuth_deg` (0° = straight
    /// ahead, x).
    pub fn new(cut_azimuth_deg: f64) -> Self {
        Self {
            cut: ((cut_azimuth_deg * 100.0).round() as i64).rem_euclid(i64::from(FULL_TURN)) as u32,
            packets: Vec::new(),
            coverage: 0,
        }
    }

    /// Adds a packet; returns the scan it completed, if any.
    pub fn push(&mut self, batched: Batched) -> Option<Vec<Batched>> {
        if let Some(first) = self.packets.first() {
            if batched.host_nanos.saturating_sub(first.host_nanos) > MAX_SCAN_NANOS {
                let done = std::mem::take(&mut self.packets);
                self.coverage = 0;
                self.push_into_empty(batched);
                return Some(done);
            }
        }
        let azimuth = batched.packet.last_azimuth();
        self.packets.push(batched);
        let coverage = (azimuth + FULL_TURN - self.cut) % FULL_TURN;
        let complete = self.coverage > FULL_TURN / 2 && self.coverage > coverage;
        self.coverage = coverage;
        if complete {
            self.coverage = 0;
            return Some(std::mem::take(&mut self.packets));
        }
        None
    }

    fn push_into_empty(&mut self, batched: Batched) {
        self.coverage = (batched.packet.last_azimuth() + FULL_TURN - self.cut) % FULL_TURN;
        self.packets.push(batched);
    }

    /// The packets of the scan not yet complete.
    pub fn finish(&mut self) -> Option<Vec<Batched>> {
        self.coverage = 0;
        (!self.packets.is_empty()).then(|| std::mem::take(&mut self.packets))
    }
}
