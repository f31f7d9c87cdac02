//! Writing a synthesized episode: its topics, the start (robot
//! description, static frames, start event), and at every physics step the
//! joint states and commands with `/tf`, the camera frames and the LiDAR
//! revolutions that are due, each stamped on the simulated clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use reel_episode::calibration::CameraModel;
use reel_episode::geometry::Iso;
use reel_episode::ros2::sensor_msgs::{
    CameraInfo, CompressedImage, Image, JointState, PointCloud2,
};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions, Outcome, Topic};

use super::{jittered, scene_items, SimOptions, WORLD_FRAME};
use crate::lidar::Lidar;
use crate::mesh::Mesh;
use crate::randomize::Draws;
use crate::render::{self, Light};
use crate::scenario::{CameraSpec, Scenario};
use crate::world::{RobotSource, World};
use crate::SimError;

/// A simulated camera.
struct Camera {
    spec: CameraSpec,
    intrinsics: CameraModel,
    /// World ← optical, or link ← optical.
    mount: Iso,
    link: Option<String>,
    frame_id: String,
    period_nanos: f64,
    next: u64,
    image: Topic<CompressedImage>,
    info: Topic<CameraInfo>,
    depth: Option<Topic<Image>>,
}

impl Camera {
    fn due(&self) -> u64 {
        (self.next as f64 * self.period_nanos).round() as u64
    }
}

/// What the sensors draw from besides the world: measurement noise (its
/// own generator, so sensor settings do not shift the scenario's draws),
/// encoder resolution, the light, and the target patch drawn on the table.
pub(super) struct Sensors {
    rng: ChaCha20Rng,
    noise: Normal<f64>,
    tick: f64,
    light: Light,
    joint_period: f64,
    next_joint: u64,
    /// Drawn on the table, never collided with.
    target_patch: Option<(Mesh, Iso, [f32; 3])>,
}

impl Sensors {
    pub(super) fn new(scenario: &Scenario, draws: &Draws) -> Self {
        let spec = &scenario.spec;
        let r = &spec.robot;
        let d = draws.light_direction;
        let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-12);
        Self {
            rng: ChaCha20Rng::seed_from_u64(draws.noise_seed),
            noise: Normal::new(0.0, draws.position_noise_rad.max(0.0))
                .unwrap_or(Normal::new(0.0, 0.0).expect("zero")),
            tick: std::f64::consts::TAU / r.encoder_ticks_per_rev.max(1) as f64,
            light: Light {
                to_light: [(-d[0] / n) as f32, (-d[1] / n) as f32, (-d[2] / n) as f32],
                ambient: draws.ambient as f32,
                intensity: draws.intensity as f32,
            },
            joint_period: 1e9 / r.joint_rate_hz,
            next_joint: 0,
            target_patch: spec.target.as_ref().zip(draws.target).map(|(t, xy)| {
                (
                    Mesh::cylinder(t.radius, 0.0004, 32),
                    Iso::translation([xy[0], xy[1], 0.0002]),
                    t.colour.map(|v| v as f32),
                )
            }),
        }
    }
}

/// The episode file being written and its topics.
pub(super) struct Output {
    w: EpisodeWriter,
    path: PathBuf,
    epoch_nanos: u64,
    description: Topic<StringMsg>,
    events: Topic<StringMsg>,
    statics: Topic<TFMessage>,
    tf: Topic<TFMessage>,
    states: Topic<JointState>,
    commands: Topic<JointState>,
    cameras: Vec<Camera>,
    lidar: Option<(Lidar, Topic<PointCloud2>)>,
    joint_names: Vec<String>,
}

fn writer_err(path: &Path) -> impl Fn(reel_episode::Error) -> SimError + '_ {
    move |source| SimError::Episode {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

impl Output {
    /// Creates the episode with its attachments (scenario, URDF) and topics.
    pub(super) fn create(
        path: &Path,
        meta: EpisodeMeta,
        scenario: &Scenario,
        robot: &RobotSource,
        draws: &Draws,
        options: &SimOptions,
        epoch_nanos: u64,
    ) -> Result<Self, SimError> {
        let spec = &scenario.spec;
        let writer_options = EpisodeWriterOptions {
            sync_on_flush: false,
            ..Default::default()
        };
        let e = writer_err(path);
        let mut w = EpisodeWriter::create(path, meta, writer_options).map_err(&e)?;
        w.attach(
            "scenario.toml",
            "application/toml",
            scenario.text.as_bytes(),
            epoch_nanos,
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
            epoch_nanos,
        )
        .map_err(&e)?;
        let r = &spec.robot;
        let description = w.add_topic(topics::ROBOT_DESCRIPTION).map_err(&e)?;
        let events = w.add_topic(topics::EVENTS).map_err(&e)?;
        let statics = w.add_topic(topics::TF_STATIC).map_err(&e)?;
        let tf = w.add_topic(topics::TF).map_err(&e)?;
        let states = w.add_topic(&topics::joint_states(&r.arm)).map_err(&e)?;
        let commands = w
            .add_topic(&topics::joint_commands(&r.command_arm))
            .map_err(&e)?;
        let mut cameras = Vec::new();
        for c in &spec.camera {
            cameras.push(Self::camera(&mut w, c, draws, options).map_err(&e)?);
        }
        let lidar = match &spec.lidar {
            Some(l) => Some((
                Lidar::new(l, epoch_nanos),
                w.add_topic(&topics::lidar_points(&l.name)).map_err(&e)?,
            )),
            None => None,
        };
        Ok(Self {
            w,
            path: path.to_path_buf(),
            epoch_nanos,
            description,
            events,
            statics,
            tf,
            states,
            commands,
            cameras,
            lidar,
            joint_names: Vec::new(),
        })
    }

    /// A camera of the scenario, its mount jittered by the draws.
    fn camera(
        w: &mut EpisodeWriter,
        c: &CameraSpec,
        draws: &Draws,
        options: &SimOptions,
    ) -> Result<Camera, reel_episode::Error> {
        let (width, height) = options.camera_size.unwrap_or((c.width, c.height));
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
        let image = w.add_topic(&topics::camera_image(&c.name))?;
        let info = w.add_topic(&topics::camera_info(&c.name))?;
        let depth = if c.depth {
            Some(w.add_topic(&topics::camera_depth(&c.name))?)
        } else {
            None
        };
        Ok(Camera {
            spec: c.clone(),
            intrinsics: CameraModel::from_hfov(width, height, c.hfov_deg),
            mount,
            link,
            frame_id: format!("camera_{}_optical", c.name),
            period_nanos: 1e9 / c.rate_hz,
            next: 0,
            image,
            info,
            depth,
        })
    }

    fn err(&self) -> impl Fn(reel_episode::Error) -> SimError + '_ {
        writer_err(&self.path)
    }

    /// The robot description, the static frames and the start event.
    pub(super) fn write_start(
        &mut self,
        world: &World,
        robot: &RobotSource,
        seed: u64,
        index: u64,
        scenario_name: &str,
    ) -> Result<(), SimError> {
        let epoch = self.epoch_nanos;
        self.joint_names = world.joints.iter().map(|j| j.name.clone()).collect();
        let description = StringMsg {
            data: robot.text.clone(),
        };
        let r = self.w.write(self.description, &description, epoch, epoch);
        r.map_err(self.err())?;
        let mut statics = vec![world.base.to_msg(epoch, WORLD_FRAME, &world.model.root)];
        statics.extend(world.model.fixed_transforms(epoch, ""));
        for c in &self.cameras {
            let parent = c.link.as_deref().unwrap_or(WORLD_FRAME);
            statics.push(c.mount.to_msg(epoch, parent, &c.frame_id));
        }
        if let Some((l, _)) = &self.lidar {
            statics.push(l.pose.to_msg(epoch, WORLD_FRAME, &l.frame_id));
        }
        let transforms = TFMessage {
            transforms: statics,
        };
        let r = self.w.write(self.statics, &transforms, epoch, epoch);
        r.map_err(self.err())?;
        let start = serde_json::json!({"event": "start", "source": "sim", "scenario": scenario_name, "seed": seed, "index": index});
        self.write_event(0, &start)
    }

    /// An event at simulated time `t`.
    pub(super) fn write_event(
        &mut self,
        t: u64,
        event: &serde_json::Value,
    ) -> Result<(), SimError> {
        let stamp = self.epoch_nanos + t;
        let msg = StringMsg {
            data: event.to_string(),
        };
        let r = self.w.write(self.events, &msg, stamp, stamp);
        r.map_err(self.err())
    }

    /// Everything due at simulated time `t`: joints (with `/tf`), camera
    /// frames, LiDAR revolutions; then a chunk if one is due.
    pub(super) fn write_due(
        &mut self,
        world: &mut World,
        t: u64,
        targets: &[f64],
        sensors: &mut Sensors,
    ) -> Result<(), SimError> {
        if t as f64 >= sensors.next_joint as f64 * sensors.joint_period - 0.5 {
            sensors.next_joint += 1;
            self.write_joints(world, t, targets, sensors)?;
        }
        self.write_cameras(world, t, sensors)?;
        if let Some((l, topic)) = self.lidar.as_mut() {
            for (first_firing, cloud) in l.advance(world, t, &mut sensors.rng) {
                let stamp = self.epoch_nanos + t;
                let r = self.w.write(*topic, &cloud, stamp, first_firing);
                r.map_err(writer_err(&self.path))?;
            }
        }
        self.w.flush_if_due().map_err(writer_err(&self.path))?;
        Ok(())
    }

    /// Measured joint states (noise, encoder ticks), the commanded targets,
    /// and every link and object on `/tf` at their true poses.
    fn write_joints(
        &mut self,
        world: &mut World,
        t: u64,
        targets: &[f64],
        sensors: &mut Sensors,
    ) -> Result<(), SimError> {
        let stamp = self.epoch_nanos + t;
        let n = self.joint_names.len();
        let (mut position, mut velocity, mut effort) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let mut truth = BTreeMap::new();
        for (i, name) in self.joint_names.iter().enumerate() {
            let (q, v) = world.joint_state(i);
            truth.insert(name.clone(), q);
            let noisy = q + sensors.noise.sample(&mut sensors.rng);
            position.push((noisy / sensors.tick).round() * sensors.tick);
            velocity.push(v);
            let (k, d, max) = world.servo_gains(i);
            effort.push((k * (targets.get(i).copied().unwrap_or(q) - q) - d * v).clamp(-max, max));
        }
        let header = Header::new(stamp, "");
        let states = JointState {
            header: header.clone(),
            name: self.joint_names.clone(),
            position,
            velocity,
            effort,
        };
        let commands = JointState {
            header,
            name: self.joint_names.clone(),
            position: targets.to_vec(),
            velocity: vec![],
            effort: vec![],
        };
        let e = writer_err(&self.path);
        self.w
            .write(self.states, &states, stamp, stamp)
            .map_err(&e)?;
        self.w
            .write(self.commands, &commands, stamp, stamp)
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
        self.w
            .write(self.tf, &TFMessage { transforms: tfs }, stamp, stamp)
            .map_err(&e)
    }

    /// A frame of every camera that is due: rendered, JPEG-encoded, with its
    /// `camera_info` and, where asked, depth in millimetres.
    fn write_cameras(&mut self, world: &World, t: u64, sensors: &Sensors) -> Result<(), SimError> {
        let stamp = self.epoch_nanos + t;
        let e = writer_err(&self.path);
        // The scene is assembled once per step, for all cameras due in it.
        let mut scene = None;
        for c in &mut self.cameras {
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
            let items =
                scene.get_or_insert_with(|| scene_items(world, sensors.target_patch.as_ref()));
            let frame = render::render(&c.intrinsics, &pose, items, &sensors.light);
            let jpeg = encode_jpeg(&frame.rgb, c, &self.path)?;
            let header = Header::new(stamp, c.frame_id.clone());
            let image = CompressedImage {
                header: header.clone(),
                format: "jpeg".into(),
                data: jpeg,
            };
            self.w.write(c.image, &image, stamp, stamp).map_err(&e)?;
            let info = c.intrinsics.camera_info(stamp, &c.frame_id);
            self.w.write(c.info, &info, stamp, stamp).map_err(&e)?;
            if let Some(topic) = c.depth {
                let img = depth_image(header, &frame.depth, &c.intrinsics);
                self.w.write(topic, &img, stamp, stamp).map_err(&e)?;
            }
        }
        Ok(())
    }

    /// Closes the episode with its outcome; returns the file and the
    /// messages written.
    pub(super) fn finish(mut self, outcome: Outcome) -> Result<(PathBuf, u64), SimError> {
        self.w.set_outcome(outcome);
        let messages = self.w.messages_written();
        let e = writer_err(&self.path);
        Ok((self.w.finish().map_err(&e)?, messages))
    }
}

/// One rendered frame as the camera's JPEG.
fn encode_jpeg(rgb: &[u8], c: &Camera, path: &Path) -> Result<Vec<u8>, SimError> {
    let mut jpeg = Vec::with_capacity(32 * 1024);
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, c.spec.jpeg_quality.clamp(1, 100));
    // 4:2:0 chroma, as UVC cameras' MJPEG, libjpeg's default and the
    // exported yuv420p video have it (the crate picks 4:4:4 from
    // quality 90 up, which costs a third more and shows nothing more).
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
    encoder
        .encode(
            rgb,
            c.intrinsics.width as u16,
            c.intrinsics.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .map_err(|err| SimError::input(path, format!("JPEG encoding failed: {err}")))?;
    Ok(jpeg)
}

/// Depth as ROS's `16UC1`: millimetres, 0 where nothing was hit.
fn depth_image(header: Header, depth: &[f32], k: &CameraModel) -> Image {
    let data: Vec<u8> = depth
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
    Image {
        header,
        height: k.height,
        width: k.width,
        encoding: "16UC1".into(),
        is_bigendian: 0,
        step: k.width * 2,
        data,
    }
}
