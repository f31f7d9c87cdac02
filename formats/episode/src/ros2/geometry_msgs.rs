//! `geometry_msgs` messages.

use super::builtin_interfaces::TIME_DEP;
use super::std_msgs::{Header, HEADER_DEP};
use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// `geometry_msgs/Vector3` (metres when used as a translation).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vector3 {
    /// x
    pub x: f64,
    /// y
    pub y: f64,
    /// z
    pub z: f64,
}

/// `geometry_msgs/Quaternion` (x, y, z, w; unit norm for rotations).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quaternion {
    /// x
    pub x: f64,
    /// y
    pub y: f64,
    /// z
    pub z: f64,
    /// w
    pub w: f64,
}

impl Default for Quaternion {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Quaternion {
    /// No rotation.
    pub const IDENTITY: Self = Self {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        w: 1.0,
    };
}

/// `geometry_msgs/Transform`: the child frame's pose in the parent frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Transform {
    /// Translation, metres.
    pub translation: Vector3,
    /// Rotation.
    pub rotation: Quaternion,
}

impl Transform {
    fn write(&self, w: &mut CdrWriter<'_>) {
        let (t, q) = (self.translation, self.rotation);
        for v in [t.x, t.y, t.z, q.x, q.y, q.z, q.w] {
            w.f64(v);
        }
    }
    fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            translation: Vector3 {
                x: r.f64()?,
                y: r.f64()?,
                z: r.f64()?,
            },
            rotation: Quaternion {
                x: r.f64()?,
                y: r.f64()?,
                z: r.f64()?,
                w: r.f64()?,
            },
        })
    }
}

/// `geometry_msgs/msg/TransformStamped`: `header.frame_id` is the parent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransformStamped {
    /// Time and parent frame.
    pub header: Header,
    /// Child frame.
    pub child_frame_id: String,
    /// parent_from_child.
    pub transform: Transform,
}

impl TransformStamped {
    pub(crate) fn write(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.string(&self.child_frame_id);
        self.transform.write(w);
    }
    pub(crate) fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::read(r)?,
            child_frame_id: r.string()?,
            transform: Transform::read(r)?,
        })
    }
}

pub(crate) const TRANSFORM_STAMPED_DEF: &str =
    "std_msgs/Header header\nstring child_frame_id\nTransform transform\n";
pub(crate) const TRANSFORM_DEP: (&str, &str) = (
    "geometry_msgs/Transform",
    "Vector3 translation\nQuaternion rotation\n",
);
pub(crate) const VECTOR3_DEP: (&str, &str) =
    ("geometry_msgs/Vector3", "float64 x\nfloat64 y\nfloat64 z\n");
pub(crate) const QUATERNION_DEP: (&str, &str) = (
    "geometry_msgs/Quaternion",
    "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n",
);

impl RosMessage for TransformStamped {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/TransformStamped";
    const DEFINITION: &'static str = TRANSFORM_STAMPED_DEF;
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[
        HEADER_DEP,
        TIME_DEP,
        TRANSFORM_DEP,
        VECTOR3_DEP,
        QUATERNION_DEP,
    ];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.write(w);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Self::read(r)
    }
}
