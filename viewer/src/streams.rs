//! What each topic of an episode carries, as the viewer draws it.

/// What a topic carries, from its schema name and topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamKind {
    /// `/robot/<arm>/joint_states` or `/joint_commands`.
    Joints {
        /// Arm name.
        arm: String,
        /// True for leader commands.
        commands: bool,
    },
    /// JPEG/PNG images of a camera.
    Image(String),
    /// H.264 video of a camera.
    Video(String),
    /// Intrinsics of a camera.
    CameraInfo(String),
    /// A LiDAR's revolutions.
    Points(String),
    /// An IMU's samples (a LiDAR's IMU is named after the LiDAR).
    Imu(String),
    /// `/tf` or `/tf_static`.
    Tf {
        /// `/tf_static`.
        is_static: bool,
    },
    /// `/episode/events`.
    Events,
    /// `/robot_description`.
    RobotDescription,
    /// Anything else (raw packets, unknown topics): counted, not drawn.
    Other,
}

impl StreamKind {
    /// Classifies a channel.
    pub fn of(topic: &str, schema: &str) -> Self {
        let parts: Vec<&str> = topic.trim_start_matches('/').split('/').collect();
        let name = || parts.get(1).map(|s| s.to_string()).unwrap_or_default();
        match (schema, parts.first().copied()) {
            ("sensor_msgs/msg/JointState", _) => {
                let arm = if parts.first() == Some(&"robot") {
                    name()
                } else {
                    topic.trim_matches('/').replace('/', "_")
                };
                Self::Joints {
                    arm,
                    commands: topic.ends_with("joint_commands"),
                }
            }
            ("sensor_msgs/msg/CompressedImage", Some("camera")) => Self::Image(name()),
            ("foxglove_msgs/msg/CompressedVideo", Some("camera")) => Self::Video(name()),
            ("sensor_msgs/msg/CameraInfo", Some("camera")) => Self::CameraInfo(name()),
            ("sensor_msgs/msg/PointCloud2", Some("lidar")) => Self::Points(name()),
            ("sensor_msgs/msg/Imu", Some("lidar")) => Self::Imu(name()),
            ("sensor_msgs/msg/Imu", _) => Self::Imu(topic.trim_matches('/').replace('/', "_")),
            ("sensor_msgs/msg/CompressedImage", _) => {
                Self::Image(topic.trim_matches('/').replace('/', "_"))
            }
            ("sensor_msgs/msg/PointCloud2", _) => {
                Self::Points(topic.trim_matches('/').replace('/', "_"))
            }
            ("tf2_msgs/msg/TFMessage", _) => Self::Tf {
                is_static: topic == reel_episode::topics::TF_STATIC,
            },
            ("std_msgs/msg/String", _) if topic == reel_episode::topics::EVENTS => Self::Events,
            ("std_msgs/msg/String", _) if topic == reel_episode::topics::ROBOT_DESCRIPTION => {
                Self::RobotDescription
            }
            _ => Self::Other,
        }
    }
}
