//! LiDARs of every family behind one decoder interface ([`scan`]), and the
//! decoder a rig's LiDAR needs.

pub mod scan;

use std::path::Path;

pub use scan::{
    Decoded, Identity, ImuDecoder, ImuSample, LidarDecoder, LidarPoint, RawPacket, Rejection, Scan,
};

use crate::drivers::livox::decoder::{LivoxDecoder, LivoxImuDecoder};
use crate::drivers::ouster::decoder::{OusterDecoder, OusterImuDecoder};
use crate::drivers::ouster::metadata::SensorInfo;
use crate::drivers::velodyne::decoder::VelodyneDecoder;
use crate::error::LidarError;
use crate::rig::{Lidar, LidarModel};

/// The decoder of `lidar`, its files resolved against `rig_dir`.
pub fn decoder_for(lidar: &Lidar, rig_dir: &Path) -> Result<Box<dyn LidarDecoder>, LidarError> {
    match lidar.kind() {
        Some(LidarModel::Velodyne(model)) => Ok(Box::new(VelodyneDecoder::new(
            model,
            lidar.cut_azimuth_deg,
            lidar.store_packets,
        ))),
        Some(LidarModel::Ouster(line)) => {
            let info = ouster_metadata(lidar, rig_dir)?;
            if let Some(expected) = line {
                if info.line_and_beams() != Some(expected) {
                    return Err(LidarError::Metadata {
                        path: lidar.metadata.clone().unwrap_or_default(),
                        reason: format!(
                            "it describes an {} with {} beams, the rig says {}",
                            info.prod_line, info.pixels_per_column, lidar.model
                        ),
                    });
                }
            }
            Ok(Box::new(OusterDecoder::new(info)))
        }
        Some(LidarModel::Livox(model)) => Ok(Box::new(LivoxDecoder::new(
            model,
            f64::from(lidar.rpm) / 60.0,
        ))),
        None => Err(LidarError::Unsupported {
            model: lidar.model.clone(),
        }),
    }
}

/// An Ouster's metadata, from the rig's `metadata` file.
pub fn ouster_metadata(lidar: &Lidar, rig_dir: &Path) -> Result<SensorInfo, LidarError> {
    let rel = lidar.metadata.clone().unwrap_or_default();
    let path = rig_dir.join(&rel);
    let text = std::fs::read_to_string(&path).map_err(|e| LidarError::Metadata {
        path: path.clone(),
        reason: format!("cannot be read: {e}"),
    })?;
    SensorInfo::parse(&text).map_err(|e| LidarError::Metadata {
        path,
        reason: e.to_string(),
    })
}

/// The IMU of a LiDAR that has one and is told where to send it: its
/// decoder, its nominal rate (Hz), and where the IMU sits in the LiDAR's
/// frame (row-major rotation, translation in metres).
pub struct LidarImu {
    /// Packet decoder.
    pub decoder: Box<dyn ImuDecoder>,
    /// Samples per second.
    pub rate_hz: f64,
    /// IMU frame in the LiDAR frame: rotation.
    pub rotation: [[f64; 3]; 3],
    /// IMU frame in the LiDAR frame: translation, metres.
    pub translation: [f64; 3],
}

/// The IMU of `lidar` when the rig gives it an `imu_address`.
pub fn imu_for(lidar: &Lidar, rig_dir: &Path) -> Result<Option<LidarImu>, LidarError> {
    if lidar.imu_address.is_none() {
        return Ok(None);
    }
    match lidar.kind() {
        Some(LidarModel::Ouster(_)) => {
            let info = ouster_metadata(lidar, rig_dir)?;
            if !info.legacy_imu {
                return Err(LidarError::Metadata {
                    path: lidar.metadata.clone().unwrap_or_default(),
                    reason: "its udp_profile_imu is not LEGACY, the only IMU profile reel reads"
                        .into(),
                });
            }
            let m = info.imu_to_sensor;
            Ok(Some(LidarImu {
                decoder: Box::new(OusterImuDecoder),
                // The sensor's IMU packet rate (firmware user manual).
                rate_hz: 100.0,
                rotation: [0, 1, 2].map(|i| [m[i][0], m[i][1], m[i][2]]),
                translation: [0, 1, 2].map(|i| m[i][3] * 1e-3),
            }))
        }
        Some(LidarModel::Livox(model)) => Ok(Some(LidarImu {
            decoder: Box::new(LivoxImuDecoder),
            rate_hz: 200.0,
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: model.imu_offset_m(),
        })),
        _ => Err(LidarError::Unsupported {
            model: format!("{} (an IMU)", lidar.model),
        }),
    }
}
