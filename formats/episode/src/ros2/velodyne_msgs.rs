//! `velodyne_msgs`: raw VLP-16 packets, as the ROS velodyne driver stores
//! them, so a recording can be re-processed losslessly (other calibration,
//! other revolution cut) from exactly what the sensor sent.

use super::builtin_interfaces::{Time, TIME_DEP};
use super::std_msgs::{Header, HEADER_DEP};
use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// Bytes of one data packet (`uint8[1206] data`).
pub const PACKET_BYTES: usize = 1206;

const PACKET_DEF: &str = "builtin_interfaces/Time stamp\nuint8[1206] data\n";

/// `velodyne_msgs/msg/VelodynePacket`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VelodynePacket {
    /// Host time the packet arrived.
    pub stamp: Time,
    /// The UDP payload, exactly 1206 bytes.
    pub data: Vec<u8>,
}

/// `velodyne_msgs/msg/VelodyneScan`: the packets of one revolution.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VelodyneScan {
    /// Time of the revolution's first firing, sensor frame.
    pub header: Header,
    /// Packets in arrival order.
    pub packets: Vec<VelodynePacket>,
}

impl RosMessage for VelodyneScan {
    const TYPE_NAME: &'static str = "velodyne_msgs/msg/VelodyneScan";
    const DEFINITION: &'static str =
        "std_msgs/Header header\nvelodyne_msgs/VelodynePacket[] packets\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[
        HEADER_DEP,
        TIME_DEP,
        ("velodyne_msgs/VelodynePacket", PACKET_DEF),
    ];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.len(self.packets.len());
        for p in &self.packets {
            p.stamp.write_fields(w);
            // A fixed array: exactly 1206 bytes, padded or cut if a caller
            // built a wrong one (the reader would misparse otherwise).
            let mut data = [0u8; PACKET_BYTES];
            let n = p.data.len().min(PACKET_BYTES);
            data[..n].copy_from_slice(&p.data[..n]);
            w.u8_array(&data);
        }
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = Header::read(r)?;
        let n = r.len(8 + PACKET_BYTES)?;
        let packets = (0..n)
            .map(|_| {
                Ok(VelodynePacket {
                    stamp: Time::read_fields(r)?,
                    data: r.u8_array(PACKET_BYTES)?,
                })
            })
            .collect::<Result<_, CdrError>>()?;
        Ok(Self { header, packets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let scan = VelodyneScan {
            header: Header::new(1_700_000_000_000_000_001, "lidar_top"),
            packets: (0..3)
                .map(|i| VelodynePacket {
                    stamp: Time::from_nanos(1_700_000_000_000_000_000 + i),
                    data: (0..PACKET_BYTES).map(|b| (b as u64 + i) as u8).collect(),
                })
                .collect(),
        };
        let bytes = scan.to_cdr();
        assert_eq!(VelodyneScan::from_cdr(&bytes).unwrap(), scan);
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(VelodyneScan::from_cdr(&bytes[..cut]).is_err());
        }
    }
}
