#![allow(clippy::unwrap_used)]
//! The recorder end to end on the emulated SO-101 rig: every topic at its
//! rate, metadata and attachments, teleoperation. A binary of its own, so
//! no other recorder test shares the CPU while the follower's tracking is
//! measured.

mod common;

use common::{events, record_for, streams, wait_connected};
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::{EpisodeReader, Outcome};

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
