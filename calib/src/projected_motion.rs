//! Image motion predicted from the robot: the links on `/tf` (and any
//! tracked object on it) projected into a camera through `/tf_static` and
//! its `camera_info`, as pixels per second summed over points on the moving
//! links. Joint speed weighs every joint alike, although a camera sees a
//! gripper's jaw move a few pixels and the same shoulder speed move the arm
//! far more in some poses than in others; the projection weighs motion as
//! the camera sees it, so the time offset's estimate is not pulled towards
//! the joints the camera barely sees. A camera on a link (a wrist camera)
//! sees the table move instead: points on the ground plane around the
//! robot stand for it.

use std::collections::BTreeSet;
use std::path::Path;

use reel_episode::ros2::sensor_msgs::{CameraInfo, JointState};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::tf::TfBuffer;
use reel_episode::{schema_name, EpisodeReader};

use crate::error::CalibError;
use crate::time_offset::activity::Activity;

/// What the projection reads from an episode: the `/tf_static` tree and
/// the arm's `/tf` samples in one buffer, the samples' stamps, and the
/// camera's `camera_info`.
struct Recording {
    tf: TfBuffer,
    stamps: Vec<u64>,
    info: CameraInfo,
}

/// Besides each link's origin and the middle of the link to its parent,
/// points this far along its axes (both ways), so a link turning about its
/// own axis moves points too, metres.
const AXIS_POINT_M: f64 = 0.03;
/// Points closer to the camera than this are not projected, metres.
const NEAR_M: f64 = 0.05;
/// The ground grid a moving camera sees: half-size and step, metres.
const GROUND_HALF_M: f64 = 0.6;
const GROUND_STEP_M: f64 = 0.05;

/// Where the camera sees the robot: the pixel of every point (on the moving
/// links, and on the ground for a camera that rides on them) at each `/tf`
/// sample of the arm, `None` where a point is out of view.
#[derive(Debug, Clone, Default)]
pub struct Tracks {
    /// Sample times, seconds on the episode's clock.
    pub t: Vec<f64>,
    /// Per sample, every point's pixel (the same points in the same order
    /// while the tree holds the same links).
    pub pixels: Vec<Vec<Option<[f64; 2]>>>,
    /// Each point's part, numbered from 0: one per moving link, then the
    /// ground (for a camera that rides on the links).
    pub part: Vec<usize>,
    /// Whether the camera hangs below one of the moving links (a wrist
    /// camera): it sees the world move rather than the links.
    pub rides: bool,
}

impl Tracks {
    /// Pixels per second moved by the points seen at both ends of each
    /// interval between samples, placed at its middle.
    pub fn speed(&self) -> Activity {
        let mut out = Activity::default();
        for k in 1..self.t.len() {
            let dt = self.t[k] - self.t[k - 1];
            // A link missing from the tree changes the point list; such
            // samples cannot be compared point by point.
            if dt > 0.0 && self.pixels[k - 1].len() == self.pixels[k].len() {
                out.t.push(0.5 * (self.t[k - 1] + self.t[k]));
                out.value
                    .push(moved(&self.pixels[k - 1], &self.pixels[k]) / dt);
            }
        }
        out
    }

    /// Every point's pixel at time `t`, interpolated between the samples
    /// around it (`None` for a point out of view at either of them); `None`
    /// outside the samples or where the point list changes.
    pub fn at(&self, t: f64) -> Option<Vec<Option<[f64; 2]>>> {
        let k = self.t.partition_point(|&s| s <= t);
        if k == 0 || k >= self.t.len() {
            return None;
        }
        let (before, after) = (&self.pixels[k - 1], &self.pixels[k]);
        if before.len() != after.len() {
            return None;
        }
        let f = (t - self.t[k - 1]) / (self.t[k] - self.t[k - 1]);
        Some(
            before
                .iter()
                .zip(after)
                .map(|(a, b)| {
                    let (a, b) = (a.as_ref()?, b.as_ref()?);
                    Some([a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])])
                })
                .collect(),
        )
    }
}

/// Pixels moved between two sets of the same points, summed over those
/// seen in both.
fn moved(before: &[Option<[f64; 2]>], after: &[Option<[f64; 2]>]) -> f64 {
    before
        .iter()
        .zip(after)
        .filter_map(|(a, b)| Some(pixel_distance(a.as_ref()?, b.as_ref()?)))
        .sum()
}

/// Distance between two pixels.
pub(crate) fn pixel_distance(a: &[f64; 2], b: &[f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// The points of the links that the arm of `joints_topic` moves, projected
/// into the camera whose frames are on `image_topic`: the `/tf` messages
/// stamped like its samples (a recorder puts an arm's links on `/tf` at its
/// sample times). `Ok(None)` when the episode lacks what the projection
/// needs (`JointState` on `joints_topic`, `/tf` at its stamps, the camera's
/// `camera_info`).
pub fn projected_tracks(
    path: &Path,
    joints_topic: &str,
    image_topic: &str,
) -> Result<Option<Tracks>, CalibError> {
    let Some(camera) = reel_episode::topics::camera_of(image_topic) else {
        return Ok(None);
    };
    let Some(recording) = read(path, joints_topic, camera)? else {
        return Ok(None);
    };
    let info = &recording.info;
    let (fx, fy, cx, cy) = (info.k[0], info.k[4], info.k[2], info.k[5]);
    if recording.stamps.len() < 8 || fx <= 0.0 || fy <= 0.0 {
        return Ok(None);
    }
    let camera_frame = info.header.frame_id.as_str();
    let (w, h) = (f64::from(info.width), f64::from(info.height));
    let project = |p: [f64; 3]| {
        if p[2] < NEAR_M {
            return None;
        }
        let (u, v) = (fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy);
        ((0.0..w).contains(&u) && (0.0..h).contains(&v)).then_some([u, v])
    };

    let tf = &recording.tf;
    let moving_frames = tf.moving_frames();
    let rides = rides_on(tf, camera_frame, &moving_frames);
    let ground = if rides { ground_points() } else { Vec::new() };

    let mut tracks = Tracks {
        rides,
        ..Tracks::default()
    };
    for &stamp in &recording.stamps {
        let t = stamp as i64;
        let camera_from_root = tf.to_root(camera_frame, t).1.inverse();
        let (mut points, mut part) = link_points(tf, &moving_frames, t);
        points.extend(&ground);
        part.extend(ground.iter().map(|_| moving_frames.len()));
        let pixels: Vec<Option<[f64; 2]>> = points
            .iter()
            .map(|p| project(camera_from_root.apply(*p)))
            .collect();
        if tracks.part.is_empty() {
            tracks.part = part;
        }
        tracks.t.push(stamp as f64 * 1e-9);
        tracks.pixels.push(pixels);
    }
    Ok(Some(tracks))
}

/// The `/tf_static` tree, the `/tf` messages stamped like a sample of
/// `joints_topic` (only the links that arm moves), and the camera's first
/// `camera_info`; `None` when one is missing or `joints_topic` is not a
/// `JointState` stream.
fn read(path: &Path, joints_topic: &str, camera: &str) -> Result<Option<Recording>, CalibError> {
    let info_topic = format!("/camera/{camera}/camera_info");
    let reader = EpisodeReader::open(path).map_err(|e| CalibError::input(path, e.to_string()))?;
    let bad = |e: reel_episode::Error| CalibError::input(path, e.to_string());
    let mut statics = Vec::new();
    let mut info: Option<CameraInfo> = None;
    let mut moving: Vec<(u64, TFMessage)> = Vec::new();
    let mut joint_stamps = BTreeSet::new();
    for (index, message) in reader.messages().enumerate() {
        let message = message.map_err(bad)?;
        let topic = message.channel.topic.as_str();
        let schema = schema_name(&message.channel);
        if topic == joints_topic {
            if schema != "sensor_msgs/msg/JointState" {
                return Ok(None);
            }
            let js: JointState = reader.decode(&message, index as u64).map_err(bad)?;
            joint_stamps.insert(js.header.stamp.to_nanos());
        } else if matches!(topic, "/tf" | "/tf_static") && schema == "tf2_msgs/msg/TFMessage" {
            let tf: TFMessage = reader.decode(&message, index as u64).map_err(bad)?;
            if topic == "/tf_static" {
                statics.extend(tf.transforms);
            } else if let Some(first) = tf.transforms.first() {
                moving.push((first.header.stamp.to_nanos(), tf));
            }
        } else if topic == info_topic && info.is_none() {
            info = Some(reader.decode(&message, index as u64).map_err(bad)?);
        }
    }
    // Only the links this arm moves, at its sample times; most of its
    // samples must have them.
    moving.retain(|(stamp, _)| joint_stamps.contains(stamp));
    if moving.is_empty() || moving.len() * 10 < joint_stamps.len() * 9 {
        return Ok(None);
    }
    let mut tf = TfBuffer::default();
    for t in &statics {
        tf.add(t, true);
    }
    for t in moving.iter().flat_map(|(_, m)| &m.transforms) {
        tf.add(t, false);
    }
    tf.finish();
    Ok(info.map(|info| Recording {
        tf,
        stamps: moving.iter().map(|(stamp, _)| *stamp).collect(),
        info,
    }))
}

/// Whether `frame` hangs below one of `moving` (a camera on a link).
fn rides_on(tf: &TfBuffer, frame: &str, moving: &[&str]) -> bool {
    let mut at = frame;
    for _ in 0..64 {
        if moving.contains(&at) {
            return true;
        }
        match tf.parent_of(at) {
            Some(parent) => at = parent,
            None => return false,
        }
    }
    false
}

/// Points on the ground plane (z = 0 of the root) around the origin.
fn ground_points() -> Vec<[f64; 3]> {
    let steps = (GROUND_HALF_M / GROUND_STEP_M) as i32;
    (-steps..=steps)
        .flat_map(|i| {
            (-steps..=steps).map(move |j| {
                [
                    f64::from(i) * GROUND_STEP_M,
                    f64::from(j) * GROUND_STEP_M,
                    0.0,
                ]
            })
        })
        .collect()
}

/// In the root frame: each moving frame's origin, points along its axes,
/// and the middle of its link to its parent; with each point's link (its
/// index in `moving`).
fn link_points(tf: &TfBuffer, moving: &[&str], t: i64) -> (Vec<[f64; 3]>, Vec<usize>) {
    let mut points = Vec::with_capacity(moving.len() * 8);
    let mut part = Vec::with_capacity(moving.len() * 8);
    for (link, frame) in moving.iter().enumerate() {
        let pose = tf.to_root(frame, t).1;
        points.push(pose.t);
        for axis in 0..3 {
            for sign in [-1.0, 1.0] {
                let mut p = [0.0; 3];
                p[axis] = sign * AXIS_POINT_M;
                points.push(pose.apply(p));
            }
        }
        if let Some(parent_pose) = tf.parent_of(frame).map(|parent| tf.to_root(parent, t).1) {
            points.push(std::array::from_fn(|k| {
                0.5 * (pose.t[k] + parent_pose.t[k])
            }));
        }
        part.resize(points.len(), link);
    }
    (points, part)
}
