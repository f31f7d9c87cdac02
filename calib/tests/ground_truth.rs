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
            let truth = camera.project(&pose.apply(&p)).unwrap();
            worst_corner =
                worst_corner.max(((c[0] - truth[0]).powi(2) + (c[1] - truth[1]).powi(2)).sqrt());
        }
        observations.push(Observation {
            name: format!("view{k:02}"),
            corners,
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
    // The board half outside the image.
    let camera = truth();
    let mut pose = varied_poses(&camera, &board, 1)[0];
    pose.tvec[0] += 0.25;
    let pixels = render_board(&camera, &board, &pose, 2);
    assert!(find_checkerboard(&Gray::from_u8(640, 480, &pixels), &board).is_none());
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
