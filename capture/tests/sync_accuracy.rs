#![allow(clippy::unwrap_used)]
//! Timestamp accuracy against the emulators' ground truth, on the bimanual
//! rig (4 arms at 200 Hz, 3 cameras, a VLP-16 with an offset, drifting
//! clock). Joints: the bus emulators log when the servos latched which
//! positions. Cameras: the acquisition time drawn into each frame. LiDAR: when
//! the emulated beam crossed the revolution's cut azimuth.
//! The targets (p99 ≤ 2 ms joints and LiDAR, ≤ 5 ms cameras) are measured
//! by the release benchmark; this test checks the stamps are right.

mod common;

use std::time::Duration;

use reel_capture::emulators::ground_truth::{percentile, sync_errors};
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::{EpisodeReader, Outcome};

#[test]
fn bimanual_timestamps_match_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("bimanual-emulated", dir.path());
    let emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder =
        Recorder::start(rig.clone(), RecorderOptions::new(dir.path().join("out"))).unwrap();
    // Let the LiDAR clock fit settle.
    std::thread::sleep(Duration::from_secs(3));
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_secs(6));
    let summary = recorder.stop_episode(Outcome::Unknown).unwrap();
    drop(recorder);

    let errors = sync_errors(&summary.path, &rig.rig, &emu).unwrap();
    let reader = EpisodeReader::open(&summary.path).unwrap();
    // Raw packets: one scan per revolution, every packet exactly once.
    let mut clouds = 0;
    let mut scans = 0;
    let mut packets = 0;
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        match m.channel.topic.as_str() {
            "/lidar/top/points" => clouds += 1,
            "/lidar/top/packets" => {
                let scan: reel_episode::ros2::velodyne_msgs::VelodyneScan =
                    reader.decode(&m, i as u64).unwrap();
                assert!(scan
                    .packets
                    .iter()
                    .all(|p| p.data.len() == 1206 && p.data[1205] == 0x22));
                scans += 1;
                packets += scan.packets.len();
            }
            _ => {}
        }
    }
    assert_eq!(scans, clouds);
    // 600 rpm: 75.4 packets per revolution.
    let per_scan = packets as f64 / f64::from(scans);
    assert!(
        (74.0..77.0).contains(&per_scan),
        "{per_scan} packets per scan"
    );
    // Timing under a loaded debug build is noise, not a result: the
    // targets (p99 ≤ 2 ms joints and LiDAR, ≤ 5 ms cameras) are checked by
    // the release benchmark `record_bimanual`. Here the stamps must be
    // right: a wrong offset, clock mapping or latency model shows up in the
    // median and in gross outliers. The cameras are timed on their frame
    // clock (`stamps = "cadence"`), which scheduling delays do not reach,
    // so their target holds even here.
    for (name, v, p50_max, p99_max) in [
        ("joints", &errors.joints_ms, 1.0, 10.0),
        ("lidar", &errors.lidar_ms, 1.0, 10.0),
        ("cameras", &errors.cameras_ms, 1.0, 5.0),
    ] {
        assert!(v.len() > 20, "{name}: only {} samples", v.len());
        let (p50, p99) = (percentile(v, 50.0), percentile(v, 99.0));
        println!(
            "sync {name:<8} n={:<6} p50 {p50:.3} ms  p99 {p99:.3} ms",
            v.len()
        );
        assert!(
            p50 <= p50_max && p99 <= p99_max,
            "{name}: p50 {p50:.3} ms, p99 {p99:.3} ms"
        );
    }
}
