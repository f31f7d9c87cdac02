#![allow(clippy::unwrap_used)]
//! The bus drivers against the emulated buses, over real pty pairs: scan,
//! state reads that match the scripted motion, goal writes, corrupted
//! replies, and a bus that vanishes and comes back.

use std::path::PathBuf;
use std::time::Duration;

use reel_capture::drivers::servo::{open_bus, scan};
use reel_capture::emulators::motion::JointMotion;
use reel_capture::emulators::servo_bus::{EmulatedServo, ServoBusEmulator};
use reel_capture::rig::{Protocol, ServoModel};
use reel_capture::BusError;

fn servos(model: ServoModel, n: u8) -> Vec<EmulatedServo> {
    (1..=n)
        .map(|id| EmulatedServo {
            id,
            model,
            motion: JointMotion {
                center: 2048.0,
                amplitude: 900.0,
                period_nanos: 1_500_000_000 + u64::from(id) * 100_000_000,
                phase: 0.1 * f64::from(id),
            },
        })
        .collect()
}

fn link(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn check_bus(protocol: Protocol, model: ServoModel, expected_model: u16) {
    let dir = tempfile::tempdir().unwrap();
    let port = link(&dir, "bus");
    let specs = servos(model, 6);
    let emu = ServoBusEmulator::start(protocol, &port, 1_000_000, &specs).unwrap();
    let mut bus = open_bus(protocol, &port, 1_000_000).unwrap();
    let found = scan(bus.as_mut(), 0..=10);
    assert_eq!(
        found,
        (1..=6).map(|id| (id, expected_model)).collect::<Vec<_>>()
    );

    // Positions follow the scripted motion at the driver's sample time.
    let ids: Vec<u8> = (1..=6).collect();
    let mut errors = Vec::new();
    let mut span = vec![(i32::MAX, i32::MIN); specs.len()];
    for _ in 0..200 {
        let read = bus.read_state(&ids).unwrap();
        assert_eq!(read.readings.len(), 6);
        assert!(read.sent_nanos <= read.sampled_nanos && read.sampled_nanos <= read.received_nanos);
        for (k, (r, spec)) in read.readings.iter().zip(&specs).enumerate() {
            assert_eq!(r.id, spec.id, "readings out of order");
            let expected = spec.motion.ticks_at(read.sampled_nanos);
            errors.push((f64::from(r.position) - expected).abs());
            let position = r.position;
            span[k] = (span[k].0.min(position), span[k].1.max(position));
        }
    }
    // The comparison means something only if the joints moved meanwhile.
    for (spec, (lo, hi)) in specs.iter().zip(&span) {
        assert!(
            hi - lo > 50,
            "servo {} stayed within {lo}..{hi} ticks",
            spec.id
        );
    }
    errors.sort_by(f64::total_cmp);
    let p99 = errors[errors.len() * 99 / 100];
    // 900 ticks per 1.5 s period: at most 3.8 ticks/ms, so 8 ticks is about
    // 2 ms of timing error (scheduling on a loaded machine, not the wire).
    assert!(p99 < 8.0, "p99 position error {p99} ticks");

    // Torque on and a goal: the servos go there.
    bus.set_torque(&ids, true).unwrap();
    bus.write_goal_positions(&ids.iter().map(|&id| (id, 1000)).collect::<Vec<_>>())
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let read = bus.read_state(&ids).unwrap();
    for r in &read.readings {
        assert_eq!(r.position, 1000, "servo {} at {}", r.id, r.position);
    }
    assert!(
        emu.stats()
            .goal_writes
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 6
    );
}

#[test]
fn feetech_bus_against_emulator() {
    check_bus(Protocol::Feetech, ServoModel::Sts3215, 777);
}

#[test]
fn dynamixel_bus_against_emulator() {
    check_bus(Protocol::Dynamixel, ServoModel::Xm430W350, 1020);
}

#[test]
fn corrupted_and_short_replies_are_counted_and_retried() {
    for protocol in [Protocol::Feetech, Protocol::Dynamixel] {
        let model = if protocol == Protocol::Feetech {
            ServoModel::Sts3215
        } else {
            ServoModel::Xl330M288
        };
        let dir = tempfile::tempdir().unwrap();
        let port = link(&dir, "bus");
        let emu = ServoBusEmulator::start(protocol, &port, 1_000_000, &servos(model, 6)).unwrap();
        let mut bus = open_bus(protocol, &port, 1_000_000).unwrap();
        emu.faults()
            .corrupt_one_in
            .store(5, std::sync::atomic::Ordering::Relaxed);
        emu.faults()
            .truncate_one_in
            .store(7, std::sync::atomic::Ordering::Relaxed);
        let ids: Vec<u8> = (1..=6).collect();
        let (mut ok, mut failed) = (0, 0);
        for _ in 0..200 {
            match bus.read_state(&ids) {
                Ok(r) => {
                    assert_eq!(r.readings.len(), 6);
                    ok += 1;
                }
                Err(BusError::BadReply { .. } | BusError::Timeout { .. }) => failed += 1,
                Err(e) => panic!("{protocol:?}: unexpected {e}"),
            }
        }
        let stats = bus.stats();
        assert!(
            stats.bad_replies + stats.timeouts > 20,
            "{protocol:?}: {stats:?}"
        );
        assert!(stats.retries > 20, "{stats:?}");
        // One retry turns most faults into good reads.
        assert!(
            ok > 180,
            "{protocol:?}: {ok} good reads, {failed} failed, {stats:?}"
        );
    }
}

#[test]
fn a_vanished_bus_is_reported_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let port = link(&dir, "bus");
    let specs = servos(ServoModel::Sts3215, 3);
    let emu = ServoBusEmulator::start(Protocol::Feetech, &port, 1_000_000, &specs).unwrap();
    let mut bus = open_bus(Protocol::Feetech, &port, 1_000_000).unwrap();
    bus.read_state(&[1, 2, 3]).unwrap();
    emu.stop();
    let err = bus.read_state(&[1, 2, 3]).unwrap_err();
    assert!(err.is_link_lost(), "{err}");
    let err = open_bus(Protocol::Feetech, &port, 1_000_000).err().unwrap();
    assert!(err.to_string().contains("bus"), "{err}");
    let _emu = ServoBusEmulator::start(Protocol::Feetech, &port, 1_000_000, &specs).unwrap();
    let mut bus = open_bus(Protocol::Feetech, &port, 1_000_000).unwrap();
    assert_eq!(bus.read_state(&[1, 2, 3]).unwrap().readings.len(), 3);
}
