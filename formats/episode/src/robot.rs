//! A robot's kinematic tree from its URDF (parsed by `urdf-rs`): links with
//! their visuals, joints with origin, axis and limits, and forward kinematics.
//! Shared by the viewer (animated robot), the sim and calibration (hand-eye).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::geometry::Iso;

/// A URDF that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    /// Not parseable as URDF.
    #[error("not a valid URDF: {0}")]
    Parse(String),
    /// The joints do not form one tree.
    #[error("URDF joints do not form a tree: {0}")]
    NotATree(String),
}

/// How a joint moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JointKind {
    /// Does not move.
    Fixed,
    /// Rotates about its axis, within limits.
    Revolute,
    /// Rotates about its axis without limits.
    Continuous,
    /// Slides along its axis.
    Prismatic,
    /// Floating, planar or spherical: not driven by one value; kept at its origin.
    Other,
}

/// A joint of the tree.
#[derive(Debug, Clone)]
pub struct Joint {
    /// URDF joint name.
    pub name: String,
    /// How it moves.
    pub kind: JointKind,
    /// Parent link.
    pub parent: String,
    /// Child link.
    pub child: String,
    /// Parent ← joint frame at zero position.
    pub origin: Iso,
    /// Unit axis in the joint frame.
    pub axis: [f64; 3],
    /// Position limits (rad or m), when the URDF gives finite ones.
    pub limits: Option<(f64, f64)>,
    /// Lower and upper limit exactly as written, for revolute and prismatic
    /// joints (so a consumer can refuse impossible ones instead of ignoring them).
    pub declared_limits: Option<(f64, f64)>,
    /// `(joint, multiplier, offset)` when this joint mimics another.
    pub mimic: Option<(String, f64, f64)>,
}

impl Joint {
    /// Parent link ← child link at position `q`.
    pub fn transform(&self, q: f64) -> Iso {
        let motion = match self.kind {
            JointKind::Revolute | JointKind::Continuous => Iso::axis_angle(self.axis, q),
            JointKind::Prismatic => Iso::translation(self.axis.map(|a| a * q)),
            JointKind::Fixed | JointKind::Other => Iso::IDENTITY,
        };
        self.origin.then_apply_to(&motion)
    }

    /// True when the joint is driven by a position value.
    pub fn is_actuated(&self) -> bool {
        matches!(
            self.kind,
            JointKind::Revolute | JointKind::Continuous | JointKind::Prismatic
        ) && self.mimic.is_none()
    }
}

/// A visual's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Full edge lengths.
    Box([f64; 3]),
    /// Along z.
    Cylinder {
        /// Radius.
        radius: f64,
        /// Length.
        length: f64,
    },
    /// Along z.
    Capsule {
        /// Radius.
        radius: f64,
        /// Length of the cylinder part.
        length: f64,
    },
    /// Radius.
    Sphere(f64),
    /// A mesh file as the URDF names it, with its scale.
    Mesh {
        /// As written: relative, `package://` or `file://`.
        filename: String,
        /// Per-axis scale.
        scale: [f64; 3],
    },
}

/// One visual element of a link.
#[derive(Debug, Clone)]
pub struct Visual {
    /// Link ← visual.
    pub origin: Iso,
    /// What to draw.
    pub shape: Shape,
    /// RGBA colour from the material, if any.
    pub rgba: Option<[f32; 4]>,
}

/// A link.
#[derive(Debug, Clone)]
pub struct Link {
    /// URDF link name.
    pub name: String,
    /// Its visuals.
    pub visuals: Vec<Visual>,
    /// Mass properties (mass 0 when the URDF gives none).
    pub inertial: Inertial,
}

/// A link's mass properties as the URDF states them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inertial {
    /// Link ← centre of mass (and inertia axes).
    pub origin: Iso,
    /// kg.
    pub mass: f64,
    /// ixx, ixy, ixz, iyy, iyz, izz in kg·m².
    pub inertia: [f64; 6],
}

/// A robot: links, and joints in parent-before-child order.
#[derive(Debug, Clone)]
pub struct RobotModel {
    /// URDF robot name.
    pub name: String,
    /// The root link.
    pub root: String,
    /// Links in URDF order.
    pub links: Vec<Link>,
    /// Joints, every parent link reached before its children.
    pub joints: Vec<Joint>,
}

impl RobotModel {
    /// Parses URDF text.
    pub fn parse(text: &str) -> Result<Self, RobotError> {
        let robot =
            urdf_rs::read_from_string(text).map_err(|e| RobotError::Parse(e.to_string()))?;
        let named_colours: HashMap<&str, [f32; 4]> = robot
            .materials
            .iter()
            .filter_map(|m| Some((m.name.as_str(), rgba(m.color.as_ref()?))))
            .collect();
        let links: Vec<Link> = robot
            .links
            .iter()
            .map(|l| Link {
                name: l.name.clone(),
                visuals: l
                    .visual
                    .iter()
                    .map(|v| Visual {
                        origin: pose(&v.origin),
                        shape: shape(&v.geometry),
                        rgba: v.material.as_ref().and_then(|m| {
                            m.color
                                .as_ref()
                                .map(rgba)
                                .or_else(|| named_colours.get(m.name.as_str()).copied())
                        }),
                    })
                    .collect(),
                inertial: Inertial {
                    origin: pose(&l.inertial.origin),
                    mass: l.inertial.mass.value,
                    inertia: {
                        let i = &l.inertial.inertia;
                        [i.ixx, i.ixy, i.ixz, i.iyy, i.iyz, i.izz]
                    },
                },
            })
            .collect();
        let joints: Vec<Joint> = robot
            .joints
            .iter()
            .map(|j| {
                use urdf_rs::JointType as T;
                let kind = match j.joint_type {
                    T::Fixed => JointKind::Fixed,
                    T::Revolute => JointKind::Revolute,
                    T::Continuous => JointKind::Continuous,
                    T::Prismatic => JointKind::Prismatic,
                    T::Floating | T::Planar | T::Spherical => JointKind::Other,
                };
                let (lo, hi) = (j.limit.lower, j.limit.upper);
                let limits =
                    (kind != JointKind::Continuous && lo.is_finite() && hi.is_finite() && lo < hi)
                        .then_some((lo, hi));
                Joint {
                    name: j.name.clone(),
                    kind,
                    parent: j.parent.link.clone(),
                    child: j.child.link.clone(),
                    origin: pose(&j.origin),
                    axis: j.axis.xyz.0,
                    limits,
                    declared_limits: matches!(kind, JointKind::Revolute | JointKind::Prismatic)
                        .then_some((lo, hi)),
                    mimic: j.mimic.as_ref().map(|m| {
                        (
                            m.joint.clone(),
                            m.multiplier.unwrap_or(1.0),
                            m.offset.unwrap_or(0.0),
                        )
                    }),
                }
            })
            .collect();
        let (root, joints) = tree_order(&links, joints)?;
        Ok(Self {
            name: robot.name,
            root,
            links,
            joints,
        })
    }

    /// Reads and parses a URDF file.
    pub fn read(path: &Path) -> Result<Self, RobotError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RobotError::Parse(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Joints driven by a position value, in tree order.
    pub fn actuated_joints(&self) -> impl Iterator<Item = &Joint> {
        self.joints.iter().filter(|j| j.is_actuated())
    }

    /// The joint named `name`.
    pub fn joint(&self, name: &str) -> Option<&Joint> {
        self.joints.iter().find(|j| j.name == name)
    }

    /// Index of the joint named `name` in [`Self::joints`].
    pub fn joint_index(&self, name: &str) -> Option<usize> {
        self.joints.iter().position(|j| j.name == name)
    }

    /// Position of every joint, indexed as [`Self::joints`]: the given
    /// value, a mimic's from its leader, else 0.
    pub fn joint_values(&self, given: &[Option<f64>]) -> Vec<f64> {
        self.joints
            .iter()
            .enumerate()
            .map(|(i, j)| match &j.mimic {
                Some((leader, mult, offset)) => {
                    let q = self
                        .joint_index(leader)
                        .and_then(|l| given.get(l).copied().flatten());
                    q.unwrap_or(0.0) * mult + offset
                }
                None => given.get(i).copied().flatten().unwrap_or(0.0),
            })
            .collect()
    }

    /// Root ← link for every link (forward kinematics).
    pub fn link_poses(&self, given: &dyn Fn(&str) -> Option<f64>) -> BTreeMap<String, Iso> {
        let given: Vec<Option<f64>> = self.joints.iter().map(|j| given(&j.name)).collect();
        let q = self.joint_values(&given);
        let mut poses = BTreeMap::new();
        poses.insert(self.root.clone(), Iso::IDENTITY);
        for (j, q) in self.joints.iter().zip(q) {
            let parent = poses.get(&j.parent).copied().unwrap_or(Iso::IDENTITY);
            poses.insert(j.child.clone(), parent.then_apply_to(&j.transform(q)));
        }
        poses
    }

    /// Parent ← child of every joint that is not fixed, at the positions
    /// `given` by name (mimics follow their leader, the rest stand at 0), as
    /// ROS's robot_state_publisher publishes them on `/tf`. Frame names get
    /// `prefix` (empty for a single robot).
    pub fn joint_transforms(
        &self,
        given: &dyn Fn(&str) -> Option<f64>,
        stamp_nanos: u64,
        prefix: &str,
    ) -> Vec<crate::ros2::geometry_msgs::TransformStamped> {
        let given: Vec<Option<f64>> = self.joints.iter().map(|j| given(&j.name)).collect();
        let q = self.joint_values(&given);
        self.joints
            .iter()
            .zip(q)
            .filter(|(j, _)| j.kind != JointKind::Fixed)
            .map(|(j, q)| {
                j.transform(q).to_msg(
                    stamp_nanos,
                    &format!("{prefix}{}", j.parent),
                    &format!("{prefix}{}", j.child),
                )
            })
            .collect()
    }

    /// Parent ← child of every fixed joint, for `/tf_static`.
    pub fn fixed_transforms(
        &self,
        stamp_nanos: u64,
        prefix: &str,
    ) -> Vec<crate::ros2::geometry_msgs::TransformStamped> {
        self.joints
            .iter()
            .filter(|j| j.kind == JointKind::Fixed)
            .map(|j| {
                j.origin.to_msg(
                    stamp_nanos,
                    &format!("{prefix}{}", j.parent),
                    &format!("{prefix}{}", j.child),
                )
            })
            .collect()
    }

    /// Finds a mesh file named in this URDF: relative names, `package://pkg/rest`
    /// (tried as `rest` and `pkg/rest`) and `file://` paths, under each of `dirs`.
    pub fn resolve_mesh(filename: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
        if let Some(abs) = filename.strip_prefix("file://") {
            let p = PathBuf::from(abs);
            return p.is_file().then_some(p);
        }
        let candidates: Vec<String> = match filename.strip_prefix("package://") {
            Some(rest) => {
                let mut v = vec![rest.to_string()];
                if let Some((_, tail)) = rest.split_once('/') {
                    v.push(tail.to_string());
                }
                v
            }
            None => vec![filename.to_string()],
        };
        dirs.iter()
            .flat_map(|d| candidates.iter().map(move |c| d.join(c)))
            .find(|p| p.is_file())
    }
}

fn rgba(c: &urdf_rs::Color) -> [f32; 4] {
    c.rgba.0.map(|v| v as f32)
}

fn pose(p: &urdf_rs::Pose) -> Iso {
    Iso::from_xyz_rpy(p.xyz.0, p.rpy.0)
}

fn shape(g: &urdf_rs::Geometry) -> Shape {
    use urdf_rs::Geometry as G;
    match g {
        G::Box { size } => Shape::Box(size.0),
        G::Cylinder { radius, length } => Shape::Cylinder {
            radius: *radius,
            length: *length,
        },
        G::Capsule { radius, length } => Shape::Capsule {
            radius: *radius,
            length: *length,
        },
        G::Sphere { radius } => Shape::Sphere(*radius),
        G::Mesh { filename, scale } => Shape::Mesh {
            filename: filename.clone(),
            scale: scale.as_ref().map_or([1.0; 3], |s| s.0),
        },
    }
}

/// Orders joints parent-first from the single root link.
fn tree_order(links: &[Link], joints: Vec<Joint>) -> Result<(String, Vec<Joint>), RobotError> {
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    for j in &joints {
        if let Some(other) = parent_of.insert(&j.child, &j.parent) {
            return Err(RobotError::NotATree(format!(
                "link {} has two parents ({other} and {})",
                j.child, j.parent
            )));
        }
    }
    let roots: Vec<&str> = links
        .iter()
        .map(|l| l.name.as_str())
        .filter(|l| !parent_of.contains_key(l))
        .collect();
    let root = match roots.as_slice() {
        [one] => one.to_string(),
        [] => return Err(RobotError::NotATree("no root link (a cycle)".into())),
        many => {
            return Err(RobotError::NotATree(format!(
                "{} root links: {}",
                many.len(),
                many.join(", ")
            )))
        }
    };
    let mut ordered = Vec::with_capacity(joints.len());
    let mut frontier = vec![root.clone()];
    let mut rest = joints;
    while let Some(link) = frontier.pop() {
        let (children, others): (Vec<Joint>, Vec<Joint>) =
            rest.into_iter().partition(|j| j.parent == link);
        rest = others;
        for j in children {
            frontier.push(j.child.clone());
            ordered.push(j);
        }
    }
    if let Some(j) = rest.first() {
        return Err(RobotError::NotATree(format!(
            "joint {} is not connected to the root link {root}",
            j.name
        )));
    }
    Ok((root, ordered))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_LINK: &str = r#"<robot name="two">
      <material name="red"><color rgba="1 0 0 1"/></material>
      <link name="tip"/>
      <link name="base"><visual><geometry><box size="0.1 0.1 0.1"/></geometry><material name="red"/></visual></link>
      <link name="upper"><visual><origin xyz="0 0 0.25"/><geometry><mesh filename="package://two/meshes/upper.stl" scale="0.001 0.001 0.001"/></geometry></visual></link>
      <joint name="tip_joint" type="fixed"><parent link="upper"/><child link="tip"/><origin xyz="0 0 0.5"/></joint>
      <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/><origin xyz="0 0 0.1"/><axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" effort="1" velocity="1"/></joint>
    </robot>"#;

    #[test]
    fn parses_and_orders_the_tree() {
        let m = RobotModel::parse(TWO_LINK).expect("parse");
        assert_eq!(m.root, "base");
        let names: Vec<_> = m.joints.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["shoulder", "tip_joint"]);
        assert_eq!(
            m.joint("shoulder").and_then(|j| j.limits),
            Some((-1.5, 1.5))
        );
        assert_eq!(m.links[1].visuals[0].rgba, Some([1.0, 0.0, 0.0, 1.0]));
        assert!(
            matches!(&m.links[2].visuals[0].shape, Shape::Mesh { scale, .. } if scale[0] == 0.001)
        );
        assert_eq!(m.actuated_joints().count(), 1);
    }

    #[test]
    fn forward_kinematics_rotates_about_the_axis() {
        let m = RobotModel::parse(TWO_LINK).expect("parse");
        let q = std::f64::consts::FRAC_PI_2;
        let poses = m.link_poses(&|j| (j == "shoulder").then_some(q));
        // Pitch +90° about y sends the 0.5 m z-offset of the tip to +x.
        let tip = poses["tip"].t;
        assert!(
            (tip[0] - 0.5).abs() < 1e-9 && tip[1].abs() < 1e-9 && (tip[2] - 0.1).abs() < 1e-9,
            "{tip:?}"
        );
    }

    #[test]
    fn rejects_a_forest_and_bad_xml() {
        let forest = r#"<robot name="f"><link name="a"/><link name="b"/></robot>"#;
        assert!(matches!(
            RobotModel::parse(forest),
            Err(RobotError::NotATree(_))
        ));
        assert!(matches!(
            RobotModel::parse("<robot"),
            Err(RobotError::Parse(_))
        ));
    }

    #[test]
    fn resolves_package_paths() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("meshes")).expect("mkdir");
        std::fs::write(dir.path().join("meshes/upper.stl"), b"solid").expect("write");
        let found = RobotModel::resolve_mesh(
            "package://two/meshes/upper.stl",
            &[dir.path().to_path_buf()],
        );
        assert_eq!(found, Some(dir.path().join("meshes/upper.stl")));
        assert_eq!(
            RobotModel::resolve_mesh("nope.stl", &[dir.path().to_path_buf()]),
            None
        );
    }
}
