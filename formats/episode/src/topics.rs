//! Topic naming conventions of reel episodes (the rig config may rename them).

/// Measured joint state of an arm.
pub fn joint_states(arm: &str) -> String {
    format!("/robot/{arm}/joint_states")
}

/// Commanded joint state (leader arm), exported as `action`.
pub fn joint_commands(arm: &str) -> String {
    format!("/robot/{arm}/joint_commands")
}

/// JPEG frames of a camera.
pub fn camera_image(camera: &str) -> String {
    format!("/camera/{camera}/image/compressed")
}

/// The camera of a `/camera/<name>/...` topic.
pub fn camera_of(topic: &str) -> Option<&str> {
    topic
        .strip_prefix("/camera/")
        .and_then(|rest| rest.split('/').next())
}

/// H.264 video of a camera.
pub fn camera_video(camera: &str) -> String {
    format!("/camera/{camera}/video")
}

/// Intrinsics of a camera.
pub fn camera_info(camera: &str) -> String {
    format!("/camera/{camera}/camera_info")
}

/// `/camera/<name>/depth`: depth images (`sensor_msgs/Image`, 16UC1 millimetres).
pub fn camera_depth(camera: &str) -> String {
    format!("/camera/{camera}/depth")
}

/// One point cloud per LiDAR revolution.
pub fn lidar_points(lidar: &str) -> String {
    format!("/lidar/{lidar}/points")
}

/// The inertial samples of a LiDAR's IMU.
pub fn lidar_imu(lidar: &str) -> String {
    format!("/lidar/{lidar}/imu")
}

/// Raw sensor packets of a LiDAR, one scan message per revolution.
pub fn lidar_packets(lidar: &str) -> String {
    format!("/lidar/{lidar}/packets")
}

/// Moving transforms (robot links).
pub const TF: &str = "/tf";
/// Fixed transforms (sensor mounts).
pub const TF_STATIC: &str = "/tf_static";
/// The URDF, once at the start.
pub const ROBOT_DESCRIPTION: &str = "/robot_description";
/// Start/stop, operator marks, device faults, gaps (JSON strings).
pub const EVENTS: &str = "/episode/events";
