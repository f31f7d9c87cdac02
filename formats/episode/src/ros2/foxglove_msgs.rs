//! `foxglove_msgs` messages (the ROS 2 flavour of Foxglove's schemas).

use super::builtin_interfaces::{Time, TIME_DEP};
use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// `foxglove_msgs/msg/CompressedVideo`: one encoded video frame. For H.264/H.265
/// the data is Annex B, keyframes carry SPS/PPS, and there are no B-frames.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompressedVideo {
    /// Acquisition time of the frame.
    pub timestamp: Time,
    /// Camera optical frame.
    pub frame_id: String,
    /// One encoded frame.
    pub data: Vec<u8>,
    /// `h264`, `h265`, `vp9` or `av1`.
    pub format: String,
}

impl RosMessage for CompressedVideo {
    const TYPE_NAME: &'static str = "foxglove_msgs/msg/CompressedVideo";
    const DEFINITION: &'static str =
        "builtin_interfaces/Time timestamp\nstring frame_id\nuint8[] data\nstring format\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[TIME_DEP];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.timestamp.write_fields(w);
        w.string(&self.frame_id);
        w.bytes(&self.data);
        w.string(&self.format);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            timestamp: Time::read_fields(r)?,
            frame_id: r.string()?,
            data: r.bytes()?,
            format: r.string()?,
        })
    }
}
