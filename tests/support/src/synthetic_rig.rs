//! A synthetic rig: cameras, arms and a LiDAR producing a realistic message
//! mix as a deterministic function of time. Shared by the tests, the writer
//! benchmark and the sample-episode example (included with `#[path]`).
//!
//! Images are real JPEGs (a moving pattern plus sensor noise, so frames differ
//! and compress like camera frames do); the LiDAR follows the VLP-16 layout
//! (16 rings, x/y/z/intensity f32, ring u16, time f32 → 24-byte points).
#![allow(dead_code)]

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use reel_episode::ros2::sensor_msgs::{CameraInfo, CompressedImage, JointState, PointCloud2};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::topics;
use reel_episode::{EpisodeWriter, Topic};

/// The SO-101 URDF's joint names, in order.
pub const SO101_JOINTS: [&str; 6] = [
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
];

/// What the rig has.
#[derive(Debug, Clone)]
pub struct RigMix {
    pub cameras: usize,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Distinct JPEG frames per camera (cycled).
    pub distinct_frames: usize,
    pub arms: usize,
    pub joints: usize,
    pub joint_hz: u32,
    pub lidar_hz: u32,
    pub lidar_points_per_rev: usize,
}

impl RigMix {
    /// The benchmark mix of the foundation issue: 3×640×480 JPEG at 30 Hz,
    /// 2 arms × 7 joints at 500 Hz, 300k LiDAR points/s (10 Hz × 30k).
    pub fn bench() -> Self {
        Self {
            cameras: 3,
            width: 640,
            height: 480,
            fps: 30,
            distinct_frames: 24,
            arms: 2,
            joints: 7,
            joint_hz: 500,
            lidar_hz: 10,
            lidar_points_per_rev: 30_000,
        }
    }

    /// The SO-101 sample rig's shape: 2 cameras at 30 Hz, one arm with the
    /// URDF's six joints ([`SO101_JOINTS`]) at 200 Hz, a LiDAR at 10 Hz.
    pub fn so101(
        width: u32,
        height: u32,
        distinct_frames: usize,
        lidar_points_per_rev: usize,
    ) -> Self {
        Self {
            cameras: 2,
            width,
            height,
            fps: 30,
            distinct_frames,
            arms: 1,
            joints: 6,
            joint_hz: 200,
            lidar_hz: 10,
            lidar_points_per_rev,
        }
    }

    /// A small mix for tests.
    pub fn small() -> Self {
        Self {
            cameras: 1,
            width: 64,
            height: 48,
            fps: 30,
            distinct_frames: 4,
            arms: 1,
            joints: 6,
            joint_hz: 200,
            lidar_hz: 10,
            lidar_points_per_rev: 500,
        }
    }
}

/// Deterministic xorshift noise (tests and benches need no RNG crate).
pub struct Noise(u64);
impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A JPEG test frame: gradient, a square moving with `index`, noise.
pub fn jpeg_frame(width: u32, height: u32, index: usize, seed: u64) -> Vec<u8> {
    let mut noise = Noise::new(seed ^ ((index as u64 + 1) * 7919));
    let (w, h) = (width as usize, height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    let sq = (w / 6).max(2);
    let sx = (index * 7) % (w - sq).max(1);
    let sy = (index * 5) % (h - sq).max(1);
    for y in 0..h {
        for x in 0..w {
            let inside = x >= sx && x < sx + sq && y >= sy && y < sy + sq;
            let n = (noise.next_u64() % 24) as u8;
            let p = (y * w + x) * 3;
            if inside {
                rgb[p..p + 3].copy_from_slice(&[220u8.saturating_add(n / 2), 40 + n, 40]);
            } else {
                rgb[p] = ((x * 255 / w) as u8).saturating_add(n);
                rgb[p + 1] = ((y * 255 / h) as u8).saturating_add(n);
                rgb[p + 2] = (128 + (index % 64) as u8).saturating_add(n);
            }
        }
    }
    let mut out = Vec::new();
    let enc = jpeg_encoder::Encoder::new(&mut out, 85);
    enc.encode(
        &rgb,
        width as u16,
        height as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .expect("encoding an in-memory JPEG cannot fail");
    out
}

/// Pinhole intrinsics for a `width`×`height` camera with a ~70° horizontal FOV.
pub fn camera_info(width: u32, height: u32, stamp: u64, frame: &str) -> CameraInfo {
    let f = width as f64 / (2.0 * (35f64.to_radians()).tan());
    let (cx, cy) = (width as f64 / 2.0 - 0.5, height as f64 / 2.0 - 0.5);
    CameraInfo {
        header: Header::new(stamp, frame),
        height,
        width,
        distortion_model: "plumb_bob".into(),
        d: vec![0.0; 5],
        k: [f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0],
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p: [f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
        ..Default::default()
    }
}

/// One revolution of a VLP-16-like sensor inside a 10 m × 8 m × 3 m room.
pub fn lidar_revolution(
    points: usize,
    stamp: u64,
    period_secs: f64,
    noise: &mut Noise,
) -> PointCloud2 {
    let step = 24usize;
    let mut data = Vec::with_capacity(points * step);
    let columns = points.div_ceil(16);
    for i in 0..points {
        let ring = i % 16;
        let col = i / 16;
        let az = col as f64 / columns as f64 * std::f64::consts::TAU;
        let el = reel_episode::velodyne::ELEVATION_DEG[ring].to_radians();
        let dir = [el.cos() * az.cos(), el.cos() * az.sin(), el.sin()];
        // Distance to the walls of a box room centred on the sensor at 1 m height.
        let mut t = f64::INFINITY;
        for (d, lo, hi) in [
            (dir[0], -5.0, 5.0),
            (dir[1], -4.0, 4.0),
            (dir[2], -1.0, 2.0),
        ] {
            if d > 1e-9 {
                t = t.min(hi / d);
            } else if d < -1e-9 {
                t = t.min(lo / d);
            }
        }
        let r = t + noise.unit() * 0.02;
        let xyz = [dir[0] * r, dir[1] * r, dir[2] * r];
        for v in xyz {
            data.extend_from_slice(&(v as f32).to_le_bytes());
        }
        let intensity = (20.0 + 80.0 / (1.0 + r)) as f32;
        data.extend_from_slice(&intensity.to_le_bytes());
        data.extend_from_slice(&(ring as u16).to_le_bytes());
        data.extend_from_slice(&[0, 0]);
        let time = (col as f64 / columns as f64 * period_secs) as f32;
        data.extend_from_slice(&time.to_le_bytes());
    }
    PointCloud2 {
        header: Header::new(stamp, "lidar"),
        height: 1,
        width: points as u32,
        fields: PointCloud2::lidar_fields(),
        is_bigendian: false,
        point_step: step as u32,
        row_step: (points * step) as u32,
        data,
        is_dense: true,
    }
}

/// Joint state of `arm` at time `t` (a smooth known trajectory).
pub fn joint_state(arm: usize, joints: usize, stamp: u64, t: f64) -> JointState {
    let mut js = JointState {
        header: Header::new(stamp, ""),
        name: (1..=joints).map(|j| format!("joint_{j}")).collect(),
        ..Default::default()
    };
    for j in 0..joints {
        let w = 0.5 + 0.1 * j as f64 + 0.05 * arm as f64;
        let a = 0.8 / (1.0 + j as f64 * 0.2);
        js.position.push(a * (w * t).sin());
        js.velocity.push(a * w * (w * t).cos());
        js.effort.push(0.3 * (w * t).sin() + 0.05 * j as f64);
    }
    js
}

struct Stream {
    first_nanos: u64,
    hz: u64,
    count: u64,
    next_nanos: u64,
    kind: Kind,
}

impl Stream {
    fn new(first_nanos: u64, hz: u32, kind: Kind) -> Self {
        Self {
            first_nanos,
            hz: u64::from(hz),
            count: 0,
            next_nanos: first_nanos,
            kind,
        }
    }
    /// Exact sample times (no accumulated rounding of the period).
    fn advance(&mut self) {
        self.count += 1;
        self.next_nanos = self.first_nanos + self.count * 1_000_000_000 / self.hz;
    }
}

enum Kind {
    Camera(usize),
    Arm(usize),
    Lidar,
}

/// One generated message with its times.
pub struct Timed {
    pub log_nanos: u64,
    pub publish_nanos: u64,
    pub message: RigMessage,
}

/// The messages of the rig.
pub enum RigMessage {
    Image(usize, CompressedImage),
    Info(usize, Box<CameraInfo>),
    Joints(usize, JointState),
    Cloud(PointCloud2),
    TfStatic(TFMessage),
    Event(StringMsg),
}

impl RigMessage {
    /// Payload bytes a sensor produced (what "real-time data rate" counts).
    pub fn payload_bytes(&self) -> u64 {
        use reel_episode::ros2::RosMessage;
        match self {
            Self::Image(_, m) => m.to_cdr().len() as u64,
            Self::Info(_, m) => m.to_cdr().len() as u64,
            Self::Joints(_, m) => m.to_cdr().len() as u64,
            Self::Cloud(m) => m.to_cdr().len() as u64,
            Self::TfStatic(m) => m.to_cdr().len() as u64,
            Self::Event(m) => m.to_cdr().len() as u64,
        }
    }
}

/// Generates `duration_secs` of the mix starting at `start_nanos`, in
/// acquisition order.
pub fn generate_mix(mix: &RigMix, start_nanos: u64, duration_secs: f64) -> Vec<Timed> {
    let frames: Vec<Vec<Vec<u8>>> = (0..mix.cameras)
        .map(|c| {
            (0..mix.distinct_frames)
                .map(|i| jpeg_frame(mix.width, mix.height, i, c as u64))
                .collect()
        })
        .collect();
    let cam_names: Vec<String> = (0..mix.cameras).map(|c| format!("cam{c}")).collect();
    let mount = |child: &str, x: f64| TransformStamped {
        header: Header {
            stamp: Time::from_nanos(start_nanos),
            frame_id: "base".into(),
        },
        child_frame_id: child.into(),
        transform: Transform {
            translation: Vector3 { x, y: 0.0, z: 1.0 },
            rotation: Quaternion::IDENTITY,
        },
    };
    let mut transforms: Vec<_> = cam_names
        .iter()
        .enumerate()
        .map(|(i, n)| mount(n, i as f64 * 0.1))
        .collect();
    transforms.push(mount("lidar", 0.0));
    let mut out = vec![
        Timed {
            log_nanos: start_nanos,
            publish_nanos: start_nanos,
            message: RigMessage::TfStatic(TFMessage { transforms }),
        },
        Timed {
            log_nanos: start_nanos,
            publish_nanos: start_nanos,
            message: RigMessage::Event(StringMsg {
                data: r#"{"event":"start"}"#.into(),
            }),
        },
    ];

    let mut streams = Vec::new();
    for c in 0..mix.cameras {
        streams.push(Stream::new(
            start_nanos + c as u64 * 1_000_000,
            mix.fps,
            Kind::Camera(c),
        ));
    }
    for a in 0..mix.arms {
        streams.push(Stream::new(
            start_nanos + a as u64 * 100_000,
            mix.joint_hz,
            Kind::Arm(a),
        ));
    }
    if mix.lidar_points_per_rev > 0 {
        streams.push(Stream::new(start_nanos, mix.lidar_hz, Kind::Lidar));
    }
    let end = start_nanos + (duration_secs * 1e9) as u64;
    let mut noise = Noise::new(7);
    let mut counters = vec![0usize; mix.cameras];
    while let Some(s) = streams.iter_mut().min_by_key(|s| s.next_nanos) {
        let t = s.next_nanos;
        if t >= end {
            break;
        }
        s.advance();
        // Host receive time lags acquisition by a plausible transport latency.
        let log = t + 2_000_000;
        match s.kind {
            Kind::Camera(c) => {
                let frame = &frames[c][counters[c] % frames[c].len()];
                counters[c] += 1;
                let image = CompressedImage {
                    header: Header::new(t, cam_names[c].as_str()),
                    format: "jpeg".into(),
                    data: frame.clone(),
                };
                out.push(Timed {
                    log_nanos: log,
                    publish_nanos: t,
                    message: RigMessage::Image(c, image),
                });
                let info = camera_info(mix.width, mix.height, t, &cam_names[c]);
                out.push(Timed {
                    log_nanos: log,
                    publish_nanos: t,
                    message: RigMessage::Info(c, Box::new(info)),
                });
            }
            Kind::Arm(a) => {
                let secs = (t - start_nanos) as f64 * 1e-9;
                out.push(Timed {
                    log_nanos: t + 300_000,
                    publish_nanos: t,
                    message: RigMessage::Joints(a, joint_state(a, mix.joints, t, secs)),
                });
            }
            Kind::Lidar => {
                let cloud = lidar_revolution(
                    mix.lidar_points_per_rev,
                    t,
                    1.0 / f64::from(mix.lidar_hz),
                    &mut noise,
                );
                // A revolution is complete (and received) one period after it starts.
                out.push(Timed {
                    log_nanos: t + 1_000_000_000 / u64::from(mix.lidar_hz),
                    publish_nanos: t,
                    message: RigMessage::Cloud(cloud),
                });
            }
        }
    }
    out.push(Timed {
        log_nanos: end,
        publish_nanos: end,
        message: RigMessage::Event(StringMsg {
            data: r#"{"event":"stop"}"#.into(),
        }),
    });
    out
}

/// Topic handles of the rig in one episode.
pub struct RigTopics {
    images: Vec<Topic<CompressedImage>>,
    infos: Vec<Topic<CameraInfo>>,
    arms: Vec<Topic<JointState>>,
    lidar: Topic<PointCloud2>,
    tf_static: Topic<TFMessage>,
    events: Topic<StringMsg>,
}

impl RigTopics {
    /// Registers the rig's topics.
    pub fn register(writer: &mut EpisodeWriter, mix: &RigMix) -> reel_episode::Result<Self> {
        let mut images = Vec::new();
        let mut infos = Vec::new();
        for c in 0..mix.cameras {
            let name = format!("cam{c}");
            images.push(writer.add_topic(&topics::camera_image(&name))?);
            infos.push(writer.add_topic(&topics::camera_info(&name))?);
        }
        let arms = (0..mix.arms)
            .map(|a| writer.add_topic(&topics::joint_states(&format!("arm{a}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            images,
            infos,
            arms,
            lidar: writer.add_topic(&topics::lidar_points("top"))?,
            tf_static: writer.add_topic(topics::TF_STATIC)?,
            events: writer.add_topic(topics::EVENTS)?,
        })
    }

    /// Writes one message.
    pub fn write(&self, writer: &mut EpisodeWriter, m: &Timed) -> reel_episode::Result<()> {
        let (l, p) = (m.log_nanos, m.publish_nanos);
        match &m.message {
            RigMessage::Image(c, msg) => writer.write(self.images[*c], msg, l, p),
            RigMessage::Info(c, msg) => writer.write(self.infos[*c], msg.as_ref(), l, p),
            RigMessage::Joints(a, msg) => writer.write(self.arms[*a], msg, l, p),
            RigMessage::Cloud(msg) => writer.write(self.lidar, msg, l, p),
            RigMessage::TfStatic(msg) => writer.write(self.tf_static, msg, l, p),
            RigMessage::Event(msg) => writer.write(self.events, msg, l, p),
        }
    }
}

/// Generates and writes `duration_secs` of the mix.
pub fn write_mix(
    writer: &mut EpisodeWriter,
    mix: &RigMix,
    start_nanos: u64,
    duration_secs: f64,
) -> reel_episode::Result<()> {
    let topics = RigTopics::register(writer, mix)?;
    for m in generate_mix(mix, start_nanos, duration_secs) {
        topics.write(writer, &m)?;
    }
    Ok(())
}
