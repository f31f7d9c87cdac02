#![allow(clippy::unwrap_used)]
//! The recorder on the emulated SO-101 rig under faults: a bus unplugged
//! and back, corrupted bytes, a camera that dies; and discard. (Rates and
//! teleop: `end_to_end.rs`; a full disk: `disk_full.rs`.)

mod common;

use common::{events, streams, wait_connected};

use std::time::Duration;

use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::{EpisodeReader, Outcome};

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
        .to_string()
        .contains("no episode"));
}
