//! Livox against Livox's own SDK. No public capture of a Livox SDK2 sensor
//! with a usable licence exists (the only public Mid-360 pcaps,
//! atinfinity/livox-mid360-core's test fixtures, are synthetic by their
//! own README), so reel's Mid-360 and HAP emulators stand in for the
//! sensor and Livox-SDK2 1.3 (the library the `py-livox2` wheel ships),
//! configured as its sample configs configure a lidar, is the receiver:
//! it must accept the emulator's datagrams as its lidar's (address, data
//! ports, header) and report the model. The packets it delivered are then
//! replayed at their arrival timing over loopback UDP into a `Recorder`,
//! and the episode's clouds and IMU samples are compared point for point
//! with livox_ros_driver2's decoding of the same packets
//! (`scripts/livox_sdk_reference.py`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::replay::{
    assert_same_scans, clouds, events_of, free_port, imu_samples, lidar_rig, read_packets,
    read_reference, record_points_and_imu,
};
use reel_capture::drivers::livox::protocol::Model;
use reel_capture::emulators::livox::{LivoxEmulator, LivoxEmulatorConfig};
use reel_testkit::skip::{lidar_python, workspace};

fn check(test: &str, model: Model, sdk_model: &str, rig_model: &str, lidar_ip: &str) {
    let Some(python) = lidar_python("Livox-SDK2 comparison") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut sdk = Command::new(python)
        .arg(workspace().join("scripts/livox_sdk_reference.py"))
        .args([sdk_model, lidar_ip])
        .arg(out.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(sdk.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    let ports: Vec<u16> = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("{test}: {ready}"))
        .split(' ')
        .map(|p| p.parse().unwrap())
        .collect();
    let ip: IpAddr = lidar_ip.parse().unwrap();
    let emulator = LivoxEmulator::start(LivoxEmulatorConfig {
        model,
        target: SocketAddr::from(([127, 0, 0, 1], ports[0])),
        imu_target: Some(SocketAddr::from(([127, 0, 0, 1], ports[1]))),
        clock_start_nanos: 3_600_000_000_000,
        source_ip: Some(ip),
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let stats = emulator.stop();
    let sent = (
        stats.packets.load(Ordering::Relaxed),
        stats.imu_packets.load(Ordering::Relaxed),
    );
    for line in lines {
        println!("{test}: {}", line.unwrap());
    }
    assert!(
        sdk.wait().unwrap().success(),
        "{test}: the SDK script failed"
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("reference.json")).unwrap())
            .unwrap();
    // The SDK took every datagram as its configured lidar's, of this model.
    let dev_type = match model {
        Model::Mid360 => 9,
        Model::Hap => 10,
    };
    assert_eq!(
        summary["devices"],
        serde_json::json!([[dev_type, lidar_ip]]),
        "{test}"
    );
    let packets = read_packets(&out.path().join("packets.bin"));
    let imu_packets = read_packets(&out.path().join("imu_packets.bin"));
    assert_eq!(
        (packets.len() as u64, imu_packets.len() as u64),
        sent,
        "{test}: packets the SDK delivered vs the emulator sent"
    );

    // The same packets into reel, over the live path.
    let dir = tempfile::tempdir().unwrap();
    let (port, imu_port) = (free_port(), free_port());
    let rig = lidar_rig(
        dir.path(),
        rig_model,
        port,
        &format!("imu_address = \"127.0.0.1:{imu_port}\""),
    );
    let path = record_points_and_imu(dir.path(), rig, (&packets, port), (&imu_packets, imu_port));
    let ours = clouds(&path, "/lidar/top/points");
    let theirs = read_reference(&out.path().join("reference.bin"));
    assert_same_scans(test, &ours, &theirs);
    for kind in ["packets_rejected", "packets_lost"] {
        let events = events_of(&path, kind);
        assert!(events.is_empty(), "{test}: {events:?}");
    }

    // IMU: the SDK's gyro (rad/s) and acceleration (g, reel's in m/s²).
    let samples = imu_samples(&path, "/lidar/top/imu");
    let expected = summary["imu"].as_array().unwrap();
    assert_eq!(samples.len(), expected.len(), "{test}: IMU samples");
    for (got, want) in samples.iter().zip(expected) {
        let want: Vec<f64> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let (w, a) = (got.angular_velocity, got.linear_acceleration);
        let ours = [
            w.x,
            w.y,
            w.z,
            a.x / 9.806_65,
            a.y / 9.806_65,
            a.z / 9.806_65,
        ];
        for (o, e) in ours.iter().zip(&want[1..]) {
            assert!((o - e).abs() < 1e-6, "{test}: IMU {ours:?} vs SDK {want:?}");
        }
    }
    println!(
        "{test}: Livox-SDK2 {} took {} point and {} IMU packets as a {} at {lidar_ip}; {} points without a return left out; {} IMU samples equal",
        summary["sdk_version"].as_str().unwrap(),
        packets.len(),
        imu_packets.len(),
        model.name(),
        summary["no_return"],
        samples.len()
    );
}

/// One after the other: two SDKs in one host share its detection port.
#[test]
fn mid360_and_hap_emulators_through_livox_sdk2() {
    check(
        "Mid-360 (Livox-SDK2)",
        Model::Mid360,
        "MID360",
        "mid360",
        "127.0.0.2",
    );
    check("HAP (Livox-SDK2)", Model::Hap, "HAP", "hap", "127.0.0.3");
}
