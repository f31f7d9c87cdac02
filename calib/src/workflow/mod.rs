//! The calibrations as whole workflows, from an episode or a folder of
//! pictures to a serialisable report: [`intrinsics`], [`hand_eye`],
//! [`camera_lidar`] and [`time_offset`]. Each takes an options struct; the
//! CLI only parses, calls one of them, prints, and applies the report's
//! [`RigUpdate`] to a rig config when asked.

pub mod camera_lidar;
pub mod hand_eye;
pub mod intrinsics;
pub mod time_offset;

use std::path::Path;

use reel_episode::calibration::Mount;

use crate::episode::{camera_model, CameraData};
use crate::error::CalibError;
use crate::images::NamedImage;
use crate::intrinsics::{calibrate, Observation, Options};
use crate::target::Board;
use crate::{CameraModel, Checkerboard};

/// Which sensor of a rig config a result belongs to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RigSensor {
    /// A `[[camera]]` by name.
    Camera(String),
    /// A `[[lidar]]` by name.
    Lidar(String),
}

/// What a calibration changes in a rig config, so that episodes recorded
/// with it afterwards carry it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RigUpdate {
    /// A camera's intrinsics.
    Intrinsics {
        /// The camera.
        camera: String,
        /// Its intrinsics.
        intrinsics: CameraModel,
    },
    /// Where a sensor is mounted.
    Mount {
        /// The sensor.
        sensor: RigSensor,
        /// Its mount.
        mount: Mount,
    },
    /// A camera's frames were found this many ms late against the other
    /// streams: its `latency_ms` grows by it.
    LatencyShiftMs {
        /// The camera.
        camera: String,
        /// Milliseconds.
        ms: f64,
    },
}

/// Finds the board in every image, on every core; `None` where it is not
/// found.
pub fn detect_all(images: &[NamedImage], board: &Board) -> Vec<Option<Observation>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = images.len().div_ceil(threads).max(1);
    tracing::debug!(images = images.len(), threads, "detecting the board");
    std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|i| {
                            board.find(&i.image).map(|(corners, ids)| Observation {
                                name: i.name.clone(),
                                corners,
                                ids,
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(images.chunks(chunk))
            .flat_map(|(h, part)| h.join().unwrap_or_else(|_| vec![None; part.len()]))
            .collect()
    })
}

/// The episode's `camera_info`, else intrinsics fitted to the same views
/// (`size` is the frames' width and height); and a phrase saying which.
pub(crate) fn episode_intrinsics(
    path: &Path,
    data: &CameraData,
    board: &Checkerboard,
    size: (u32, u32),
    observations: &[Observation],
) -> Result<(CameraModel, String), CalibError> {
    if let Some(c) = data.camera_info.as_ref().and_then(camera_model) {
        return Ok((c, "the episode's camera_info".into()));
    }
    let fit = calibrate(board, size.0, size.1, observations, Options::default())
        .map_err(|e| CalibError::input(path, e.to_string()))?;
    let note = format!(
        "fitted to the same views (no camera_info in the episode; RMS {:.3} px)",
        fit.rms_px
    );
    Ok((fit.camera, note))
}
