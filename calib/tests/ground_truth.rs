#![allow(clippy::unwrap_used)]
//! Intrinsic calibration against rendered targets whose camera is known.

use reel_calib::detect::{find_checkerboard, Gray};
use reel_calib::intrinsics::{calibrate, Observation, Options};
use reel_calib::synthetic::{render_board, varied_poses};
use reel_calib::{CameraModel, Checkerboard, LensModel};

fn truth() -> CameraModel {
    CameraModel {
        lens: LensModel::PinholeRadtan,
        width: 640,
        height: 480,
        fx: 612.0,
        fy: 608.5,
        cx: 324.2,
        cy: 236.9,
        distortion: vec![-0.21, 0.07, 0.0008, -0.0012, 0.0],
    }
}

/// fx, fy, cx, cy each within `relative` of the truth.
fn assert_intrinsics_within(got: &CameraModel, truth: &CameraModel, relative: f64) {
    for (name, g, t) in [
        ("fx", got.fx, truth.fx),
        ("fy", got.fy, truth.fy),
        ("cx", got.cx, truth.cx),
        ("cy", got.cy, truth.cy),
    ] {
        assert!((g - t).abs() / t < relative, "{name}: {g} vs {t}");
    }
}

/// Deterministic sensor noise of about ±2 grey levels.
fn add_noise(pixels: &mut [u8], seed: u64) {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for p in pixels {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = ((s >> 33) % 5) as i16 - 2;
        *p = (*p as i16 + n).clamp(0, 255) as u8;
    }
}

#[test]
fn recovers_known_intrinsics_and_distortion_from_rendered_boards() {
    let camera = truth();
    let board = Checkerboard::parse("checkerboard:9x6:0.03").unwrap();
    let poses = varied_poses(&camera, &board, 18);
    let mut observations = Vec::new();
    let mut worst_corner: f64 = 0.0;
    for (k, pose) in poses.iter().enumerate() {
        let mut pixels = render_board(&camera, &board, pose, 3);
        add_noise(&mut pixels, k as u64);
        let gray = Gray::from_u8(640, 480, &pixels);
        let Some(corners) = find_checkerboard(&gray, &board) else {
            continue;
        };
        // The detector's corners, in order, against the true projections.
        for (c, p) in corners.iter().zip(board.object_points()) {
            let truth = camera.project(pose.apply(&p).into()).unwrap();
            worst_corner =
                worst_corner.max(((c[0] - truth[0]).powi(2) + (c[1] - truth[1]).powi(2)).sqrt());
        }
        observations.push(Observation {
            name: format!("view{k:02}"),
            corners,
            ids: None,
        });
    }
    println!(
        "board found in {} of {} views; worst corner error {worst_corner:.3} px",
        observations.len(),
        poses.len()
    );
    assert!(
        observations.len() >= 15,
        "detected only {} views",
        observations.len()
    );
    assert!(
        worst_corner < 0.5,
        "a detected corner is {worst_corner:.3} px off"
    );

    let result = calibrate(&board, 640, 480, &observations, Options::default()).unwrap();
    let c = &result.camera;
    println!(
        "fx {:.3} fy {:.3} cx {:.3} cy {:.3} d {:?}; rms {:.4} px, coverage {:.2}, warnings {:?}",
        c.fx, c.fy, c.cx, c.cy, c.distortion, result.rms_px, result.coverage, result.warnings
    );
    assert!(result.rms_px < 0.3, "rms {}", result.rms_px);
    assert_intrinsics_within(c, &camera, 0.005);
    assert!(
        (c.distortion[0] - camera.distortion[0]).abs() < 0.01,
        "k1 {:?}",
        c.distortion
    );
}

#[test]
fn too_few_views_is_an_error_not_a_guess() {
    let camera = truth();
    let board = Checkerboard::parse("checkerboard:9x6:0.03").unwrap();
    let pose = varied_poses(&camera, &board, 1)[0];
    let pixels = render_board(&camera, &board, &pose, 2);
    let corners = find_checkerboard(&Gray::from_u8(640, 480, &pixels), &board).unwrap();
    let one = [Observation {
        name: "only".into(),
        corners,
        ids: None,
    }];
    let err = calibrate(&board, 640, 480, &one, Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("found in 1 image") && err.contains("at least 3"),
        "{err}"
    );
}

#[test]
fn no_board_in_a_blank_or_cut_off_image() {
    let board = Checkerboard::parse("checkerboard:9x6:0.03").unwrap();
    let blank = Gray::from_u8(640, 480, &vec![128; 640 * 480]);
    assert!(find_checkerboard(&blank, &board).is_none());
    // The board half outside the image (at +0.25 m only its outer squares
    // were cut, and OpenCV finds it too).
    let camera = truth();
    let mut pose = varied_poses(&camera, &board, 1)[0];
    pose.tvec[0] += 0.4;
    let pixels = render_board(&camera, &board, &pose, 2);
    assert!(find_checkerboard(&Gray::from_u8(640, 480, &pixels), &board).is_none());
}

/// A flat checkerboard of `nx` × `ny` squares of `square` pixels at (40, 40),
/// with `hidden` pixels painted white (a hand, a sheet of paper).
fn flat_board(nx: usize, ny: usize, hidden: &dyn Fn(usize, usize) -> bool) -> Gray {
    let (w, h, square, origin) = (640usize, 520usize, 40usize, 40usize);
    let mut pixels = vec![200u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let inside = (origin..origin + nx * square).contains(&x)
                && (origin..origin + ny * square).contains(&y);
            if inside {
                let (i, j) = ((x - origin) / square, (y - origin) / square);
                pixels[y * w + x] = if (i + j) % 2 == 0 { 30 } else { 225 };
            }
            if hidden(x, y) {
                pixels[y * w + x] = 245;
            }
        }
    }
    Gray::from_u8(w, h, &pixels)
}

/// A larger board, partly hidden so that what shows is ragged around a
/// 9 × 6 block of its corners, is not a 9 × 6 board: ragged rows are
/// peeled (they are how a shirt's stripes or a margin read beside a real
/// board), but the corners peeled here are the board's own.
#[test]
fn the_visible_part_of_a_larger_board_is_no_board() {
    let board = Checkerboard {
        cols: 9,
        rows: 6,
        square: 0.03,
    };
    // 13 × 10 squares (12 × 9 corners); the top of its last three columns
    // and the left of its last three rows hidden.
    let hidden = |x: usize, y: usize| (x >= 435 && y < 240) || (y >= 315 && x < 280);
    assert_eq!(
        find_checkerboard(&flat_board(13, 10, &hidden), &board),
        None
    );
    assert_eq!(
        find_checkerboard(&flat_board(13, 10, &|_, _| false), &board),
        None
    );
    // The same drawing of a 9 × 6 board is found.
    let whole = find_checkerboard(&flat_board(10, 7, &|_, _| false), &board).unwrap();
    assert_eq!(whole.len(), 54);
}

#[test]
fn board_specs_are_checked() {
    assert!(Checkerboard::parse("checkerboard:9x6:0.025").is_ok());
    for bad in [
        "chess:9x6:0.02",
        "checkerboard:9:0.02",
        "checkerboard:9x6",
        "checkerboard:2x6:0.02",
        "checkerboard:9x6:-1",
    ] {
        let err = Checkerboard::parse(bad).unwrap_err().to_string();
        assert!(err.contains("COLSxROWS"), "{bad}: {err}");
    }
}

#[test]
fn recovers_a_fisheye_lens() {
    let camera = CameraModel {
        lens: LensModel::Fisheye,
        distortion: vec![0.04, -0.012, 0.003, -0.0005],
        ..truth()
    };
    let board = Checkerboard::parse("checkerboard:9x6:0.03").unwrap();
    let observations: Vec<Observation> = varied_poses(&camera, &board, 16)
        .iter()
        .enumerate()
        .filter_map(|(k, pose)| {
            let pixels = render_board(&camera, &board, pose, 3);
            let corners = find_checkerboard(&Gray::from_u8(640, 480, &pixels), &board)?;
            Some(Observation {
                name: format!("view{k:02}"),
                corners,
                ids: None,
            })
        })
        .collect();
    assert!(
        observations.len() >= 14,
        "detected only {} views",
        observations.len()
    );
    let options = Options {
        lens: LensModel::Fisheye,
        fix_k3: false,
        ..Options::default()
    };
    let result = calibrate(&board, 640, 480, &observations, options).unwrap();
    let c = &result.camera;
    println!(
        "fisheye: fx {:.3} fy {:.3} cx {:.3} cy {:.3} d {:?} rms {:.4}",
        c.fx, c.fy, c.cx, c.cy, c.distortion, result.rms_px
    );
    assert!(result.rms_px < 0.3, "rms {}", result.rms_px);
    assert_intrinsics_within(c, &camera, 0.005);
}

mod hand_eye {
    use super::*;
    use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};
    use reel_calib::hand_eye::{calibrate, Setup, View};
    use reel_calib::pose::{iso_to_pose, pose_to_iso};

    /// The camera's true mount and the board's true place.
    fn truth(setup: Setup) -> (Isometry3<f64>, Isometry3<f64>) {
        let iso = |t: [f64; 3], rpy: [f64; 3]| {
            Isometry3::from_parts(
                Translation3::new(t[0], t[1], t[2]),
                UnitQuaternion::from_euler_angles(rpy[0], rpy[1], rpy[2]),
            )
        };
        match setup {
            // Gripper ← camera: a wrist camera 6 cm off the axis, looking ahead.
            Setup::EyeInHand => (
                iso([0.032, -0.061, 0.045], [0.12, -1.45, 0.3]),
                iso([0.38, 0.05, 0.01], [0.02, -0.03, 1.1]),
            ),
            // Base ← camera: a scene camera; gripper ← board held in the jaws.
            Setup::EyeToHand => (
                iso([0.55, -0.32, 0.41], [-2.3, 0.1, 2.4]),
                iso([0.01, -0.12, 0.05], [1.5, 0.0, -0.2]),
            ),
        }
    }

    /// Encoder-level kinematic noise: ~0.05° and ~0.3 mm per view.
    fn jitter(k: usize) -> Isometry3<f64> {
        let f = k as f64;
        Isometry3::from_parts(
            Translation3::new(
                3e-4 * (f * 1.7).sin(),
                3e-4 * (f * 2.3).cos(),
                3e-4 * (f * 0.7).sin(),
            ),
            UnitQuaternion::from_scaled_axis(
                Vector3::new((f * 1.1).cos(), (f * 0.5).sin(), (f * 2.9).sin())
                    * 0.05f64.to_radians(),
            ),
        )
    }

    /// Rendered views of the board for a camera mounted at the truth: the
    /// arm poses are what put the board where `varied_poses` wants it.
    fn views(setup: Setup, camera: &CameraModel, board: &Checkerboard, n: usize) -> Vec<View> {
        let (x, y) = truth(setup);
        varied_poses(camera, board, n)
            .iter()
            .enumerate()
            .filter_map(|(k, pose)| {
                // T = X⁻¹·C·Y ⇒ C = X·T·Y⁻¹.
                let c = x * pose_to_iso(pose) * y.inverse();
                let arm = match setup {
                    Setup::EyeInHand => c.inverse(),
                    Setup::EyeToHand => c,
                };
                let pixels = render_board(camera, board, pose, 2);
                let corners = find_checkerboard(&Gray::from_u8(640, 480, &pixels), board)?;
                Some(View {
                    name: format!("view{k:02}"),
                    base_from_gripper: arm * jitter(k),
                    corners,
                })
            })
            .collect()
    }

    fn check(setup: Setup) {
        let camera = super::truth();
        let board = Checkerboard::parse("checkerboard:9x6:0.03").unwrap();
        let views = views(setup, &camera, &board, 14);
        assert!(views.len() >= 12, "detected only {} views", views.len());
        let result = calibrate(&camera, &board, &views, setup).unwrap();
        let (x, _) = truth(setup);
        let error = x.inverse() * result.camera;
        let (deg, mm) = (
            error.rotation.angle().to_degrees(),
            (result.camera.translation.vector - x.translation.vector).norm() * 1e3,
        );
        println!(
            "{setup:?}: mount error {deg:.4} deg, {mm:.3} mm (1-sigma {:.4} deg, {:.3} mm); rms {:.3} px over {} views, largest turn {:.0} deg; warnings {:?}",
            result.sigma_deg_mm[0],
            result.sigma_deg_mm[1],
            result.rms_px,
            views.len(),
            result.largest_turn_deg,
            result.warnings
        );
        assert!(deg < 0.5, "rotation error {deg} deg");
        assert!(mm < 2.0, "translation error {mm} mm");
        assert!(result.rms_px < 1.0, "rms {}", result.rms_px);
    }

    #[test]
    fn recovers_an_eye_in_hand_mount() {
        check(Setup::EyeInHand);
    }

    #[test]
    fn recovers_an_eye_to_hand_mount() {
        check(Setup::EyeToHand);
    }

    #[test]
    fn motion_about_one_axis_and_too_few_views_are_refused() {
        let camera = super::truth();
        let board = Checkerboard::parse("checkerboard:9x6:0.03").unwrap();
        let object = board.object_points();
        // Eye-to-hand, camera at the base origin; the gripper holds the board
        // 0.5 m in front of it and only spins it about the optical axis.
        let y = Isometry3::translation(-0.12, -0.075, 0.0);
        let spun: Vec<View> = (0..8)
            .map(|k| {
                let arm = Isometry3::from_parts(
                    Translation3::new(0.01 * k as f64, -0.005 * k as f64, 0.5),
                    UnitQuaternion::from_scaled_axis(Vector3::z() * (k as f64 * 0.15 - 0.5)),
                );
                let target = iso_to_pose(&(arm * y));
                View {
                    name: format!("spin{k}"),
                    base_from_gripper: arm,
                    corners: object
                        .iter()
                        .map(|p| camera.project(target.apply(p).into()).unwrap())
                        .collect(),
                }
            })
            .collect();
        let err = calibrate(&camera, &board, &spun, Setup::EyeToHand)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("one axis") && err.contains("two different axes"),
            "{err}"
        );
        let err = calibrate(&camera, &board, &spun[..2], Setup::EyeToHand)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 3"), "{err}");
    }
}

mod camera_lidar {
    use super::*;
    use nalgebra::{Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion};
    use reel_calib::camera_lidar::{calibrate, find_board, LidarView};
    use reel_calib::pose::{board_pose, pose_to_iso};
    use reel_calib::synthetic::vlp16_scan;

    /// Camera ← LiDAR: the LiDAR 12 cm above the camera, its x axis along
    /// the optical axis, slightly turned.
    fn truth() -> Isometry3<f64> {
        let axes = Matrix3::new(0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0);
        let turn = UnitQuaternion::from_euler_angles(0.02, -0.035, 0.05);
        Isometry3::from_parts(
            Translation3::new(0.05, -0.12, -0.03),
            turn * UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(axes)),
        )
    }

    /// Views of a 7x5 board of 10 cm squares (0.8 m × 0.6 m) in a room with
    /// a floor 1 m below the LiDAR; ranges with 1 cm noise.
    fn views(poses: &[reel_calib::Pose]) -> Vec<LidarView> {
        let camera = super::truth();
        let board = Checkerboard::parse("checkerboard:7x5:0.1").unwrap();
        let lidar_from_camera = truth().inverse();
        poses
            .iter()
            .enumerate()
            .filter_map(|(k, pose)| {
                let camera_from_board = pose_to_iso(pose);
                let scan = vlp16_scan(
                    &(lidar_from_camera * camera_from_board),
                    [-0.1, 0.7, -0.1, 0.5],
                    -1.0,
                    0.01,
                    k as u64,
                );
                let points = find_board(&scan, [0.8, 0.6], 5.0)?;
                let pixels = render_board(&camera, &board, pose, 2);
                let corners = find_checkerboard(&Gray::from_u8(640, 480, &pixels), &board)?;
                Some(LidarView {
                    name: format!("view{k:02}"),
                    camera_from_board: board_pose(&camera, &board.object_points(), &corners)?,
                    points,
                })
            })
            .collect()
    }

    #[test]
    fn recovers_the_lidar_mount_from_board_views() {
        let board = Checkerboard::parse("checkerboard:7x5:0.1").unwrap();
        let views = views(&varied_poses(&super::truth(), &board, 14));
        assert!(
            views.len() >= 10,
            "board found by both in only {} views",
            views.len()
        );
        let result = calibrate(&views).unwrap();
        let error = truth().inverse() * result.camera_from_lidar;
        let (deg, mm) = (
            error.rotation.angle().to_degrees(),
            (result.camera_from_lidar.translation.vector - truth().translation.vector).norm() * 1e3,
        );
        println!(
            "camera-lidar: {deg:.3} deg, {mm:.2} mm off the truth (1-sigma {:.3} deg, {:.2} mm); point-to-plane rms {:.2} mm over {} views, {} returns on the board; warnings {:?}",
            result.sigma_deg_mm[0],
            result.sigma_deg_mm[1],
            result.rms_m * 1e3,
            views.len(),
            views.iter().map(|v| v.points.len()).sum::<usize>(),
            result.warnings
        );
        assert!(deg < 1.0, "rotation {deg} deg off");
        assert!(mm < 10.0, "translation {mm} mm off");
    }

    #[test]
    fn boards_facing_one_way_are_refused() {
        // The board only slid sideways, never tilted.
        let poses: Vec<reel_calib::Pose> = (0..5)
            .map(|k| reel_calib::Pose {
                rvec: [0.0, 0.0, 0.0],
                tvec: [-0.35 + 0.03 * k as f64, -0.25, 1.3],
            })
            .collect();
        let views = views(&poses);
        assert!(views.len() >= 3, "{}", views.len());
        let err = calibrate(&views).unwrap_err().to_string();
        assert!(
            err.contains("three directions") && err.contains("tilt"),
            "{err}"
        );
        assert!(calibrate(&views[..2])
            .unwrap_err()
            .to_string()
            .contains("at least 3"));
    }
}
