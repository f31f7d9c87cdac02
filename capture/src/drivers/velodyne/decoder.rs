//! The Velodyne family behind [`LidarDecoder`]: checks that the packets are
//! from the rig's model, unwraps the hour-long sensor clock, counts lost
//! packets from timestamp gaps, batches packets into scans and decodes them.

use super::batcher::{Batched, ScanBatcher};
use super::protocol::{identify, median_gap_us, DataPacket, ReturnMode};
use crate::drivers::lidar::scan::{
    Decoded, Identity, LidarDecoder, LidarPoint, RawPacket, Rejection, Scan,
};
use crate::error::LidarError;
pub use reel_episode::velodyne::Model;

/// Packets held back to identify the sensor (about 20 ms of data).
const PROBE_PACKETS: usize = 16;
/// The sensor's timestamps count µs past the hour.
const HOUR_US: u64 = 3_600_000_000;

/// Decodes one Velodyne sensor's data packets.
#[derive(Debug)]
pub struct VelodyneDecoder {
    model: Model,
    keep_raw: bool,
    batcher: ScanBatcher,
    identity: Identity,
    probe: Vec<(DataPacket, Vec<u8>, u64)>,
    hours_us: u64,
    last: Option<(u32, u64)>,
}

impl VelodyneDecoder {
    /// A decoder for `model` that cuts scans at `cut_azimuth_deg` and keeps
    /// each packet's bytes when `keep_raw`.
    pub fn new(model: Model, cut_azimuth_deg: f64, keep_raw: bool) -> Self {
        Self {
            model,
            keep_raw,
            batcher: ScanBatcher::new(cut_azimuth_deg),
            identity: Identity::Pending,
            probe: Vec::new(),
            hours_us: 0,
            last: None,
        }
    }

    /// Checks the held-back packets against the rig's model.
    fn check_identity(&mut self) -> Identity {
        let stamps: Vec<u32> = self.probe.iter().map(|p| p.0.timestamp_us).collect();
        let first = &self.probe[0].0;
        let Some(gap) = median_gap_us(&stamps) else {
            return Identity::Pending;
        };
        match identify(first.product_id, first.return_mode, gap) {
            Ok(m) if m == self.model => Identity::Confirmed(m.name().to_string()),
            Ok(m) => Identity::Mismatch(format!(
                "packets are from a {} (product id {:#04x}, {gap:.0} µs apart), not the rig's {}; set the lidar's model to \"{}\"",
                m.name(),
                first.product_id,
                self.model.name(),
                m.rig_name()
            )),
            Err(why) => Identity::Mismatch(format!("{why}; the rig says {}", self.model.name())),
        }
    }

    /// Takes an identified packet into the batcher.
    fn accept(&mut self, packet: DataPacket, raw: Vec<u8>, host_nanos: u64) -> Decoded {
        let ts = packet.timestamp_us;
        if let Some((prev, _)) = self.last {
            // A timestamp more than half an hour earlier: the hour wrapped.
            if ts < prev && prev - ts > 1_800_000_000 {
                self.hours_us += HOUR_US;
            }
        }
        let timestamp_us = self.hours_us + u64::from(ts);
        let period_us = self
            .model
            .packet_period_us(packet.return_mode == ReturnMode::Dual);
        let lost_before = match self.last {
            Some((_, prev_us)) if timestamp_us > prev_us => {
                let steps = ((timestamp_us - prev_us) as f64 / period_us).round() as u64;
                steps.saturating_sub(1)
            }
            _ => 0,
        };
        self.last = Some((ts, timestamp_us));
        let batched = Batched {
            packet,
            timestamp_us,
            host_nanos,
            raw: self.keep_raw.then_some(raw),
        };
        let scans = self
            .batcher
            .push(batched)
            .map(|packets| self.scan(packets))
            .into_iter()
            .collect();
        Decoded {
            scans,
            sent_device_nanos: Some(((timestamp_us as f64 + period_us) * 1000.0) as u64),
            lost_before,
        }
    }

    /// The points of a batch of packets, in firing order.
    fn scan(&self, packets: Vec<Batched>) -> Scan {
        let mut points = Vec::with_capacity(packets.len() * 384);
        let mut raw = Vec::new();
        let count = packets.len();
        for b in packets {
            let base = b.timestamp_us as f64 - f64::from(b.packet.timestamp_us);
            points.extend(b.packet.points(self.model).into_iter().map(|p| LidarPoint {
                x: p.x,
                y: p.y,
                z: p.z,
                intensity: p.intensity,
                ring: p.ring,
                time_nanos: ((base + p.time_us) * 1000.0).round() as u64,
                return_type: p.return_type as u8,
            }));
            if let Some(data) = b.raw {
                raw.push(RawPacket {
                    host_nanos: b.host_nanos,
                    data,
                });
            }
        }
        let mut scan = Scan::new(points, count);
        scan.raw = raw;
        scan
    }
}

/// The short code of a packet that does not parse.
fn rejection(e: &LidarError) -> Rejection {
    let reason = match e {
        LidarError::PacketLength { .. } => "bad_length",
        LidarError::BlockFlag { .. } => "bad_block",
        LidarError::Azimuth { .. } => "bad_azimuth",
        LidarError::ReturnMode { .. } => "bad_return_mode",
        LidarError::Unidentified { .. }
        | LidarError::Unsupported { .. }
        | LidarError::Metadata { .. } => "wrong_sensor",
    };
    Rejection::new(reason, e.to_string())
}

impl LidarDecoder for VelodyneDecoder {
    fn model_name(&self) -> String {
        self.model.name().to_string()
    }

    fn push(&mut self, payload: &[u8], host_nanos: u64) -> Result<Decoded, Rejection> {
        if let Identity::Mismatch(why) = &self.identity {
            return Err(Rejection::new("wrong_sensor", why.clone()));
        }
        let packet = DataPacket::parse(payload).map_err(|e| rejection(&e))?;
        if self.identity != Identity::Pending {
            return Ok(self.accept(packet, payload.to_vec(), host_nanos));
        }
        self.probe.push((packet, payload.to_vec(), host_nanos));
        if self.probe.len() < PROBE_PACKETS {
            return Ok(Decoded::default());
        }
        self.identity = self.check_identity();
        match &self.identity {
            Identity::Pending => Ok(Decoded::default()),
            Identity::Mismatch(why) => {
                let held = self.probe.len() as u64;
                self.probe.clear();
                Err(Rejection::new("wrong_sensor", why.clone()).covering(held))
            }
            Identity::Confirmed(_) => {
                let mut out = Decoded::default();
                for (packet, raw, host) in std::mem::take(&mut self.probe) {
                    let d = self.accept(packet, raw, host);
                    out.scans.extend(d.scans);
                    out.lost_before += d.lost_before;
                    out.sent_device_nanos = d.sent_device_nanos;
                }
                Ok(out)
            }
        }
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn finish(&mut self) -> Vec<Scan> {
        // Packets still held back (a capture shorter than the probe) are
        // decoded as the rig's model: there was too little to judge.
        let mut scans = Vec::new();
        for (packet, raw, host) in std::mem::take(&mut self.probe) {
            scans.extend(self.accept(packet, raw, host).scans);
        }
        if let Some(packets) = self.batcher.finish() {
            scans.push(self.scan(packets));
        }
        scans
    }
}
