//! One synthetic episode: physics, policy and sensors on one simulated clock,
//! written in exactly the capture format (topics, types, frames, metadata
//! with `source = sim`, every generator parameter and draw).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use reel_episode::calibration::CameraIntrinsics;
use reel_episode::geometry::Iso;
use reel_episode::ros2::sensor_msgs::{CameraInfo, CompressedImage, Image, JointState};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions, Outcome, SourceKind};

use crate::lidar::Lidar;
use crate::policy::{self, PickPlace, Policy, Replay};
use crate::randomize::{self, Draws};
use crate::render::{self, Intrinsics, Item, Light, Material};
use crate::scenario::{CameraSpec, Scenario};
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

struct Camera {
    spec: CameraSpec,
    intrinsics: Intrinsics,
    /// World ← optical, or link ← optical.
    mount: Iso,
    link: Option<String>,
    frame_id: String,
    period_ns: f64,
    next: u64,
}

impl Camera {
    fn due(&self) -> u64 {
        (self.next as f64 * self.period_ns).round() as u64
    }
}

fn jittered(nominal: Iso, jitter: &([f64; 3], [f64; 3])) -> Iso {
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

fn camera_info(stamp: u64, c: &Camera) -> CameraInfo {
    let k = &c.intrinsics;
    CameraIntrinsics::pinhole(k.fx, k.fy, k.cx, k.cy).camera_info(
        k.width,
        k.height,
        stamp,
        &c.frame_id,
    )
}

fn writer_err(path: &Path) -> impl Fn(reel_episode::Error) -> SimError + '_ {
    move |source| SimError::Episode {
        path: path.to_path_buf(),
        source: Box::new(source),
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
    let epoch_ns = (spec.scenario.epoch_unix_s + index * 3600) * 1_000_000_000;
    let policy = make_policy(scenario, &draws, &mut world, options.replay.as_deref())?;
    let end_ns = (policy.end_ns() + SETTLE_NS).min((spec.scenario.duration_s * 1e9) as u64);

    // Metadata: source = sim with every parameter and draw.
    let mut meta = EpisodeMeta::new(spec.scenario.task.clone(), spec.scenario.robot_type.clone());
    meta.episode_id = episode_id(scenario, seed, index);
    meta.source = SourceKind::Sim;
    meta.seed = Some(seed);
    let scenario_sha256 = reel_episode::sha256_hex(scenario.text.as_bytes());
    meta.rig_config_hash = Some(scenario_sha256.clone());
    let mut params = draws.to_params();
    params.insert("scenario".into(), spec.scenario.name.clone());
    params.insert(
        "scenario_file".into(),
        scenario
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    params.insert("scenario_sha256".into(), scenario_sha256);
    params.insert("seed".into(), seed.to_string());
    params.insert("episode_index".into(), index.to_string());
    params.insert(
        "policy".into(),
        if options.replay.is_some() {
            "replay".into()
        } else {
            spec.scenario.policy.clone()
        },
    );
    params.insert(
        "physics".into(),
        format!(
            "rapier3d 0.36 multibody, {} Hz, enhanced-determinism",
            spec.scenario.physics_hz
        ),
    );
    params.insert(
        "renderer".into(),
        "reel CPU rasterizer (pinhole, Lambert + ambient)".into(),
    );
    if let Some((w, h)) = options.camera_size {
        params.insert("camera_size".into(), format!("{w}x{h}"));
    }
    if let Some(r) = &options.replay {
        params.insert("replay_of".into(), r.display().to_string());
    }
    meta.source_params = params;
    let r = &spec.robot;
    meta.nominal_rates_hz = [
        (topics::joint_states(&r.arm), r.joint_rate_hz),
        (topics::joint_commands(&r.command_arm), r.joint_rate_hz),
    ]
    .into_iter()
    .chain(spec.camera.iter().flat_map(|c| {
        let depth = c.depth.then(|| (topics::camera_depth(&c.name), c.rate_hz));
        std::iter::once((topics::camera_image(&c.name), c.rate_hz)).chain(depth)
    }))
    .chain(
        spec.lidar
            .iter()
            .map(|l| (topics::lidar_points(&l.name), l.rate_hz)),
    )
    .collect();

    std::fs::create_dir_all(&options.out).map_err(|e| SimError::io(&options.out, e))?;
    let path = options.out.join(episode_file_name(scenario, seed, index));
    let writer_options = EpisodeWriterOptions {
        sync_on_flush: false,
        ..Default::default()
    };
    let mut w = EpisodeWriter::create(&path, meta, writer_options).map_err(writer_err(&path))?;
    let e = writer_err(&path);
    w.attach(
        "scenario.toml",
        "application/toml",
        scenario.text.as_bytes(),
        epoch_ns,
    )
    .map_err(&e)?;
    let urdf_name = robot
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or("robot.urdf".into());
    w.attach(
        &urdf_name,
        "application/xml",
        robot.text.as_bytes(),
        epoch_ns,
    )
    .map_err(&e)?;

    let r = &spec.robot;
    let t_description = w
        .add_topic::<StringMsg>(topics::ROBOT_DESCRIPTION)
        .map_err(&e)?;
    let t_events = w.add_topic::<StringMsg>(topics::EVENTS).map_err(&e)?;
    let t_static = w.add_topic::<TFMessage>(topics::TF_STATIC).map_err(&e)?;
    let t_tf = w.add_topic::<TFMessage>(topics::TF).map_err(&e)?;
    let t_states = w
        .add_topic::<JointState>(&topics::joint_states(&r.arm))
        .map_err(&e)?;
    let t_commands = w
        .add_topic::<JointState>(&topics::joint_commands(&r.command_arm))
        .map_err(&e)?;

    // Cameras.
    let mut cameras = Vec::new();
    let mut camera_topics = Vec::new();
    for c in &spec.camera {
        let (width, height) = options.camera_size.unwrap_or((c.width, c.height));
        let intrinsics = Intrinsics::from_hfov(width, height, c.hfov_deg);
        let jitter = draws
            .camera_jitter
            .get(&c.name)
            .cloned()
            .unwrap_or_default();
        let (mount, link) = match (&c.position, &c.look_at, &c.link, &c.mount) {
            (Some(p), Some(t), _, _) => (jittered(render::look_at(*p, *t), &jitter), None),
            (_, _, Some(l), Some(m)) => (
                jittered(Iso::from_xyz_rpy(m.xyz, m.rpy), &jitter),
                Some(l.get_ref().clone()),
            ),
            _ => unreachable!("validated: each camera is fixed or on a link"),
        };
        let image = w
            .add_topic::<CompressedImage>(&topics::camera_image(&c.name))
            .map_err(&e)?;
        let info = w
            .add_topic::<CameraInfo>(&topics::camera_info(&c.name))
            .map_err(&e)?;
        let depth = if c.depth {
            Some(
                w.add_topic::<Image>(&topics::camera_depth(&c.name))
                    .map_err(&e)?,
            )
        } else {
            None
        };
        camera_topics.push((image, info, depth));
        cameras.push(Camera {
            spec: c.clone(),
            intrinsics,
            mount,
            link,
            frame_id: format!("camera_{}_optical", c.name),
            period_ns: 1e9 / c.rate_hz,
            next: 0,
        });
    }
    let mut lidar = spec.lidar.as_ref().map(|l| Lidar::new(l, epoch_ns));
    let t_cloud = match &spec.lidar {
        Some(l) => Some(w.add_topic(&topics::lidar_points(&l.name)).map_err(&e)?),
        None => None,
    };

    // Start: description, static frames, start event.
    w.write(
        t_description,
        &StringMsg {
            data: robot.text.clone(),
        },
        epoch_ns,
        epoch_ns,
    )
    .map_err(&e)?;
    let mut statics = vec![world.base.to_msg(epoch_ns, WORLD_FRAME, &world.model.root)];
    statics.extend(world.model.fixed_transforms(epoch_ns, ""));
    for c in &cameras {
        let parent = c.link.as_deref().unwrap_or(WORLD_FRAME);
        statics.push(c.mount.to_msg(epoch_ns, parent, &c.frame_id));
    }
    if let Some(l) = &lidar {
        statics.push(l.pose.to_msg(epoch_ns, WORLD_FRAME, &l.frame_id));
    }
    w.write(
        t_static,
        &TFMessage {
            transforms: statics,
        },
        epoch_ns,
        epoch_ns,
    )
    .map_err(&e)?;
    let start = serde_json::json!({"event": "start", "source": "sim", "scenario": spec.scenario.name, "seed": seed, "index": index});
    w.write(
        t_events,
        &StringMsg {
            data: start.to_string(),
        },
        epoch_ns,
        epoch_ns,
    )
    .map_err(&e)?;

    // Sensor noise comes from its own generator so sensor settings do not shift the draws.
    let mut noise_rng = ChaCha20Rng::seed_from_u64(draws.noise_seed);
    let noise = Normal::new(0.0, draws.position_noise_rad.max(0.0))
        .unwrap_or(Normal::new(0.0, 0.0).expect("zero"));
    let tick = std::f64::consts::TAU / r.encoder_ticks_per_rev.max(1) as f64;
    let light = Light {
        to_light: {
            let d = draws.light_direction;
            let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-12);
            [(-d[0] / n) as f32, (-d[1] / n) as f32, (-d[2] / n) as f32]
        },
        ambient: draws.ambient as f32,
        intensity: draws.intensity as f32,
    };
    let names: Vec<String> = world.joints.iter().map(|j| j.name.clone()).collect();
    let joint_period = 1e9 / r.joint_rate_hz;
    let mut next_joint: u64 = 0;
    let mut phase = String::new();
    // The target patch: drawn on the table, never collided with.
    let target_patch = spec.target.as_ref().zip(draws.target).map(|(t, xy)| {
        (
            crate::mesh::Mesh::cylinder(t.radius, 0.0004, 32),
            Iso::translation([xy[0], xy[1], 0.0002]),
            f32c(t.colour),
        )
    });

    loop {
        let t = world.time_ns;
        let stamp = epoch_ns + t;
        let targets = policy.targets(t);
        let now_phase = policy.phase(t);
        if now_phase != phase {
            phase = now_phase.to_string();
            let ev = serde_json::json!({"event": "phase", "phase": phase});
            w.write(
                t_events,
                &StringMsg {
                    data: ev.to_string(),
                },
                stamp,
                stamp,
            )
            .map_err(&e)?;
        }
        // Joints, commands and /tf.
        if t as f64 >= next_joint as f64 * joint_period - 0.5 {
            next_joint += 1;
            let mut position = Vec::with_capacity(names.len());
            let mut velocity = Vec::with_capacity(names.len());
            let mut effort = Vec::with_capacity(names.len());
            let mut truth = BTreeMap::new();
            for (i, name) in names.iter().enumerate() {
                let (q, v) = world.joint_state(i);
                truth.insert(name.clone(), q);
                let measured = ((q + noise.sample(&mut noise_rng)) / tick).round() * tick;
                position.push(measured);
                velocity.push(v);
                let (k, d, max) = world.servo_gains(i);
                effort.push(
                    (k * (targets.get(i).copied().unwrap_or(q) - q) - d * v).clamp(-max, max),
                );
            }
            let header = Header::new(stamp, "");
            w.write(
                t_states,
                &JointState {
                    header: header.clone(),
                    name: names.clone(),
                    position,
                    velocity,
                    effort,
                },
                stamp,
                stamp,
            )
            .map_err(&e)?;
            w.write(
                t_commands,
                &JointState {
                    header,
                    name: names.clone(),
                    position: targets.clone(),
                    velocity: vec![],
                    effort: vec![],
                },
                stamp,
                stamp,
            )
            .map_err(&e)?;
            let mut tfs = world
                .model
                .joint_transforms(&|name| truth.get(name).copied(), stamp, "");
            for (i, o) in world.objects.iter().enumerate() {
                tfs.push(world.object_pose(i).to_msg(
                    stamp,
                    WORLD_FRAME,
                    &format!("object_{}", o.name),
                ));
            }
            w.write(t_tf, &TFMessage { transforms: tfs }, stamp, stamp)
                .map_err(&e)?;
        }
        // Cameras.
        let mut scene: Option<Vec<Item<'_>>> = None;
        for (c, (t_image, t_info, t_depth)) in cameras.iter_mut().zip(&camera_topics) {
            if t < c.due() {
                continue;
            }
            c.next += 1;
            let pose = match &c.link {
                Some(l) => world
                    .link_pose(l)
                    .unwrap_or(Iso::IDENTITY)
                    .then_apply_to(&c.mount),
                None => c.mount,
            };
            // The scene is assembled once per step, for all cameras due in it.
            let items = scene.get_or_insert_with(|| scene_items(&world, target_patch.as_ref()));
            let frame = render::render(&c.intrinsics, &pose, items, &light);
            let mut jpeg = Vec::with_capacity(32 * 1024);
            let mut encoder =
                jpeg_encoder::Encoder::new(&mut jpeg, c.spec.jpeg_quality.clamp(1, 100));
            // 4:2:0 chroma, as UVC cameras' MJPEG, libjpeg's default and the
            // exported yuv420p video have it (the crate picks 4:4:4 from
            // quality 90 up, which costs a third more and shows nothing more).
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            encoder
                .encode(
                    &frame.rgb,
                    c.intrinsics.width as u16,
                    c.intrinsics.height as u16,
                    jpeg_encoder::ColorType::Rgb,
                )
                .map_err(|err| SimError::input(&path, format!("JPEG encoding failed: {err}")))?;
            let header = Header::new(stamp, c.frame_id.clone());
            w.write(
                *t_image,
                &CompressedImage {
                    header: header.clone(),
                    format: "jpeg".into(),
                    data: jpeg,
                },
                stamp,
                stamp,
            )
            .map_err(&e)?;
            w.write(*t_info, &camera_info(stamp, c), stamp, stamp)
                .map_err(&e)?;
            if let Some(td) = t_depth {
                let data: Vec<u8> = frame
                    .depth
                    .iter()
                    .flat_map(|d| {
                        (if d.is_finite() {
                            (d * 1000.0).round().clamp(0.0, 65535.0) as u16
                        } else {
                            0
                        })
                        .to_le_bytes()
                    })
                    .collect();
                let img = Image {
                    header,
                    height: c.intrinsics.height,
                    width: c.intrinsics.width,
                    encoding: "16UC1".into(),
                    is_bigendian: 0,
                    step: c.intrinsics.width * 2,
                    data,
                };
                w.write(*td, &img, stamp, stamp).map_err(&e)?;
            }
        }
        // LiDAR: fire everything due by now.
        if let (Some(l), Some(tc)) = (lidar.as_mut(), t_cloud) {
            for (first_firing, cloud) in l.advance(&world, t, &mut noise_rng) {
                w.write(tc, &cloud, stamp, first_firing).map_err(&e)?;
            }
        }
        w.flush_if_due().map_err(&e)?;
        if t >= end_ns {
            break;
        }
        for (i, q) in targets.iter().enumerate() {
            world.set_target(i, *q);
        }
        world.step();
    }
    let stamp = epoch_ns + world.time_ns;
    let outcome = decide(scenario, &draws, &world);
    let final_pose = pick.map(|o| world.object_pose(o).t);
    let stop = serde_json::json!({"event": "stop", "outcome": outcome.as_str(), "object_final_xyz": final_pose});
    w.write(
        t_events,
        &StringMsg {
            data: stop.to_string(),
        },
        stamp,
        stamp,
    )
    .map_err(&e)?;
    w.set_outcome(outcome);
    let messages = w.messages_written();
    let path = w.finish().map_err(&e)?;
    Ok(EpisodeResult {
        index,
        path,
        outcome,
        sim_seconds: world.time_ns as f64 * 1e-9,
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
fn scene_items<'a>(
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
    let end_ns =
        (policy.end_ns() + SETTLE_NS).min((scenario.spec.scenario.duration_s * 1e9) as u64);
    while world.time_ns < end_ns {
        for (i, q) in policy.targets(world.time_ns).iter().enumerate() {
            world.set_target(i, *q);
        }
        world.step();
    }
    Ok((
        decide(scenario, &draws, &world),
        world.time_ns as f64 * 1e-9,
    ))
}
