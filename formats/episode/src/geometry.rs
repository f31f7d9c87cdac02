//! Rigid transforms shared by `/tf` handling, URDF kinematics, export and
//! the viewer. Written by hand: a few quaternion products are not worth a
//! linear-algebra dependency in the formats crate.

use crate::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use crate::ros2::std_msgs::Header;

/// A rigid transform: rotation (unit quaternion w,x,y,z) then translation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iso {
    /// Rotation (w, x, y, z).
    pub q: [f64; 4],
    /// Translation.
    pub t: [f64; 3],
}

impl Iso {
    /// The identity.
    pub const IDENTITY: Self = Self {
        q: [1.0, 0.0, 0.0, 0.0],
        t: [0.0; 3],
    };

    /// From a `/tf` message (quaternion normalised).
    pub fn from_msg(m: &TransformStamped) -> Self {
        let r = &m.transform.rotation;
        let v = &m.transform.translation;
        let n = (r.w * r.w + r.x * r.x + r.y * r.y + r.z * r.z)
            .sqrt()
            .max(1e-12);
        Self {
            q: [r.w / n, r.x / n, r.y / n, r.z / n],
            t: [v.x, v.y, v.z],
        }
    }

    /// As a `/tf` entry: `parent ← child` at `stamp_nanos`.
    pub fn to_msg(&self, stamp_nanos: u64, parent: &str, child: &str) -> TransformStamped {
        TransformStamped {
            header: Header::new(stamp_nanos, parent),
            child_frame_id: child.to_string(),
            transform: Transform {
                translation: Vector3 {
                    x: self.t[0],
                    y: self.t[1],
                    z: self.t[2],
                },
                rotation: Quaternion {
                    w: self.q[0],
                    x: self.q[1],
                    y: self.q[2],
                    z: self.q[3],
                },
            },
        }
    }

    fn qmul(a: [f64; 4], b: [f64; 4]) -> [f64; 4] {
        [
            a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
            a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
            a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
            a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
        ]
    }

    /// Rotates `p`.
    pub fn rotate(&self, p: [f64; 3]) -> [f64; 3] {
        let q = self.q;
        let r = Self::qmul(
            Self::qmul(q, [0.0, p[0], p[1], p[2]]),
            [q[0], -q[1], -q[2], -q[3]],
        );
        [r[1], r[2], r[3]]
    }

    /// Applies the transform to a point.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let r = self.rotate(p);
        [r[0] + self.t[0], r[1] + self.t[1], r[2] + self.t[2]]
    }

    /// `self ∘ other` (other first).
    pub fn then_apply_to(&self, other: &Self) -> Self {
        let t = self.apply(other.t);
        Self {
            q: Self::qmul(self.q, other.q),
            t,
        }
    }

    /// The inverse.
    pub fn inverse(&self) -> Self {
        let qi = [self.q[0], -self.q[1], -self.q[2], -self.q[3]];
        let inv = Self { q: qi, t: [0.0; 3] };
        let t = inv.rotate(self.t);
        Self {
            q: qi,
            t: [-t[0], -t[1], -t[2]],
        }
    }

    pub(crate) fn lerp(a: &Self, b: &Self, w: f64) -> Self {
        let dot: f64 = a.q.iter().zip(&b.q).map(|(x, y)| x * y).sum();
        let s = if dot < 0.0 { -1.0 } else { 1.0 };
        let mut q: [f64; 4] = std::array::from_fn(|i| a.q[i] * (1.0 - w) + s * b.q[i] * w);
        let n = q.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        q.iter_mut().for_each(|x| *x /= n);
        let t: [f64; 3] = std::array::from_fn(|i| a.t[i] * (1.0 - w) + b.t[i] * w);
        Self { q, t }
    }
}

impl Iso {
    /// A pure translation.
    pub fn translation(t: [f64; 3]) -> Self {
        Self {
            q: Self::IDENTITY.q,
            t,
        }
    }

    /// A rotation of `angle` radians about `axis` (normalised here; a zero
    /// axis gives the identity).
    pub fn axis_angle(axis: [f64; 3], angle: f64) -> Self {
        let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
        if n < 1e-12 {
            return Self::IDENTITY;
        }
        let (s, c) = (angle / 2.0).sin_cos();
        Self {
            q: [c, s * axis[0] / n, s * axis[1] / n, s * axis[2] / n],
            t: [0.0; 3],
        }
    }

    /// URDF/ROS fixed-axis roll-pitch-yaw (R = Rz(yaw)·Ry(pitch)·Rx(roll))
    /// then translation `xyz`.
    pub fn from_xyz_rpy(xyz: [f64; 3], rpy: [f64; 3]) -> Self {
        let r = Self::axis_angle([1.0, 0.0, 0.0], rpy[0]);
        let p = Self::axis_angle([0.0, 1.0, 0.0], rpy[1]);
        let y = Self::axis_angle([0.0, 0.0, 1.0], rpy[2]);
        let rot = y.then_apply_to(&p.then_apply_to(&r));
        Self { q: rot.q, t: xyz }
    }

    /// From a row-major rotation matrix (orthonormal) and a translation,
    /// by the largest of the quaternion's components (Shepperd's method,
    /// stable for every rotation).
    pub fn from_matrix(r: [[f64; 3]; 3], t: [f64; 3]) -> Self {
        let trace = r[0][0] + r[1][1] + r[2][2];
        let q = if trace > 0.0 {
            let s = (trace + 1.0).sqrt() * 2.0;
            [
                0.25 * s,
                (r[2][1] - r[1][2]) / s,
                (r[0][2] - r[2][0]) / s,
                (r[1][0] - r[0][1]) / s,
            ]
        } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
            let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
            [
                (r[2][1] - r[1][2]) / s,
                0.25 * s,
                (r[0][1] + r[1][0]) / s,
                (r[0][2] + r[2][0]) / s,
            ]
        } else if r[1][1] > r[2][2] {
            let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
            [
                (r[0][2] - r[2][0]) / s,
                (r[0][1] + r[1][0]) / s,
                0.25 * s,
                (r[1][2] + r[2][1]) / s,
            ]
        } else {
            let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
            [
                (r[1][0] - r[0][1]) / s,
                (r[0][2] + r[2][0]) / s,
                (r[1][2] + r[2][1]) / s,
                0.25 * s,
            ]
        };
        let n = q.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        Self {
            q: q.map(|x| x / n),
            t,
        }
    }

    /// The rotation as a row-major 3×3 matrix.
    pub fn rotation_matrix(&self) -> [[f64; 3]; 3] {
        let [w, x, y, z] = self.q;
        [
            [
                1.0 - 2.0 * (y * y + z * z),
                2.0 * (x * y - w * z),
                2.0 * (x * z + w * y),
            ],
            [
                2.0 * (x * y + w * z),
                1.0 - 2.0 * (x * x + z * z),
                2.0 * (y * z - w * x),
            ],
            [
                2.0 * (x * z - w * y),
                2.0 * (y * z + w * x),
                1.0 - 2.0 * (x * x + y * y),
            ],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_round_trip() {
        for (axis, angle) in [
            ([0.0, 0.0, 1.0], std::f64::consts::PI),
            ([1.0, 2.0, 3.0], 0.7),
            ([0.0, 1.0, 0.0], -2.9),
        ] {
            let iso = Iso::axis_angle(axis, angle);
            let back = Iso::from_matrix(iso.rotation_matrix(), [1.0, 2.0, 3.0]);
            let (m, n) = (iso.rotation_matrix(), back.rotation_matrix());
            for i in 0..3 {
                assert!(close(m[i], n[i]), "{m:?} {n:?}");
            }
        }
    }

    fn close(a: [f64; 3], b: [f64; 3]) -> bool {
        a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn rpy_matches_the_urdf_convention() {
        // yaw 90°: x → y.
        let yaw = Iso::from_xyz_rpy([0.0; 3], [0.0, 0.0, std::f64::consts::FRAC_PI_2]);
        assert!(close(yaw.apply([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0]));
        // roll then pitch (fixed axes): roll 90° sends y → z, pitch 90° sends z → x.
        let rp = Iso::from_xyz_rpy(
            [1.0, 2.0, 3.0],
            [
                std::f64::consts::FRAC_PI_2,
                std::f64::consts::FRAC_PI_2,
                0.0,
            ],
        );
        assert!(close(rp.apply([0.0, 1.0, 0.0]), [2.0, 2.0, 3.0]));
        let m = rp.rotation_matrix();
        assert!(close([m[0][1], m[1][1], m[2][1]], [1.0, 0.0, 0.0]));
    }

    #[test]
    fn inverse_undoes() {
        let a = Iso::from_xyz_rpy([0.3, -0.2, 0.1], [0.4, -0.7, 1.9]);
        let p = [0.5, 0.25, -1.0];
        assert!(close(a.inverse().apply(a.apply(p)), p));
    }
}
