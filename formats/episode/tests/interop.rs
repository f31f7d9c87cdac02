//! Third-party readers open reel episodes: the Python `mcap` package with
//! `mcap-ros2-support` and `rosbags` decode every message of every type
//! (through `scripts/check_interop.py`, in the venv `scripts/setup.sh` makes).
//!
//! Without that venv the test says so and passes, except under CI (`CI` set),
//! where a missing reader is a failure.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use reel_episode::ros2::sensor_msgs::{Image, JointState};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::{EpisodeMeta, EpisodeWriter};
use serde_json::Value;

fn workspace() -> PathBuf {
    reel_testkit::skip::workspace()
}

fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("REEL_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = workspace().join(".venv/bin/python");
    venv.exists().then_some(venv)
}

fn write_episode(path: &Path) {
    let mut w = EpisodeWriter::create(
        path,
        EpisodeMeta::new("interop", "test_arm"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap();
    let t0 = 1_700_000_000_000_000_000u64;
    reel_testkit::synthetic_rig::write_mix(
        &mut w,
        &reel_testkit::synthetic_rig::RigMix::small(),
        t0,
        1.0,
    )
    .unwrap();
    let nan_joints = w
        .add_topic::<JointState>("/robot/nan/joint_states")
        .unwrap();
    let js = JointState {
        header: Header::new(t0, "base"),
        name: vec!["a".into(), "b".into()],
        position: vec![f64::NAN, 1.5],
        velocity: vec![],
        effort: vec![f64::INFINITY, -2.0],
    };
    w.write(nan_joints, &js, t0, t0).unwrap();
    let image = w.add_topic::<Image>("/camera/raw/image").unwrap();
    let img = Image {
        header: Header::new(t0, "raw"),
        height: 2,
        width: 2,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: 6,
        data: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    };
    w.write(image, &img, t0, t0).unwrap();
    let tf = w.add_topic::<TFMessage>("/tf").unwrap();
    let transform = TransformStamped {
        header: Header::new(t0, "base"),
        child_frame_id: "link1".into(),
        transform: Transform {
            translation: Vector3 {
                x: 0.1,
                y: 0.2,
                z: 0.3,
            },
            rotation: Quaternion::IDENTITY,
        },
    };
    w.write(
        tf,
        &TFMessage {
            transforms: vec![transform.clone()],
        },
        t0,
        t0,
    )
    .unwrap();
    let single = w.add_topic::<TransformStamped>("/pose").unwrap();
    w.write(single, &transform, t0, t0).unwrap();
    let video = w
        .add_topic::<CompressedVideo>("/camera/cam0/video")
        .unwrap();
    let frame = CompressedVideo {
        timestamp: Time::from_nanos(t0),
        frame_id: "cam0".into(),
        data: vec![0, 0, 0, 1, 0x67, 0x42, 0, 0x1e],
        format: "h264".into(),
    };
    w.write(video, &frame, t0, t0).unwrap();
    let header = w.add_topic::<Header>("/heartbeat").unwrap();
    w.write(header, &Header::new(t0, "x"), t0, t0).unwrap();
    let time = w.add_topic::<Time>("/clock_sample").unwrap();
    w.write(time, &Time::from_nanos(t0), t0, t0).unwrap();
    let urdf = w.add_topic::<StringMsg>("/robot_description").unwrap();
    w.write(
        urdf,
        &StringMsg {
            data: "<robot name=\"t\"/>".into(),
        },
        t0,
        t0,
    )
    .unwrap();
    w.finish().unwrap();
}

#[test]
fn python_mcap_and_rosbags_decode_every_message() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the third-party reader check: run scripts/setup.sh to create .venv"
        );
        reel_testkit::skip::skip(
            "python_mcap_and_rosbags_decode_every_message",
            "no Python venv with mcap/rosbags (run scripts/setup.sh)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("interop.mcap");
    write_episode(&path);
    let ours = reel_episode::info(&path).unwrap();

    let out = Command::new(&python)
        .arg(workspace().join("scripts/check_interop.py"))
        .arg(&path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        out.status.success(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = &report[path.to_str().unwrap()];
    for reader in ["mcap", "rosbags"] {
        let topics = &file[reader];
        assert_eq!(
            topics.as_object().unwrap().len(),
            ours.topics.len(),
            "{reader}: {topics:#}"
        );
        for t in &ours.topics {
            let theirs = &topics[&t.topic];
            assert_eq!(theirs["count"], t.message_count, "{reader} {}", t.topic);
            assert_eq!(theirs["type"], t.type_name.as_str(), "{reader} {}", t.topic);
        }
        let first = |topic: &str| topics[topic]["first"].clone();
        let js = first("/robot/nan/joint_states");
        assert_eq!(js["name"], serde_json::json!(["a", "b"]), "{reader}");
        assert_eq!(js["position"], serde_json::json!(["nan", 1.5]), "{reader}");
        assert_eq!(js["effort"], serde_json::json!(["inf", -2.0]), "{reader}");
        assert_eq!(js["velocity"], serde_json::json!([]), "{reader}");
        assert_eq!(js["header"]["stamp"]["sec"], 1_700_000_000, "{reader}");
        let arm = first("/robot/arm0/joint_states");
        assert_eq!(arm["name"].as_array().unwrap().len(), 6, "{reader}");
        let info = first("/camera/cam0/camera_info");
        assert_eq!(info["width"], 64);
        assert_eq!(info["distortion_model"], "plumb_bob");
        assert_eq!(info["k"].as_array().unwrap().len(), 9, "{reader}");
        assert_eq!(info["p"].as_array().unwrap().len(), 12, "{reader}");
        let cloud = first("/lidar/top/points");
        assert_eq!(cloud["width"], 500, "{reader}");
        assert_eq!(cloud["point_step"], 24, "{reader}");
        let names: Vec<&str> = cloud["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["x", "y", "z", "intensity", "ring", "return_type", "time"],
            "{reader}"
        );
        assert_eq!(cloud["fields"][4]["datatype"], 4, "{reader}");
        let img = first("/camera/raw/image");
        assert_eq!(img["encoding"], "rgb8", "{reader}");
        assert_eq!(
            img["data"],
            serde_json::json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
            "{reader}"
        );
        let jpeg = first("/camera/cam0/image/compressed");
        assert_eq!(jpeg["format"], "jpeg", "{reader}");
        let tf = first("/tf");
        assert_eq!(tf["transforms"][0]["child_frame_id"], "link1", "{reader}");
        assert_eq!(
            tf["transforms"][0]["transform"]["translation"]["z"], 0.3,
            "{reader}"
        );
        assert_eq!(
            tf["transforms"][0]["transform"]["rotation"]["w"], 1.0,
            "{reader}"
        );
        let static_tf = first("/tf_static");
        assert_eq!(
            static_tf["transforms"].as_array().unwrap().len(),
            2,
            "{reader}"
        );
        let video = first("/camera/cam0/video");
        assert_eq!(video["format"], "h264", "{reader}");
        assert_eq!(video["frame_id"], "cam0", "{reader}");
        assert_eq!(
            first("/robot_description")["data"],
            "<robot name=\"t\"/>",
            "{reader}"
        );
        assert_eq!(first("/heartbeat")["frame_id"], "x", "{reader}");
        assert_eq!(first("/clock_sample")["sec"], 1_700_000_000, "{reader}");
    }
}
