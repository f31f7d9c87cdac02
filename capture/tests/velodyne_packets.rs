//! VLP-16 decoding on real captures (`shared/testdata/lidar`): every packet of
//! the VLP-16 pcap parses and re-encodes byte for byte, the HDL-32E capture is
//! refused by name, points match the closed form, and packets assemble into
//! revolutions.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use reel_capture::drivers::velodyne::protocol::{
    check_vlp16_timing, Block, DataPacket, ReturnMode, DATA_PORT, PACKET_PERIOD_US,
};
use reel_capture::drivers::velodyne::revolution::RevolutionAssembler;
use reel_capture::LidarError;

/// UDP payloads sent to `port` in a pcap of Ethernet frames; None (skip
/// recorded) in a clone without the shared files.
fn udp_payloads(name: &str, port: u16) -> Option<Vec<Vec<u8>>> {
    let path = common::testdata(name, &format!("lidar/rust-lidar-utils/{name}"))?;
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let data = packet.unwrap().data.into_owned();
        // Ethernet (14) + IPv4 (20, no options here) + UDP (8).
        if data.len() > 42 && data[12..14] == [0x08, 0x00] && data[23] == 17 {
            let dst = u16::from_be_bytes([data[36], data[37]]);
            if dst == port {
                out.push(data[42..].to_vec());
            }
        }
    }
    Some(out)
}

/// [`udp_payloads`], or return from the calling test.
macro_rules! payloads_or_return {
    ($name:expr, $port:expr) => {
        match udp_payloads($name, $port) {
            Some(p) => p,
            None => return,
        }
    };
}

#[test]
fn vlp16_capture_parses_and_reencodes() {
    let payloads = payloads_or_return!("velodyne_vlp16.pcap", DATA_PORT);
    assert_eq!(payloads.len(), 84);
    let packets: Vec<DataPacket> = payloads
        .iter()
        .map(|p| DataPacket::parse(p).unwrap())
        .collect();
    for (p, raw) in packets.iter().zip(&payloads) {
        assert_eq!(&p.encode(), raw);
        assert_eq!(p.return_mode, ReturnMode::Strongest);
    }
    let stamps: Vec<u32> = packets.iter().map(|p| p.timestamp_us).collect();
    check_vlp16_timing(&stamps, ReturnMode::Strongest).unwrap();
    // 1327 µs between packets, as the manual says.
    assert!(stamps
        .windows(2)
        .all(|w| (f64::from(w[1] - w[0]) - PACKET_PERIOD_US).abs() < 1.0));
}

#[test]
fn hdl32e_capture_is_refused_by_name() {
    let packets: Vec<DataPacket> = payloads_or_return!("velodyne_vlp32.pcap", DATA_PORT)
        .iter()
        .map(|p| DataPacket::parse(p).unwrap())
        .collect();
    let stamps: Vec<u32> = packets.iter().map(|p| p.timestamp_us).collect();
    let err = check_vlp16_timing(&stamps, packets[0].return_mode).unwrap_err();
    assert!(matches!(err, LidarError::NotVlp16 { .. }));
    assert!(err.to_string().contains("HDL-32E"), "{err}");
}

#[test]
fn bad_packets_are_errors() {
    assert!(matches!(
        DataPacket::parse(&[0u8; 100]),
        Err(LidarError::PacketLength { .. })
    ));
    let mut raw = payloads_or_return!("velodyne_vlp16.pcap", DATA_PORT).remove(0);
    raw[300] = 0;
    assert!(matches!(
        DataPacket::parse(&raw),
        Err(LidarError::BlockFlag { block: 3, .. })
    ));
    let position = payloads_or_return!("velodyne_vlp16.pcap", 8308);
    assert_eq!(position.len(), 16);
    assert!(DataPacket::parse(&position[0]).is_err());
}

fn packet_with(azimuth: u16, channel: usize, distance_m: f64) -> DataPacket {
    let blocks = (0..12)
        .map(|b| {
            let mut block = Block {
                azimuth: (azimuth + 40 * b as u16) % 36_000,
                distance: [0; 32],
                reflectivity: [0; 32],
            };
            if b == 0 {
                block.distance[channel] = (distance_m / 0.002).round() as u16;
                block.reflectivity[channel] = 77;
            }
            block
        })
        .collect();
    DataPacket {
        blocks,
        timestamp_us: 1_000,
        return_mode: ReturnMode::Strongest,
        product_id: 0x22,
    }
}

/// 90°, 10 m, laser 0 (−15°): (0, −9.6593, −2.5770) in ROS axes, the value
/// velodyne_decoder gives (closed form + 11.2 mm vertical correction).
#[test]
fn point_geometry_matches_the_closed_form() {
    let points = packet_with(9000, 0, 10.0).points();
    assert_eq!(points.len(), 1);
    let p = points[0];
    assert!(p.x.abs() < 1e-4, "{p:?}");
    assert!((p.y - -9.6593).abs() < 1e-3, "{p:?}");
    assert!((p.z - -2.5770).abs() < 1e-3, "{p:?}");
    assert_eq!(p.ring, 0);
    assert_eq!(p.intensity, 77.0);
    // Laser 15 (+15°) of the second sequence: ring 15, fired 55.296 + 15×2.304 µs later.
    let p = packet_with(0, 31, 5.0).points()[0];
    assert_eq!(p.ring, 15);
    assert!((p.time_us - (1_000.0 + 55.296 + 15.0 * 2.304)).abs() < 1e-6);
    assert!(p.x > 4.8 && p.z > 1.2);
}

#[test]
fn capture_assembles_into_revolutions() {
    let packets: Vec<DataPacket> = payloads_or_return!("velodyne_vlp16.pcap", DATA_PORT)
        .iter()
        .map(|p| DataPacket::parse(p).unwrap())
        .collect();
    let mut assembler = RevolutionAssembler::new(0.0);
    let mut revolutions = Vec::new();
    for p in &packets {
        revolutions.extend(assembler.push(p));
    }
    // The capture covers 250° → 360° → 286°: the first (partial) turn ends at 0°.
    assert_eq!(revolutions.len(), 1);
    let rest = assembler.flush().unwrap();
    let total: usize = packets.iter().map(|p| p.points().len()).sum();
    assert_eq!(revolutions[0].points.len() + rest.points.len(), total);
    let first = &revolutions[0];
    assert!(first.points.iter().all(|p| p.azimuth >= 25_000.0));
    assert!(rest.points[0].azimuth < 100.0, "{:?}", rest.points[0]);
    let end = packets
        .last()
        .unwrap()
        .points()
        .iter()
        .map(|p| p.azimuth)
        .fold(0.0, f32::max);
    assert!(end > 28_643.0 && end < 29_200.0, "{end}");
    assert!(rest.points.iter().all(|p| p.azimuth <= end));
    // Times increase within a revolution and span what the packets cover.
    assert!(first
        .points
        .windows(2)
        .all(|w| w[1].time_us >= w[0].time_us));
    let span_ms = (first.points.last().unwrap().time_us - first.start_us) / 1000.0;
    assert!(span_ms > 20.0 && span_ms < 40.0, "{span_ms}");
    let rings: std::collections::BTreeSet<u16> = first.points.iter().map(|p| p.ring).collect();
    assert_eq!(rings.len(), 16);
}

#[test]
fn revolution_becomes_the_episode_point_cloud() {
    use reel_episode::ros2::{sensor_msgs::PointCloud2, RosMessage};
    let packets: Vec<DataPacket> = payloads_or_return!("velodyne_vlp16.pcap", DATA_PORT)
        .iter()
        .map(|p| DataPacket::parse(p).unwrap())
        .collect();
    let mut assembler = RevolutionAssembler::new(0.0);
    let rev = packets
        .iter()
        .flat_map(|p| assembler.push(p))
        .next()
        .unwrap();
    let cloud = rev.to_point_cloud2(1_700_000_000_000_000_000, "lidar");
    let back = PointCloud2::from_cdr(&cloud.to_cdr()).unwrap();
    assert_eq!(back.width as usize, rev.points.len());
    assert_eq!(back.data.len(), rev.points.len() * 24);
    let f32_at = |i: usize, off: usize| {
        f32::from_le_bytes(
            back.data[i * 24 + off..i * 24 + off + 4]
                .try_into()
                .unwrap(),
        )
    };
    let last = rev.points.len() - 1;
    assert_eq!(f32_at(last, 0), rev.points[last].x);
    assert_eq!(
        u16::from_le_bytes([back.data[last * 24 + 16], back.data[last * 24 + 17]]),
        rev.points[last].ring
    );
    assert_eq!(f32_at(0, 20), 0.0);
    assert!(f32_at(last, 20) > 0.02 && f32_at(last, 20) < 0.04);
}

mod fuzz {
    use proptest::prelude::*;
    use reel_capture::drivers::velodyne::protocol::{DataPacket, DATA_PACKET_LEN};
    use reel_capture::drivers::velodyne::revolution::RevolutionAssembler;

    proptest! {
        #[test]
        fn random_and_truncated_payloads_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1300), flags in any::<bool>(), cut in 0usize..1206) {
            let _ = DataPacket::parse(&bytes);
            // Mostly-valid packets: right length and block flags, random body.
            let mut p = bytes.clone();
            p.resize(DATA_PACKET_LEN, 0);
            if flags {
                for b in 0..12 {
                    p[b * 100] = 0xFF;
                    p[b * 100 + 1] = 0xEE;
                }
            }
            let mut assembler = RevolutionAssembler::new(0.0);
            if let Ok(packet) = DataPacket::parse(&p) {
                let points = packet.points();
                prop_assert!(points.len() <= 384);
                for pt in &points {
                    prop_assert!(pt.x.is_finite() && pt.y.is_finite() && pt.z.is_finite());
                }
                for _ in 0..3 {
                    let _ = assembler.push(&packet);
                }
                let _ = assembler.flush();
            }
            prop_assert!(DataPacket::parse(&p[..cut]).is_err());
        }
    }
}
