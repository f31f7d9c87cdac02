//! Livox SDK2 data packets: every data type parses into the points the
//! layout of `livox_lidar_def.h` gives, encoding round-trips, and malformed
//! payloads are refused with a reason, never a panic.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use reel_capture::drivers::lidar::LidarDecoder;
use reel_capture::drivers::livox::decoder::LivoxDecoder;
use reel_capture::drivers::livox::protocol::{DataType, Model, Packet, RawPoint, HEADER_LEN};

/// A header for `dot_num` points of `data_type` and `data`.
fn payload(data_type: u8, dot_num: u16, data: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; HEADER_LEN];
    let len = (HEADER_LEN + data.len()) as u16;
    b[1..3].copy_from_slice(&len.to_le_bytes());
    b[3..5].copy_from_slice(&480u16.to_le_bytes()); // 48 µs
    b[5..7].copy_from_slice(&dot_num.to_le_bytes());
    b[10] = data_type;
    b[28..36].copy_from_slice(&1_000_000u64.to_le_bytes());
    b.extend_from_slice(data);
    b
}

#[test]
fn every_data_type_parses_to_its_points() {
    // High: (1000, -2000, 300) mm.
    let mut high = Vec::new();
    for v in [1000i32, -2000, 300] {
        high.extend_from_slice(&v.to_le_bytes());
    }
    high.extend_from_slice(&[77, 5]);
    let p = Packet::parse(&payload(1, 1, &high)).unwrap();
    assert_eq!(p.points[0].xyz, [1.0, -2.0, 0.3]);
    assert_eq!((p.points[0].reflectivity, p.points[0].tag), (77, 5));
    // Low: (100, -200, 30) cm.
    let mut low = Vec::new();
    for v in [100i16, -200, 30] {
        low.extend_from_slice(&v.to_le_bytes());
    }
    low.extend_from_slice(&[9, 0]);
    let p = Packet::parse(&payload(2, 1, &low)).unwrap();
    assert_eq!(p.points[0].xyz, [1.0, -2.0, 0.3]);
    // Spherical: 2 m at theta 90°, phi 90° → (0, 2, 0).
    let mut sph = Vec::new();
    sph.extend_from_slice(&2000u32.to_le_bytes());
    sph.extend_from_slice(&9000u16.to_le_bytes());
    sph.extend_from_slice(&9000u16.to_le_bytes());
    sph.extend_from_slice(&[1, 0]);
    let p = Packet::parse(&payload(3, 1, &sph)).unwrap();
    let xyz = p.points[0].xyz;
    assert!(
        xyz[0].abs() < 1e-12 && (xyz[1] - 2.0).abs() < 1e-12 && xyz[2].abs() < 1e-12,
        "{xyz:?}"
    );
    // IMU: gyro then acceleration in g.
    let imu: Vec<u8> = [0.1f32, 0.2, 0.3, 0.0, 0.0, 1.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = Packet::parse(&payload(0, 1, &imu)).unwrap();
    assert_eq!(p.imu.unwrap().accel_g, [0.0, 0.0, 1.0]);
    // Point times: 480 · 100 ns over 1 point.
    assert_eq!(p.timestamp_nanos, 1_000_000);
}

#[test]
fn encoding_round_trips() {
    let points: Vec<RawPoint> = (0..96)
        .map(|i| RawPoint {
            xyz: [f64::from(i) * 0.01, -1.5, 2.25],
            reflectivity: i as u8,
            tag: 0,
        })
        .collect();
    let packet = Packet {
        time_interval: 4800,
        udp_cnt: 7,
        frame_cnt: 1,
        data_type: DataType::CartesianHigh,
        time_type: 0,
        timestamp_nanos: 123_456_789,
        points,
        imu: None,
    };
    let back = Packet::parse(&packet.encode()).unwrap();
    assert_eq!(back, packet);
    assert_eq!(back.point_time(95), 123_456_789 + 95 * 5_000);
}

#[test]
fn malformed_packets_are_refused_with_a_reason() {
    let good = payload(1, 1, &[0; 14]);
    let mut version = good.clone();
    version[0] = 1;
    let mut length = good.clone();
    length[1] = 99;
    let mut kind = good.clone();
    kind[10] = 0x7F;
    for (bytes, reason) in [
        (&good[..20], "bad_length"),
        (&version[..], "bad_version"),
        (&length[..], "bad_length"),
        (&kind[..], "bad_data_type"),
    ] {
        assert_eq!(Packet::parse(bytes).unwrap_err().reason, reason);
    }
    // dot_num claiming more points than the bytes hold.
    let mut lying = good.clone();
    lying[5..7].copy_from_slice(&60_000u16.to_le_bytes());
    assert_eq!(Packet::parse(&lying).unwrap_err().reason, "bad_length");
    // An IMU packet on the point port is counted, not decoded.
    let imu: Vec<u8> = [0.0f32; 6].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut decoder = LivoxDecoder::new(Model::Mid360, 10.0);
    assert_eq!(
        decoder.push(&payload(0, 1, &imu), 0).unwrap_err().reason,
        "imu_on_point_port"
    );
}

mod fuzz {
    use proptest::prelude::*;
    use reel_capture::drivers::lidar::LidarDecoder;
    use reel_capture::drivers::livox::decoder::LivoxDecoder;
    use reel_capture::drivers::livox::protocol::{Model, Packet};

    proptest! {
        #[test]
        fn random_payloads_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..2000), kind in 0u8..4, n in 0u16..150) {
            let _ = Packet::parse(&bytes);
            if bytes.len() >= 36 {
                // Mostly-valid headers: version 0, the right length.
                bytes[0] = 0;
                let len = bytes.len() as u16;
                bytes[1..3].copy_from_slice(&len.to_le_bytes());
                bytes[5..7].copy_from_slice(&n.to_le_bytes());
                bytes[10] = kind;
                let mut d = LivoxDecoder::new(Model::Hap, 10.0);
                for i in 0..3u64 {
                    let _ = d.push(&bytes, i);
                }
                let _ = d.finish();
            }
        }
    }
}

/// A Mid-360 sends 96 points every 480 µs and says `time_interval` 4750
/// (the first point to the last; measured on firmware 13.18.0244 by
/// atinfinity/livox-mid360-core): steady packets lose nothing, and a gap
/// of 50 packets, long as it is, counts exactly 50.
#[test]
fn lost_packets_are_counted_from_the_real_spacing() {
    let packet = |k: u64| {
        Packet {
            time_interval: 4750,
            udp_cnt: k as u16,
            frame_cnt: 0,
            data_type: DataType::CartesianHigh,
            time_type: 0,
            timestamp_nanos: 1_000_000_000 + k * 480_000,
            points: vec![
                RawPoint {
                    xyz: [1.0, 2.0, 3.0],
                    reflectivity: 9,
                    tag: 0,
                };
                96
            ],
            imu: None,
        }
        .encode()
    };
    let mut decoder = LivoxDecoder::new(Model::Mid360, 10.0);
    let lost: Vec<u64> = (0..300u64)
        .filter(|k| !(100..150).contains(k))
        .map(|k| decoder.push(&packet(k), 0).unwrap().lost_before)
        .collect();
    assert_eq!(lost.iter().sum::<u64>(), 50, "{lost:?}");
    assert_eq!(lost[100], 50);
}
