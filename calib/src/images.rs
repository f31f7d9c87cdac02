//! Target images: a folder of PNG/JPEG files, or one camera's frames in an
//! episode.

use std::path::{Path, PathBuf};

use reel_formats::episode::{schema_name, EpisodeReader};
use reel_formats::ros2::sensor_msgs::CompressedImage;

use crate::detect::Gray;
use crate::error::CalibError;

/// A named grey image.
#[derive(Debug, Clone)]
pub struct NamedImage {
    /// File name, or `t=<seconds>` for an episode frame.
    pub name: String,
    /// The pixels.
    pub image: Gray,
}

/// Every `.png`, `.jpg` and `.jpeg` in `dir`, sorted by name.
pub fn read_folder(dir: &Path) -> Result<Vec<NamedImage>, CalibError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CalibError::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(CalibError::input(
            dir,
            "no .png or .jpg images here; point --images at the folder of target pictures",
        ));
    }
    paths
        .iter()
        .map(|p| {
            let img = image::open(p)
                .map_err(|e| CalibError::input(p, format!("cannot decode the image ({e})")))?
                .to_luma8();
            Ok(NamedImage {
                name: p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                image: Gray::from_u8(img.width() as usize, img.height() as usize, img.as_raw()),
            })
        })
        .collect()
}

/// Up to `max` frames of `camera`'s JPEG stream in an episode, evenly spread.
pub fn read_episode(path: &Path, camera: &str, max: usize) -> Result<Vec<NamedImage>, CalibError> {
    let reader = EpisodeReader::open(path).map_err(|e| CalibError::input(path, e.to_string()))?;
    let topic = reel_formats::topics::camera_image(camera);
    let mut frames = Vec::new();
    let mut first = None;
    for (index, message) in reader.messages().enumerate() {
        let message = message.map_err(|e| CalibError::input(path, e.to_string()))?;
        if message.channel.topic != topic
            || schema_name(&message.channel) != "sensor_msgs/msg/CompressedImage"
        {
            continue;
        }
        let img: CompressedImage = reader
            .decode(&message, index as u64)
            .map_err(|e| CalibError::input(path, e.to_string()))?;
        let t = img.header.stamp.to_nanos() as i64;
        let t0 = *first.get_or_insert(t);
        frames.push(((t - t0) as f64 * 1e-9, img.data));
    }
    if frames.is_empty() {
        return Err(CalibError::input(
            path,
            format!("no JPEG frames on {topic}; check --camera against `reel info` (calibration needs CompressedImage frames)"),
        ));
    }
    let stride = frames.len().div_ceil(max.max(1));
    frames
        .iter()
        .step_by(stride)
        .map(|(t, data)| {
            let img = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg)
                .map_err(|e| {
                    CalibError::input(
                        path,
                        format!("frame at t={t:.3} s: cannot decode JPEG ({e})"),
                    )
                })?
                .to_luma8();
            Ok(NamedImage {
                name: format!("t={t:.3}"),
                image: Gray::from_u8(img.width() as usize, img.height() as usize, img.as_raw()),
            })
        })
        .collect()
}
