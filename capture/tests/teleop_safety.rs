#![allow(clippy::unwrap_used)]
//! Teleoperation safety on the emulated SO-101 rig: a leader that stops
//! answering makes the follower hold (an event says so) and resume; no goal
//! on the wire moves a joint more than `max_step_rad` from the one before;
//! the follower's torque stays on when recording ends unless the rig asks
//! for it to go off. (Failed writes: the unit tests of `recorder::arm`.)

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{events, wait_connected};
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::time::host_now_nanos;
use reel_episode::{EpisodeReader, Outcome};

fn goal_count(emu: &EmulatedRig) -> u64 {
    emu.bus("follower")
        .unwrap()
        .stats()
        .goal_writes
        .load(Ordering::Relaxed)
}

fn torque(emu: &EmulatedRig) -> Vec<bool> {
    let t = emu
        .bus("follower")
        .unwrap()
        .stats()
        .torque
        .lock()
        .unwrap()
        .clone();
    assert_eq!(
        t.len(),
        6,
        "not every follower servo had its torque written: {t:?}"
    );
    t.into_values().collect()
}

#[test]
fn a_stalled_leader_holds_the_follower_and_no_goal_step_exceeds_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let max_step = rig.rig.teleop[0].max_step_rad;
    assert!(
        !rig.rig.teleop[0].release_torque_on_exit,
        "the default must keep torque"
    );
    let emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder =
        Recorder::start(rig.clone(), RecorderOptions::new(dir.path().join("out"))).unwrap();
    wait_connected(&recorder);
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let moving = goal_count(&emu);
    assert!(moving > 50, "the follower was not driven: {moving} goals");

    // The leader's bus goes quiet (a powered-off leader arm).
    emu.bus("leader")
        .unwrap()
        .faults()
        .mute
        .store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(400));
    let held = goal_count(&emu);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        goal_count(&emu),
        held,
        "goals were sent while the leader was silent"
    );
    emu.bus("leader")
        .unwrap()
        .faults()
        .mute
        .store(false, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(goal_count(&emu) > held + 50, "the follower did not resume");
    let stopped_at = host_now_nanos();
    let path = recorder.stop_episode(Outcome::Success).unwrap().path;
    recorder.shutdown();

    let reader = EpisodeReader::open(&path).unwrap();
    let ev: Vec<String> = events(&reader)
        .iter()
        .filter(|e| e["device"] == "arm follower")
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    let holds = ev.iter().filter(|e| *e == "teleop_hold").count();
    assert_eq!(holds, 1, "follower events: {ev:?}");
    let hold_at = ev.iter().position(|e| e == "teleop_hold").unwrap();
    assert!(
        ev[hold_at..].iter().any(|e| e == "teleop_resume"),
        "no resume after the hold: {ev:?}"
    );
    assert!(!ev.iter().any(|e| e == "teleop_write_failed"), "{ev:?}");

    // Every goal on the wire, per servo: at most one step from the one
    // before (one tick of rounding), except the single hold, which goes to
    // where the arm stands.
    let goals = emu
        .bus("follower")
        .unwrap()
        .stats()
        .goals
        .lock()
        .unwrap()
        .clone();
    let limit_ticks = max_step * 4096.0 / std::f64::consts::TAU + 1.0;
    let mut worst = 0.0f64;
    for id in 1..=6u8 {
        let series: Vec<i32> = goals
            .iter()
            .filter(|(t, i, _)| *i == id && *t < stopped_at)
            .map(|(_, _, g)| *g)
            .collect();
        assert!(series.len() > 200, "servo {id}: {} goals", series.len());
        let steps: Vec<f64> = series
            .windows(2)
            .map(|w| f64::from((w[1] - w[0]).abs()))
            .collect();
        let over = steps.iter().filter(|s| **s > limit_ticks).count();
        assert!(
            over <= holds,
            "servo {id}: {over} steps above {limit_ticks:.1} ticks: {:?}",
            steps
                .iter()
                .filter(|s| **s > limit_ticks)
                .collect::<Vec<_>>()
        );
        worst = steps
            .iter()
            .copied()
            .filter(|s| *s <= limit_ticks)
            .fold(worst, f64::max);
    }
    println!("largest rate-limited step {worst} ticks (limit {limit_ticks:.1})");
    assert!(
        worst > 0.5 * limit_ticks,
        "the rate limit was never reached, so this test shows nothing"
    );

    // Recording ended: a real follower would fall without torque.
    assert!(
        torque(&emu).iter().all(|on| *on),
        "torque released by default"
    );
}

#[test]
fn torque_is_released_on_exit_only_when_the_rig_asks() {
    let dir = tempfile::tempdir().unwrap();
    let mut rig = common::sample_rig_in("so101-emulated", dir.path());
    rig.rig.teleop[0].release_torque_on_exit = true;
    let emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder =
        Recorder::start(rig.clone(), RecorderOptions::new(dir.path().join("out"))).unwrap();
    wait_connected(&recorder);
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        torque(&emu).iter().all(|on| *on),
        "teleop never switched torque on"
    );
    recorder.stop_episode(Outcome::Success).unwrap();
    recorder.shutdown();
    assert!(
        torque(&emu).iter().all(|on| !on),
        "torque still on after exit"
    );
}
