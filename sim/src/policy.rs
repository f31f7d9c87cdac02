//! Policies: the scripted pick-and-place expert (IK + waypoints + grasp) and
//! replay of a recorded episode's joint commands.

use std::collections::BTreeMap;
use std::path::Path;

use reel_episode::geometry::Iso;
use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::EpisodeReader;

use crate::ik::{self, Tool, ToolGoal};
use crate::scenario::Scenario;
use crate::world::World;
use crate::SimError;

/// Joint targets over time, for every actuated joint of the world (in its order).
pub trait Policy: Send {
    /// Targets at simulated time `t_nanos`.
    fn targets(&self, t_nanos: u64) -> Vec<f64>;
    /// When the policy has nothing more to do.
    fn end_nanos(&self) -> u64;
    /// Phase name at `t_nanos` (for episode events).
    fn phase(&self, t_nanos: u64) -> &str;
}

#[derive(Debug, Clone)]
struct Segment {
    name: &'static str,
    start_nanos: u64,
    end_nanos: u64,
    from: Vec<f64>,
    to: Vec<f64>,
}

/// The scripted expert: a list of joint-space segments with minimum-jerk timing.
#[derive(Debug, Clone)]
pub struct PickPlace {
    segments: Vec<Segment>,
    /// Whether every waypoint had an IK solution within tolerance.
    pub reachable: bool,
}

impl PickPlace {
    /// Plans the pick of object `object` and its placement at `target` (x, y).
    pub fn plan(scenario: &Scenario, world: &mut World, object: usize, target: [f64; 2]) -> Self {
        let spec = &scenario.spec.robot;
        let g = &spec.gripper;
        let names: Vec<String> = world.joints.iter().map(|j| j.name.clone()).collect();
        let limits: Vec<Option<(f64, f64)>> = world.joints.iter().map(|j| j.limits).collect();
        let grip = names
            .iter()
            .position(|n| n == g.joint.get_ref())
            .unwrap_or(0);
        let arm: Vec<usize> = (0..names.len()).filter(|i| *i != grip).collect();
        let arm_names: Vec<String> = arm.iter().map(|i| names[*i].clone()).collect();
        let arm_limits: Vec<Option<(f64, f64)>> = arm.iter().map(|i| limits[*i]).collect();
        let home: Vec<f64> = (0..names.len()).map(|i| world.joint_state(i).0).collect();
        let size = world.objects[object].size;
        let pose = world.object_pose(object);
        let tool = Tool {
            link: g.link.get_ref().clone(),
            // The object's centre sits off the fixed jaw by half its width plus a margin.
            point: std::array::from_fn(|k| {
                g.grasp_point[k] - g.closing_axis[k] * (size[0] / 2.0 + 0.004)
            }),
            axis_a: g.approach_axis,
            axis_b: g.closing_axis,
        };
        let down = [0.0, 0.0, -1.0];
        // The jaws close across a pair of faces: of the four face directions,
        // take the one the wrist reaches with the least roll.
        let yaw = {
            let x = pose.rotate([1.0, 0.0, 0.0]);
            x[1].atan2(x[0])
        };
        let reachable = std::cell::Cell::new(true);
        let solve = |p: [f64; 3], closing: [f64; 3], seed: &[f64]| -> Vec<f64> {
            let goal = ToolGoal {
                position: p,
                direction_a: down,
                direction_b: closing,
            };
            let (q, pe, ae) = ik::solve(
                &world.model,
                &world.base,
                &arm_names,
                &arm_limits,
                &tool,
                &goal,
                seed,
            );
            if pe > 0.004 || ae > 0.05 {
                reachable.set(false);
            }
            q
        };
        let arm_seed: Vec<f64> = arm.iter().map(|i| home[*i]).collect();
        let above = 0.08;
        let grasp_z = size[2] / 2.0;
        let at = |xy: [f64; 2], z: f64| [xy[0], xy[1], z];
        let obj_xy = [pose.t[0], pose.t[1]];
        let mut best: Option<(f64, [f64; 3], Vec<f64>)> = None;
        for k in 0..4 {
            let a = yaw + k as f64 * std::f64::consts::FRAC_PI_2;
            let closing = [a.cos(), a.sin(), 0.0];
            let q = solve(at(obj_xy, grasp_z + above), closing, &arm_seed);
            let roll = names
                .iter()
                .position(|n| n.contains("roll"))
                .and_then(|r| arm.iter().position(|i| *i == r));
            let cost = roll.map(|r| q[r].abs()).unwrap_or(0.0);
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, closing, q));
            }
        }
        reachable.set(true);
        let (_, closing, pre_grasp) = best.unwrap_or((0.0, [1.0, 0.0, 0.0], arm_seed.clone()));
        let pre_grasp = solve(at(obj_xy, grasp_z + above), closing, &pre_grasp);
        // Four IK points on a vertical line from `top` down to `bottom`, each
        // seeded by the one before, so the tool moves straight down.
        let vertical = |xy: [f64; 2], top: f64, bottom: f64, seed: &[f64]| -> Vec<Vec<f64>> {
            (1..=4)
                .scan(seed.to_vec(), |seed, k| {
                    let z = bottom + (top - bottom) * (1.0 - k as f64 / 4.0);
                    *seed = solve(at(xy, z), closing, seed);
                    Some(seed.clone())
                })
                .collect()
        };
        let descend = vertical(obj_xy, grasp_z + above, grasp_z, &pre_grasp);
        let grasp = descend.last().cloned().unwrap_or(pre_grasp.clone());
        let lift = solve(at(obj_xy, grasp_z + 0.1), closing, &grasp);
        // Keep the object's yaw: carry the same closing direction to the target.
        let over_target = solve(at(target, grasp_z + 0.1), closing, &lift);
        let place = vertical(target, grasp_z + 0.1, grasp_z + 0.004, &over_target);
        let placed = place.last().cloned().unwrap_or(over_target.clone());
        let retreat = solve(at(target, grasp_z + 0.08), closing, &placed);

        let full = |armq: &[f64], gripper: f64| -> Vec<f64> {
            let mut q = home.clone();
            for (k, i) in arm.iter().enumerate() {
                q[*i] = armq[k];
            }
            q[grip] = gripper;
            q
        };
        let max_speed = spec.servo.max_speed;
        let mut plan = Planner {
            segments: Vec::new(),
            now: 0,
            q: home.clone(),
            max_speed,
        };
        plan.go("settle", home.clone(), 0.3);
        plan.go("open", full(&arm_seed, g.open), 0.4);
        plan.go("reach", full(&pre_grasp, g.open), 0.8);
        for q in &descend {
            plan.go("descend", full(q, g.open), 0.25);
        }
        plan.go("descend", full(&grasp, g.open), 0.2);
        plan.go("grasp", full(&grasp, g.closed), 0.6);
        plan.go("grasp", full(&grasp, g.closed), 0.3);
        plan.go("lift", full(&lift, g.closed), 0.6);
        plan.go("carry", full(&over_target, g.closed), 0.8);
        for q in &place {
            plan.go("lower", full(q, g.closed), 0.25);
        }
        plan.go("release", full(&placed, g.open), 0.5);
        plan.go("retreat", full(&retreat, g.open), 0.5);
        plan.go("home", full(&arm_seed, home[grip]), 0.9);
        plan.go("rest", full(&arm_seed, home[grip]), 0.5);
        Self {
            segments: plan.segments,
            reachable: reachable.get(),
        }
    }
}

struct Planner {
    segments: Vec<Segment>,
    now: u64,
    q: Vec<f64>,
    max_speed: f64,
}

impl Planner {
    fn go(&mut self, name: &'static str, to: Vec<f64>, min_s: f64) {
        let delta = self
            .q
            .iter()
            .zip(&to)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // Minimum-jerk peaks at 1.875× the mean speed.
        let secs = (1.875 * delta / self.max_speed).max(min_s);
        let dur = (secs * 1e9) as u64;
        self.segments.push(Segment {
            name,
            start_nanos: self.now,
            end_nanos: self.now + dur,
            from: self.q.clone(),
            to: to.clone(),
        });
        self.now += dur;
        self.q = to;
    }
}

impl Policy for PickPlace {
    fn targets(&self, t_nanos: u64) -> Vec<f64> {
        let Some(s) = self.segments.iter().find(|s| t_nanos < s.end_nanos) else {
            return self
                .segments
                .last()
                .map(|s| s.to.clone())
                .unwrap_or_default();
        };
        let u = (t_nanos.saturating_sub(s.start_nanos)) as f64
            / (s.end_nanos - s.start_nanos).max(1) as f64;
        let w = u * u * u * (10.0 - 15.0 * u + 6.0 * u * u);
        s.from
            .iter()
            .zip(&s.to)
            .map(|(a, b)| a + (b - a) * w)
            .collect()
    }

    fn end_nanos(&self) -> u64 {
        self.segments.last().map(|s| s.end_nanos).unwrap_or(0)
    }

    fn phase(&self, t_nanos: u64) -> &str {
        self.segments
            .iter()
            .find(|s| t_nanos < s.end_nanos)
            .map(|s| s.name)
            .unwrap_or("done")
    }
}

/// Replays the joint commands of a recorded episode (zero-order hold, by
/// joint name; joints it does not command stay at home).
#[derive(Debug, Clone)]
pub struct Replay {
    stamps: Vec<u64>,
    targets: Vec<Vec<f64>>,
}

impl Replay {
    /// Reads `/robot/<arm>/joint_commands` (or, failing that, the first
    /// joint_commands topic) from `episode`, mapped onto the world's joints.
    pub fn load(episode: &Path, arm: &str, world: &mut World) -> Result<Self, SimError> {
        let reader = EpisodeReader::open(episode).map_err(|e| {
            SimError::input(episode, format!("cannot open the episode to replay: {e}"))
        })?;
        let names: Vec<String> = world.joints.iter().map(|j| j.name.clone()).collect();
        let home: Vec<f64> = (0..names.len()).map(|i| world.joint_state(i).0).collect();
        let wanted = reel_episode::topics::joint_commands(arm);
        let mut by_topic: BTreeMap<String, Vec<(u64, JointState)>> = BTreeMap::new();
        for (index, m) in reader.messages().enumerate() {
            let m = m.map_err(|e| SimError::input(episode, format!("unreadable message: {e}")))?;
            if !m.channel.topic.ends_with("/joint_commands") {
                continue;
            }
            let js: JointState = reader
                .decode(&m, index as u64)
                .map_err(|e| SimError::input(episode, format!("bad joint command: {e}")))?;
            by_topic
                .entry(m.channel.topic.clone())
                .or_default()
                .push((js.header.stamp.to_nanos(), js));
        }
        let series = by_topic
            .remove(&wanted)
            .or_else(|| by_topic.into_values().next())
            .ok_or_else(|| {
                SimError::input(
                    episode,
                    "no /robot/<arm>/joint_commands to replay; record with a leader arm",
                )
            })?;
        let t0 = series.first().map(|s| s.0).unwrap_or(0);
        let mut stamps = Vec::new();
        let mut targets = Vec::new();
        let mut last = home.clone();
        for (t, js) in series {
            for (name, v) in js.name.iter().zip(&js.position) {
                if let Some(i) = names.iter().position(|n| n == name) {
                    last[i] = *v;
                }
            }
            stamps.push(t - t0);
            targets.push(last.clone());
        }
        Ok(Self { stamps, targets })
    }
}

impl Policy for Replay {
    fn targets(&self, t_nanos: u64) -> Vec<f64> {
        let i = self
            .stamps
            .partition_point(|s| *s <= t_nanos)
            .saturating_sub(1);
        self.targets.get(i).cloned().unwrap_or_default()
    }

    fn end_nanos(&self) -> u64 {
        self.stamps.last().copied().unwrap_or(0) + 500_000_000
    }

    fn phase(&self, t_nanos: u64) -> &str {
        if t_nanos < self.stamps.last().copied().unwrap_or(0) {
            "replay"
        } else {
            "done"
        }
    }
}

/// Whether `obj` rests inside the target disc.
pub fn placed(world: &World, object: usize, target: [f64; 2], radius: f64) -> bool {
    let p: Iso = world.object_pose(object);
    let d = ((p.t[0] - target[0]).powi(2) + (p.t[1] - target[1]).powi(2)).sqrt();
    let on_table = (p.t[2] - world.objects[object].size[2] / 2.0).abs() < 0.01;
    d <= radius && on_table && world.object_speed(object) < 0.02
}
