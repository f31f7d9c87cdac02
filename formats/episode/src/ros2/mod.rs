//! ROS 2 message types that reel episodes carry, with their `ros2msg` schema
//! text and a CDR codec.
//!
//! Every type implements [`RosMessage`]: its full type name as MCAP schemas
//! must spell it (`sensor_msgs/msg/JointState`), its schema text in the
//! concatenated form rosbag2 writes (own definition first, then every
//! transitive dependency after a line of 80 `=` and `MSG: pkg/Type`), and
//! encode/decode that are exact inverses.
//!
//! ```
//! use reel_episode::ros2::{RosMessage, sensor_msgs::JointState};
//! let js = JointState { name: vec!["elbow".into()], position: vec![0.5], ..Default::default() };
//! let bytes = js.to_cdr();
//! assert_eq!(JointState::from_cdr(&bytes).unwrap(), js);
//! assert!(JointState::schema_text().contains("MSG: std_msgs/Header"));
//! ```

pub mod builtin_interfaces;
pub mod cdr;
pub mod foxglove_msgs;
pub mod geometry_msgs;
pub mod sensor_msgs;
pub mod std_msgs;
pub mod tf2_msgs;
pub mod velodyne_msgs;

use crate::error::CdrError;
pub use cdr::{CdrReader, CdrWriter};

/// A ROS 2 message with a known schema and a CDR encoding.
pub trait RosMessage: Sized {
    /// Full type name, e.g. `sensor_msgs/msg/JointState` (MCAP schema name).
    const TYPE_NAME: &'static str;
    /// This type's own `.msg` text.
    const DEFINITION: &'static str;
    /// Every transitive dependency as (`pkg/Type`, `.msg` text), as schema texts name them.
    const DEPENDENCIES: &'static [(&'static str, &'static str)];

    /// Writes the fields (without encapsulation header).
    fn write_fields(&self, w: &mut CdrWriter<'_>);
    /// Reads the fields (after the encapsulation header).
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError>;

    /// The complete `ros2msg` schema text with all dependencies.
    fn schema_text() -> String {
        let mut text = String::from(Self::DEFINITION);
        for (name, definition) in Self::DEPENDENCIES {
            text.push('\n');
            text.push_str(&"=".repeat(80));
            text.push_str("\nMSG: ");
            text.push_str(name);
            text.push('\n');
            text.push_str(definition);
        }
        text
    }

    /// Encodes into `buf`, replacing its contents (reuse one buffer on hot paths).
    fn encode_into(&self, buf: &mut Vec<u8>) {
        buf.clear();
        let mut w = CdrWriter::new(buf);
        self.write_fields(&mut w);
    }

    /// Encodes to a new buffer.
    fn to_cdr(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode_into(&mut buf);
        buf
    }

    /// Decodes one message. Up to 7 trailing bytes (writers pad messages to
    /// a multiple of 4 or 8) are accepted; more means the bytes are not this type.
    fn from_cdr(bytes: &[u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(bytes)?;
        let msg = Self::read_fields(&mut r)?;
        if r.remaining() > 7 {
            return Err(CdrError::TrailingBytes {
                count: r.remaining(),
            });
        }
        Ok(msg)
    }
}

/// Schema name, schema text and a decode check for every type reel knows, so
/// readers can validate messages of a type they only have by name.
pub fn check_decodes(type_name: &str, bytes: &[u8]) -> Option<Result<(), CdrError>> {
    fn check<M: RosMessage>(bytes: &[u8]) -> Option<Result<(), CdrError>> {
        Some(M::from_cdr(bytes).map(|_| ()))
    }
    match type_name {
        builtin_interfaces::Time::TYPE_NAME => check::<builtin_interfaces::Time>(bytes),
        std_msgs::Header::TYPE_NAME => check::<std_msgs::Header>(bytes),
        std_msgs::StringMsg::TYPE_NAME => check::<std_msgs::StringMsg>(bytes),
        sensor_msgs::JointState::TYPE_NAME => check::<sensor_msgs::JointState>(bytes),
        sensor_msgs::Image::TYPE_NAME => check::<sensor_msgs::Image>(bytes),
        sensor_msgs::CompressedImage::TYPE_NAME => check::<sensor_msgs::CompressedImage>(bytes),
        sensor_msgs::CameraInfo::TYPE_NAME => check::<sensor_msgs::CameraInfo>(bytes),
        sensor_msgs::PointCloud2::TYPE_NAME => check::<sensor_msgs::PointCloud2>(bytes),
        geometry_msgs::TransformStamped::TYPE_NAME => {
            check::<geometry_msgs::TransformStamped>(bytes)
        }
        tf2_msgs::TFMessage::TYPE_NAME => check::<tf2_msgs::TFMessage>(bytes),
        foxglove_msgs::CompressedVideo::TYPE_NAME => check::<foxglove_msgs::CompressedVideo>(bytes),
        _ => None,
    }
}

/// The `ros2msg` schema text of a type reel knows, for sources that name
/// a type without storing its definition (rosbag2 SQLite3 bags before Iron).
pub fn known_schema_text(type_name: &str) -> Option<String> {
    Some(match type_name {
        builtin_interfaces::Time::TYPE_NAME => builtin_interfaces::Time::schema_text(),
        std_msgs::Header::TYPE_NAME => std_msgs::Header::schema_text(),
        std_msgs::StringMsg::TYPE_NAME => std_msgs::StringMsg::schema_text(),
        sensor_msgs::JointState::TYPE_NAME => sensor_msgs::JointState::schema_text(),
        sensor_msgs::Image::TYPE_NAME => sensor_msgs::Image::schema_text(),
        sensor_msgs::CompressedImage::TYPE_NAME => sensor_msgs::CompressedImage::schema_text(),
        sensor_msgs::CameraInfo::TYPE_NAME => sensor_msgs::CameraInfo::schema_text(),
        sensor_msgs::PointCloud2::TYPE_NAME => sensor_msgs::PointCloud2::schema_text(),
        sensor_msgs::Imu::TYPE_NAME => sensor_msgs::Imu::schema_text(),
        geometry_msgs::TransformStamped::TYPE_NAME => {
            geometry_msgs::TransformStamped::schema_text()
        }
        tf2_msgs::TFMessage::TYPE_NAME => tf2_msgs::TFMessage::schema_text(),
        foxglove_msgs::CompressedVideo::TYPE_NAME => foxglove_msgs::CompressedVideo::schema_text(),
        velodyne_msgs::VelodyneScan::TYPE_NAME => velodyne_msgs::VelodyneScan::schema_text(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_text_has_the_rosbag2_layout() {
        let text = std_msgs::Header::schema_text();
        assert_eq!(
            text,
            format!(
                "builtin_interfaces/Time stamp\nstring frame_id\n\n{}\nMSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n",
                "=".repeat(80)
            )
        );
    }

    /// Every type a definition names must be in the dependency list, or
    /// mcap_ros2 and rosbags refuse the schema.
    #[test]
    fn dependency_lists_are_closed() {
        fn field_types(def: &str) -> Vec<String> {
            def.lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(|t| t.split('[').next().unwrap_or(t).to_string())
                .filter(|t| t.chars().next().is_some_and(char::is_uppercase) || t.contains('/'))
                .collect()
        }
        fn check<M: RosMessage>() {
            let pkg = M::TYPE_NAME.split('/').next().unwrap_or_default();
            let mut defs = vec![(pkg.to_string(), M::DEFINITION)];
            for (name, def) in M::DEPENDENCIES {
                let dep_pkg = name.split('/').next().unwrap_or_default();
                defs.push((dep_pkg.to_string(), def));
            }
            for (pkg, def) in defs {
                for t in field_types(def) {
                    let full = if t.contains('/') {
                        t.clone()
                    } else {
                        format!("{pkg}/{t}")
                    };
                    assert!(
                        M::DEPENDENCIES.iter().any(|(n, _)| *n == full),
                        "{}: {full} missing",
                        M::TYPE_NAME
                    );
                }
            }
        }
        check::<builtin_interfaces::Time>();
        check::<std_msgs::Header>();
        check::<std_msgs::StringMsg>();
        check::<sensor_msgs::JointState>();
        check::<sensor_msgs::Image>();
        check::<sensor_msgs::CompressedImage>();
        check::<sensor_msgs::CameraInfo>();
        check::<sensor_msgs::PointCloud2>();
        check::<geometry_msgs::TransformStamped>();
        check::<tf2_msgs::TFMessage>();
        check::<foxglove_msgs::CompressedVideo>();
    }
}
