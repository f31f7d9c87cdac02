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
