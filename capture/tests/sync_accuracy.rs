#![allow(clippy::unwrap_used)]
//! Timestamp accuracy against the emulators' ground truth, on the bimanual
//! rig (4 arms at 200 Hz, 3 cameras, a VLP-16 with an offset, drifting
//! clock). Joints: the bus emulators log when the servos latched which
//! positions. Cameras: the acquisition time drawn into each frame. LiDAR: when
//! the emulated beam crossed the revolution's cut azimuth.
//! Targets: p99 ≤ 2 ms for joints and LiDAR, ≤ 5 ms for cameras.

mod common;

use std::time::Duration;

use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_capture::{timecode, video};
use reel_formats::episode::{EpisodeReader, Outcome};
use reel_formats::ros2::sensor_msgs::{CompressedImage, JointState, PointCloud2};

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

    let reader = EpisodeReader::open(&summary.path).unwrap();
    let (mut joints, mut cameras, mut lidar) = (Vec::new(), Vec::new(), Vec::new());
    let lidar_emu = emu.lidar("top").unwrap();
    let mut per_arm: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        let topic = m.channel.topic.as_str();
        if let Some(arm_name) = topic
            .strip_prefix("/robot/")
            .and_then(|t| t.split('/').next())
        {
            let arm = rig.rig.arms.iter().find(|a| a.name == arm_name).unwrap();
            let js: JointState = reader.decode(&m, i as u64).unwrap();
            let stamp = js.header.stamp.to_nanos();
            // rad → ticks through the calibration: exact, so raw ticks are recoverable.
            let ticks: Vec<i32> = arm
                .joints
                .iter()
                .zip(&js.position)
                .map(|(j, rad)| {
                    (f64::from(j.offset_ticks)
                        + f64::from(j.direction) * rad * 4096.0 / std::f64::consts::TAU)
                        .round() as i32
                })
                .collect();
            let truth = emu
                .bus(arm_name)
                .unwrap()
                .stats()
                .latch_time_of(&ticks, stamp)
                .expect("positions were latched");
            joints.push((stamp as f64 - truth as f64).abs() / 1e6);
            per_arm
                .entry(arm_name.to_string())
                .or_insert_with(Vec::new)
                .push((stamp as f64 - truth as f64) / 1e6);
        } else if topic.starts_with("/camera/") {
            let img: CompressedImage = reader.decode(&m, i as u64).unwrap();
            let frame = video::decode_jpeg(&img.data).unwrap();
            let truth = timecode::read(frame.data(0), frame.stride(0), frame.width() as usize)
                .expect("timecode readable");
            cameras.push((img.header.stamp.to_nanos() as f64 - truth as f64).abs() / 1e6);
        } else if topic.starts_with("/lidar/") {
            let cloud: PointCloud2 = reader.decode(&m, i as u64).unwrap();
            let stamp = cloud.header.stamp.to_nanos();
            let truth = lidar_emu.true_time_of_azimuth(0.0, stamp);
            lidar.push((stamp as f64 - truth as f64).abs() / 1e6);
        }
    }
    for (arm, v) in &mut per_arm {
        println!(
            "{arm}: p1 {:.3} p50 {:.3} p99 {:.3} max {:.3}",
            common::percentile(v, 1.0),
            common::percentile(v, 50.0),
            common::percentile(v, 99.0),
            common::percentile(v, 100.0)
        );
    }
    let report = |name: &str, v: &mut Vec<f64>, limit: f64| {
        assert!(v.len() > 20, "{name}: only {} samples", v.len());
        let p50 = common::percentile(v, 50.0);
        let p99 = common::percentile(v, 99.0);
        println!(
            "sync {name:<8} n={:<6} p50 {p50:.3} ms  p99 {p99:.3} ms  (target p99 ≤ {limit} ms)",
            v.len()
        );
        (p99, limit)
    };
    let results = [
        ("joints", report("joints", &mut joints, 2.0)),
        ("lidar", report("lidar", &mut lidar, 2.0)),
        ("cameras", report("cameras", &mut cameras, 5.0)),
    ];
    for (name, (p99, limit)) in results {
        assert!(p99 <= limit, "{name}: p99 {p99:.3} ms > {limit} ms");
    }
}
