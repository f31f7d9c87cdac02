//! The LiDAR emulators through the live path: a rig of one emulated sensor
//! recorded by the `Recorder`. Their packets decode (with the drivers that
//! `lidar_real_captures.rs` checks against the vendors' decoders) into
//! whole scans of the emulated room at the sensor's rate, with every return
//! type the mode has, every point on a surface of the room, and an Ouster's
//! IMU at 100 Hz seeing gravity.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::time::Duration;

use reel_capture::emulators::lidar_scene::Scene;
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_capture::rig::LoadedRig;
use reel_episode::cloud::{read_field, CloudLayout};
use reel_episode::ros2::sensor_msgs::{Imu, PointCloud2};
use reel_episode::{EpisodeReader, Outcome};
use reel_testkit::episodes::decoded_on;

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Distance from `p` to the nearest surface of the room (walls, floor,
/// ceiling, pillar).
fn off_surface(scene: &Scene, p: [f64; 3]) -> f64 {
    let r = scene.room;
    let walls = (0..3)
        .flat_map(|a| [(p[a] - r[2 * a]).abs(), (p[a] - r[2 * a + 1]).abs()])
        .fold(f64::INFINITY, f64::min);
    let (px, py, pr) = scene.pillar;
    walls.min(((p[0] - px).hypot(p[1] - py) - pr).abs())
}

/// Records `seconds` of the rig at `path`'s sole LiDAR; returns the episode.
fn record(path: &Path, seconds: f64) -> std::path::PathBuf {
    let rig = LoadedRig::load(path).unwrap();
    let _emulators = EmulatedRig::start(&rig.rig).unwrap();
    let dir = path.parent().unwrap();
    let recorder = Recorder::start(rig, RecorderOptions::new(dir.join("out"))).unwrap();
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    recorder.stop_episode(Outcome::Success).unwrap().path
}

/// Every cloud: points and their return types.
fn clouds(path: &Path) -> Vec<(Vec<[f64; 3]>, Vec<u8>)> {
    decoded_on::<PointCloud2>(path, "/lidar/top/points")
        .iter()
        .map(|cloud| {
            let layout = CloudLayout::of(cloud).unwrap();
            let kind = cloud.field("return_type").unwrap().clone();
            let kinds = layout
                .points(cloud)
                .map(|p| read_field(p, &kind, false).unwrap() as u8)
                .collect();
            (cloud.xyz().unwrap(), kinds)
        })
        .collect()
}

fn rig_file(dir: &Path, lidar: &str) -> std::path::PathBuf {
    let path = dir.join("rig.toml");
    std::fs::write(
        &path,
        format!("[rig]\nname = \"emulated\"\nrobot_type = \"none\"\n\n[[lidar]]\nname = \"top\"\n{lidar}\n"),
    )
    .unwrap();
    path
}

/// Checks the whole scans of one emulated sensor: count, size, surfaces,
/// return types.
fn check_scans(name: &str, path: &Path, seconds: f64, hz: f64, kinds: &[u8]) {
    let scans = clouds(path);
    // The first and last scans are partial (the episode starts and stops
    // mid-turn); every other one is a whole turn.
    let whole = &scans[1..scans.len() - 1];
    let expected = seconds * hz;
    assert!(
        (scans.len() as f64 - expected).abs() <= 2.0,
        "{name}: {} scans in {seconds} s at {hz} Hz",
        scans.len()
    );
    let sizes: Vec<usize> = whole.iter().map(|s| s.0.len()).collect();
    let (lo, hi) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
    // Whole turns are alike; one may be short only by packets the loopback
    // dropped under load, and then the recorder counted them lost.
    let short = sizes
        .iter()
        .filter(|&&s| (hi - s) as f64 > 0.02 * hi as f64)
        .count() as u64;
    let lost: u64 = common::events(&EpisodeReader::open(path).unwrap())
        .iter()
        .filter(|e| e["event"] == "packets_lost")
        .map(|e| e["count"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        short <= lost,
        "{name}: {short} short scans but {lost} packets counted lost; scan sizes {sizes:?}"
    );
    if lost > 0 {
        println!("{name}: {lost} packets lost on loopback, counted; scan sizes {sizes:?}");
    }
    let scene = Scene::default();
    let worst = whole
        .iter()
        .flat_map(|s| s.0.iter())
        .map(|p| off_surface(&scene, *p))
        .fold(0.0, f64::max);
    assert!(
        worst < 0.01,
        "{name}: a point {worst} m off the room's surfaces"
    );
    let seen: std::collections::BTreeSet<u8> =
        whole.iter().flat_map(|s| s.1.iter().copied()).collect();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        kinds,
        "{name}: return types"
    );
    println!(
        "{name}: {} scans, {lo}..{hi} points each, worst {:.2} mm off the surfaces",
        scans.len(),
        worst * 1e3
    );
}

#[test]
fn velodyne_emulator_in_each_model_gives_whole_scans_of_the_room() {
    for (model, rpm) in [
        ("vlp16", 600),
        ("vlp32c", 1200),
        ("hdl32e", 600),
        ("puck-hires", 300),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = rig_file(
            dir.path(),
            &format!(
                "model = \"{model}\"\naddress = \"127.0.0.1:{}\"\nrpm = {rpm}",
                free_port()
            ),
        );
        let episode = record(&path, 1.5);
        check_scans(model, &episode, 1.5, f64::from(rpm) / 60.0, &[1]);
    }
}

#[test]
fn ouster_emulator_gives_whole_frames_and_its_imu() {
    let meta = reel_testkit::skip::workspace()
        .join("tests/data/lidar/ouster/OS-0-32-U1_v2.2.0_1024x10.json");
    let dir = tempfile::tempdir().unwrap();
    let path = rig_file(
        dir.path(),
        &format!(
            "model = \"os0-32\"\naddress = \"127.0.0.1:{}\"\nimu_address = \"127.0.0.1:{}\"\nmetadata = {:?}",
            free_port(),
            free_port(),
            meta.display().to_string()
        ),
    );
    let episode = record(&path, 1.5);
    // The metadata's RNG19 dual profile: first and second returns.
    check_scans("OS-0-32 dual", &episode, 1.5, 10.0, &[1, 2]);
    let imu = common::replay::imu_samples(&episode, "/lidar/top/imu");
    assert!(
        (imu.len() as f64 - 150.0).abs() <= 10.0,
        "{} IMU samples in 1.5 s",
        imu.len()
    );
    for s in &imu {
        let a = s.linear_acceleration;
        assert!(
            (a.z - 9.806_65).abs() < 1e-9 && a.x == 0.0 && a.y == 0.0,
            "{a:?}"
        );
    }
}

/// Dual return (set on the sensor, not in the rig): the glass-like pillar
/// gives a strongest and a last return, everything else one that is both.
#[test]
fn velodyne_emulator_in_dual_return_mode_gives_every_return_type() {
    use reel_capture::drivers::velodyne::protocol::{Model, ReturnMode};
    use reel_capture::emulators::velodyne::{VelodyneEmulator, VelodyneEmulatorConfig};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = rig_file(
        dir.path(),
        &format!("model = \"vlp32c\"\naddress = \"127.0.0.1:{port}\"\nrpm = 600"),
    );
    let rig = LoadedRig::load(&path).unwrap();
    let _sensor = VelodyneEmulator::start(VelodyneEmulatorConfig {
        model: Model::Vlp32c,
        return_mode: ReturnMode::Dual,
        ..VelodyneEmulatorConfig::new(format!("127.0.0.1:{port}").parse().unwrap(), 600)
    })
    .unwrap();
    let recorder = Recorder::start(rig, RecorderOptions::new(dir.path().join("out"))).unwrap();
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_secs_f64(1.5));
    let episode = recorder.stop_episode(Outcome::Success).unwrap().path;
    check_scans("VLP-32C dual", &episode, 1.5, 10.0, &[1, 2, 3]);
}

#[test]
fn livox_emulator_gives_scans_of_the_room_and_its_imu() {
    for (model, points_per_scan, lines) in [("mid360", 20_000.0, 4), ("hap", 45_200.0, 6)] {
        let dir = tempfile::tempdir().unwrap();
        let path = rig_file(
            dir.path(),
            &format!(
                "model = \"{model}\"\naddress = \"127.0.0.1:{}\"\nimu_address = \"127.0.0.1:{}\"",
                free_port(),
                free_port()
            ),
        );
        let episode = record(&path, 1.5);
        // No return type in a Livox packet: 0, "not reported".
        check_scans(model, &episode, 1.5, 10.0, &[0]);
        let scans = clouds(&episode);
        let whole = &scans[1..scans.len() - 1];
        for s in whole {
            // Points that miss the room (none do: it is closed) are dropped.
            assert!(
                (s.0.len() as f64 - points_per_scan).abs() < 0.02 * points_per_scan,
                "{model}: {}",
                s.0.len()
            );
        }
        let reader = EpisodeReader::open(&episode).unwrap();
        let mut rings = std::collections::BTreeSet::new();
        let mut imu = 0;
        for (i, m) in reader.messages().enumerate() {
            let m = m.unwrap();
            match m.channel.topic.as_str() {
                "/lidar/top/points" => {
                    let cloud: PointCloud2 = reader.decode(&m, i as u64).unwrap();
                    let layout = CloudLayout::of(&cloud).unwrap();
                    let ring = cloud.field("ring").unwrap().clone();
                    rings.extend(
                        layout
                            .points(&cloud)
                            .map(|p| read_field(p, &ring, false).unwrap() as u16),
                    );
                }
                "/lidar/top/imu" => {
                    let s: Imu = reader.decode(&m, i as u64).unwrap();
                    assert!((s.linear_acceleration.z - 9.806_65).abs() < 1e-6);
                    imu += 1;
                }
                _ => {}
            }
        }
        assert_eq!(rings.len(), lines, "{model}: lines {rings:?}");
        assert!(
            (imu as f64 - 300.0).abs() <= 15.0,
            "{model}: {imu} IMU samples in 1.5 s"
        );
    }
}
