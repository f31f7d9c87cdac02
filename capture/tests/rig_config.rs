//! Rig configs: the samples load, calibration maps ticks ↔ SI both ways, and
//! every kind of mistake is one clear sentence naming the file.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use reel_capture::rig::{LoadedRig, Protocol, Role, ServoModel};
use reel_capture::RigError;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/rigs")
        .join(name)
}

#[test]
fn so101_sample_loads() {
    let loaded = LoadedRig::load(sample("so101-emulated.toml")).unwrap();
    let rig = &loaded.rig;
    assert_eq!(rig.rig.robot_type, "so101");
    assert_eq!(rig.arms.len(), 2);
    assert!(rig
        .arms
        .iter()
        .all(|a| a.protocol == Protocol::Feetech && a.joints.len() == 6));
    assert_eq!(rig.arms[0].role, Role::Leader);
    assert_eq!(rig.cameras.len(), 2);
    assert_eq!(rig.teleop.len(), 1);
    assert_eq!(loaded.sha256.len(), 64);
    assert!(loaded.urdf_path().unwrap().exists());
}

#[test]
fn bimanual_sample_loads() {
    let rig = LoadedRig::load(sample("bimanual-emulated.toml"))
        .unwrap()
        .rig;
    assert_eq!(rig.arms.len(), 4);
    assert!(rig
        .arms
        .iter()
        .all(|a| a.protocol == Protocol::Dynamixel && a.joints.len() == 7 && a.rate_hz == 200.0));
    assert_eq!(rig.cameras.len(), 3);
    assert!(rig
        .cameras
        .iter()
        .all(|c| (c.width, c.height, c.fps) == (640, 480, 30)));
    assert_eq!(rig.lidars.len(), 1);
    assert_eq!(rig.lidars[0].rpm, 600);
}

#[test]
fn calibration_maps_ticks_and_radians() {
    let rig = LoadedRig::load(sample("so101-emulated.toml")).unwrap().rig;
    let mut joint = rig.arms[1].joints[0].clone();
    assert_eq!(joint.ticks_to_rad(2048), 0.0);
    assert!((joint.ticks_to_rad(3072) - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    for ticks in 0..4096 {
        assert_eq!(joint.rad_to_ticks(joint.ticks_to_rad(ticks)), ticks);
    }
    joint.direction = -1;
    joint.offset_ticks = 1000;
    assert!((joint.ticks_to_rad(0) - 1000.0 * std::f64::consts::TAU / 4096.0).abs() < 1e-12);
    assert_eq!(joint.rad_to_ticks(10.0), 0, "clamped to the range");
    assert!((joint.velocity_to_rad_s(4096) + std::f64::consts::TAU).abs() < 1e-12);
    assert!((joint.current_to_a(100) + 0.65).abs() < 1e-12);
    assert_eq!(ServoModel::Xm430W350.model_number(), 1020);
}

fn invalid(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rig.toml");
    std::fs::write(&path, text).unwrap();
    let err = LoadedRig::load(&path).unwrap_err();
    assert!(matches!(err, RigError::Invalid { .. }));
    let msg = err.to_string();
    assert!(msg.contains("rig.toml"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    msg
}

const ARM: &str = r#"
[rig]
name = "t"
robot_type = "t"

[[arm]]
name = "a"
role = "follower"
protocol = "feetech"
port = "/tmp/x"
baud = 1000000
rate_hz = 100

[[arm.joint]]
name = "j1"
id = 1
model = "sts3215"
"#;

#[test]
fn mistakes_are_named() {
    assert!(LoadedRig::load(dirs_free_path())
        .unwrap_err()
        .to_string()
        .contains("check the rig config's path"));
    let ok = LoadedRig::load(write_tmp(ARM).path().join("rig.toml"));
    assert!(ok.is_ok(), "{ok:?}");
    assert!(invalid(&ARM.replace("rate_hz", "rate")).contains("unknown field"));
    assert!(invalid(&format!(
        "{ARM}\n[[arm.joint]]\nname = \"j2\"\nid = 1\nmodel = \"sts3215\"\n"
    ))
    .contains("id 1"));
    assert!(invalid(&ARM.replace("model = \"sts3215\"", "model = \"xl430-w250\"")).contains("bus"));
    assert!(invalid(&ARM.replace("name = \"a\"", "name = \"a b\"")).contains("topic"));
    assert!(invalid(&format!(
        "{ARM}\n[[teleop]]\nleader = \"a\"\nfollower = \"b\"\n"
    ))
    .contains("unknown arm"));
    assert!(invalid(&format!(
        "{ARM}\n[[lidar]]\nname = \"l\"\nmodel = \"vlp16\"\naddress = \"nowhere\"\n"
    ))
    .contains("host:port"));
    assert!(invalid("[rig\n").contains("rig.toml"));
    assert!(
        invalid(&ARM.replace("rate_hz = 100", "rate_hz = 100\nreply_margin_ms = -1"))
            .contains("reply_margin_ms")
    );
    // A rate limit that cannot limit (negative made the step's clamp panic).
    let pair = ARM
        .replace("[[arm.joint]]", "")
        .replace("name = \"j1\"\nid = 1\nmodel = \"sts3215\"\n", "");
    let joint = "[[arm.joint]]\nname = \"j1\"\nid = 1\nmodel = \"sts3215\"\n";
    let two = format!(
        "{pair}{joint}\n[[arm]]\nname = \"l\"\nrole = \"leader\"\nprotocol = \"feetech\"\nport = \"/tmp/y\"\nbaud = 1000000\nrate_hz = 100\n{joint}"
    );
    assert!(LoadedRig::load(
        write_tmp(&format!(
            "{two}\n[[teleop]]\nleader = \"l\"\nfollower = \"a\"\n"
        ))
        .path()
        .join("rig.toml")
    )
    .is_ok());
    for step in ["-0.1", "0", "nan", "5"] {
        assert!(
            invalid(&format!(
                "{two}\n[[teleop]]\nleader = \"l\"\nfollower = \"a\"\nmax_step_rad = {step}\n"
            ))
            .contains("max_step_rad"),
            "{step}"
        );
    }
}

fn dirs_free_path() -> PathBuf {
    PathBuf::from("/no/such/rig.toml")
}

fn write_tmp(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rig.toml"), text).unwrap();
    dir
}

/// The sample rigs' emulated cameras carry the emulator's ideal lens, so
/// their recordings have a `camera_info` (and pass `reel check`).
#[test]
fn sample_rigs_carry_their_emulated_cameras_lens() {
    for name in ["so101-emulated", "bimanual-emulated"] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../samples/rigs/{name}.toml"));
        let rig = reel_capture::rig::LoadedRig::load(&path).unwrap();
        for c in rig.rig.cameras.iter().filter(|c| c.emulated) {
            let ideal = reel_capture::emulators::camera::ideal_lens(c.width, c.height);
            assert_eq!(
                c.intrinsics.as_ref(),
                Some(&ideal),
                "{name}: camera {}",
                c.name
            );
        }
    }
}
