//! Target images: a folder of PNG/JPEG files, or one camera's frames in an
//! episode.

use std::path::{Path, PathBuf};

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
            "no .png or .jpg images here; give the folder of target pictures",
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
    let frames = crate::episode::read(path, camera, crate::episode::Also::default())?.frames;
    let t0 = frames[0].stamp_nanos;
    let stride = frames.len().div_ceil(max.max(1));
    frames
        .iter()
        .step_by(stride)
        .map(|f| decode_jpeg(path, (f.stamp_nanos - t0) as f64 * 1e-9, &f.jpeg))
        .collect()
}

/// A JPEG frame at `t` seconds into an episode, as a grey image named `t=<t>`.
pub fn decode_jpeg(path: &Path, t: f64, jpeg: &[u8]) -> Result<NamedImage, CalibError> {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
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
}
