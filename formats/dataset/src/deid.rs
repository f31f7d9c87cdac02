//! De-identification at export: static mask regions per camera (filled
//! black in every frame before it is encoded, so no exported pixel of the
//! region survives), and `meta/deidentification.json`, what was removed:
//! the masks with the frames they covered, and the personal fields of the
//! source episodes that were left out or pseudonymised (operator and site
//! are never exported by name; with a key they become keyed pseudonyms).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ExportError;
use reel_media::VideoFrame;

/// The report's place in the dataset.
pub const REPORT: &str = "meta/deidentification.json";

/// A rectangle to black out in one camera, as fractions of the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mask {
    /// Camera name (`front` for `/camera/front/...`).
    pub camera: String,
    /// Left edge, 0–1 of the width.
    pub x: f64,
    /// Top edge, 0–1 of the height.
    pub y: f64,
    /// Width, 0–1.
    pub w: f64,
    /// Height, 0–1.
    pub h: f64,
}

/// Why a mask cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MaskError {
    /// The text is not `CAMERA:X,Y,W,H`.
    #[error("mask {given:?}: {why}; expected CAMERA:X,Y,W,H as fractions 0-1")]
    Syntax {
        /// What was given.
        given: String,
        /// What is wrong.
        why: &'static str,
    },
    /// Frames of a pixel format the mask cannot blacken.
    #[error("cannot mask {0} frames (planar YUV expected)")]
    PixelFormat(String),
}

impl Mask {
    /// Parses `CAMERA:X,Y,W,H` (fractions of the image, so one mask fits
    /// every resolution of the camera).
    pub fn parse(given: &str) -> Result<Self, MaskError> {
        let bad = |why: &'static str| MaskError::Syntax {
            given: given.to_string(),
            why,
        };
        let (camera, rect) = given.split_once(':').ok_or_else(|| bad("no ':'"))?;
        let v: Vec<f64> = rect
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("a number does not parse"))?;
        let [x, y, w, h] = v[..] else {
            return Err(bad("needs four numbers"));
        };
        let unit = |a: f64| (0.0..=1.0).contains(&a);
        if camera.is_empty()
            || !(unit(x)
                && unit(y)
                && w > 0.0
                && h > 0.0
                && x + w <= 1.0 + 1e-9
                && y + h <= 1.0 + 1e-9)
        {
            return Err(bad("the rectangle must lie inside the image"));
        }
        Ok(Self {
            camera: camera.to_string(),
            x,
            y,
            w,
            h,
        })
    }

    /// True when it applies to the camera of `topic` (`/camera/<name>/...`).
    pub fn applies_to(&self, topic: &str) -> bool {
        reel_episode::topics::camera_of(topic) == Some(self.camera.as_str())
    }

    /// Fills the rectangle black in every plane of a planar YUV frame
    /// (luma at the format's black, chroma at neutral grey).
    pub fn apply(&self, frame: &mut VideoFrame) -> Result<(), MaskError> {
        use ffmpeg_next::format::Pixel;
        let full_range = match frame.format() {
            Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P | Pixel::YUVJ440P => true,
            Pixel::YUV420P | Pixel::YUV422P | Pixel::YUV444P | Pixel::YUV440P | Pixel::GRAY8 => {
                false
            }
            other => return Err(MaskError::PixelFormat(format!("{other:?}"))),
        };
        let (fw, fh) = (f64::from(frame.width()), f64::from(frame.height()));
        for plane in 0..frame.planes() {
            let (pw, ph) = (
                frame.plane_width(plane) as usize,
                frame.plane_height(plane) as usize,
            );
            let sx = pw as f64 / fw;
            let sy = ph as f64 / fh;
            // Outward rounding: a partly covered pixel is covered.
            let x0 = ((self.x * fw * sx).floor() as usize).min(pw);
            let x1 = (((self.x + self.w) * fw * sx).ceil() as usize).min(pw);
            let y0 = ((self.y * fh * sy).floor() as usize).min(ph);
            let y1 = (((self.y + self.h) * fh * sy).ceil() as usize).min(ph);
            let value = match (plane, full_range) {
                (0, true) => 0,
                (0, false) => 16,
                _ => 128,
            };
            let stride = frame.stride(plane);
            let data = frame.data_mut(plane);
            for y in y0..y1 {
                data[y * stride + x0..y * stride + x1].fill(value);
            }
        }
        Ok(())
    }
}

/// The publisher's secret for pseudonyms: the same name gives the same
/// pseudonym under the same key (so one operator's episodes group together
/// across releases), and without the key a pseudonym cannot be traced back
/// by trying names.
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(..)")
    }
}

/// How pseudonyms are made, for the report and the card.
pub const PSEUDONYM_METHOD: &str =
    "HMAC-SHA256 of the field name and value under the publisher's key, first 12 hex digits";

impl PseudonymKey {
    /// Reads a key file (at least 16 bytes of secret).
    pub fn read(path: &Path) -> Result<Self, ExportError> {
        let bytes = std::fs::read(path).map_err(|e| ExportError::io(path, e))?;
        if bytes.len() < 16 {
            return Err(ExportError::input(
                path,
                format!(
                    "a pseudonym key needs at least 16 bytes (this has {}); make one with `head -c 32 /dev/urandom > FILE` and keep it private",
                    bytes.len()
                ),
            ));
        }
        Ok(Self(bytes))
    }

    /// `operator-3f2a9c01b7de` for field `operator`.
    pub fn pseudonym(&self, field: &str, value: &str) -> String {
        use hmac::Mac;
        // An HMAC key of any length is valid; this cannot fail.
        let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return format!("{field}-unkeyed"),
        };
        mac.update(field.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("{field}-{hex}")
    }
}

/// A mask as applied: the frames it covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedMask {
    /// The mask.
    #[serde(flatten)]
    pub mask: Mask,
    /// Dataset episode index.
    pub episode_index: u64,
    /// Frames blacked out.
    pub frames: u64,
}

/// `meta/deidentification.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Masks applied, per episode and camera.
    pub masks: Vec<AppliedMask>,
    /// Source episodes whose `operator` field was left out.
    pub operator_removed_from: Vec<String>,
    /// Source episodes whose `site` field was left out.
    #[serde(default)]
    pub site_removed_from: Vec<String>,
    /// Source episodes whose operator and site appear as pseudonyms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pseudonymised_in: Vec<String>,
    /// How the pseudonyms were made, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym_method: Option<String>,
    /// Fields never exported, for the reader of the report.
    pub never_exported: Vec<String>,
}

impl Report {
    /// The report of an earlier export in `root`, or an empty one.
    pub fn read_or_default(root: &Path) -> Result<Self, ExportError> {
        let path = root.join(REPORT);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                ExportError::input(&path, format!("not a de-identification report: {e}"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(ExportError::io(&path, e)),
        }
    }

    /// Fields of the episode metadata that no export writes.
    pub fn never_exported_fields() -> Vec<String> {
        [
            "operator (by name)",
            "site (by name)",
            "rig config text (rig.toml)",
            "device list",
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_parse_and_refuse_what_leaves_the_image() {
        let m = Mask::parse("front:0.1,0.2,0.3,0.4").unwrap();
        assert_eq!((m.camera.as_str(), m.x, m.h), ("front", 0.1, 0.4));
        assert!(m.applies_to("/camera/front/image/compressed"));
        assert!(!m.applies_to("/camera/frontal/image/compressed"));
        for bad in [
            "front",
            "front:1,2,3",
            ":0,0,1,1",
            "front:0.5,0,0.6,1",
            "front:0,0,0,1",
            "f:a,0,1,1",
        ] {
            assert!(Mask::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_mask_blacks_out_its_rectangle_in_every_plane() {
        let mut f = VideoFrame::new(ffmpeg_next::format::Pixel::YUVJ420P, 64, 48);
        for p in 0..3 {
            f.data_mut(p).fill(200);
        }
        Mask::parse("c:0.5,0.5,0.5,0.5")
            .unwrap()
            .apply(&mut f)
            .unwrap();
        let (stride, y) = (f.stride(0), f.data(0));
        assert_eq!(y[47 * stride + 63], 0);
        assert_eq!(y[24 * stride + 32], 0);
        assert_eq!(y[23 * stride + 32], 200);
        assert_eq!(y[24 * stride + 31], 200);
        let (cs, u) = (f.stride(1), f.data(1));
        assert_eq!(u[12 * cs + 16], 128);
        assert_eq!(u[11 * cs + 16], 200);
    }
}
