//! The transform buffer of `/tf` and `/tf_static`, as tf2 keeps one: a
//! frame to another (or to its tree's root) at a time, moving transforms
//! interpolated between their samples. LAS merging, the projected motion
//! of calibration, and any reader of an episode's frames share it.

use std::collections::BTreeMap;

pub use crate::geometry::Iso;
use crate::ros2::geometry_msgs::TransformStamped;

/// Transforms by child frame: the parent and the samples (time ns → parent←child).
#[derive(Debug, Default)]
pub struct TfBuffer {
    edges: BTreeMap<String, Edge>,
}

/// A child frame's parent, its samples (ns, parent ← child), and whether
/// it came from `/tf_static`.
type Edge = (String, Vec<(i64, Iso)>, bool);

impl TfBuffer {
    /// Adds a `/tf` or `/tf_static` transform.
    pub fn add(&mut self, m: &TransformStamped, is_static: bool) {
        let t = m.header.stamp.to_nanos() as i64;
        let entry = self
            .edges
            .entry(m.child_frame_id.clone())
            .or_insert_with(|| (m.header.frame_id.clone(), Vec::new(), is_static));
        entry.0 = m.header.frame_id.clone();
        entry.2 = is_static;
        entry.1.push((t, Iso::from_msg(m)));
    }

    /// Sorts samples (call after adding everything).
    pub fn finish(&mut self) {
        for (_, samples, _) in self.edges.values_mut() {
            samples.sort_by_key(|s| s.0);
        }
    }

    fn edge_at(&self, child: &str, t: i64) -> Option<(&str, Iso)> {
        let (parent, samples, is_static) = self.edges.get(child)?;
        if *is_static || samples.len() == 1 {
            return samples.last().map(|s| (parent.as_str(), s.1));
        }
        let i = samples.partition_point(|s| s.0 < t);
        let iso = if samples.get(i).is_some_and(|s| s.0 == t) {
            // A sample at exactly `t`: as it was recorded.
            samples[i].1
        } else if i == 0 {
            samples[0].1
        } else if i == samples.len() {
            samples[i - 1].1
        } else {
            let (a, b) = (&samples[i - 1], &samples[i]);
            Iso::lerp(&a.1, &b.1, (t - a.0) as f64 / (b.0 - a.0).max(1) as f64)
        };
        Some((parent.as_str(), iso))
    }

    /// The parent of `child`, if a transform names one.
    pub fn parent_of(&self, child: &str) -> Option<&str> {
        self.edges.get(child).map(|(parent, _, _)| parent.as_str())
    }

    /// The child frames of `/tf` (not `/tf_static`) transforms, sorted.
    pub fn moving_frames(&self) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, (_, _, is_static))| !is_static)
            .map(|(child, _)| child.as_str())
            .collect()
    }

    /// root ← frame at `t`, and the root's name (the frame with no parent
    /// up the chain).
    pub fn to_root(&self, frame: &str, t: i64) -> (String, Iso) {
        let mut iso = Iso::IDENTITY;
        let mut cur = frame.to_string();
        for _ in 0..64 {
            match self.edge_at(&cur, t) {
                Some((parent, e)) => {
                    iso = e.then_apply_to(&iso);
                    cur = parent.to_string();
                }
                None => break,
            }
        }
        (cur, iso)
    }

    /// target ← source at `t`, if both frames are connected.
    pub fn lookup(&self, target: &str, source: &str, t: i64) -> Option<Iso> {
        let (root_s, s) = self.to_root(source, t);
        let (root_t, tr) = self.to_root(target, t);
        (root_s == root_t).then(|| tr.inverse().then_apply_to(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros2::geometry_msgs::{Quaternion, Transform, Vector3};
    use crate::ros2::std_msgs::Header;

    fn tf(parent: &str, child: &str, t: u64, xyz: [f64; 3], yaw: f64) -> TransformStamped {
        TransformStamped {
            header: Header::new(t, parent),
            child_frame_id: child.into(),
            transform: Transform {
                translation: Vector3 {
                    x: xyz[0],
                    y: xyz[1],
                    z: xyz[2],
                },
                rotation: Quaternion {
                    x: 0.0,
                    y: 0.0,
                    z: (yaw / 2.0).sin(),
                    w: (yaw / 2.0).cos(),
                },
            },
        }
    }

    #[test]
    fn chains_statics_and_interpolates_dynamics() {
        let mut b = TfBuffer::default();
        b.add(&tf("world", "base", 0, [1.0, 0.0, 0.0], 0.0), true);
        b.add(
            &tf(
                "base",
                "lidar",
                0,
                [0.0, 0.0, 2.0],
                std::f64::consts::FRAC_PI_2,
            ),
            true,
        );
        b.finish();
        let iso = b.lookup("world", "lidar", 5).unwrap();
        let p = iso.apply([1.0, 0.0, 0.0]);
        assert!(
            (p[0] - 1.0).abs() < 1e-12 && (p[1] - 1.0).abs() < 1e-12 && (p[2] - 2.0).abs() < 1e-12,
            "{p:?}"
        );
        let back = b.lookup("lidar", "world", 5).unwrap().apply(p);
        assert!((back[0] - 1.0).abs() < 1e-12 && back[1].abs() < 1e-12 && back[2].abs() < 1e-12);
        assert!(b.lookup("world", "nowhere_connected", 0).is_none());

        let mut d = TfBuffer::default();
        d.add(&tf("world", "arm", 0, [0.0; 3], 0.0), false);
        d.add(&tf("world", "arm", 100, [10.0, 0.0, 0.0], 0.0), false);
        d.finish();
        let p = d.lookup("world", "arm", 25).unwrap().apply([0.0; 3]);
        assert!((p[0] - 2.5).abs() < 1e-12);
        assert!(d.lookup("other_root", "arm", 0).is_none());
    }
}
