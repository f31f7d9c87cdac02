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
    // Follower command state: the last goal sent, rad.
    let mut commanded: Option<Vec<f64>> = None;
    let mut holding = false;
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
                &mut commanded,
                &mut holding,
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
    if follow.is_some() && commanded.is_some() {
        // Safe stop on the way out: hold where the arm is, then release.
        if let Ok(read) = bus.read_state(ids) {
            let hold: Vec<(u8, i32)> = read.readings.iter().map(|r| (r.id, r.position)).collect();
            let _ = bus.write_goal_positions(&hold);
        }
        let _ = bus.set_torque(ids, false);
    }
    result
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
    commanded: &mut Option<Vec<f64>>,
    holding: &mut bool,
    sink: &Sink,
    topics: &ArmTopics,
    device: &str,
) {
    let fresh = follow.leader.get().filter(|(_, at)| {
        host_now_nanos().saturating_sub(*at) < follow.stale_after.as_nanos() as u64
    });
    let Some((target, _)) = fresh else {
        if commanded.is_some() && !*holding {
            *holding = true;
            let hold: Vec<(u8, i32)> = arm
                .joints
                .iter()
                .zip(present)
                .map(|(j, &rad)| (j.id, j.rad_to_ticks(rad)))
                .collect();
            let _ = bus.write_goal_positions(&hold);
            *commanded = Some(present.to_vec());
            sink.event(topics.events, serde_json::json!({"event": "teleop_hold", "device": device, "reason": "leader data stale"}).to_string());
        }
        return;
    };
    if *holding {
        *holding = false;
        sink.event(
            topics.events,
            serde_json::json!({"event": "teleop_resume", "device": device}).to_string(),
        );
    }
    let first = commanded.is_none();
    let previous = commanded.get_or_insert_with(|| present.to_vec());
    let mut goals = Vec::with_capacity(arm.joints.len());
    for ((joint, prev), want) in arm.joints.iter().zip(previous.iter_mut()).zip(&target) {
        let step = (want - *prev).clamp(-follow.max_step_rad, follow.max_step_rad);
        *prev += step;
        goals.push((joint.id, joint.rad_to_ticks(*prev)));
    }
    // Goal before torque: a servo switched on holds its goal register, so
    // the goal must already be where the arm is.
    if let Err(e) = bus.write_goal_positions(&goals) {
        sink.status().error(e.to_string());
    }
    if first {
        let ids: Vec<u8> = arm.joints.iter().map(|j| j.id).collect();
        let _ = bus.set_torque(&ids, true);
    }
}
