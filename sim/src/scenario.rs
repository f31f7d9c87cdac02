//! Scenario files (`samples/sim/*.toml`): the robot, the table, the objects
//! and their randomization ranges, the sensors, and the policy.
//!
//! Names that refer into the URDF (links, joints) keep their position in the
//! file so a wrong name is reported with its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::line_of;
use crate::SimError;

/// A parsed scenario and where it came from.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario file.
    pub path: PathBuf,
    /// Its text (hashed into every episode's id and stored as an attachment).
    pub text: String,
    /// The parsed content.
    pub spec: ScenarioSpec,
}

/// The content of a scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Name, task and timing.
    pub scenario: Header,
    /// The robot.
    pub robot: RobotSpec,
    /// The table the robot stands on.
    pub table: TableSpec,
    /// Loose objects.
    #[serde(default)]
    pub object: Vec<ObjectSpec>,
    /// Where the expert places the object.
    pub target: Option<TargetSpec>,
    /// Cameras.
    #[serde(default)]
    pub camera: Vec<CameraSpec>,
    /// An optional VLP-16-pattern LiDAR.
    pub lidar: Option<LidarSpec>,
    /// Light.
    #[serde(default)]
    pub lighting: LightingSpec,
}

/// `[scenario]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Scenario name, used in file names and metadata.
    pub name: String,
    /// Natural-language task.
    pub task: String,
    /// Robot type written into the metadata (`so101`).
    pub robot_type: String,
    /// Longest episode, seconds of simulated time.
    pub duration_s: f64,
    /// Physics steps per second.
    #[serde(default = "default_physics_hz")]
    pub physics_hz: u32,
    /// `pick_place` (scripted expert) or `replay` (a recorded episode's commands).
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Start of simulated time, Unix seconds (stamps are this plus sim time).
    #[serde(default = "default_epoch")]
    pub epoch_unix_s: u64,
}

fn default_physics_hz() -> u32 {
    1000
}
fn default_policy() -> String {
    "pick_place".into()
}
fn default_epoch() -> u64 {
    // 2026-01-01T00:00:00Z: fixed so the same seed gives the same stamps.
    1_767_225_600
}

/// `[robot]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotSpec {
    /// URDF path, relative to the scenario file.
    pub urdf: Spanned<String>,
    /// Arm name of the measured joint states (`/robot/<arm>/joint_states`).
    #[serde(default = "default_arm")]
    pub arm: String,
    /// Arm name under which the policy's commands are written
    /// (`/robot/<command_arm>/joint_commands`): the expert stands where a
    /// teleoperator's leader arm stands, so sim and real episodes export alike.
    #[serde(default = "default_command_arm")]
    pub command_arm: String,
    /// World ← robot base.
    #[serde(default)]
    pub base: PoseSpec,
    /// Joint state and command rate, Hz.
    #[serde(default = "default_joint_rate")]
    pub joint_rate_hz: f64,
    /// Start configuration, radians by joint name (others 0).
    #[serde(default)]
    pub home: BTreeMap<String, Spanned<f64>>,
    /// Position servo: torque = stiffness·error − damping·velocity, clamped.
    #[serde(default)]
    pub servo: ServoSpec,
    /// Encoder ticks per revolution (joint positions are quantized to them).
    #[serde(default = "default_ticks")]
    pub encoder_ticks_per_rev: u32,
    /// Standard deviation of joint position noise, radians, drawn per
    /// episode from this range.
    #[serde(default)]
    pub position_noise_rad: [f64; 2],
    /// The gripper.
    pub gripper: GripperSpec,
    /// Links whose visual meshes also collide (convex hull per mesh) unless
    /// a `[[robot.collider]]` replaces them.
    #[serde(default)]
    pub contact_links: Vec<Spanned<String>>,
    /// Collision boxes that replace a link's meshes for contact (jaws).
    #[serde(default)]
    pub collider: Vec<ColliderSpec>,
    /// Merge distance for the render and collision meshes, metres.
    #[serde(default = "default_mesh_cell")]
    pub mesh_cell_m: f64,
}

fn default_arm() -> String {
    "follower".into()
}
fn default_command_arm() -> String {
    "leader".into()
}
fn default_joint_rate() -> f64 {
    100.0
}
fn default_ticks() -> u32 {
    4096
}
fn default_mesh_cell() -> f64 {
    0.002
}

/// Joint servo gains.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServoSpec {
    /// N·m/rad.
    pub stiffness: f64,
    /// N·m·s/rad.
    pub damping: f64,
    /// Stall torque, N·m.
    pub max_torque: f64,
    /// Fastest joint speed the commands ask for, rad/s.
    pub max_speed: f64,
}

impl Default for ServoSpec {
    fn default() -> Self {
        Self {
            stiffness: 40.0,
            damping: 1.0,
            max_torque: 3.0,
            max_speed: 3.0,
        }
    }
}

/// `[robot.gripper]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GripperSpec {
    /// The jaw joint.
    pub joint: Spanned<String>,
    /// Link carrying the fixed jaw.
    pub link: Spanned<String>,
    /// Open and closed (squeezing) joint targets, radians.
    pub open: f64,
    /// Target while grasping; beyond contact, so the servo squeezes.
    pub closed: f64,
    /// Grasp point in the gripper link: where an object's centre sits when held.
    pub grasp_point: [f64; 3],
    /// Unit vector in the gripper link from the wrist towards the fingertips.
    pub approach_axis: [f64; 3],
    /// Unit vector in the gripper link along which the jaws close.
    pub closing_axis: [f64; 3],
    /// Torque limit of the jaw servo, N·m (sets the squeeze).
    #[serde(default = "default_grip_torque")]
    pub max_torque: f64,
    /// Friction of the jaw pads.
    #[serde(default = "default_pad_friction")]
    pub friction: f64,
}

fn default_grip_torque() -> f64 {
    0.6
}
fn default_pad_friction() -> f64 {
    1.2
}

/// A collision box on a robot link.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColliderSpec {
    /// The link.
    pub link: Spanned<String>,
    /// Box centre in the link frame.
    pub center: [f64; 3],
    /// Full edge lengths.
    pub size: [f64; 3],
}

/// A pose: translation then roll-pitch-yaw (URDF convention).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseSpec {
    /// Metres.
    #[serde(default)]
    pub xyz: [f64; 3],
    /// Radians.
    #[serde(default)]
    pub rpy: [f64; 3],
}

/// `[table]`: a box whose top is at z = 0 in the world.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Full size, metres.
    pub size: [f64; 3],
    /// Centre of the top face (z is ignored: the top is z = 0).
    #[serde(default)]
    pub center: [f64; 2],
    /// Surface colour, linear RGB 0..1.
    pub colour: [f64; 3],
    /// Second colour and tile size of a checker texture.
    pub checker: Option<Checker>,
    /// Friction.
    #[serde(default = "default_friction")]
    pub friction: f64,
    /// Height of the floor below the top, metres (the LiDAR sees it).
    #[serde(default = "default_table_height")]
    pub height: f64,
}

fn default_friction() -> f64 {
    0.8
}
fn default_table_height() -> f64 {
    0.75
}

/// A checker texture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checker {
    /// The second colour.
    pub colour: [f64; 3],
    /// Tile edge, metres.
    pub tile_m: f64,
}

/// `[[object]]`: a box, cylinder or sphere resting on the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    /// Name (metadata, `/tf` frame `object/<name>`).
    pub name: String,
    /// `box`, `cylinder` or `sphere`.
    pub shape: Spanned<String>,
    /// Box: edge lengths; cylinder: [diameter, diameter, height]; sphere: [d, d, d].
    pub size: [f64; 3],
    /// kg.
    pub mass: f64,
    /// Friction.
    #[serde(default = "default_friction")]
    pub friction: f64,
    /// Linear RGB 0..1.
    pub colour: [f64; 3],
    /// Position on the table (x, y) and yaw.
    #[serde(default)]
    pub xy: [f64; 2],
    /// Radians.
    #[serde(default)]
    pub yaw: f64,
    /// Randomization ranges drawn per episode.
    #[serde(default)]
    pub randomize: ObjectRandomization,
    /// The expert picks this object.
    #[serde(default)]
    pub pick: bool,
}

/// Per-episode draws for an object.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRandomization {
    /// x range, metres (replaces `xy[0]`).
    pub x: Option<[f64; 2]>,
    /// y range.
    pub y: Option<[f64; 2]>,
    /// Yaw range, radians.
    pub yaw: Option<[f64; 2]>,
    /// Uniform scale of `size`.
    pub scale: Option<[f64; 2]>,
    /// Mass range, kg.
    pub mass: Option<[f64; 2]>,
    /// Friction range.
    pub friction: Option<[f64; 2]>,
    /// Largest change of each colour channel.
    #[serde(default)]
    pub colour_jitter: f64,
}

/// `[target]`: the place location, drawn on the table as a flat patch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// x range, metres.
    pub x: [f64; 2],
    /// y range.
    pub y: [f64; 2],
    /// Radius of the patch; success when the object's centre rests within it.
    pub radius: f64,
    /// Colour of the patch.
    pub colour: [f64; 3],
    /// Objects must be at least this far from the target when drawn, metres.
    #[serde(default = "default_clearance")]
    pub clearance: f64,
}

fn default_clearance() -> f64 {
    0.08
}

/// `[[camera]]`: a pinhole camera, fixed in the world or on a robot link.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSpec {
    /// Name (`/camera/<name>/...`).
    pub name: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Horizontal field of view, degrees (square pixels, centred principal point).
    pub hfov_deg: f64,
    /// Frames per second.
    pub rate_hz: f64,
    /// World camera: the eye.
    pub position: Option<[f64; 3]>,
    /// World camera: the point it looks at.
    pub look_at: Option<[f64; 3]>,
    /// Link camera: the link it is mounted on.
    pub link: Option<Spanned<String>>,
    /// Link camera: link ← optical frame (z forward, x right, y down).
    pub mount: Option<PoseSpec>,
    /// JPEG quality 1..100.
    #[serde(default = "default_jpeg_quality")]
    pub jpeg_quality: u8,
    /// Also write a depth image (`/camera/<name>/depth`, 16UC1 millimetres).
    #[serde(default)]
    pub depth: bool,
    /// Pose jitter per episode: translation (m) and rotation (degrees).
    #[serde(default)]
    pub jitter: [f64; 2],
}

fn default_jpeg_quality() -> u8 {
    90
}

/// `[lidar]`: a VLP-16-pattern LiDAR.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LidarSpec {
    /// Name (`/lidar/<name>/points`).
    pub name: String,
    /// Revolutions per second (5..20 on a VLP-16).
    pub rate_hz: f64,
    /// World ← sensor.
    pub pose: PoseSpec,
    /// Range noise, standard deviation in metres.
    #[serde(default = "default_range_noise")]
    pub range_noise_m: f64,
    /// Probability that a return is lost.
    #[serde(default)]
    pub dropout: f64,
    /// Longest range, metres.
    #[serde(default = "default_max_range")]
    pub max_range_m: f64,
}

fn default_range_noise() -> f64 {
    0.015
}
fn default_max_range() -> f64 {
    100.0
}

/// `[lighting]`: one directional light plus ambient.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightingSpec {
    /// Direction the light travels (world).
    pub direction: [f64; 3],
    /// Ambient fraction range.
    pub ambient: [f64; 2],
    /// Directional intensity range.
    pub intensity: [f64; 2],
    /// Largest tilt of the light direction per episode, degrees.
    #[serde(default)]
    pub direction_jitter_deg: f64,
}

impl Default for LightingSpec {
    fn default() -> Self {
        Self {
            direction: [0.3, 0.2, -1.0],
            ambient: [0.35, 0.35],
            intensity: [0.75, 0.75],
            direction_jitter_deg: 0.0,
        }
    }
}

impl Scenario {
    /// Reads and checks a scenario file (URDF names are checked when the
    /// world is built, with their lines).
    pub fn read(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::io(path, e))?;
        Self::parse(path, text)
    }

    /// Parses scenario text that came from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, SimError> {
        let spec: ScenarioSpec = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
            SimError::at_line(
                path,
                line,
                format!(
                    "not a valid scenario: {}",
                    e.message().trim().replace('\n', "; ")
                ),
            )
        })?;
        let s = Self {
            path: path.to_path_buf(),
            text,
            spec,
        };
        s.validate()?;
        Ok(s)
    }

    /// sha256 of (`purpose`, this scenario's text, seed, index): what every
    /// per-episode value (draws, id) derives from, so episode `index` depends
    /// on nothing else.
    pub fn episode_digest(&self, purpose: &[u8], seed: u64, index: u64) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(purpose);
        h.update(self.text.as_bytes());
        h.update(seed.to_le_bytes());
        h.update(index.to_le_bytes());
        h.finalize().into()
    }

    /// The line of a spanned value.
    pub fn line<T>(&self, v: &Spanned<T>) -> usize {
        line_of(&self.text, v.span().start)
    }

    /// The URDF path, resolved against the scenario's folder.
    pub fn urdf_path(&self) -> PathBuf {
        self.path
            .parent()
            .unwrap_or(Path::new("."))
            .join(self.spec.robot.urdf.get_ref())
    }

    /// Line of the first `key =` or `[key]` in the file (for values without spans).
    fn key_line(&self, key: &str) -> usize {
        self.text
            .lines()
            .position(|l| {
                let l = l.trim_start();
                l.starts_with(key)
                    || l.starts_with(&format!("[{key}"))
                    || l.starts_with(&format!("[[{key}"))
            })
            .map(|i| i + 1)
            .unwrap_or(1)
    }

    fn validate(&self) -> Result<(), SimError> {
        let s = &self.spec;
        let bad = |key: &str, msg: String| SimError::at_line(&self.path, self.key_line(key), msg);
        if !(s.scenario.duration_s > 0.0 && s.scenario.duration_s <= 3600.0) {
            return Err(bad(
                "duration_s",
                "duration_s must be in (0, 3600] seconds".into(),
            ));
        }
        if !(100..=10_000).contains(&s.scenario.physics_hz) {
            return Err(bad("physics_hz", "physics_hz must be 100..10000".into()));
        }
        if !matches!(s.scenario.policy.as_str(), "pick_place" | "replay") {
            return Err(bad(
                "policy",
                format!(
                    "unknown policy {:?}; use \"pick_place\" or \"replay\"",
                    s.scenario.policy
                ),
            ));
        }
        if !(s.robot.joint_rate_hz > 0.0 && s.robot.joint_rate_hz <= s.scenario.physics_hz as f64) {
            return Err(bad(
                "joint_rate_hz",
                "joint_rate_hz must be positive and at most physics_hz".into(),
            ));
        }
        for o in &s.object {
            if !matches!(o.shape.get_ref().as_str(), "box" | "cylinder" | "sphere") {
                return Err(SimError::at_line(
                    &self.path,
                    self.line(&o.shape),
                    format!(
                        "unknown shape {:?}; use box, cylinder or sphere",
                        o.shape.get_ref()
                    ),
                ));
            }
            if o.size.iter().any(|v| v.is_nan() || *v <= 0.0) || o.mass.is_nan() || o.mass <= 0.0 {
                return Err(bad(
                    "[[object",
                    format!("object {}: size and mass must be positive", o.name),
                ));
            }
        }
        if s.object.iter().filter(|o| o.pick).count() > 1 {
            return Err(bad("pick", "only one object can have pick = true".into()));
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &s.camera {
            if !names.insert(c.name.clone()) {
                return Err(bad(
                    "[[camera",
                    format!("camera name {:?} is used twice", c.name),
                ));
            }
            if c.width == 0 || c.height == 0 || !(c.hfov_deg > 1.0 && c.hfov_deg < 170.0) {
                return Err(bad(
                    "[[camera",
                    format!(
                        "camera {}: width, height and hfov_deg (1..170) must be set",
                        c.name
                    ),
                ));
            }
            if !(c.rate_hz > 0.0 && c.rate_hz <= s.scenario.physics_hz as f64) {
                return Err(bad(
                    "[[camera",
                    format!(
                        "camera {}: rate_hz must be positive and at most physics_hz",
                        c.name
                    ),
                ));
            }
            let world = c.position.is_some() && c.look_at.is_some();
            let link = c.link.is_some() && c.mount.is_some();
            if world == link {
                return Err(bad(
                    "[[camera",
                    format!("camera {}: give either position + look_at (fixed) or link + mount (on the robot)", c.name),
                ));
            }
        }
        if let Some(l) = &s.lidar {
            if !(5.0..=20.0).contains(&l.rate_hz) {
                return Err(bad(
                    "[lidar",
                    "lidar rate_hz must be 5..20 (a VLP-16 spins at 300-1200 rpm)".into(),
                ));
            }
            if !(0.0..1.0).contains(&l.dropout) {
                return Err(bad("dropout", "lidar dropout must be in [0, 1)".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_toml_names_the_file_and_line() {
        let e = Scenario::parse(
            Path::new("s.toml"),
            "[scenario]\nname = \"x\"\nduration_s = \n".into(),
        )
        .expect_err("malformed");
        let msg = e.to_string();
        assert!(msg.starts_with("s.toml:3:"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let sample = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/sim/so101-pick-place.toml"),
        )
        .expect("sample scenario");
        Scenario::parse(Path::new("ok.toml"), sample.clone()).expect("sample parses");
        let broken = sample.replacen("[table]", "[table]\ncolor = [1, 0, 0]", 1);
        let line = broken
            .lines()
            .position(|l| l.starts_with("color"))
            .expect("line")
            + 1;
        let e = Scenario::parse(Path::new("b.toml"), broken).expect_err("unknown key");
        assert!(e.to_string().starts_with(&format!("b.toml:{line}:")), "{e}");
    }
}
