//! Velodyne packets on real captures (`shared/testdata/lidar`): every packet
//! of the VLP-16 pcap parses and re-encodes byte for byte, each capture's
//! model is identified from its product id and packet rate (the HDL-32E is
//! not taken for a VLP-16), points match the closed form, a block azimuth of
//! 36000 is the wrap, and random bytes never panic the decoder. Scans
//! against the vendor's decoder: `lidar_real_captures.rs`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use reel_capture::drivers::lidar::{Identity, LidarDecoder};
use reel_capture::drivers::velodyne::decoder::VelodyneDecoder;
use reel_capture::drivers::velodyne::protocol::{
    identify, median_gap_us, Block, DataPacket, Model, ReturnMode, DATA_PORT, FULL_TURN,
};
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
    // 1327 µs between packets, as the manual says; old firmware writes the
    // HDL-32E's product id, so the rate names the model.
    let gap = median_gap_us(&stamps).unwrap();
    assert!(
        (gap - Model::Vlp16.packet_period_us(false)).abs() < 1.0,
        "{gap}"
    );
    assert_eq!(packets[0].product_id, 0x21);
    assert_eq!(
        identify(0x21, ReturnMode::Strongest, gap).unwrap(),
        Model::Vlp16
    );
}

#[test]
fn hdl32e_capture_is_identified_by_its_rate() {
    let packets: Vec<DataPacket> = payloads_or_return!("velodyne_vlp32.pcap", DATA_PORT)
        .iter()
        .map(|p| DataPacket::parse(p).unwrap())
        .collect();
    let stamps: Vec<u32> = packets.iter().map(|p| p.timestamp_us).collect();
    let gap = median_gap_us(&stamps).unwrap();
    let model = identify(packets[0].product_id, packets[0].return_mode, gap).unwrap();
    assert_eq!(model, Model::Hdl32e, "{gap} µs");
    // A decoder told VLP-16 refuses it once it has seen enough packets,
    // and counts every packet it refused.
    let mut decoder = VelodyneDecoder::new(Model::Vlp16, 0.0, false);
    let mut refused = 0;
    for (i, raw) in payloads_or_return!("velodyne_vlp32.pcap", DATA_PORT)
        .iter()
        .enumerate()
    {
        if let Err(r) = decoder.push(raw, i as u64 * 552_960) {
            assert_eq!(r.reason, "wrong_sensor");
            refused += r.packets;
        }
    }
    assert_eq!(refused, packets.len() as u64);
    let Identity::Mismatch(why) = decoder.identity() else {
        panic!("{:?}", decoder.identity())
    };
    assert!(
        why.contains("HDL-32E") && why.contains("\"hdl32e\""),
        "{why}"
    );
    // A product id that names another model than the rate does is refused.
    assert!(matches!(
        identify(0x28, ReturnMode::Strongest, 1327.0),
        Err(LidarError::Unidentified { .. })
    ));
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
    let points = packet_with(9000, 0, 10.0).points(Model::Vlp16);
    assert_eq!(points.len(), 1);
    let p = points[0];
    assert!(p.x.abs() < 1e-4, "{p:?}");
    assert!((p.y - -9.6593).abs() < 1e-3, "{p:?}");
    assert!((p.z - -2.5770).abs() < 1e-3, "{p:?}");
    assert_eq!(p.ring, 0);
    assert_eq!(p.intensity, 77.0);
    // Laser 15 (+15°) of the second sequence: ring 15, fired 55.296 + 15×2.304 µs later.
    let p = packet_with(0, 31, 5.0).points(Model::Vlp16)[0];
    assert_eq!(p.ring, 15);
    assert!((p.time_us - (1_000.0 + 55.296 + 15.0 * 2.304)).abs() < 1e-6);
    assert!(p.x > 4.8 && p.z > 1.2);
}

/// Real firmware writes 36000 for the block at the wrap: it is 0°, and the
/// packet decodes as with 0 (one real packet, its wrap block rewritten).
#[test]
fn azimuth_36000_is_the_wrap() {
    let payloads = payloads_or_return!("velodyne_vlp16.pcap", DATA_PORT);
    let mut packet = DataPacket::parse(&payloads[10]).unwrap();
    packet.blocks[5].azimuth = 0;
    let zero = packet.points(Model::Vlp16);
    packet.blocks[5].azimuth = 36_000;
    let wrap = DataPacket::parse(&packet.encode()).unwrap();
    assert_eq!(wrap.blocks[5].azimuth, 36_000);
    assert_eq!(wrap.points(Model::Vlp16), zero);
    packet.blocks[5].azimuth = 36_001;
    assert!(matches!(
        DataPacket::parse(&packet.encode()),
        Err(LidarError::Azimuth {
            block: 5,
            azimuth: 36_001
        })
    ));
    assert_eq!(FULL_TURN, 36_000);
}

mod fuzz {
    use proptest::prelude::*;
    use reel_capture::drivers::lidar::LidarDecoder;
    use reel_capture::drivers::velodyne::decoder::VelodyneDecoder;
    use reel_capture::drivers::velodyne::protocol::{DataPacket, Model, DATA_PACKET_LEN};

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
            let mut decoder = VelodyneDecoder::new(Model::Vlp32c, 0.0, true);
            if let Ok(packet) = DataPacket::parse(&p) {
                for model in Model::ALL {
                    let points = packet.points(model);
                    prop_assert!(points.len() <= 384);
                    for pt in &points {
                        prop_assert!(pt.x.is_finite() && pt.y.is_finite() && pt.z.is_finite());
                    }
                }
                for i in 0..40u64 {
                    let _ = decoder.push(&p, i * 700_000);
                }
                let _ = decoder.finish();
            }
            prop_assert!(DataPacket::parse(&p[..cut]).is_err());
        }
    }
}
