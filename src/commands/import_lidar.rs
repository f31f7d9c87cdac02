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
}

fn revolution(scan: Scan) -> Revolution {
    Revolution {
        stamp_nanos: scan.start_nanos,
        cloud: scan.to_point_cloud2(scan.start_nanos, ""),
        packets: scan
            .raw
            .into_iter()
            .map(|p| (p.host_nanos, p.data))
            .collect(),
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
        match self.decoder.push(payload, arrival_nanos) {
            Ok(decoded) => Ok(decoded.scans.into_iter().map(revolution).collect()),
            Err(rejection) => Err((rejection.reason.to_string(), rejection.detail)),
        }
    }

    fn finish(&mut self) -> Vec<Revolution> {
        self.decoder.finish().into_iter().map(revolution).collect()
    }
}

/// The decoder for a capture whose first data packets are `probe`: the
/// model from their product id, return mode and spacing, as the recorder
/// checks a rig's model; scans cut at 0° as a rig's default.
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
    }))
}
