//! One synthetic episode: physics, policy and sensors on one simulated clock,
//! written in exactly the capture format (topics, types, frames, metadata
//! with `source = sim`, every generator parameter and draw).

mod meta;
mod output;

use std::path::{Path, PathBuf};

use reel_episode::geometry::Iso;
use reel_episode::Outcome;

use self::output::{Output, Sensors};
use crate::policy::{self, PickPlace, Policy, Replay};
use crate::randomize::{self, Draws};
use crate::render::{Item, Material};
use crate::scenario::Scenario;
use crate::world::{MeshCache, RobotSource, World};
use crate::SimError;

/// Frame of the world (the table top is z = 0).
pub const WORLD_FRAME: &str = "world";
/// Extra simulated time after the policy is done, for things to settle.
const SETTLE_NS: u64 = 500_000_000;

/// How to run episodes beyond what the scenario says.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Override of every camera's size (field of view kept).
    pub camera_size: Option<(u32, u32)>,
    /// Episode whose joint commands to replay (policy `replay`).
    pub replay: Option<PathBuf>,
}

/// What one episode came to.
#[derive(Debug, Clone)]
pub struct EpisodeResult {
    /// Episode index.
    pub index: u64,
    /// The written file.
    pub path: PathBuf,
    /// Decided from the simulated state.
    pub outcome: Outcome,
    /// Simulated seconds.
    pub sim_seconds: f64,
    /// Messages written.
    pub messages: u64,
}

/// Deterministic episode id: a UUID (version 8, RFC 9562 "custom") from
/// sha256 of (scenario text, seed, index).
pub fn episode_id(scenario: &Scenario, seed: u64, index: u64) -> String {
    let digest = scenario.episode_digest(b"reel-sim-episode\0", seed, index);
    let mut b: [u8; 16] = digest[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// File name of episode `index`.
pub fn episode_file_name(scenario: &Scenario, seed: u64, index: u64) -> String {
    format!("{}_seed{seed}_{index:04}.mcap", scenario.spec.scenario.name)
}

pub(super) fn jittered(nominal: Iso, jitter: &([f64; 3], [f64; 3])) -> Iso {
    let (dt, dr) = jitter;
    let angle = (dr[0] * dr[0] + dr[1] * dr[1] + dr[2] * dr[2]).sqrt();
    let r = Iso::axis_angle(*dr, angle);
    let rotated = Iso {
        q: r.then_apply_to(&Iso {
            q: nominal.q,
            t: [0.0; 3],
        })
        .q,
        t: nominal.t,
    };
    Iso {
        q: rotated.q,
        t: [
            nominal.t[0] + dt[0],
            nominal.t[1] + dt[1],
            nominal.t[2] + dt[2],
        ],
    }
}

/// Synthesizes episode `index` of `seed` into `options.out`.
pub fn synthesize(
    scenario: &Scenario,
    robot: &RobotSource,
    seed: u64,
    index: u64,
    options: &SimOptions,
    cache: &mut MeshCache,
) -> Result<EpisodeResult, SimError> {
    let spec = &scenario.spec;
    let draws: Draws = randomize::draw(scenario, seed, index);
    let mut world = World::build(scenario, robot, &draws.objects, cache)?;
    let pick = spec.object.iter().position(|o| o.pick);
    let epoch_nanos = (spec.scenario.epoch_unix_s + index * 3600) * 1_000_000_000;
    let policy = make_policy(scenario, &draws, &mut world, options.replay.as_deref())?;
    let end_nanos = (policy.end_nanos() + SETTLE_NS).min((spec.scenario.duration_s * 1e9) as u64);
    let meta = meta::episode_meta(scenario, &draws, seed, index, options);
    std::fs::create_dir_all(&options.out).map_err(|e| SimError::io(&options.out, e))?;
    let path = options.out.join(episode_file_name(scenario, seed, index));
    let mut out = Output::create(&path, meta, scenario, robot, &draws, options, epoch_nanos)?;
    out.write_start(&world, robot, seed, index, &spec.scenario.name)?;
    let mut sensors = Sensors::new(scenario, &draws);
    let mut phase = String::new();
    loop {
        let t = world.time_nanos;
        let targets = policy.targets(t);
        let now_phase = policy.phase(t);
        if now_phase != phase {
            phase = now_phase.to_string();
            out.write_event(t, &serde_json::json!({"event": "phase", "phase": phase}))?;
        }
        out.write_due(&mut world, t, &targets, &mut sensors)?;
        if t >= end_nanos {
            break;
        }
        for (i, q) in targets.iter().enumerate() {
            world.set_target(i, *q);
        }
        world.step();
    }
    let outcome = decide(scenario, &draws, &world);
    let final_pose = pick.map(|o| world.object_pose(o).t);
    let stop = serde_json::json!({"event": "stop", "outcome": outcome.as_str(), "object_final_xyz": final_pose});
    out.write_event(world.time_nanos, &stop)?;
    let (path, messages) = out.finish(outcome)?;
    tracing::debug!(episode = %path.display(), outcome = outcome.as_str(), messages, "synthesized");
    Ok(EpisodeResult {
        index,
        path,
        outcome,
        sim_seconds: world.time_nanos as f64 * 1e-9,
        messages,
    })
}

fn make_policy(
    scenario: &Scenario,
    draws: &Draws,
    world: &mut World,
    replay: Option<&Path>,
) -> Result<Box<dyn Policy>, SimError> {
    let spec = &scenario.spec;
    let pick = spec.object.iter().position(|o| o.pick);
    Ok(match (spec.scenario.policy.as_str(), replay) {
        (_, Some(ep)) => Box::new(Replay::load(ep, &spec.robot.command_arm, world)?),
        ("replay", None) => {
            return Err(SimError::input(
                &scenario.path,
                "policy = \"replay\" needs an episode to replay",
            ))
        }
        _ => match (pick, draws.target) {
            (Some(o), Some(t)) => Box::new(PickPlace::plan(scenario, world, o, t)),
            _ => {
                return Err(SimError::input(
                    &scenario.path,
                    "the pick_place expert needs one object with pick = true and a [target]",
                ))
            }
        },
    })
}

fn f32c(c: [f64; 3]) -> [f32; 3] {
    c.map(|v| v as f32)
}

/// Everything the cameras see, posed as the world is now: table, floor and
/// walls, the target patch, the objects and every robot link's meshes.
pub(super) fn scene_items<'a>(
    world: &'a World,
    target_patch: Option<&'a (crate::mesh::Mesh, Iso, [f32; 3])>,
) -> Vec<Item<'a>> {
    let plain = |colour: [f32; 3]| Material {
        colour,
        checker: None,
    };
    let mut items: Vec<Item<'a>> = world
        .scenery
        .iter()
        .map(|sc| Item {
            mesh: &sc.mesh,
            pose: sc.pose,
            material: Material {
                colour: f32c(sc.colour),
                checker: sc.checker.map(|(c, t)| (f32c(c), t as f32)),
            },
        })
        .collect();
    if let Some((mesh, pose, colour)) = target_patch {
        items.push(Item {
            mesh,
            pose: *pose,
            material: plain(*colour),
        });
    }
    for (i, o) in world.objects.iter().enumerate() {
        items.push(Item {
            mesh: &o.mesh,
            pose: world.object_pose(i),
            material: plain(f32c(o.colour)),
        });
    }
    for (link, visuals) in &world.link_visuals {
        let Some(lp) = world.link_pose(link) else {
            continue;
        };
        for v in visuals {
            items.push(Item {
                mesh: &v.mesh,
                pose: lp.then_apply_to(&v.origin),
                material: plain(f32c(v.colour)),
            });
        }
    }
    items
}

/// Success when the picked object rests inside the target; unknown without either.
fn decide(scenario: &Scenario, draws: &Draws, world: &World) -> Outcome {
    let pick = scenario.spec.object.iter().position(|o| o.pick);
    match (pick, draws.target, &scenario.spec.target) {
        (Some(o), Some(xy), Some(t)) => {
            if policy::placed(world, o, xy, t.radius) {
                Outcome::Success
            } else {
                Outcome::Failure
            }
        }
        _ => Outcome::Unknown,
    }
}

/// Runs episode `index` of `seed` with physics and policy only (no sensors,
/// nothing written) and returns its outcome: the expert's success rate over
/// many seeds costs a fraction of full episodes.
pub fn evaluate(
    scenario: &Scenario,
    robot: &RobotSource,
    seed: u64,
    index: u64,
    replay: Option<&Path>,
    cache: &mut MeshCache,
) -> Result<(Outcome, f64), SimError> {
    let draws = randomize::draw(scenario, seed, index);
    let mut world = World::build(scenario, robot, &draws.objects, cache)?;
    let policy = make_policy(scenario, &draws, &mut world, replay)?;
    let end_nanos =
        (policy.end_nanos() + SETTLE_NS).min((scenario.spec.scenario.duration_s * 1e9) as u64);
    while world.time_nanos < end_nanos {
        for (i, q) in policy.targets(world.time_nanos).iter().enumerate() {
            world.set_target(i, *q);
        }
        world.step();
    }
    Ok((
        decide(scenario, &draws, &world),
        world.time_nanos as f64 * 1e-9,
    ))
}
