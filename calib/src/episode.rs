//! What calibration reads from an episode in one pass: a camera's JPEG
//! frames, its `camera_info`, an arm's joint states and the URDF.

use std::path::Path;

use reel_episode::ros2::sensor_msgs::{CameraInfo, CompressedImage, JointState, PointCloud2};
use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::topics;
use reel_episode::{schema_name, EpisodeReader};

use crate::error::CalibError;

use crate::model::CameraModel;

/// One stored frame, still encoded.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Acquisition time, nanoseconds since the epoch.
    pub stamp_nanos: i64,
    /// The camera's optical frame.
    pub frame_id: String,
    /// JPEG bytes.
    pub jpeg: Vec<u8>,
}

/// One joint-state sample.
#[derive(Debug, Clone)]
pub struct JointSample {
    /// Acquisition time, nanoseconds since the epoch.
    pub stamp_nanos: i64,
    /// Joint names.
    pub name: Vec<String>,
    /// Positions, radians or metres.
    pub position: Vec<f64>,
}

/// A camera's (and optionally an arm's) data in an episode.
#[derive(Debug, Clone, Default)]
pub struct CameraData {
    /// JPEG frames in file order.
    pub frames: Vec<Frame>,
    /// The first `camera_info`, if any.
    pub camera_info: Option<CameraInfo>,
    /// The arm's joint states (empty when no arm was asked for).
    pub joints: Vec<JointSample>,
    /// `/robot_description`, if any.
    pub urdf: Option<String>,
    /// Stamps of the LiDAR's clouds (empty when no LiDAR was asked for);
    /// the points are read with [`read_clouds`] for the ones chosen.
    pub cloud_stamps: Vec<i64>,
    /// The LiDAR's frame.
    pub lidar_frame: String,
}

/// What to read besides the camera.
#[derive(Debug, Clone, Copy, Default)]
pub struct Also<'a> {
    /// An arm's joint states.
    pub arm: Option<&'a str>,
    /// A LiDAR's cloud stamps.
    pub lidar: Option<&'a str>,
}

/// Reads `camera`'s frames and `camera_info`, and what `also` asks for.
pub fn read(path: &Path, camera: &str, also: Also<'_>) -> Result<CameraData, CalibError> {
    let reader = EpisodeReader::open(path).map_err(|e| CalibError::input(path, e.to_string()))?;
    let (image_topic, info_topic) = (topics::camera_image(camera), topics::camera_info(camera));
    let joint_topic = also.arm.map(topics::joint_states);
    let cloud_topic = also.lidar.map(topics::lidar_points);
    let mut out = CameraData::default();
    let bad = |e: reel_episode::Error| CalibError::input(path, e.to_string());
    for (index, message) in reader.messages().enumerate() {
        let message = message.map_err(bad)?;
        let topic = message.channel.topic.as_str();
        let index = index as u64;
        if topic == image_topic
            && schema_name(&message.channel) == "sensor_msgs/msg/CompressedImage"
        {
            let m: CompressedImage = reader.decode(&message, index).map_err(bad)?;
            out.frames.push(Frame {
                stamp_nanos: m.header.stamp.to_nanos() as i64,
                frame_id: m.header.frame_id,
                jpeg: m.data,
            });
        } else if topic == info_topic && out.camera_info.is_none() {
            out.camera_info = Some(reader.decode(&message, index).map_err(bad)?);
        } else if Some(topic) == joint_topic.as_deref() {
            let m: JointState = reader.decode(&message, index).map_err(bad)?;
            out.joints.push(JointSample {
                stamp_nanos: m.header.stamp.to_nanos() as i64,
                name: m.name,
                position: m.position,
            });
        } else if Some(topic) == cloud_topic.as_deref() {
            let m: PointCloud2 = reader.decode(&message, index).map_err(bad)?;
            out.cloud_stamps.push(m.header.stamp.to_nanos() as i64);
            out.lidar_frame = m.header.frame_id;
        } else if topic == topics::ROBOT_DESCRIPTION && out.urdf.is_none() {
            let m: StringMsg = reader.decode(&message, index).map_err(bad)?;
            out.urdf = Some(m.data);
        }
    }
    if out.frames.is_empty() {
        return Err(CalibError::input(
            path,
            format!("no JPEG frames on {image_topic}; check the camera name against `reel info` (calibration needs CompressedImage frames)"),
        ));
    }
    if let (Some(topic), true) = (&joint_topic, out.joints.is_empty()) {
        return Err(CalibError::input(
            path,
            format!("no joint states on {topic}; check the arm name against `reel info`"),
        ));
    }
    if let (Some(topic), true) = (&cloud_topic, out.cloud_stamps.is_empty()) {
        return Err(CalibError::input(
            path,
            format!("no point clouds on {topic}; check the LiDAR name against `reel info`"),
        ));
    }
    Ok(out)
}

/// The points of `lidar`'s clouds stamped `stamps`, by stamp.
pub fn read_clouds(
    path: &Path,
    lidar: &str,
    stamps: &std::collections::BTreeSet<i64>,
) -> Result<std::collections::BTreeMap<i64, Vec<[f64; 3]>>, CalibError> {
    let reader = EpisodeReader::open(path).map_err(|e| CalibError::input(path, e.to_string()))?;
    let topic = topics::lidar_points(lidar);
    let mut out = std::collections::BTreeMap::new();
    for (index, message) in reader.messages().enumerate() {
        let message = message.map_err(|e| CalibError::input(path, e.to_string()))?;
        if message.channel.topic != topic {
            continue;
        }
        let m: PointCloud2 = reader
            .decode(&message, index as u64)
            .map_err(|e| CalibError::input(path, e.to_string()))?;
        let stamp = m.header.stamp.to_nanos() as i64;
        if stamps.contains(&stamp) {
            let points = m
                .xyz()
                .map_err(|e| CalibError::input(path, format!("{topic} at {stamp} ns: {e}")))?;
            out.insert(stamp, points);
        }
    }
    Ok(out)
}

/// The camera model a `camera_info` describes, if it holds one.
pub fn camera_model(info: &CameraInfo) -> Option<CameraModel> {
    CameraModel::from_camera_info(info)
}

/// Why the arm does not count as still at a frame.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum NotStill {
    /// No joint state within the window.
    #[error("no joint state within the window")]
    NoSamples,
    /// The joint states start after or end before the frame.
    #[error("joint states do not cover the frame")]
    NotCovered,
    /// A joint moved more than allowed within the window.
    #[error("arm moving ({0:.2} deg within the window)")]
    Moving(f64),
}

/// The arm's joint positions at `stamp_nanos` if it stood still around then:
/// every sample within `window_nanos` either side differs from the others by at
/// most `still_rad`. `Err` says why not.
pub fn still_joints(
    joints: &[JointSample],
    stamp_nanos: i64,
    window_nanos: i64,
    still_rad: f64,
) -> Result<Vec<(String, f64)>, NotStill> {
    let start = joints.partition_point(|s| s.stamp_nanos < stamp_nanos - window_nanos);
    let end = joints.partition_point(|s| s.stamp_nanos <= stamp_nanos + window_nanos);
    let near = &joints[start..end];
    let (Some(first), Some(last)) = (near.first(), near.last()) else {
        return Err(NotStill::NoSamples);
    };
    if first.stamp_nanos > stamp_nanos || last.stamp_nanos < stamp_nanos {
        return Err(NotStill::NotCovered);
    }
    let mut spread: f64 = 0.0;
    for k in 0..first.position.len() {
        let values = near.iter().filter_map(|s| s.position.get(k));
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        spread = spread.max(hi - lo);
    }
    if spread > still_rad {
        return Err(NotStill::Moving(spread.to_degrees()));
    }
    let nearest = near
        .iter()
        .min_by_key(|s| (s.stamp_nanos - stamp_nanos).abs())
        .unwrap_or(first);
    Ok(nearest
        .name
        .iter()
        .cloned()
        .zip(nearest.position.iter().copied())
        .collect())
}

/// A frame taken while the arm stood still, with its joint positions.
#[derive(Debug, Clone)]
pub struct StillFrame {
    /// Index into [`CameraData::frames`].
    pub frame: usize,
    /// Joint name and position.
    pub joints: Vec<(String, f64)>,
}

/// One frame per pause of the arm: the frames taken while it stood still
/// (see [`still_joints`]), grouped while the joints stay within `still_rad`
/// of the group's first frame, the middle one of each group kept. Also
/// returns how many frames were passed over because the arm moved or had no
/// joint state around them.
pub fn one_frame_per_pause(
    data: &CameraData,
    window_nanos: i64,
    still_rad: f64,
) -> (Vec<StillFrame>, usize) {
    let mut groups: Vec<Vec<StillFrame>> = Vec::new();
    let mut passed_over = 0;
    for (frame, f) in data.frames.iter().enumerate() {
        let Ok(joints) = still_joints(&data.joints, f.stamp_nanos, window_nanos, still_rad) else {
            passed_over += 1;
            continue;
        };
        // The same pause: the previous frame was still too, at the same place.
        let same_pause = groups.last().is_some_and(|g| {
            g.last().is_some_and(|l| l.frame + 1 == frame)
                && g[0]
                    .joints
                    .iter()
                    .zip(&joints)
                    .all(|(a, b)| (a.1 - b.1).abs() <= still_rad)
        });
        let still = StillFrame { frame, joints };
        match groups.last_mut() {
            Some(g) if same_pause => g.push(still),
            _ => groups.push(vec![still]),
        }
    }
    let kept = groups
        .into_iter()
        .map(|mut g| {
            let middle = g.len() / 2;
            g.swap_remove(middle)
        })
        .collect();
    (kept, passed_over)
}
