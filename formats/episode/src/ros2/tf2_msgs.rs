//! `tf2_msgs` messages.

use super::builtin_interfaces::TIME_DEP;
use super::geometry_msgs::{
    TransformStamped, QUATERNION_DEP, TRANSFORM_DEP, TRANSFORM_STAMPED_DEF, VECTOR3_DEP,
};
use super::std_msgs::HEADER_DEP;
use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// `tf2_msgs/msg/TFMessage`, the type of `/tf` and `/tf_static`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TFMessage {
    /// The transforms.
    pub transforms: Vec<TransformStamped>,
}

impl RosMessage for TFMessage {
    const TYPE_NAME: &'static str = "tf2_msgs/msg/TFMessage";
    const DEFINITION: &'static str = "geometry_msgs/TransformStamped[] transforms\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[
        ("geometry_msgs/TransformStamped", TRANSFORM_STAMPED_DEF),
        HEADER_DEP,
        TIME_DEP,
        TRANSFORM_DEP,
        VECTOR3_DEP,
        QUATERNION_DEP,
    ];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        w.len(self.transforms.len());
        for t in &self.transforms {
            t.write(w);
        }
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        // header (4+4+4) + child (4) + 7 f64 make at least 68 bytes per transform.
        let n = r.len(68)?;
        let transforms = (0..n)
            .map(|_| TransformStamped::read(r))
            .collect::<Result<_, _>>()?;
        Ok(Self { transforms })
    }
}
