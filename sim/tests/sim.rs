//! Physics, sensor truth and determinism of the simulator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reel_episode::geometry::Iso;
use reel_episode::{EpisodeReader, Outcome};
use reel_sim::lidar::Lidar;
use reel_sim::scenario::{LidarSpec, PoseSpec, Scenario};
use reel_sim::world::{MeshCache, RobotSource, World};
use reel_sim::{randomize, SimOptions};
use sha2::{Digest, Sha256};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

/// The sample scenario, shortened and with small cameras, written next to `dir`
/// with the URDF path made absolute.
fn short_scenario(dir: &Path, seconds: f64) -> Scenario {
    let path = dir.join("short.toml");
    let urdf = samples().join("robots/so101/so101_new_calib.urdf");
    reel_testkit::short_scenario::write_short_scenario(&samples(), &path, seconds, (96, 72), &urdf);
    Scenario::read(&path).expect("short scenario")
}

fn sample_scenario() -> Scenario {
    Scenario::read(&samples().join("sim/so101-pick-place.toml")).expect("sample scenario")
}

/// sha256 of every message (topic, log time, payload) in file order.
fn payload_hashes(path: &Path) -> BTreeMap<String, String> {
    let reader = EpisodeReader::open(path).expect("open");
    let mut per_topic: BTreeMap<String, Sha256> = BTreeMap::new();
    for m in reader.messages() {
        let m = m.expect("message");
        let h = per_topic.entry(m.channel.topic.clone()).or_default();
        h.update(m.log_time.to_le_bytes());
        h.update(&m.data);
    }
    per_topic
        .into_iter()
        .map(|(t, h)| (t, h.finalize().iter().map(|b| format!("{b:02x}")).collect()))
        .collect()
}

#[test]
fn the_same_seed_and_index_give_identical_payloads_alone_or_in_a_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = short_scenario(dir.path(), 1.2);
    let alone = SimOptions {
        out: dir.path().join("alone"),
        ..Default::default()
    };
    let batch = SimOptions {
        out: dir.path().join("batch"),
        ..Default::default()
    };
    let a = reel_sim::run(&s, 11, &[2], 1, &alone, &|_| {}).expect("alone");
    let b = reel_sim::run(&s, 11, &[0, 1, 2, 3], 2, &batch, &|_| {}).expect("batch");
    let again = reel_sim::run(
        &s,
        11,
        &[2],
        1,
        &SimOptions {
            out: dir.path().join("again"),
            ..Default::default()
        },
        &|_| {},
    )
    .expect("again");
    let h_alone = payload_hashes(&a[0].path);
    assert_eq!(
        h_alone,
        payload_hashes(&b[2].path),
        "episode 2 differs between a lone run and a 2-job batch"
    );
    assert_eq!(
        h_alone,
        payload_hashes(&again[0].path),
        "episode 2 differs between two runs"
    );
    assert_ne!(
        h_alone,
        payload_hashes(&b[1].path),
        "episodes 1 and 2 should differ"
    );
    assert!(
        h_alone.contains_key("/lidar/top/points")
            && h_alone.contains_key("/camera/wrist/image/compressed")
    );
    let meta = EpisodeReader::open(&a[0].path)
        .expect("open")
        .episode_meta()
        .expect("meta")
        .expect("present");
    assert_eq!(meta.source.as_str(), "sim");
    assert_eq!(meta.seed, Some(11));
    assert_eq!(meta.source_params["episode_index"], "2");
    assert!(
        meta.source_params.contains_key("draw.object.cube.xy"),
        "{:?}",
        meta.source_params.keys()
    );
    assert!(meta.source_params.contains_key("draw.light.direction"));
}

#[test]
fn a_dropped_object_comes_to_rest_on_the_table() {
    let s = sample_scenario();
    let robot = RobotSource::load(&s).expect("robot");
    let draws = randomize::draw(&s, 0, 0);
    let mut world =
        World::build(&s, &robot, &draws.objects, &mut MeshCache::default()).expect("world");
    let body = world.objects[0].body;
    let size = world.objects[0].size;
    let mut pose = *world.physics.bodies[body].position();
    pose.translation.z = 0.15;
    world.physics.bodies[body].set_position(pose, true);
    let mut max_speed: f64 = 0.0;
    for _ in 0..2000 {
        world.step();
        max_speed = max_speed.max(world.object_speed(0));
    }
    let z = world.object_pose(0).t[2];
    assert!(max_speed > 1.0, "it fell ({max_speed} m/s)");
    assert!(
        world.object_speed(0) < 1e-3,
        "still moving at {} m/s",
        world.object_speed(0)
    );
    assert!(
        (z - size[2] / 2.0).abs() < 0.002,
        "rests at z = {z}, half height {}",
        size[2] / 2.0
    );
}

#[test]
fn physics_links_follow_the_urdf_kinematics_of_the_measured_joints() {
    let s = sample_scenario();
    let robot = RobotSource::load(&s).expect("robot");
    let draws = randomize::draw(&s, 0, 0);
    let mut world =
        World::build(&s, &robot, &draws.objects, &mut MeshCache::default()).expect("world");
    let targets = [0.4, -1.0, 0.8, 0.6, -0.5, 0.3];
    for (i, q) in targets.iter().enumerate() {
        world.set_target(i, *q);
    }
    for _ in 0..1500 {
        world.step();
    }
    let names: Vec<String> = world.joints.iter().map(|j| j.name.clone()).collect();
    let measured: Vec<f64> = (0..names.len()).map(|i| world.joint_state(i).0).collect();
    for (i, q) in measured.iter().enumerate() {
        assert!(
            (q - targets[i]).abs() < 0.05,
            "{} at {q}, target {}",
            names[i],
            targets[i]
        );
    }
    let fk = world
        .model
        .link_poses(&|j| names.iter().position(|n| n == j).map(|i| measured[i]));
    for link in ["gripper_link", "moving_jaw_so101_v1_link", "lower_arm_link"] {
        let sim = world.link_pose(link).expect("link");
        let kin: Iso = world.base.then_apply_to(&fk[link]);
        let d = (0..3)
            .map(|k| (sim.t[k] - kin.t[k]).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(d < 0.002, "{link}: physics and URDF kinematics {d} m apart");
    }
}

#[test]
fn lidar_ranges_to_a_known_wall_match_the_noise_model() {
    let s = sample_scenario();
    let robot = RobotSource::load(&s).expect("robot");
    let draws = randomize::draw(&s, 0, 0);
    let mut world =
        World::build(&s, &robot, &draws.objects, &mut MeshCache::default()).expect("world");
    // Scene queries see the world from the first step on.
    world.step();
    let sigma = 0.01;
    // 1.0 m in front of the table's far edge, 0.5 m up; the +x wall's inner face is at x = 2.45.
    let spec = LidarSpec {
        name: "test".into(),
        rate_hz: 10.0,
        pose: PoseSpec {
            xyz: [1.0, 0.0, 0.5],
            rpy: [0.0; 3],
        },
        range_noise_m: sigma,
        dropout: 0.1,
        max_range_m: 100.0,
    };
    let mut lidar = Lidar::new(&spec, 0);
    let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(5);
    let clouds = lidar.advance(&world, 100_100_000, &mut rng);
    assert_eq!(clouds.len(), 1, "one revolution in 0.1 s at 10 Hz");
    let cloud = &clouds[0].1;
    let expected = 1808 * 16; // firing sequences per revolution × lasers
    let fraction = cloud.width as f64 / expected as f64;
    assert!(
        (0.85..0.95).contains(&fraction),
        "10 % dropout kept {fraction}"
    );
    let mut residuals = Vec::new();
    for p in cloud.data.chunks_exact(24) {
        let f = |o: usize| f32::from_le_bytes(p[o..o + 4].try_into().expect("4")) as f64;
        let (x, y, z) = (f(0), f(4), f(8));
        // Beams within 10° of straight ahead hit the wall nearly head-on.
        if y.atan2(x).abs() < 10f64.to_radians() && x > 1.0 {
            let r = (x * x + y * y + z * z).sqrt();
            let along = x / r;
            residuals.push((x + 1.0 - 2.45) / along);
        }
    }
    assert!(residuals.len() > 500, "{} wall points", residuals.len());
    let n = residuals.len() as f64;
    let mean = residuals.iter().sum::<f64>() / n;
    let std = (residuals.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    // Vertical laser offsets (≤ 11 mm) and the wall's tilt away from the beam add a little.
    assert!(
        mean.abs() < 4.0 * sigma / n.sqrt() + 0.003,
        "mean range error {mean} m"
    );
    assert!(
        (0.8 * sigma..1.3 * sigma).contains(&std),
        "range noise {std} m, model {sigma} m"
    );
}

#[test]
fn the_expert_places_the_cube_on_most_seeds() {
    let s = sample_scenario();
    let outcomes = reel_sim::evaluate(&s, 3, &[0, 1, 2, 3, 4, 5], 2, None).expect("evaluate");
    let ok = outcomes.iter().filter(|o| o.1 == Outcome::Success).count();
    println!("expert success {ok}/{} on seed 3", outcomes.len());
    assert!(ok >= 5, "expert placed the cube in {ok} of 6 episodes");
}

#[test]
fn tf_chains_to_the_urdf_kinematics_of_the_joint_states() {
    use reel_episode::ros2::sensor_msgs::JointState;
    use reel_episode::ros2::tf2_msgs::TFMessage;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = short_scenario(dir.path(), 0.3);
    let out = SimOptions {
        out: dir.path().join("tf"),
        ..Default::default()
    };
    let ep = reel_sim::run(&s, 1, &[0], 1, &out, &|_| {}).expect("episode");
    let reader = EpisodeReader::open(&ep[0].path).expect("open");
    let (mut parent_of, mut states) = (BTreeMap::new(), None);
    for (i, m) in reader.messages().enumerate() {
        let m = m.expect("message");
        match m.channel.topic.as_str() {
            "/tf" | "/tf_static" => {
                let tf: TFMessage = reader.decode(&m, i as u64).expect("tf");
                for t in tf.transforms {
                    parent_of
                        .entry(t.child_frame_id.clone())
                        .or_insert((t.header.frame_id.clone(), Iso::from_msg(&t)));
                }
            }
            "/robot/follower/joint_states" if states.is_none() => {
                states = Some(reader.decode::<JointState>(&m, i as u64).expect("joints"));
            }
            _ => {}
        }
    }
    let js = states.expect("joint states");
    let robot = RobotSource::load(&s).expect("robot");
    let fk = robot
        .model
        .link_poses(&|j| js.name.iter().position(|n| n == j).map(|i| js.position[i]));
    // world ← gripper_link through the /tf tree vs the URDF kinematics of the first state.
    let mut frame = "gripper_link".to_string();
    let mut chained = Iso::IDENTITY;
    while let Some((parent, t)) = parent_of.get(&frame) {
        chained = t.then_apply_to(&chained);
        frame = parent.clone();
    }
    assert_eq!(frame, "world");
    let base = Iso::from_xyz_rpy(s.spec.robot.base.xyz, s.spec.robot.base.rpy);
    let kin = base.then_apply_to(&fk["gripper_link"]);
    let d = (0..3)
        .map(|k| (chained.t[k] - kin.t[k]).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        d < 0.005,
        "/tf puts the gripper {d} m from the URDF kinematics"
    );
}
