//! One arm's device thread: Sync Read at the configured rate, calibration to
//! SI units, and, for a teleoperated follower, mirroring the leader.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel_episode::robot::RobotModel;
use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::time::host_now_nanos;

use super::sink::{Payload, Sink};
use super::sleep_unless_stopped;
use crate::drivers::servo::{open_bus, ServoBus, StateRead};
use crate::error::BusError;
use crate::rig::Arm;

/// Consecutive failed reads after which a bus that is still open counts as
/// lost (a powered-off arm on a live adapter): half a second's worth.
fn lost_after_failures(rate_hz: f64) -> u32 {
    ((rate_hz * 0.5).ceil() as u32).max(3)
}

/// Leader joint angles shared with its follower's thread.
#[derive(Debug, Default)]
pub struct LeaderShare {
    latest: Mutex<Option<(Vec<f64>, u64)>>,
}

impl LeaderShare {
    fn publish(&self, positions: Vec<f64>, at: u64) {
        if let Ok(mut l) = self.latest.lock() {
            *l = Some((positions, at));
        }
    }
    fn get(&self) -> Option<(Vec<f64>, u64)> {
        self.latest.lock().ok().and_then(|l| l.clone())
    }
}

/// Teleoperation settings of a follower thread.
#[derive(Debug, Clone)]
pub struct FollowLeader {
    /// The leader's latest angles.
    pub leader: Arc<LeaderShare>,
    /// Largest step per command, rad.
    pub max_step_rad: f64,
    /// Leader data older than this stops the follower (hold position).
    pub stale_after: Duration,
    /// Switch torque off when the thread ends.
    pub release_torque_on_exit: bool,
}

/// Where an arm thread's output goes.
#[derive(Debug, Clone)]
pub struct ArmTopics {
    /// `joint_states` (follower) or `joint_commands` (leader).
    pub joints: usize,
    /// `/episode/events`.
    pub events: usize,
    /// A follower with the rig's URDF: its links on `/tf`.
    pub links: Option<Links>,
}

/// An arm's link poses on `/tf`, from each joint sample, as ROS's
/// robot_state_publisher publishes them (so viewers show the moving robot
/// without help); fixed joints go to `/tf_static` when an episode opens.
#[derive(Debug, Clone)]
pub struct Links {
    /// The `/tf` topic.
    pub topic: usize,
    /// The rig's URDF.
    pub model: Arc<RobotModel>,
    /// Frame name prefix (`<arm>/` when several arms share the URDF).
    pub prefix: String,
}

impl Links {
    /// Parent ← child of every moving joint at the sample's positions,
    /// stamped as the sample.
    pub fn message(&self, js: &JointState) -> TFMessage {
        let position = |name: &str| {
            js.name
                .iter()
                .position(|n| n == name)
                .and_then(|i| js.position.get(i).copied())
        };
        TFMessage {
            transforms: self.model.joint_transforms(
                &position,
                js.header.stamp.to_nanos(),
                &self.prefix,
            ),
        }
    }
}

/// Converts a state read to a `JointState` in SI units.
pub fn joint_state(arm: &Arm, read: &StateRead) -> JointState {
    let mut js = JointState {
        header: Header::new(read.sampled_nanos, arm.name.clone()),
        ..JointState::default()
    };
    for (joint, r) in arm.joints.iter().zip(&read.readings) {
        js.name.push(joint.name.clone());
        js.position.push(joint.ticks_to_rad(r.position));
        js.velocity.push(joint.velocity_to_rad_s(r.velocity));
        js.effort.push(joint.current_to_a(r.current));
    }
    js
}

/// Runs until `stop`: opens the bus (again after it vanishes), reads it at
/// the arm's rate, and mirrors the leader when `follow` is set.
pub fn run(
    arm: &Arm,
    topics: &ArmTopics,
    sink: &Sink,
    stop: &AtomicBool,
    publish_to: Option<&LeaderShare>,
    follow: Option<&FollowLeader>,
) {
    let status = sink.status().clone();
    let device = format!("arm {}", arm.name);
    if !crate::realtime::make_current_thread_realtime(crate::realtime::DEVICE_PRIORITY) {
        status.error(format!(
            "{device}: real-time scheduling refused (needs CAP_SYS_NICE or an rtprio limit); polling at normal priority"
        ));
    }
    let ids: Vec<u8> = arm.joints.iter().map(|j| j.id).collect();
    let period = Duration::from_secs_f64(1.0 / arm.rate_hz);
    while !stop.load(Ordering::Relaxed) {
        let mut bus = match open_bus(arm.protocol, &arm.port, arm.baud) {
            Ok(b) => b,
            Err(e) => {
                sink.device_lost(topics.events, &e.to_string(), host_now_nanos());
                sleep_unless_stopped(Duration::from_millis(500), stop);
                continue;
            }
        };
        bus.set_reply_margin(Duration::from_secs_f64(arm.reply_margin_ms * 1e-3));
        let outcome = poll(
            arm,
            topics,
            sink,
            stop,
            bus.as_mut(),
            &ids,
            period,
            publish_to,
            follow,
            &device,
        );
        if let Err(reason) = outcome {
            sink.device_lost(topics.events, &reason.to_string(), host_now_nanos());
            sleep_unless_stopped(Duration::from_millis(200), stop);
        }
    }
}

/// Reads the open bus until `stop` (Ok) or until it is lost (Err).
#[allow(clippy::too_many_arguments)]
fn poll(
    arm: &Arm,
    topics: &ArmTopics,
    sink: &Sink,
    stop: &AtomicBool,
    bus: &mut dyn ServoBus,
    ids: &[u8],
    period: Duration,
    publish_to: Option<&LeaderShare>,
    follow: Option<&FollowLeader>,
    device: &str,
) -> Result<(), BusError> {
    let status = sink.status().clone();
    let period_nanos = period.as_nanos() as u64;
    let mut next = host_now_nanos();
    let mut failures = 0u32;
    let lost_after = lost_after_failures(arm.rate_hz);
    let mut last_error_bits = vec![0u8; ids.len()];
    let mut following = Following::default();
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let now = host_now_nanos();
        if next > now {
            std::thread::sleep(Duration::from_nanos(next - now));
        } else if now - next > 5 * period_nanos {
            // Far behind (the machine stalled): restart the schedule.
            next = now;
        }
        next += period_nanos;
        let read = match bus.read_state(ids) {
            Ok(r) => r,
            Err(e) if e.is_link_lost() => break Err(e),
            Err(e) => {
                status.error(e.to_string());
                failures += 1;
                if failures == lost_after {
                    sink.device_lost(topics.events, &e.to_string(), host_now_nanos());
                }
                continue;
            }
        };
        failures = 0;
        let bus_stats = bus.stats();
        status.wire_faults.store(
            bus_stats.bad_replies + bus_stats.timeouts,
            Ordering::Relaxed,
        );
        sink.device_up(topics.events, read.received_nanos);
        for (r, last) in read.readings.iter().zip(last_error_bits.iter_mut()) {
            if r.error_bits != *last {
                *last = r.error_bits;
                if r.error_bits != 0 {
                    status.error(format!(
                        "{device}: servo {} reports error bits {:#04x}",
                        r.id, r.error_bits
                    ));
                    sink.event(topics.events, serde_json::json!({"event": "servo_error", "device": device, "id": r.id, "bits": r.error_bits}).to_string());
                }
            }
        }
        let js = joint_state(arm, &read);
        let links = topics.links.as_ref().map(|l| (l.topic, l.message(&js)));
        if let Some(share) = publish_to {
            share.publish(js.position.clone(), read.sampled_nanos);
        }
        if let Some(f) = follow {
            mirror(
                arm,
                bus,
                f,
                &js.position,
                &mut following,
                sink,
                topics,
                device,
            );
        }
        if !sink.send(
            topics.joints,
            read.received_nanos,
            read.sampled_nanos,
            Payload::Joints(js),
        ) {
            break Ok(());
        }
        if let Some((topic, tf)) = links {
            if !sink.send_derived(
                topic,
                read.received_nanos,
                read.sampled_nanos,
                Payload::Tf(tf),
            ) {
                break Ok(());
            }
        }
    };
    if let Some(f) = follow.filter(|_| following.commanded.is_some()) {
        // On the way out the follower holds where it is; its torque goes off
        // only when the rig asks (a real arm without torque falls).
        if let Ok(read) = bus.read_state(ids) {
            let hold: Vec<(u8, i32)> = read.readings.iter().map(|r| (r.id, r.position)).collect();
            let written = bus.write_goal_positions(&hold);
            following.report("hold goal", written, sink, topics.events, device);
        }
        if f.release_torque_on_exit {
            let released = bus.set_torque(ids, false);
            following.report("torque off", released, sink, topics.events, device);
        }
    }
    result
}

/// A follower's command state across cycles.
#[derive(Debug, Default)]
struct Following {
    /// The last goal sent, rad; `None` until the first command.
    commanded: Option<Vec<f64>>,
    /// Holding still because the leader's data went stale.
    holding: bool,
    /// Torque was switched on (after the first goal).
    torque_on: bool,
    /// Writes are failing (one event per run of failures).
    write_failing: bool,
    /// Failed writes in the current run of failures.
    failed_writes: u64,
}

impl Following {
    /// Reports a failed write once per run of failures (an event and the
    /// device status), and the run's length when writes work again.
    fn report(
        &mut self,
        what: &str,
        result: Result<(), BusError>,
        sink: &Sink,
        events: usize,
        device: &str,
    ) -> bool {
        match result {
            Ok(()) => {
                if self.write_failing {
                    self.write_failing = false;
                    sink.event(events, serde_json::json!({"event": "teleop_write_recovered", "device": device, "failed_writes": self.failed_writes}).to_string());
                    self.failed_writes = 0;
                }
                true
            }
            Err(e) => {
                self.failed_writes += 1;
                sink.status().error(format!("{device}: {what} failed: {e}"));
                if !self.write_failing {
                    self.write_failing = true;
                    sink.event(events, serde_json::json!({"event": "teleop_write_failed", "device": device, "write": what, "error": e.to_string()}).to_string());
                }
                false
            }
        }
    }
}

/// One teleoperation step: move the follower's goal toward the leader,
/// at most `max_step_rad` per joint per cycle, within each joint's range.
/// A stale leader makes the follower hold its present position.
#[allow(clippy::too_many_arguments)]
fn mirror(
    arm: &Arm,
    bus: &mut dyn ServoBus,
    follow: &FollowLeader,
    present: &[f64],
    state: &mut Following,
    sink: &Sink,
    topics: &ArmTopics,
    device: &str,
) {
    let fresh = follow.leader.get().filter(|(_, at)| {
        host_now_nanos().saturating_sub(*at) < follow.stale_after.as_nanos() as u64
    });
    let Some((target, _)) = fresh else {
        if state.commanded.is_some() && !state.holding {
            state.holding = true;
            let hold = goals_at(arm, present);
            let written = bus.write_goal_positions(&hold);
            state.report("hold goal", written, sink, topics.events, device);
            state.commanded = Some(present.to_vec());
            sink.event(topics.events, serde_json::json!({"event": "teleop_hold", "device": device, "reason": "leader data stale"}).to_string());
        }
        return;
    };
    if state.holding {
        state.holding = false;
        sink.event(
            topics.events,
            serde_json::json!({"event": "teleop_resume", "device": device}).to_string(),
        );
    }
    let previous = state.commanded.as_deref().unwrap_or(present);
    let next: Vec<f64> = previous
        .iter()
        .zip(&target)
        .map(|(prev, want)| prev + (want - prev).clamp(-follow.max_step_rad, follow.max_step_rad))
        .collect();
    // Goal before torque: a servo switched on holds its goal register, so
    // the goal must already be where the arm is.
    let written = bus.write_goal_positions(&goals_at(arm, &next));
    if !state.report("goal positions", written, sink, topics.events, device) {
        // Not sent: the next step starts from the last goal the bus took,
        // so no step on the wire exceeds the limit.
        return;
    }
    state.commanded = Some(next);
    if !state.torque_on {
        let ids: Vec<u8> = arm.joints.iter().map(|j| j.id).collect();
        let switched = bus.set_torque(&ids, true);
        state.torque_on = state.report("torque on", switched, sink, topics.events, device);
    }
}

/// Goal ticks of every joint at `angles` (rad).
fn goals_at(arm: &Arm, angles: &[f64]) -> Vec<(u8, i32)> {
    arm.joints
        .iter()
        .zip(angles)
        .map(|(j, &rad)| (j.id, j.rad_to_ticks(rad)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::recorder::sink::{DeviceStatus, Envelope};

    /// A bus whose writes fail while `failing` is set; it records torque.
    struct FlakyBus {
        failing: bool,
        goals: Vec<Vec<(u8, i32)>>,
        torque: Option<bool>,
        port: std::path::PathBuf,
    }

    impl FlakyBus {
        fn outcome(&self) -> Result<(), BusError> {
            if self.failing {
                Err(BusError::Io {
                    port: self.port.clone(),
                    reason: "Input/output error".into(),
                })
            } else {
                Ok(())
            }
        }
    }

    impl ServoBus for FlakyBus {
        fn ping(&mut self, _: u8) -> Result<u16, BusError> {
            Ok(777)
        }
        fn read_state(&mut self, _: &[u8]) -> Result<StateRead, BusError> {
            unreachable!("mirror does not read")
        }
        fn write_goal_positions(&mut self, goals: &[(u8, i32)]) -> Result<(), BusError> {
            self.outcome()?;
            self.goals.push(goals.to_vec());
            Ok(())
        }
        fn set_torque(&mut self, _: &[u8], on: bool) -> Result<(), BusError> {
            self.outcome()?;
            self.torque = Some(on);
            Ok(())
        }
        fn set_reply_margin(&mut self, _: Duration) {}
        fn stats(&self) -> crate::drivers::servo::BusStats {
            crate::drivers::servo::BusStats::default()
        }
        fn port(&self) -> &std::path::Path {
            &self.port
        }
    }

    fn follower() -> Arm {
        toml::from_str(
            r#"
            name = "follower"
            role = "follower"
            protocol = "feetech"
            port = "/dev/ttyACM1"
            baud = 1000000
            rate_hz = 100
            [[joint]]
            name = "a"
            id = 1
            model = "sts3215"
            offset_ticks = 2048
            direction = 1
            range_ticks = [0, 4095]
            "#,
        )
        .unwrap()
    }

    fn events(rx: &crossbeam_channel::Receiver<Envelope>) -> Vec<serde_json::Value> {
        rx.try_iter()
            .filter_map(|e| match e.payload {
                Payload::Event(json) => Some(serde_json::from_str(&json).unwrap()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn failed_writes_are_reported_once_per_run_and_torque_waits_for_a_goal() {
        let arm = follower();
        let (tx, rx) = crossbeam_channel::bounded(100);
        let sink = Sink::new(tx, DeviceStatus::new("arm follower"));
        let topics = ArmTopics {
            joints: 0,
            events: 1,
            links: None,
        };
        let leader = Arc::new(LeaderShare::default());
        let follow = FollowLeader {
            leader: leader.clone(),
            max_step_rad: 0.05,
            stale_after: Duration::from_secs(10),
            release_torque_on_exit: false,
        };
        let mut bus = FlakyBus {
            failing: true,
            goals: Vec::new(),
            torque: None,
            port: "/dev/ttyACM1".into(),
        };
        let mut state = Following::default();
        // One cycle: the leader at 1 rad, the follower at 0.
        let cycle = |bus: &mut FlakyBus, state: &mut Following| {
            leader.publish(vec![1.0], host_now_nanos());
            mirror(
                &arm,
                bus,
                &follow,
                &[0.0],
                state,
                &sink,
                &topics,
                "arm follower",
            );
        };
        for _ in 0..3 {
            cycle(&mut bus, &mut state);
        }
        let failed = events(&rx);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["event"], "teleop_write_failed");
        assert_eq!(failed[0]["write"], "goal positions");
        assert!(failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("Input/output error"));
        assert!(sink
            .status()
            .last_error
            .lock()
            .unwrap()
            .contains("goal positions failed"));
        assert_eq!(
            bus.torque, None,
            "torque switched on before any goal was written"
        );

        bus.failing = false;
        cycle(&mut bus, &mut state);
        let recovered = events(&rx);
        assert_eq!(recovered.len(), 1, "{recovered:?}");
        assert_eq!(recovered[0]["event"], "teleop_write_recovered");
        assert_eq!(recovered[0]["failed_writes"], 3);
        assert_eq!(bus.torque, Some(true));
        // The failed cycles did not advance the goal: the first goal on the
        // wire is one step from where the arm is.
        let sent = arm.joints[0].ticks_to_rad(bus.goals[0][0].1);
        assert!(
            (sent - 0.05).abs() < 2e-3,
            "{sent} rad after the first write"
        );
    }
}
