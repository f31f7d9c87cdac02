//! The per-message changes a mapping can ask for (joint names, unit scales,
//! frame ids): decoded with reel's CDR codec, changed, encoded again. Only
//! for types reel decodes; anything else is copied byte for byte.

use reel_episode::ros2::sensor_msgs::{
    CameraInfo, CompressedImage, Image, Imu, JointState, PointCloud2,
};
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::RosMessage;

use crate::mapping::TopicRule;

/// Why a rule cannot apply to a type.
pub fn check(rule: &TopicRule, type_name: &str) -> Result<(), String> {
    let joint_fields = rule.joint_names.is_some()
        || rule.position_scale.is_some()
        || rule.velocity_scale.is_some()
        || rule.effort_scale.is_some();
    if joint_fields && type_name != JointState::TYPE_NAME {
        return Err(format!(
            "topic {}: joint_names and *_scale apply to {} only, not {type_name}",
            rule.from,
            JointState::TYPE_NAME
        ));
    }
    let stamped = [
        JointState::TYPE_NAME,
        Image::TYPE_NAME,
        CompressedImage::TYPE_NAME,
        CameraInfo::TYPE_NAME,
        PointCloud2::TYPE_NAME,
        Imu::TYPE_NAME,
    ];
    if rule.jpeg_quality.is_some() && type_name != Image::TYPE_NAME {
        return Err(format!(
            "topic {}: jpeg_quality applies to {} only, not {type_name}",
            rule.from,
            Image::TYPE_NAME
        ));
    }
    if rule.frame_id.is_some() && !stamped.contains(&type_name) {
        return Err(format!(
            "topic {}: frame_id can be set on {} only, not {type_name}",
            rule.from,
            stamped.join(", ")
        ));
    }
    Ok(())
}

fn set_frame(header: &mut Header, rule: &TopicRule) -> Result<(), String> {
    if let Some(f) = &rule.frame_id {
        header.frame_id.clone_from(f);
    }
    Ok(())
}

fn redo<M: RosMessage>(
    data: &[u8],
    out: &mut Vec<u8>,
    change: impl FnOnce(&mut M) -> Result<(), String>,
) -> Result<(), String> {
    let mut m =
        M::from_cdr(data).map_err(|e| format!("does not decode as {}: {e}", M::TYPE_NAME))?;
    change(&mut m)?;
    m.encode_into(out);
    Ok(())
}

fn scale(values: &mut [f64], by: Option<f64>) {
    if let Some(k) = by {
        values.iter_mut().for_each(|v| *v *= k);
    }
}

/// The type a rule turns `type_name` into (a raw image stored as JPEG).
pub fn output_type(rule: &TopicRule, type_name: &str) -> &'static str {
    if rule.jpeg_quality.is_some() && type_name == Image::TYPE_NAME {
        CompressedImage::TYPE_NAME
    } else {
        ""
    }
}

/// A raw image as JPEG (`rgb8`, `bgr8`, `rgba8`, `bgra8`, `mono8`).
fn jpeg(m: &Image, quality: u8) -> Result<Vec<u8>, String> {
    use jpeg_encoder::ColorType;
    let (w, h) = (m.width as usize, m.height as usize);
    let (color, bytes_per_pixel) = match m.encoding.as_str() {
        "rgb8" => (ColorType::Rgb, 3),
        "bgr8" => (ColorType::Bgr, 3),
        "rgba8" => (ColorType::Rgba, 4),
        "bgra8" => (ColorType::Bgra, 4),
        "mono8" | "8UC1" => (ColorType::Luma, 1),
        other => return Err(format!("an image of encoding {other:?} cannot be stored as JPEG (rgb8, bgr8, rgba8, bgra8, mono8)")),
    };
    let row = w * bytes_per_pixel;
    let step = m.step as usize;
    if w == 0 || h == 0 || step < row || m.data.len() < step * (h - 1) + row {
        return Err(format!(
            "a {w}x{h} {} image with step {step} and {} bytes",
            m.encoding,
            m.data.len()
        ));
    }
    // Rows may be padded (step > width × pixel size).
    let mut pixels = Vec::with_capacity(row * h);
    for y in 0..h {
        pixels.extend_from_slice(&m.data[y * step..y * step + row]);
    }
    encode_jpeg(&pixels, w, h, color, quality)
}

/// Packed `pixels` (`w` × `h` of `color`) as a JPEG of `quality`; the one
/// encoder of raw frames an import stores (ROS images, HDF5 arrays).
pub(crate) fn encode_jpeg(
    pixels: &[u8],
    w: usize,
    h: usize,
    color: jpeg_encoder::ColorType,
    quality: u8,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            pixels,
            u16::try_from(w).map_err(|_| "wider than 65535")?,
            u16::try_from(h).map_err(|_| "taller than 65535")?,
            color,
        )
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Applies `rule` to one message of `type_name` into `out`.
pub fn apply(
    rule: &TopicRule,
    type_name: &str,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    match type_name {
        JointState::TYPE_NAME => redo::<JointState>(data, out, |m| {
            if let Some(names) = &rule.joint_names {
                if names.len() != m.name.len() {
                    return Err(format!(
                        "joint_names lists {} joints, the message has {} ({:?})",
                        names.len(),
                        m.name.len(),
                        m.name
                    ));
                }
                m.name.clone_from(names);
            }
            scale(&mut m.position, rule.position_scale);
            scale(&mut m.velocity, rule.velocity_scale);
            scale(&mut m.effort, rule.effort_scale);
            set_frame(&mut m.header, rule)
        }),
        Image::TYPE_NAME if rule.jpeg_quality.is_some() => {
            let mut m = Image::from_cdr(data)
                .map_err(|e| format!("does not decode as {}: {e}", Image::TYPE_NAME))?;
            set_frame(&mut m.header, rule)?;
            let data = jpeg(&m, rule.jpeg_quality.unwrap_or(90))?;
            CompressedImage {
                header: m.header,
                format: "jpeg".into(),
                data,
            }
            .encode_into(out);
            Ok(())
        }
        Image::TYPE_NAME => redo::<Image>(data, out, |m| set_frame(&mut m.header, rule)),
        CompressedImage::TYPE_NAME => {
            redo::<CompressedImage>(data, out, |m| set_frame(&mut m.header, rule))
        }
        CameraInfo::TYPE_NAME => redo::<CameraInfo>(data, out, |m| set_frame(&mut m.header, rule)),
        PointCloud2::TYPE_NAME => {
            redo::<PointCloud2>(data, out, |m| set_frame(&mut m.header, rule))
        }
        Imu::TYPE_NAME => redo::<Imu>(data, out, |m| set_frame(&mut m.header, rule)),
        other => Err(format!("reel cannot rewrite {other}")),
    }
}
