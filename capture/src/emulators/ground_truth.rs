//! How far an episode's time stamps are from the truth the emulators know:
//! the servo buses log when they latched which positions, each emulated
//! camera frame carries its exposure time in its pixels, and the emulated
//! VLP-16 knows when its beam crossed the revolution cut. Used by the sync
//! test and the recording benchmark.

use reel_episode::ros2::sensor_msgs::{CompressedImage, JointState, PointCloud2};
use reel_episode::EpisodeReader;

use super::rig::EmulatedRig;
use crate::error::EmulatorError;
use crate::rig::Rig;
use crate::timecode;
use reel_media::camera as camera_io;

/// Absolute time stamp errors, ms, per kind of stream.
#[derive(Debug, Clone, Default)]
pub struct SyncErrors {
    /// Joint states and commands.
    pub joints_ms: Vec<f64>,
    /// LiDAR revolutions.
    pub lidar_ms: Vec<f64>,
    /// Camera frames.
    pub cameras_ms: Vec<f64>,
}

/// p-th percentile (0–100) of `values`; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p / 100.0).round() as usize]
}

/// Compares every joint, camera and LiDAR message of `episode` with the
/// ground truth of `emulators` (which recorded it from `rig`).
pub fn sync_errors(
    episode: &std::path::Path,
    rig: &Rig,
    emulators: &EmulatedRig,
) -> Result<SyncErrors, EmulatorError> {
    let reader = EpisodeReader::open(episode)?;
    let mut out = SyncErrors::default();
    for (i, m) in reader.messages().enumerate() {
        let m = m?;
        let topic = m.channel.topic.as_str();
        if let Some(arm_name) = topic
            .strip_prefix("/robot/")
            .and_then(|t| t.split('/').next())
        {
            let (Some(arm), Some(bus)) = (
                rig.arms.iter().find(|a| a.name == arm_name),
                emulators.bus(arm_name),
            ) else {
                continue;
            };
            let js: JointState = reader.decode(&m, i as u64)?;
            let stamp = js.header.stamp.to_nanos();
            // rad → ticks through the calibration (exact: raw ticks are recoverable).
            let ticks: Vec<i32> = arm
                .joints
                .iter()
                .zip(&js.position)
                .map(|(j, rad)| {
                    (f64::from(j.offset_ticks)
                        + f64::from(j.direction) * rad * j.model.ticks_per_rev()
                            / std::f64::consts::TAU)
                        .round() as i32
                })
                .collect();
            if let Some(truth) = bus.stats().latch_time_of(&ticks, stamp) {
                out.joints_ms.push(stamp.abs_diff(truth) as f64 / 1e6);
            }
        } else if topic.starts_with("/camera/") && topic.ends_with("/image/compressed") {
            let img: CompressedImage = reader.decode(&m, i as u64)?;
            let frame = camera_io::decode_jpeg(&img.data)?;
            if let Some(truth) =
                timecode::read(frame.data(0), frame.stride(0), frame.width() as usize)
            {
                out.cameras_ms
                    .push(img.header.stamp.to_nanos().abs_diff(truth) as f64 / 1e6);
            }
        } else if let Some(name) = topic
            .strip_prefix("/lidar/")
            .and_then(|t| t.strip_suffix("/points"))
        {
            let Some(lidar) = emulators.lidar(name) else {
                continue;
            };
            let cloud: PointCloud2 = reader.decode(&m, i as u64)?;
            let stamp = cloud.header.stamp.to_nanos();
            let truth = lidar.true_time_of_azimuth(0.0, stamp);
            out.lidar_ms.push(stamp.abs_diff(truth) as f64 / 1e6);
        }
    }
    Ok(out)
}
