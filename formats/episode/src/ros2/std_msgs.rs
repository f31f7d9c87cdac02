//! `std_msgs` messages.

use super::builtin_interfaces::{Time, TIME_DEP};
use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// `std_msgs/msg/Header`: acquisition time and coordinate frame (no `seq` in ROS 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// When the data was acquired, on the host clock.
    pub stamp: Time,
    /// Coordinate frame the data is expressed in.
    pub frame_id: String,
}

impl Header {
    /// A header stamped `stamp_nanos` in `frame_id`.
    pub fn new(stamp_nanos: u64, frame_id: impl Into<String>) -> Self {
        Self {
            stamp: Time::from_nanos(stamp_nanos),
            frame_id: frame_id.into(),
        }
    }

    pub(crate) fn write(&self, w: &mut CdrWriter<'_>) {
        self.stamp.write_fields(w);
        w.string(&self.frame_id);
    }
    pub(crate) fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            stamp: Time::read_fields(r)?,
            frame_id: r.string()?,
        })
    }
}

pub(crate) const HEADER_DEF: &str = "builtin_interfaces/Time stamp\nstring frame_id\n";
pub(crate) const HEADER_DEP: (&str, &str) = ("std_msgs/Header", HEADER_DEF);

impl RosMessage for Header {
    const TYPE_NAME: &'static str = "std_msgs/msg/Header";
    const DEFINITION: &'static str = HEADER_DEF;
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[TIME_DEP];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.write(w);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Self::read(r)
    }
}

/// `std_msgs/msg/String` (named `StringMsg` so it does not shadow `String`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StringMsg {
    /// The text.
    pub data: String,
}

impl RosMessage for StringMsg {
    const TYPE_NAME: &'static str = "std_msgs/msg/String";
    const DEFINITION: &'static str = "string data\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        w.string(&self.data);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self { data: r.string()? })
    }
}
