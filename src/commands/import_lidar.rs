//! reel's own Velodyne driver behind `reel import`'s LiDAR decoder, so a
//! pcap imports through exactly the code `reel record` runs on the wire.
//! (The import crate sits in the formats layer and never links the capture
//! layer; this adapter joins them in the binary.)

use reel_capture::drivers::lidar::{LidarDecoder, Scan};
use reel_capture::drivers::velodyne::decoder::VelodyneDecoder;
use reel_capture::drivers::velodyne::protocol::{identify, median_gap_us, DataPacket};
use reel_import::pcap::{Revolution, ScanDecoder};

/// reel's Velodyne decoder, keeping each revolution's packets.
struct Velodyne {
    model: String,
    decoder: VelodyneDecoder,
    /// The sensor clock (µs past the hour), unwrapped as the decoder does.
    last_us: Option<u32>,
    hours_us: u64,
    /// Arrival minus sensor time, its lower envelope: the sensor clock on
    /// the capture's (transport delay only ever adds).
    offset_nanos: Option<i128>,
}

impl Velodyne {
    /// Follows the sensor clock of one more packet.
    fn track(&mut self, payload: &[u8], arrival_nanos: u64) {
        let Ok(p) = DataPacket::parse(payload) else {
            return;
        };
        if let Some(prev) = self.last_us {
            if p.timestamp_us < prev && prev - p.timestamp_us > 1_800_000_000 {
                self.hours_us += 3_600_000_000;
            }
        }
        self.last_us = Some(p.timestamp_us);
        let sensor = i128::from(self.hours_us + u64::from(p.timestamp_us)) * 1000;
        let offset = i128::from(arrival_nanos) - sensor;
        self.offset_nanos = Some(self.offset_nanos.map_or(offset, |o| o.min(offset)));
    }

    /// A scan as a revolution on the capture's clock.
    fn revolution(&self, scan: Scan) -> Revolution {
        let stamp = u64::try_from(i128::from(scan.start_nanos) + self.offset_nanos.unwrap_or(0))
            .unwrap_or(0);
        Revolution {
            stamp_nanos: stamp,
            cloud: scan.to_point_cloud2(stamp, ""),
            packets: scan
                .raw
                .into_iter()
                .map(|p| (p.host_nanos, p.data))
                .collect(),
        }
    }
}

impl ScanDecoder for Velodyne {
    fn model(&self) -> String {
        self.model.clone()
    }

    fn push(
        &mut self,
        payload: &[u8],
        arrival_nanos: u64,
    ) -> Result<Vec<Revolution>, (String, String)> {
        self.track(payload, arrival_nanos);
        match self.decoder.push(payload, arrival_nanos) {
            Ok(decoded) => Ok(decoded
                .scans
                .into_iter()
                .map(|s| self.revolution(s))
                .collect()),
            Err(rejection) => Err((rejection.reason.to_string(), rejection.detail)),
        }
    }

    fn finish(&mut self) -> Vec<Revolution> {
        let scans = self.decoder.finish();
        scans.into_iter().map(|s| self.revolution(s)).collect()
    }
}

/// The decoder for a capture whose first data packets are `probe`: the
/// model from their product id, return mode and spacing, as the recorder
/// checks a rig's model; scans cut at 0° as a rig's default; revolutions
/// stamped with the sensor's clock carried onto the capture's by the lower
/// envelope of arrival minus sensor time.
pub fn velodyne_decoder(probe: &[(u64, Vec<u8>)]) -> Result<Box<dyn ScanDecoder>, String> {
    let packets: Vec<DataPacket> = probe
        .iter()
        .map(|(_, p)| DataPacket::parse(p).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let first = packets.first().ok_or("no data packet")?;
    let stamps: Vec<u32> = packets.iter().map(|p| p.timestamp_us).collect();
    let gap =
        median_gap_us(&stamps).ok_or("too few data packets to tell the model (2 at least)")?;
    let model = identify(first.product_id, first.return_mode, gap).map_err(|e| e.to_string())?;
    Ok(Box::new(Velodyne {
        model: model.name().to_string(),
        decoder: VelodyneDecoder::new(model, 0.0, true),
        last_us: None,
        hours_us: 0,
        offset_nanos: None,
    }))
}
