//! Real LiDAR captures, made by other people's sensors, recorded through the
//! live path: the packets are replayed over loopback UDP at the capture's
//! own timing into a `Recorder`, and the episode's clouds are compared
//! scan for scan and point for point with the vendor's decoder
//! (velodyne_decoder, ouster-sdk) run on the same packets by
//! `scripts/lidar_reference.py`.
//!
//! Captures (see `tests/data/README.md` and `shared/testdata/README.md`):
//! - VLP-16 dual return and VLP-32C strongest return, rosbag2 files from
//!   tier4/nebula (Apache-2.0);
//! - VLP-16 strongest return (old firmware: product id 0x21), pcap from
//!   rust-lidar-utils (MIT), and 1000 packets from einride/vlp16-go (MIT);
//! - an HDL-32E pcap from rust-lidar-utils (MIT), which a rig that says
//!   VLP-16 must refuse;
//! - Ouster OS-1-32 (LEGACY profile), OS-0-32 (RNG19 dual return) and
//!   OS-2-128 (RNG19 single return) pcaps with their metadata, from
//!   ouster-sdk's tests (BSD-3-Clause).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::replay::{
    assert_same_scans, clouds, events_of, free_port, lidar_rig, read_packets, read_reference,
    record_points_and_imu, record_replay, replay, RefPoint,
};
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::EpisodeReader;
use reel_testkit::skip::{lidar_python, skip, workspace};

/// The packets as they arrived, and the vendor decoder's scans; for an
/// Ouster also its IMU packets and the SDK's samples ([accel ts, accel
/// m/s², gyro rad/s]).
struct Reference {
    packets: Vec<(u64, Vec<u8>)>,
    scans: Vec<Vec<RefPoint>>,
    imu_packets: Vec<(u64, Vec<u8>)>,
    imu: Vec<[f64; 7]>,
}

/// Runs the vendor decoder on `capture`; None (skip recorded) without the
/// set-up's venv or the capture.
fn reference(test: &str, family: &str, arg: &str, capture: &Path) -> Option<Reference> {
    if !capture.exists() {
        skip(test, &format!("{} not found", capture.display()));
        return None;
    }
    let python = lidar_python("vendor LiDAR decoder comparison")?;
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(python)
        .arg(workspace().join("scripts/lidar_reference.py"))
        .args([family, arg])
        .arg(capture)
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "lidar_reference.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let packets = read_packets(&out.path().join("packets.bin"));
    let scans = read_reference(&out.path().join("reference.bin"));
    let imu_path = out.path().join("imu_packets.bin");
    let (imu_packets, imu) = if imu_path.exists() {
        let samples: Vec<[f64; 7]> = serde_json::from_str(
            &std::fs::read_to_string(out.path().join("imu_reference.json")).unwrap(),
        )
        .unwrap();
        (read_packets(&imu_path), samples)
    } else {
        (Vec::new(), Vec::new())
    };
    Some(Reference {
        packets,
        scans,
        imu_packets,
        imu,
    })
}

fn data_dir() -> PathBuf {
    workspace().join("tests/data/lidar")
}

/// Records `capture` (decoded by the vendor as `vendor_model`) with a rig
/// that says `rig_model`, and compares; the episode must say that exactly
/// `lost` packets never arrived, and refuse none.
fn check_velodyne(test: &str, rig_model: &str, vendor_model: &str, capture: &Path, lost: u64) {
    let Some(reference) = reference(test, "velodyne", vendor_model, capture) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rig = lidar_rig(dir.path(), rig_model, port, "");
    let path = record_replay(dir.path(), rig, port, &reference.packets);
    let ours = clouds(&path, "/lidar/top/points");
    assert_same_scans(test, &ours, &reference.scans);
    let rejected = events_of(&path, "packets_rejected");
    assert!(rejected.is_empty(), "{test}: {rejected:?}");
    let counted: u64 = events_of(&path, "packets_lost")
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, lost, "{test}: packets lost");
}

#[test]
fn vlp16_dual_return_gives_the_vendor_decoders_scans() {
    check_velodyne(
        "VLP-16 dual return (nebula)",
        "vlp16",
        "VLP16",
        &data_dir().join("nebula/vlp16_dual_return.db3"),
        0,
    );
}

#[test]
fn vlp32c_gives_the_vendor_decoders_scans() {
    check_velodyne(
        "VLP-32C (nebula)",
        "vlp32c",
        "VLP32C",
        &data_dir().join("nebula/vlp32c_strongest.db3"),
        // The file keeps 76-packet runs 50.4 ms apart: 4 gaps of 75
        // packets (663.552 µs each) the sensor sent and the file lacks.
        300,
    );
}

#[test]
fn vlp16_old_firmware_pcap_gives_the_vendor_decoders_scans() {
    let Some(capture) = common::testdata(
        "VLP-16 pcap (rust-lidar-utils)",
        "lidar/rust-lidar-utils/velodyne_vlp16.pcap",
    ) else {
        return;
    };
    check_velodyne(
        "VLP-16 pcap (rust-lidar-utils)",
        "vlp16",
        "VLP16",
        &capture,
        0,
    );
}

#[test]
fn vlp16_einride_recording_gives_the_vendor_decoders_scans() {
    let Some(capture) = common::testdata(
        "VLP-16 recording (einride)",
        "lidar/einride_vlp16_go/recording.bin",
    ) else {
        return;
    };
    check_velodyne("VLP-16 recording (einride)", "vlp16", "VLP16", &capture, 0);
}

#[test]
fn hdl32e_capture_gives_the_vendor_decoders_scans() {
    let Some(capture) = common::testdata(
        "HDL-32E pcap (rust-lidar-utils)",
        "lidar/rust-lidar-utils/velodyne_vlp32.pcap",
    ) else {
        return;
    };
    check_velodyne(
        "HDL-32E pcap (rust-lidar-utils)",
        "hdl32e",
        "HDL32E",
        &capture,
        0,
    );
}

/// A rig that says VLP-16 on an HDL-32E's packets: the start fails with one
/// line naming the device and the model to set.
#[test]
fn hdl32e_packets_on_a_vlp16_rig_are_refused_at_start() {
    let test = "HDL-32E refused as VLP-16";
    let Some(capture) = common::testdata(test, "lidar/rust-lidar-utils/velodyne_vlp32.pcap") else {
        return;
    };
    let Some(reference) = reference(test, "velodyne", "HDL32E", &capture) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let rig = lidar_rig(dir.path(), "vlp16", port, "");
    let packets = reference.packets.clone();
    let sender = std::thread::spawn(move || {
        // The sensor is already sending when the recorder starts.
        for _ in 0..20 {
            replay(&packets, port);
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let err = Recorder::start(rig, RecorderOptions::new(dir.path().join("out"))).unwrap_err();
    let text = err.to_string();
    sender.join().unwrap();
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.starts_with(&format!("lidar top (127.0.0.1:{port})")),
        "{text}"
    );
    assert!(
        text.contains("HDL-32E") && text.contains("\"hdl32e\""),
        "{text}"
    );
}

/// Records an Ouster pcap (its IMU packets too, when it has some) with a
/// rig that names its metadata, and compares with ouster-sdk's frames and
/// IMU samples.
fn check_ouster(test: &str, rig_model: &str, name: &str) {
    let dir_data = data_dir().join("ouster");
    let (pcap, meta) = (
        dir_data.join(format!("{name}.pcap")),
        dir_data.join(format!("{name}.json")),
    );
    let Some(reference) = reference(test, "ouster", meta.to_str().unwrap(), &pcap) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (port, imu_port) = (free_port(), free_port());
    let mut extra = format!("metadata = {:?}", meta.display().to_string());
    if !reference.imu_packets.is_empty() {
        extra.push_str(&format!("\nimu_address = \"127.0.0.1:{imu_port}\""));
    }
    let rig = lidar_rig(dir.path(), rig_model, port, &extra);
    let path = record_points_and_imu(
        dir.path(),
        rig,
        (&reference.packets, port),
        (&reference.imu_packets, imu_port),
    );
    let ours = clouds(&path, "/lidar/top/points");
    assert_same_scans(test, &ours, &reference.scans);
    if !reference.imu.is_empty() {
        check_imu(test, &path, &reference.imu);
    }
    for kind in ["packets_rejected", "packets_lost"] {
        let events = events_of(&path, kind);
        assert!(events.is_empty(), "{test}: {events:?}");
    }
}

#[test]
fn ouster_legacy_profile_gives_the_sdks_frames() {
    check_ouster(
        "OS-1-32 LEGACY (ouster-sdk)",
        "os1-32",
        "OS-1-32-G_v2.1.1_1024x10",
    );
}

#[test]
fn ouster_rng19_dual_return_gives_the_sdks_frames() {
    check_ouster(
        "OS-0-32 RNG19 dual (ouster-sdk)",
        "ouster",
        "OS-0-32-U1_v2.2.0_1024x10",
    );
}

#[test]
fn ouster_rng19_single_return_gives_the_sdks_frames() {
    check_ouster(
        "OS-2-128 RNG19 single (ouster-sdk)",
        "os2-128",
        "OS-2-128-U1_v2.3.0_1024x10",
    );
}

/// A rig that says OS-1-64 with an OS-0-32's metadata fails at start.
#[test]
fn ouster_metadata_of_another_model_is_refused_at_start() {
    let meta = data_dir().join("ouster/OS-0-32-U1_v2.2.0_1024x10.json");
    if !meta.exists() {
        skip(
            "Ouster metadata mismatch",
            "tests/data/lidar/ouster missing",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rig = lidar_rig(
        dir.path(),
        "os1-64",
        free_port(),
        &format!("metadata = {:?}", meta.display().to_string()),
    );
    let err = Recorder::start(rig, RecorderOptions::new(dir.path().join("out"))).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.starts_with("lidar top ("), "{text}");
    assert!(
        text.contains("OS-0-32-U1 with 32 beams, the rig says os1-64"),
        "{text}"
    );
}

/// The episode's IMU samples are the SDK's, in SI units, in order, and the
/// IMU's frame hangs from the LiDAR's on `/tf_static` where the metadata
/// puts it.
fn check_imu(test: &str, path: &Path, expected: &[[f64; 7]]) {
    use reel_episode::ros2::sensor_msgs::Imu;
    use reel_episode::ros2::tf2_msgs::TFMessage;
    let reader = EpisodeReader::open(path).unwrap();
    let mut samples = Vec::new();
    let mut statics = Vec::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        match m.channel.topic.as_str() {
            "/lidar/top/imu" => samples.push(reader.decode::<Imu>(&m, i as u64).unwrap()),
            "/tf_static" => {
                statics.extend(reader.decode::<TFMessage>(&m, i as u64).unwrap().transforms)
            }
            _ => {}
        }
    }
    assert_eq!(samples.len(), expected.len(), "{test}: IMU samples");
    for (got, want) in samples.iter().zip(expected) {
        let (w, a) = (got.angular_velocity, got.linear_acceleration);
        let ours = [a.x, a.y, a.z, w.x, w.y, w.z];
        for (o, e) in ours.iter().zip(&want[1..]) {
            assert!((o - e).abs() < 1e-5, "{test}: IMU {ours:?} vs SDK {want:?}");
        }
        assert_eq!(got.header.frame_id, "lidar_top_imu");
        assert_eq!(got.orientation_covariance[0], -1.0);
    }
    let imu = statics
        .iter()
        .find(|t| t.child_frame_id == "lidar_top_imu")
        .unwrap_or_else(|| panic!("{test}: no /tf_static for the IMU: {statics:?}"));
    assert_eq!(imu.header.frame_id, "lidar_top");
    let t = imu.transform.translation;
    assert!(
        (t.x - 0.006253).abs() < 1e-9 && (t.y + 0.011775).abs() < 1e-9,
        "{t:?}"
    );
    println!("{test}: {} IMU samples equal the SDK's", samples.len());
}
