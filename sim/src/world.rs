//! The physics world: table, floor, loose objects and the robot as a
//! reduced-coordinate multibody (rapier) whose joints are position servos.
//!
//! URDF links joined by fixed joints share one rigid body; every other joint
//! becomes a multibody joint with a force-based motor (stiffness, damping,
//! torque limit), so a gripper that closes on an object stalls and squeezes
//! as a real servo does. Robot links do not collide with each other; only
//! the contact links (jaws) touch objects.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rapier3d::math::{Pose, Rotation, Vector};
use rapier3d::prelude::*;
use reel_episode::geometry::Iso;
use reel_episode::robot::{JointKind, RobotModel, Shape};

use crate::mesh::Mesh;
use crate::scenario::{RobotSpec, Scenario, ScenarioSpec};
use crate::SimError;

/// World ← body pose as a `reel-episode` transform.
pub fn iso_of(p: &Pose) -> Iso {
    let q = p.rotation;
    let t = p.translation;
    Iso {
        q: [q.w as f64, q.x as f64, q.y as f64, q.z as f64],
        t: [t.x as f64, t.y as f64, t.z as f64],
    }
}

/// A `reel-episode` transform as a rapier pose.
pub fn pose_of(i: &Iso) -> Pose {
    Pose::from_parts(
        Vector::new(i.t[0] as f32, i.t[1] as f32, i.t[2] as f32),
        Rotation::from_xyzw(i.q[1] as f32, i.q[2] as f32, i.q[3] as f32, i.q[0] as f32).normalize(),
    )
}

const ROBOT: Group = Group::GROUP_1;
const OBJECTS: Group = Group::GROUP_2;
const STATIC: Group = Group::GROUP_3;

/// An actuated robot joint in the physics world.
#[derive(Debug, Clone)]
pub struct SimJoint {
    /// URDF name.
    pub name: String,
    handle: MultibodyJointHandle,
    body1: RigidBodyHandle,
    body2: RigidBodyHandle,
    frame1: Pose,
    frame2: Pose,
    prismatic: bool,
    continuous: bool,
    /// Limits (radians or metres), if any.
    pub limits: Option<(f64, f64)>,
    /// Servo gains in force.
    stiffness: f32,
    damping: f32,
    max_force: f32,
    /// Last measured position (continuous joints unwrap from it).
    last: f64,
}

/// A loose object.
#[derive(Debug, Clone)]
pub struct SimObject {
    /// Name from the scenario.
    pub name: String,
    /// Its body.
    pub body: RigidBodyHandle,
    /// Render mesh in the body frame.
    pub mesh: Arc<Mesh>,
    /// Linear RGB.
    pub colour: [f64; 3],
    /// Edge lengths as drawn.
    pub size: [f64; 3],
}

/// A fixed part of the scene (table, floor, walls): drawn and collided with.
#[derive(Debug, Clone)]
pub struct Scenery {
    /// Mesh in its own frame.
    pub mesh: Arc<Mesh>,
    /// World ← mesh.
    pub pose: Iso,
    /// Linear RGB.
    pub colour: [f64; 3],
    /// Second colour and tile size of a checker texture.
    pub checker: Option<([f64; 3], f64)>,
}

/// An axis-aligned fixed box (table, floor, walls) for analytic ray casts.
#[derive(Debug, Clone, Copy)]
pub struct StaticBox {
    /// Lower corner.
    pub min: [f64; 3],
    /// Upper corner.
    pub max: [f64; 3],
    /// Diffuse reflectance.
    pub albedo: f32,
}

impl StaticBox {
    /// Distance along a ray from `origin` to the box, and the face normal;
    /// the ray is given by the reciprocals of its direction's components
    /// (one division per ray, not per box and axis; ±∞ for a zero component).
    pub fn ray(&self, origin: [f64; 3], inv_dir: [f64; 3]) -> Option<(f64, [f64; 3])> {
        let (mut t0, mut t1) = (0.0f64, f64::INFINITY);
        let mut normal = [0.0; 3];
        for a in 0..3 {
            if inv_dir[a].is_infinite() {
                if origin[a] < self.min[a] || origin[a] > self.max[a] {
                    return None;
                }
                continue;
            }
            let (mut near, mut far) = (
                (self.min[a] - origin[a]) * inv_dir[a],
                (self.max[a] - origin[a]) * inv_dir[a],
            );
            let mut sign = -1.0;
            if near > far {
                std::mem::swap(&mut near, &mut far);
                sign = 1.0;
            }
            if near > t0 {
                t0 = near;
                normal = [0.0; 3];
                normal[a] = sign;
            }
            t1 = t1.min(far);
            if t0 > t1 {
                return None;
            }
        }
        (t0 > 0.0).then_some((t0, normal))
    }
}

/// Half the side of the room around the table, and its height above the floor, metres.
const ROOM_HALF: f64 = 2.5;
const ROOM_HEIGHT: f64 = 2.5;

/// Drawn parts of one robot link.
#[derive(Debug, Clone)]
pub struct LinkVisual {
    /// Link ← mesh.
    pub origin: Iso,
    /// The (simplified) mesh.
    pub mesh: Arc<Mesh>,
    /// Linear RGB.
    pub colour: [f64; 3],
}

/// Values drawn for one object in one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDraw {
    /// Name.
    pub name: String,
    /// x, y on the table, metres.
    pub xy: [f64; 2],
    /// Yaw, radians.
    pub yaw: f64,
    /// Edge lengths, metres.
    pub size: [f64; 3],
    /// kg.
    pub mass: f64,
    /// Friction.
    pub friction: f64,
    /// Linear RGB.
    pub colour: [f64; 3],
}

/// Everything physical.
pub struct World {
    /// rapier's state.
    pub physics: PhysicsWorld,
    /// The robot's kinematic model.
    pub model: RobotModel,
    /// World ← robot root.
    pub base: Iso,
    /// Actuated joints, in URDF tree order.
    pub joints: Vec<SimJoint>,
    /// Link → (body, body ← link).
    link_body: BTreeMap<String, (RigidBodyHandle, Iso)>,
    /// Link → drawn meshes.
    pub link_visuals: BTreeMap<String, Vec<LinkVisual>>,
    /// Loose objects.
    pub objects: Vec<SimObject>,
    /// Table, floor and walls.
    pub scenery: Vec<Scenery>,
    /// The same as boxes, for analytic ray casts.
    pub static_boxes: Vec<StaticBox>,
    /// Diffuse reflectance of every collider (LiDAR intensity).
    pub albedo: std::collections::HashMap<ColliderHandle, f32>,
    /// The colliders of moving bodies and their bounds in their own frame
    /// (a hull's bounds from its vertices cost more than the ray casts they save).
    moving_colliders: Vec<(ColliderHandle, rapier3d::parry::bounding_volume::Aabb)>,
    /// Simulated time, nanoseconds since the episode start.
    pub time_nanos: u64,
    step_nanos: u64,
}

/// Caches meshes read from disk so many episodes (and both uses) read each once.
#[derive(Debug, Default)]
pub struct MeshCache {
    meshes: BTreeMap<(PathBuf, [u64; 3]), Arc<Mesh>>,
    /// Convex hulls (mesh frame) of cached meshes, built on first use.
    hulls: Vec<(Arc<Mesh>, Option<SharedShape>)>,
}

impl MeshCache {
    fn get(&mut self, path: &Path, scale: [f64; 3], cell: f64) -> Result<Arc<Mesh>, SimError> {
        let key = (path.to_path_buf(), scale.map(f64::to_bits));
        if let Some(m) = self.meshes.get(&key) {
            return Ok(m.clone());
        }
        let m = Arc::new(Mesh::read_stl(path, scale)?.simplified(cell));
        self.meshes.insert(key, m.clone());
        Ok(m)
    }

    /// The convex hull of `mesh` in its own frame; computed once for meshes
    /// read through this cache (URDF primitives are cheap and not kept).
    fn hull(&mut self, mesh: &Arc<Mesh>) -> Option<SharedShape> {
        if let Some((_, h)) = self.hulls.iter().find(|(m, _)| Arc::ptr_eq(m, mesh)) {
            return h.clone();
        }
        let coarse = mesh.simplified(0.004);
        let points: Vec<Vector> = coarse
            .positions
            .iter()
            .map(|p| Vector::new(p[0], p[1], p[2]))
            .collect();
        let hull = SharedShape::convex_hull(&points);
        if self.meshes.values().any(|m| Arc::ptr_eq(m, mesh)) {
            self.hulls.push((mesh.clone(), hull.clone()));
        }
        hull
    }
}

/// The robot as the scenario names it: model, URDF file and text.
#[derive(Debug, Clone)]
pub struct RobotSource {
    /// Kinematic model.
    pub model: RobotModel,
    /// The URDF file.
    pub path: PathBuf,
    /// Its text (written to `/robot_description`).
    pub text: String,
    /// Every mesh file as the URDF names it → where it was found.
    pub mesh_files: BTreeMap<String, PathBuf>,
}

impl RobotSource {
    /// Reads the scenario's URDF and checks every name the scenario uses.
    pub fn load(scenario: &Scenario) -> Result<Self, SimError> {
        let path = scenario.urdf_path();
        let urdf_line = scenario.line(&scenario.spec.robot.urdf);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            SimError::at_line(
                &scenario.path,
                urdf_line,
                format!("cannot read the URDF {}: {e}", path.display()),
            )
        })?;
        let model = RobotModel::parse(&text)
            .map_err(|e| SimError::input(&path, format!("not a usable URDF: {e}")))?;
        for j in &model.joints {
            if let Some((lo, hi)) = j.declared_limits {
                if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                    return Err(SimError::at_line(
                        &path,
                        line_of_first(&text, &format!("name=\"{}\"", j.name)),
                        format!(
                            "joint {} has impossible limits lower={lo} upper={hi}; lower must be below upper",
                            j.name
                        ),
                    ));
                }
            }
        }
        let r = &scenario.spec.robot;
        let link_exists = |name: &toml::Spanned<String>| -> Result<(), SimError> {
            if model.links.iter().any(|l| &l.name == name.get_ref()) {
                Ok(())
            } else {
                Err(SimError::at_line(
                    &scenario.path,
                    scenario.line(name),
                    format!(
                        "unknown URDF link {:?} (the URDF has: {})",
                        name.get_ref(),
                        model
                            .links
                            .iter()
                            .map(|l| l.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        };
        let joint_exists = |name: &str, line: usize| -> Result<(), SimError> {
            if model.joint(name).is_some_and(|j| j.is_actuated()) {
                Ok(())
            } else {
                Err(SimError::at_line(
                    &scenario.path,
                    line,
                    format!("unknown actuated URDF joint {name:?}"),
                ))
            }
        };
        link_exists(&r.gripper.link)?;
        joint_exists(r.gripper.joint.get_ref(), scenario.line(&r.gripper.joint))?;
        for l in &r.contact_links {
            link_exists(l)?;
        }
        for c in &r.collider {
            link_exists(&c.link)?;
        }
        for c in &scenario.spec.camera {
            if let Some(l) = &c.link {
                link_exists(l)?;
            }
        }
        for (name, v) in &r.home {
            joint_exists(name, scenario.line(v))?;
        }
        let dirs = mesh_dirs(&path);
        let mut mesh_files = BTreeMap::new();
        for link in &model.links {
            for v in &link.visuals {
                if let Shape::Mesh { filename, .. } = &v.shape {
                    let Some(file) = RobotModel::resolve_mesh(filename, &dirs) else {
                        return Err(SimError::at_line(
                            &path,
                            line_of_first(&text, filename),
                            format!(
                                "mesh {filename} of link {} not found next to the URDF; copy the meshes beside it",
                                link.name
                            ),
                        ));
                    };
                    mesh_files.insert(filename.clone(), file);
                }
            }
        }
        Ok(Self {
            model,
            path,
            text,
            mesh_files,
        })
    }
}

/// Line of the first `needle` in `text` (1 when absent).
fn line_of_first(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|o| crate::error::line_of(text, o))
        .unwrap_or(1)
}

fn mesh_dirs(urdf: &Path) -> Vec<PathBuf> {
    let dir = urdf.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut dirs = vec![dir.clone()];
    if let Some(up) = dir.parent() {
        dirs.push(up.to_path_buf());
    }
    dirs
}

fn shape_mesh(
    shape: &Shape,
    files: &BTreeMap<String, PathBuf>,
    cache: &mut MeshCache,
    cell: f64,
) -> Result<Option<Arc<Mesh>>, SimError> {
    Ok(Some(Arc::new(match shape {
        Shape::Box(s) => Mesh::cuboid(*s),
        Shape::Cylinder { radius, length } => Mesh::cylinder(*radius, *length, 24),
        Shape::Capsule { radius, length } => Mesh::cylinder(*radius, *length + 2.0 * radius, 24),
        Shape::Sphere(r) => Mesh::sphere(*r, 12, 24),
        Shape::Mesh { filename, scale } => {
            let Some(path) = files.get(filename) else {
                return Ok(None);
            };
            return Ok(Some(cache.get(path, *scale, cell)?));
        }
    })))
}

/// Rotation taking +x to `axis`.
fn x_to(axis: [f64; 3]) -> Iso {
    let a = Vector::new(axis[0] as f32, axis[1] as f32, axis[2] as f32).normalize_or_zero();
    if a == Vector::ZERO {
        return Iso::IDENTITY;
    }
    let r = Rotation::from_rotation_arc(Vector::X, a);
    Iso {
        q: [r.w as f64, r.x as f64, r.y as f64, r.z as f64],
        t: [0.0; 3],
    }
}

fn mass_properties(i: &reel_episode::robot::Inertial, body_from_link: &Iso) -> MassProperties {
    let mass = i.mass.max(1e-3) as f32;
    let [xx, xy, xz, yy, yz, zz] = i.inertia.map(|v| v as f32);
    // Tiny or missing tensors (placeholder links) get a small solid sphere's.
    let floor = 0.4 * mass * 0.01f32.powi(2);
    let m = rapier3d::math::Matrix::from_cols(
        Vector::new(xx.max(floor), xy, xz),
        Vector::new(xy, yy.max(floor), yz),
        Vector::new(xz, yz, zz.max(floor)),
    );
    let local = MassProperties::with_inertia_matrix(Vector::ZERO, mass, m);
    local.transform_by(&pose_of(&body_from_link.then_apply_to(&i.origin)))
}

impl World {
    /// Builds the world for one episode: the robot at its home pose and the
    /// objects where `draws` put them.
    pub fn build(
        scenario: &Scenario,
        robot: &RobotSource,
        draws: &[ObjectDraw],
        cache: &mut MeshCache,
    ) -> Result<Self, SimError> {
        let spec = &scenario.spec;
        let mut physics = PhysicsWorld {
            gravity: Vector::new(0.0, 0.0, -9.81),
            ..Default::default()
        };
        physics.integration_parameters.dt = 1.0 / spec.scenario.physics_hz as f32;
        // Objects are centimetres across: tolerances scale with this.
        physics.integration_parameters.length_unit = 0.1;
        physics.integration_parameters.num_solver_iterations = 4;
        // Bodies and colliders are inserted in one fixed order (room,
        // objects, robot bodies, joints, contact geometry): handles and the
        // solver's order, hence every episode, depend on it.
        let mut albedo = HashMap::new();
        let (scenery, static_boxes) = room(spec, &mut physics, &mut albedo);
        let objects = objects(spec, draws, &mut physics, &mut albedo);
        let model = robot.model.clone();
        let r = &spec.robot;
        let base = Iso::from_xyz_rpy(r.base.xyz, r.base.rpy);
        let home: BTreeMap<&str, f64> = r
            .home
            .iter()
            .map(|(k, v)| (k.as_str(), *v.get_ref()))
            .collect();
        let link_body = robot_bodies(&model, base, &home, &mut physics);
        let joints = robot_joints(&model, r, &link_body, &home, &mut physics, &robot.path)?;
        let link_visuals = robot_geometry(
            &model,
            r,
            &link_body,
            robot,
            cache,
            &mut physics,
            &mut albedo,
        )?;

        // One step before t = 0 builds the broad phase, so ray casts at t = 0 see
        // the scene (a bare collision pass before any step upsets the multibody).
        physics.step();
        let step_nanos = 1_000_000_000 / spec.scenario.physics_hz as u64;
        let moving_colliders = physics
            .colliders
            .iter()
            .filter(|(_, c)| c.parent().is_some_and(|b| !physics.bodies[b].is_fixed()))
            .map(|(h, c)| (h, c.shape().compute_local_aabb()))
            .collect();
        Ok(Self {
            physics,
            model,
            base,
            joints,
            link_body,
            link_visuals,
            objects,
            scenery,
            static_boxes,
            albedo,
            moving_colliders,
            time_nanos: 0,
            step_nanos,
        })
    }

    /// One physics step.
    pub fn step(&mut self) {
        self.physics.step();
        self.time_nanos += self.step_nanos;
    }

    /// Nanoseconds per physics step.
    pub fn step_nanos(&self) -> u64 {
        self.step_nanos
    }

    /// Sets joint `i`'s position target.
    pub fn set_target(&mut self, i: usize, target: f64) {
        let j = &self.joints[i];
        let axis = if j.prismatic {
            JointAxis::LinX
        } else {
            JointAxis::AngX
        };
        let (k, d) = (j.stiffness, j.damping);
        if let Some((mb, link)) = self.physics.multibody_joints.get_mut(j.handle) {
            if let Some(l) = mb.link_mut(link) {
                l.joint.data.set_motor_position(axis, target as f32, k, d);
            }
        }
    }

    /// Stiffness, damping and torque limit of joint `i`'s servo.
    pub fn servo_gains(&self, i: usize) -> (f64, f64, f64) {
        let j = &self.joints[i];
        (j.stiffness as f64, j.damping as f64, j.max_force as f64)
    }

    /// Measured position and velocity of joint `i`.
    pub fn joint_state(&mut self, i: usize) -> (f64, f64) {
        let j = &self.joints[i];
        let b1 = &self.physics.bodies[j.body1];
        let b2 = &self.physics.bodies[j.body2];
        let f1 = *b1.position() * j.frame1;
        let f2 = *b2.position() * j.frame2;
        let rel = f1.inv_mul(&f2);
        let axis_world = f1.rotation * Vector::X;
        let (q, v) = if j.prismatic {
            (
                rel.translation.x as f64,
                (b2.linvel() - b1.linvel()).dot(axis_world) as f64,
            )
        } else {
            let r = rel.rotation;
            let a = 2.0 * (r.x as f64).atan2(r.w as f64);
            let mut a =
                (a + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
            if j.continuous {
                let turns = ((j.last - a) / std::f64::consts::TAU).round();
                a += turns * std::f64::consts::TAU;
            }
            (a, (b2.angvel() - b1.angvel()).dot(axis_world) as f64)
        };
        self.joints[i].last = q;
        (q, v)
    }

    /// Bounds of everything that moves (robot links, objects), for culling ray casts.
    pub fn moving_bounds(&self) -> Option<([f64; 3], [f64; 3])> {
        let mut out: Option<([f64; 3], [f64; 3])> = None;
        for (h, local) in &self.moving_colliders {
            let aabb = local.transform_by(self.physics.colliders[*h].position());
            let (lo, hi) = (aabb.mins, aabb.maxs);
            let lo = [lo.x as f64, lo.y as f64, lo.z as f64];
            let hi = [hi.x as f64, hi.y as f64, hi.z as f64];
            out = Some(match out {
                None => (lo, hi),
                Some((a, b)) => (
                    std::array::from_fn(|k| a[k].min(lo[k])),
                    std::array::from_fn(|k| b[k].max(hi[k])),
                ),
            });
        }
        out
    }

    /// World ← link.
    pub fn link_pose(&self, link: &str) -> Option<Iso> {
        let (body, off) = self.link_body.get(link)?;
        Some(iso_of(self.physics.bodies[*body].position()).then_apply_to(off))
    }

    /// World ← object `i`.
    pub fn object_pose(&self, i: usize) -> Iso {
        iso_of(self.physics.bodies[self.objects[i].body].position())
    }

    /// Linear speed of object `i`, m/s.
    pub fn object_speed(&self, i: usize) -> f64 {
        self.physics.bodies[self.objects[i].body].linvel().length() as f64
    }
}
/// Luminance of a colour, as the LiDAR's albedo.
fn luminance(c: [f64; 3]) -> f32 {
    (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) as f32
}

/// The table (top at z = 0), the floor and the walls of a room, all fixed
/// boxes: what the cameras draw and the LiDAR's exact slab tests.
fn room(
    spec: &ScenarioSpec,
    physics: &mut PhysicsWorld,
    albedo: &mut HashMap<ColliderHandle, f32>,
) -> (Vec<Scenery>, Vec<StaticBox>) {
    let t = &spec.table;
    let floor_z = -t.height;
    let wall_z = floor_z + ROOM_HEIGHT / 2.0;
    // (centre, size, colour, checker, friction)
    type BoxSpec = ([f64; 3], [f64; 3], [f64; 3], Option<([f64; 3], f64)>, f64);
    let boxes: Vec<BoxSpec> = vec![
        (
            [t.center[0], t.center[1], -t.size[2] / 2.0],
            t.size,
            t.colour,
            t.checker.as_ref().map(|c| (c.colour, c.tile_m)),
            t.friction,
        ),
        (
            [0.0, 0.0, floor_z - 0.05],
            [2.0 * ROOM_HALF, 2.0 * ROOM_HALF, 0.1],
            [0.35, 0.35, 0.37],
            None,
            0.8,
        ),
        (
            [ROOM_HALF, 0.0, wall_z],
            [0.1, 2.0 * ROOM_HALF, ROOM_HEIGHT],
            [0.78, 0.76, 0.72],
            None,
            0.8,
        ),
        (
            [-ROOM_HALF, 0.0, wall_z],
            [0.1, 2.0 * ROOM_HALF, ROOM_HEIGHT],
            [0.78, 0.76, 0.72],
            None,
            0.8,
        ),
        (
            [0.0, ROOM_HALF, wall_z],
            [2.0 * ROOM_HALF, 0.1, ROOM_HEIGHT],
            [0.72, 0.75, 0.78],
            None,
            0.8,
        ),
        (
            [0.0, -ROOM_HALF, wall_z],
            [2.0 * ROOM_HALF, 0.1, ROOM_HEIGHT],
            [0.72, 0.75, 0.78],
            None,
            0.8,
        ),
    ];
    let mut scenery = Vec::new();
    let mut static_boxes = Vec::new();
    for (center, size, colour, checker, friction) in boxes {
        static_boxes.push(StaticBox {
            min: std::array::from_fn(|a| center[a] - size[a] / 2.0),
            max: std::array::from_fn(|a| center[a] + size[a] / 2.0),
            albedo: luminance(colour),
        });
        let (_, collider) = physics.insert(
            RigidBodyBuilder::fixed().translation(Vector::new(
                center[0] as f32,
                center[1] as f32,
                center[2] as f32,
            )),
            ColliderBuilder::cuboid(
                (size[0] / 2.0) as f32,
                (size[1] / 2.0) as f32,
                (size[2] / 2.0) as f32,
            )
            .friction(friction as f32)
            .collision_groups(InteractionGroups::new(
                STATIC,
                Group::ALL,
                InteractionTestMode::And,
            )),
        );
        albedo.insert(collider, luminance(colour));
        scenery.push(Scenery {
            mesh: Arc::new(Mesh::cuboid(size)),
            pose: Iso::translation(center),
            colour,
            checker,
        });
    }

    (scenery, static_boxes)
}

/// The scenario's objects as drawn: dynamic bodies on the table.
fn objects(
    spec: &ScenarioSpec,
    draws: &[ObjectDraw],
    physics: &mut PhysicsWorld,
    albedo: &mut HashMap<ColliderHandle, f32>,
) -> Vec<SimObject> {
    let mut objects = Vec::new();
    for (o, d) in spec.object.iter().zip(draws) {
        let half = d.size.map(|v| (v / 2.0) as f32);
        let (collider, mesh) = match o.shape.get_ref().as_str() {
            "cylinder" => (
                ColliderBuilder::cylinder(half[2], half[0]).rotation(Vector::new(
                    std::f32::consts::FRAC_PI_2,
                    0.0,
                    0.0,
                )),
                Mesh::cylinder(d.size[0] / 2.0, d.size[2], 32),
            ),
            "sphere" => (
                ColliderBuilder::ball(half[0]),
                Mesh::sphere(d.size[0] / 2.0, 12, 24),
            ),
            _ => (
                ColliderBuilder::cuboid(half[0], half[1], half[2]),
                Mesh::cuboid(d.size),
            ),
        };
        let pose = Iso::from_xyz_rpy(
            [d.xy[0], d.xy[1], d.size[2] / 2.0 + 1e-4],
            [0.0, 0.0, d.yaw],
        );
        let (body, collider) = physics.insert(
            RigidBodyBuilder::dynamic().pose(pose_of(&pose)),
            collider
                .mass(d.mass as f32)
                .friction(d.friction as f32)
                .collision_groups(InteractionGroups::new(
                    OBJECTS,
                    Group::ALL,
                    InteractionTestMode::And,
                )),
        );
        albedo.insert(collider, luminance(d.colour));
        objects.push(SimObject {
            name: d.name.clone(),
            body,
            mesh: Arc::new(mesh),
            colour: d.colour,
            size: d.size,
        });
    }

    objects
}

/// One rigid body per group of links joined by fixed joints, at the home
/// pose; returns each link's body and its place on it.
fn robot_bodies(
    model: &RobotModel,
    base: Iso,
    home: &BTreeMap<&str, f64>,
    physics: &mut PhysicsWorld,
) -> BTreeMap<String, (RigidBodyHandle, Iso)> {
    let fk = model.link_poses(&|j| home.get(j).copied());
    // Which body each link lives on: links joined by fixed joints share one.
    let mut link_body_index: BTreeMap<String, (usize, Iso)> = BTreeMap::new();
    let mut body_links: Vec<String> = vec![model.root.clone()];
    link_body_index.insert(model.root.clone(), (0, Iso::IDENTITY));
    for j in &model.joints {
        let (pb, poff) = link_body_index[&j.parent];
        if j.kind == JointKind::Fixed {
            link_body_index.insert(j.child.clone(), (pb, poff.then_apply_to(&j.origin)));
        } else {
            body_links.push(j.child.clone());
            link_body_index.insert(j.child.clone(), (body_links.len() - 1, Iso::IDENTITY));
        }
    }
    let mut mass: Vec<Option<MassProperties>> = vec![None; body_links.len()];
    for link in &model.links {
        let Some((b, off)) = link_body_index.get(&link.name) else {
            continue;
        };
        if link.inertial.mass <= 0.0 {
            continue;
        }
        let mp = mass_properties(&link.inertial, off);
        mass[*b] = Some(match mass[*b] {
            Some(m) => m + mp,
            None => mp,
        });
    }
    let mut handles = Vec::new();
    for (i, name) in body_links.iter().enumerate() {
        let world_pose = base.then_apply_to(&fk[name]);
        let builder = if i == 0 {
            RigidBodyBuilder::fixed()
        } else {
            RigidBodyBuilder::dynamic()
                .can_sleep(false)
                .additional_mass_properties(mass[i].unwrap_or_else(|| {
                    MassProperties::new(Vector::ZERO, 1e-3, Vector::splat(1e-7))
                }))
        };
        handles.push(physics.insert_body(builder.pose(pose_of(&world_pose))));
    }
    link_body_index
        .iter()
        .map(|(l, (b, off))| (l.clone(), (handles[*b], *off)))
        .collect()
}

/// The robot's moving joints as multibody joints with position motors
/// (the servos), starting at the home pose.
fn robot_joints(
    model: &RobotModel,
    r: &RobotSpec,
    link_body: &BTreeMap<String, (RigidBodyHandle, Iso)>,
    home: &BTreeMap<&str, f64>,
    physics: &mut PhysicsWorld,
    urdf: &Path,
) -> Result<Vec<SimJoint>, SimError> {
    let servo = &r.servo;
    let mut joints = Vec::new();
    for j in &model.joints {
        if j.kind == JointKind::Fixed || j.kind == JointKind::Other {
            continue;
        }
        let (b1, off1) = link_body[&j.parent];
        let (b2, _) = link_body[&j.child];
        let align = x_to(j.axis);
        let frame1 = pose_of(&off1.then_apply_to(&j.origin).then_apply_to(&align));
        let frame2 = pose_of(&align);
        let prismatic = j.kind == JointKind::Prismatic;
        let (axis, mask) = if prismatic {
            (JointAxis::LinX, JointAxesMask::LOCKED_PRISMATIC_AXES)
        } else {
            (JointAxis::AngX, JointAxesMask::LOCKED_REVOLUTE_AXES)
        };
        let gripper = j.name == *r.gripper.joint.get_ref();
        let max_torque = if gripper {
            r.gripper.max_torque
        } else {
            servo.max_torque
        };
        // The jaw servo is softer: it only has to close and squeeze.
        let (k, d) = if gripper {
            (servo.stiffness as f32 * 0.25, servo.damping as f32 * 0.25)
        } else {
            (servo.stiffness as f32, servo.damping as f32)
        };
        let q0 = home.get(j.name.as_str()).copied().unwrap_or(0.0);
        let mut b = GenericJointBuilder::new(mask)
            .local_frame1(frame1)
            .local_frame2(frame2)
            .contacts_enabled(false)
            .motor_model(axis, MotorModel::ForceBased)
            .motor_position(axis, q0 as f32, k, d)
            .motor_max_force(axis, max_torque as f32);
        if let Some((lo, hi)) = j.limits.filter(|_| j.kind != JointKind::Continuous) {
            b = b.limits(axis, [lo as f32, hi as f32]);
        }
        let handle = physics
            .insert_multibody_joint(b1, b2, b.build())
            .ok_or_else(|| {
                SimError::input(
                    urdf,
                    format!(
                        "joint {} closes a kinematic loop; reel sim needs a tree",
                        j.name
                    ),
                )
            })?;
        joints.push(SimJoint {
            name: j.name.clone(),
            handle,
            body1: b1,
            body2: b2,
            frame1,
            frame2,
            prismatic,
            continuous: j.kind == JointKind::Continuous,
            limits: j.limits,
            stiffness: k,
            damping: d,
            max_force: max_torque as f32,
            last: q0,
        });
    }

    Ok(joints)
}

/// Contact geometry (override boxes, else convex hulls of the contact
/// links' meshes; every link visible to the LiDAR) and the links' meshes
/// as the cameras draw them.
fn robot_geometry(
    model: &RobotModel,
    r: &RobotSpec,
    link_body: &BTreeMap<String, (RigidBodyHandle, Iso)>,
    robot: &RobotSource,
    cache: &mut MeshCache,
    physics: &mut PhysicsWorld,
    albedo: &mut HashMap<ColliderHandle, f32>,
) -> Result<BTreeMap<String, Vec<LinkVisual>>, SimError> {
    let robot_groups = InteractionGroups::new(ROBOT, OBJECTS | STATIC, InteractionTestMode::And);
    let pad = r.gripper.friction as f32;
    let mut collider_links: Vec<&str> = r
        .collider
        .iter()
        .map(|c| c.link.get_ref().as_str())
        .collect();
    for c in &r.collider {
        let (body, off) = link_body[c.link.get_ref()];
        let local = off.then_apply_to(&Iso::translation(c.center));
        let collider = ColliderBuilder::cuboid(
            (c.size[0] / 2.0) as f32,
            (c.size[1] / 2.0) as f32,
            (c.size[2] / 2.0) as f32,
        )
        .position(pose_of(&local))
        .density(0.0)
        .friction(pad)
        .collision_groups(robot_groups);
        let h = physics.insert_collider(collider, Some(body));
        albedo.insert(h, 0.8);
    }
    let mut link_visuals: BTreeMap<String, Vec<LinkVisual>> = BTreeMap::new();
    for link in &model.links {
        let mut visuals = Vec::new();
        for v in &link.visuals {
            let Some(mesh) = shape_mesh(&v.shape, &robot.mesh_files, cache, r.mesh_cell_m)? else {
                continue;
            };
            visuals.push(LinkVisual {
                origin: v.origin,
                mesh,
                colour: v
                    .rgba
                    .map(|c| [c[0] as f64, c[1] as f64, c[2] as f64])
                    .unwrap_or([0.85, 0.85, 0.8]),
            });
        }
        let contact = r.contact_links.iter().any(|l| l.get_ref() == &link.name)
            && !collider_links.contains(&link.name.as_str());
        // Every link is visible to the LiDAR (a hull per mesh that touches
        // nothing); the contact links' hulls also collide.
        let groups = if contact {
            robot_groups
        } else {
            InteractionGroups::new(ROBOT, Group::NONE, InteractionTestMode::And)
        };
        if let Some((body, off)) = link_body.get(&link.name).copied() {
            for v in &visuals {
                let Some(hull) = cache.hull(&v.mesh) else {
                    continue;
                };
                let hull =
                    ColliderBuilder::new(hull).position(pose_of(&off.then_apply_to(&v.origin)));
                let h = physics.insert_collider(
                    hull.density(0.0).friction(pad).collision_groups(groups),
                    Some(body),
                );
                albedo.insert(h, luminance(v.colour));
            }
        }
        if contact {
            collider_links.push(&link.name);
        }
        link_visuals.insert(link.name.clone(), visuals);
    }

    Ok(link_visuals)
}
