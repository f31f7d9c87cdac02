//! Calibration files: ROS `camera_info` YAML (as `camera_calibration_parsers`
//! reads and writes it) and OpenCV FileStorage YAML (`cv::FileStorage`,
//! `cv2.FileStorage`).

use std::fmt::Write as _;

use crate::intrinsics::Intrinsics;
use crate::model::CameraModel;

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| format!("{v:.10e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ROS camera_info YAML for an unrectified monocular camera.
pub fn ros_camera_info_yaml(camera_name: &str, camera: &CameraModel) -> String {
    let p = [
        camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0, 0.0,
    ];
    let mut s = String::new();
    let _ = writeln!(s, "image_width: {}", camera.width);
    let _ = writeln!(s, "image_height: {}", camera.height);
    let _ = writeln!(s, "camera_name: {camera_name}");
    let _ = writeln!(
        s,
        "camera_matrix:\n  rows: 3\n  cols: 3\n  data: [{}]",
        list(&camera.k())
    );
    let _ = writeln!(s, "distortion_model: {}", camera.lens.ros_name());
    let _ = writeln!(
        s,
        "distortion_coefficients:\n  rows: 1\n  cols: {}\n  data: [{}]",
        camera.distortion.len(),
        list(&camera.distortion)
    );
    let _ = writeln!(
        s,
        "rectification_matrix:\n  rows: 3\n  cols: 3\n  data: [{}]",
        list(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    );
    let _ = writeln!(
        s,
        "projection_matrix:\n  rows: 3\n  cols: 4\n  data: [{}]",
        list(&p)
    );
    s
}

/// OpenCV FileStorage YAML with the names OpenCV's calibration sample writes.
pub fn opencv_yaml(result: &Intrinsics) -> String {
    let c = &result.camera;
    let matrix = |name: &str, rows: usize, cols: usize, data: &[f64]| {
        format!(
            "{name}: !!opencv-matrix\n   rows: {rows}\n   cols: {cols}\n   dt: d\n   data: [ {} ]\n",
            list(data)
        )
    };
    let mut s = String::from("%YAML:1.0\n---\n");
    let _ = writeln!(s, "image_width: {}", c.width);
    let _ = writeln!(s, "image_height: {}", c.height);
    let _ = writeln!(s, "distortion_model: \"{}\"", c.lens.ros_name());
    s += &matrix("camera_matrix", 3, 3, &c.k());
    s += &matrix(
        "distortion_coefficients",
        1,
        c.distortion.len(),
        &c.distortion,
    );
    let _ = writeln!(s, "avg_reprojection_error: {:.6}", result.rms_px);
    let _ = writeln!(
        s,
        "nr_of_frames: {}",
        result.views.iter().filter(|v| !v.rejected).count()
    );
    s
}
