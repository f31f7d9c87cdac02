#![allow(clippy::unwrap_used)]
//! The recorder end to end on the emulated SO-101 rig: every topic at its
//! rate, teleoperation, faults (a bus unplugged and back, corrupted bytes,
//! a camera that dies), discard, and a full disk.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_formats::episode::{EpisodeReader, Outcome};
use reel_formats::ros2::sensor_msgs::JointState;
use reel_formats::ros2::std_msgs::StringMsg;

struct Stream {
    count: u64,
    first: u64,
    last: u64,
}

fn streams(reader: &EpisodeReader) -> BTreeMap<String, Stream> {
    let mut out: BTreeMap<String, Stream> = BTreeMap::new();
    for m in reader.messages() {
        let m = m.unwrap();
        let s = out.entry(m.channel.topic.clone()).or_insert(Stream {
            count: 0,
            first: u64::MAX,
            last: 0,
        });
        s.count += 1;
        s.first = s.first.min(m.publish_time);
        s.last = s.last.max(m.publish_time);
    }
    out
}

fn events(reader: &EpisodeReader) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        if m.channel.topic == "/episode/events" {
            let s: StringMsg = reader.decode(&m, i as u64).unwrap();
            out.push(serde_json::from_str(&s.data).unwrap());
        }
    }
    out
}

fn record_for(recorder: &Recorder, seconds: f64) -> std::path::PathBuf {
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    recorder.stop_episode(Outcome::Success).unwrap().path
}

fn wait_connected(recorder: &Recorder) {
    for _ in 0..100 {
        if recorder.status().devices.iter().all(|d| d.connected) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("devices did not connect: {:#?}", recorder.status().devices);
}

#[test]
fn so101_episode_has_every_topic_at_rate_and_teleop_moves_the_follower() {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder =
        Recorder::start(rig.clone(), RecorderOptions::new(dir.path().join("out"))).unwrap();
    wait_connected(&recorder);
    let path = record_for(&recorder, 4.0);
    let summary = recorder.shutdown();
    assert_eq!(summary.len(), 1);
    assert!(
        summary[0].dropped.iter().all(|(_, n)| *n == 0),
        "{:?}",
        summary[0].dropped
    );

    let reader = EpisodeReader::open(&path).unwrap();
    assert!(reader.state().is_clean());
    let meta = reader.episode_meta().unwrap().unwrap();
    assert_eq!(meta.robot_type, "so101");
    assert_eq!(meta.outcome, Outcome::Success);
    assert_eq!(meta.rig_config_hash.as_deref(), Some(rig.sha256.as_str()));
    let names: Vec<String> = reader
        .attachments()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(
        names.contains(&"rig.toml".to_string())
            && names.contains(&"so101_new_calib.urdf".to_string()),
        "{names:?}"
    );

    let s = streams(&reader);
    let expected = [
        ("/robot/leader/joint_commands", 100.0),
        ("/robot/follower/joint_states", 100.0),
        ("/camera/front/image/compressed", 30.0),
        ("/camera/wrist/image/compressed", 30.0),
    ];
    for (topic, hz) in expected {
        let st = s
            .get(topic)
            .unwrap_or_else(|| panic!("{topic} missing: {:?}", s.keys()));
        let rate = (st.count - 1) as f64 / ((st.last - st.first) as f64 / 1e9);
        println!("{topic}: {} messages, {rate:.2} Hz of {hz}", st.count);
        assert!(rate >= 0.995 * hz, "{topic}: {rate:.2} Hz < 99.5 % of {hz}");
        assert!(
            st.count as f64 >= 3.7 * hz,
            "{topic}: only {} messages in 4 s",
            st.count
        );
    }
    assert_eq!(s["/robot_description"].count, 1);
    let ev = events(&reader);
    assert_eq!(ev.first().unwrap()["event"], "start");
    assert_eq!(ev.last().unwrap()["event"], "stop");

    // Teleop: the follower tracks the leader (rate limit 0.05 rad/cycle).
    let mut leader = Vec::new();
    let mut follower = Vec::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        if m.channel.topic.starts_with("/robot/") {
            let js: JointState = reader.decode(&m, i as u64).unwrap();
            let t = js.header.stamp.to_nanos();
            if m.channel.topic.contains("leader") {
                leader.push((t, js.position));
            } else {
                follower.push((t, js.position));
            }
        }
    }
    let late: Vec<_> = follower
        .iter()
        .filter(|(t, _)| *t > follower[0].0 + 1_500_000_000)
        .collect();
    let mut worst = 0.0f64;
    for (t, pos) in &late {
        let lead = &leader
            .iter()
            .min_by_key(|(lt, _)| lt.abs_diff(*t))
            .unwrap()
            .1;
        for (a, b) in pos.iter().zip(lead) {
            worst = worst.max((a - b).abs());
        }
    }
    // The follower lags its leader by a few cycles of the 100 Hz loop.
    println!("teleop: worst follower-leader difference {worst:.3} rad");
    assert!(
        worst < 0.25,
        "follower does not track the leader: {worst} rad"
    );
    assert!(
        emu.bus("follower")
            .unwrap()
            .stats()
            .goal_writes
            .load(std::sync::atomic::Ordering::Relaxed)
            > 300
    );
}

#[test]
fn unplugged_bus_is_a_recorded_gap_and_reconnects_while_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let mut emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder = Recorder::start(rig, RecorderOptions::new(dir.path().join("out"))).unwrap();
    wait_connected(&recorder);
    recorder.start_episode(Some("fault drill")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Corrupted bytes on the leader bus: counted, never fatal.
    emu.bus("leader")
        .unwrap()
        .faults()
        .corrupt_one_in
        .store(4, std::sync::atomic::Ordering::Relaxed);
    assert!(emu.stop_device("arm follower"));
    assert!(emu.stop_device("camera wrist"));
    std::thread::sleep(Duration::from_millis(1500));
    emu.restart_device("arm follower").unwrap();
    emu.restart_device("camera wrist").unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let status = recorder.status();
    let summary = recorder.stop_episode(Outcome::Failure).unwrap();
    drop(recorder);

    let leader = status
        .devices
        .iter()
        .find(|d| d.name == "arm leader")
        .unwrap();
    assert!(
        leader.wire_faults > 10,
        "corrupted replies not counted: {leader:?}"
    );
    let reader = EpisodeReader::open(&summary.path).unwrap();
    assert!(reader.state().is_clean());
    let ev = events(&reader);
    for device in ["arm follower", "camera wrist"] {
        let lost = ev
            .iter()
            .find(|e| e["event"] == "device_lost" && e["device"] == device);
        let back = ev
            .iter()
            .find(|e| e["event"] == "device_back" && e["device"] == device);
        assert!(lost.is_some() && back.is_some(), "{device}: {ev:#?}");
        let gap = back.unwrap()["gap_end_nanos"].as_u64().unwrap()
            - back.unwrap()["gap_start_nanos"].as_u64().unwrap();
        assert!(
            (1_000_000_000..4_000_000_000).contains(&gap),
            "{device}: gap {gap} ns"
        );
    }
    // The other streams went on through the fault.
    let s = streams(&reader);
    for topic in [
        "/robot/leader/joint_commands",
        "/camera/front/image/compressed",
    ] {
        let st = &s[topic];
        let rate = (st.count - 1) as f64 / ((st.last - st.first) as f64 / 1e9);
        let hz = if topic.contains("camera") {
            30.0
        } else {
            100.0
        };
        assert!(rate > 0.95 * hz, "{topic}: {rate:.1} Hz during the fault");
    }
    // And the reconnected ones came back.
    let follower_after = reader
        .messages()
        .filter_map(Result::ok)
        .filter(|m| {
            m.channel.topic == "/robot/follower/joint_states"
                && m.log_time > summary_end(&ev) - 1_500_000_000
        })
        .count();
    assert!(
        follower_after > 100,
        "follower did not come back: {follower_after}"
    );
}

fn summary_end(events: &[serde_json::Value]) -> u64 {
    events
        .iter()
        .filter_map(|e| e["gap_end_nanos"].as_u64())
        .max()
        .unwrap()
        + 1_500_000_000
}

#[test]
fn discard_deletes_the_episode() {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let _emu = EmulatedRig::start(&rig.rig).unwrap();
    let out = dir.path().join("out");
    let recorder = Recorder::start(rig, RecorderOptions::new(&out)).unwrap();
    let path = recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    recorder.discard_episode().unwrap();
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    assert!(recorder
        .stop_episode(Outcome::Unknown)
        .unwrap_err()
        .contains("no episode"));
}
