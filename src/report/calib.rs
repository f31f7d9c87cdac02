//! The text reports of `reel calib`.

use reel_calib::hand_eye::Setup;
use reel_calib::pose::Transform;
use reel_calib::workflow::camera_lidar::CameraLidarReport;
use reel_calib::workflow::hand_eye::HandEyeReport;
use reel_calib::workflow::intrinsics::IntrinsicsReport;
use reel_calib::workflow::time_offset::TimeOffsetReport;
use reel_calib::LensModel;

pub fn print_intrinsics(report: &IntrinsicsReport) {
    let result = &report.result;
    for v in &result.views {
        println!(
            "  {:<24} rms {:6.3} px  tilt {:5.1} deg  distance {:5.3} m{}",
            v.name,
            v.rms_px,
            v.tilt_deg,
            v.distance_m,
            if v.rejected { "  REJECTED" } else { "" }
        );
    }
    for name in &report.without_board {
        println!("  {name:<24} no board found");
    }
    let c = &result.camera;
    println!(
        "{}: {}x{} {}: fx {:.3} fy {:.3} cx {:.3} cy {:.3} (1-sigma {:.2} {:.2} {:.2} {:.2} px), distortion {:?}",
        report.camera,
        c.width,
        c.height,
        match report.lens() {
            LensModel::PinholeRadtan => "pinhole-radtan",
            LensModel::Fisheye => "fisheye",
        },
        c.fx,
        c.fy,
        c.cx,
        c.cy,
        result.sigma[0],
        result.sigma[1],
        result.sigma[2],
        result.sigma[3],
        c.distortion
            .iter()
            .map(|d| (d * 1e6).round() / 1e6)
            .collect::<Vec<_>>()
    );
    println!(
        "reprojection RMS {:.3} px over {} of {} images; corners cover {:.0} % of the image",
        result.rms_px,
        result.views.iter().filter(|v| !v.rejected).count(),
        report.images,
        100.0 * result.coverage
    );
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
}

pub fn print_hand_eye(report: &HandEyeReport) {
    let result = &report.result;
    for v in &result.views {
        println!(
            "  {:<12} rms {:6.3} px{}",
            v.name,
            v.rms_px,
            if v.rejected { "  REJECTED" } else { "" }
        );
    }
    println!(
        "{} in {} ({}), from {} views ({} of {} frames taken while the arm moved); intrinsics from {}:",
        report.camera_frame,
        report.parent_frame,
        match result.setup {
            Setup::EyeInHand => "eye-in-hand",
            Setup::EyeToHand => "eye-to-hand",
        },
        result.views.iter().filter(|v| !v.rejected).count(),
        report.frames_while_moving,
        report.frames,
        report.intrinsics_from
    );
    let t = report.transform();
    print_transform(&t);
    println!(
        "  1-sigma {:.3} deg, {:.2} mm; reprojection RMS {:.3} px; largest turn between views {:.0} deg",
        result.sigma_deg_mm[0], result.sigma_deg_mm[1], result.rms_px, result.largest_turn_deg
    );
    print_urdf_joint(&t, &report.parent_frame, &report.camera_frame);
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
}

pub fn print_camera_lidar(report: &CameraLidarReport) {
    let result = &report.result;
    for v in &result.views {
        println!(
            "  {:<12} {:6} returns  rms {:5.1} mm{}",
            v.name,
            v.points,
            v.rms_m * 1e3,
            if v.rejected { "  REJECTED" } else { "" }
        );
    }
    for name in &report.still_poses_without_board {
        println!("  {name:<12} board not found in the scan");
    }
    println!(
        "{} in {}, from {} views; intrinsics from {}:",
        report.lidar_frame,
        report.camera_frame,
        result.views.iter().filter(|v| !v.rejected).count(),
        report.intrinsics_from
    );
    let t = report.transform();
    print_transform(&t);
    println!(
        "  1-sigma {:.3} deg, {:.2} mm; point-to-plane RMS {:.1} mm",
        result.sigma_deg_mm[0],
        result.sigma_deg_mm[1],
        result.rms_m * 1e3
    );
    print_urdf_joint(&t, &report.camera_frame, &report.lidar_frame);
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
}

/// The text report of `reel calib time-offset`.
pub fn print_time_offset(r: &TimeOffsetReport) {
    let several = r.episodes.len() > 1;
    if several {
        for e in &r.episodes {
            println!(
                "  {}: {:.2} ms (correlation {:.2})",
                e.path,
                e.b_lags_a_s * 1000.0,
                e.correlation
            );
        }
    }
    println!(
        "{} lags {} by {:.2} ms (correlation {:.2}, distinctness {:.2}, {:.1} s of overlap{}, joint motion from {}); subtract it from {}'s stamps to align them",
        r.b,
        r.a,
        r.offset.b_lags_a_s * 1000.0,
        r.offset.correlation,
        r.offset.distinctness,
        r.offset.overlap_s,
        match r.episode_spread_s {
            Some(s) if several => format!(
                " in {} episodes, which scatter {:.2} ms RMS about it",
                r.episodes.len(),
                s * 1000.0
            ),
            _ => String::new(),
        },
        r.joint_motion,
        r.b
    );
}

/// The transform in ROS's and URDF's terms.
fn print_transform(t: &Transform) {
    println!(
        "  translation {:.5} {:.5} {:.5} m; quaternion xyzw {:.6} {:.6} {:.6} {:.6}; rpy {:.5} {:.5} {:.5} rad",
        t.translation[0],
        t.translation[1],
        t.translation[2],
        t.rotation_xyzw[0],
        t.rotation_xyzw[1],
        t.rotation_xyzw[2],
        t.rotation_xyzw[3],
        t.rpy[0],
        t.rpy[1],
        t.rpy[2]
    );
}

/// A fixed URDF joint placing `child` under `parent`, to paste.
fn print_urdf_joint(t: &Transform, parent: &str, child: &str) {
    println!(
        "  URDF: <joint name=\"{child}_mount\" type=\"fixed\"><parent link=\"{parent}\"/><child link=\"{child}\"/><origin xyz=\"{:.5} {:.5} {:.5}\" rpy=\"{:.5} {:.5} {:.5}\"/></joint>",
        t.translation[0], t.translation[1], t.translation[2], t.rpy[0], t.rpy[1], t.rpy[2]
    );
}
