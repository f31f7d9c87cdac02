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
    use reel_calib::projected_motion::projected_tracks;
    use reel_calib::time_offset::{activity, estimate, frame_motion, refine};
    // The scenario's text (URDF path included) seeds the episode: written
    // under the workspace with a relative URDF path, the episode is the same
    // in every checkout.
    // `target/` in the checkout, even when the build goes elsewhere
    // (CARGO_TARGET_DIR).
    let under = common::workspace().join("target");
    std::fs::create_dir_all(&under).unwrap();
    let tmp = tempfile::tempdir_in(&under).unwrap();
    let depth = tmp
        .path()
        .strip_prefix(common::workspace())
        .unwrap()
        .components()
        .count();
    let urdf = "../".repeat(depth) + "samples/robots/so101/so101_new_calib.urdf";
    let scenario = tmp.path().join("scenario.toml");
    reel_testkit::short_scenario::write_short_scenario(
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
    let ta = "/robot/follower/joint_states";
    // The simulator stamps joints and frames at the instant they describe:
    // no offset. Both cameras, both models of the joints' motion.
    let lag = |camera: &str, motion: &str| {
        let out = run(reel()
            .args(["calib", "time-offset", "--json", "--motion", motion])
            .args([
                "--a",
                ta,
                "--b",
                &format!("/camera/{camera}/image/compressed"),
            ])
            .arg(&episode));
        assert!(out.status.success(), "{}", stderr(&out));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let found = r["b_lags_a_s"].as_f64().unwrap();
        println!(
            "{camera}, {}: found {:.2} ms (correlation {:.2})",
            r["joint_motion"],
            found * 1e3,
            r["correlation"].as_f64().unwrap()
        );
        (found, r["joint_motion"].as_str().unwrap().to_string())
    };
    let (front, motion) = lag("front", "projected");
    assert_eq!(
        motion,
        "links projected into the camera, fitted link by link"
    );
    let (front_speed, motion) = lag("front", "joint-speed");
    assert_eq!(motion, "joint speed");
    let (wrist, _) = lag("wrist", "projected");
    // The fixed camera is what the projection models: the links moving in
    // its view, fitted link by link; joint speed weighs the gripper the
    // camera barely sees. The wrist camera sees the whole scene move, which
    // /tf describes only as a ground plane. Over 48 episodes:
    // `cargo bench --bench time_offset` (benches/results/time_offset.txt).
    assert!(front.abs() < 0.002, "front {front}");
    assert!(
        front_speed.abs() < 0.015,
        "front, joint speed {front_speed}"
    );
    assert!(wrist.abs() < 0.005, "wrist {wrist}");

    // Injected offsets against the truth (the simulator has none of its
    // own), on the fixed camera: the target is 2 ms. Offsets up to
    // ±250 ms of the ±500 ms searched are tried; larger ones cut much of
    // this 8 s episode's overlap.
    // Both stages, as the command runs them: the activities' search,
    // then the link-by-link fit near it.
    let tb = "/camera/front/image/compressed";
    let tracks = projected_tracks(&episode, ta, tb).unwrap().unwrap();
    let a = tracks.speed();
    let b = activity(&episode, tb).unwrap();
    let frames = frame_motion(&episode, tb).unwrap();
    let mut errors = Vec::new();
    for injected in [0.0375, -0.0612, 0.120, 0.0031, -0.2477] {
        let mut shifted = b.clone();
        shifted.t.iter_mut().for_each(|t| *t += injected);
        let mut shifted_frames = frames.clone();
        for t in shifted_frames.from.iter_mut().chain(&mut shifted_frames.to) {
            *t += injected;
        }
        let coarse = estimate(&a, &shifted, 0.5).unwrap().b_lags_a_s;
        let (found, _) = refine(coarse, &[(&shifted_frames, &tracks)])
            .unwrap()
            .expect("a peak near the activities' estimate");
        println!(
            "injected {:.1} ms: found {:.2} ms (activities alone {:.2} ms)",
            injected * 1e3,
            found * 1e3,
            coarse * 1e3
        );
        errors.push((found - injected).abs());
    }
    let worst = errors.iter().copied().fold(0.0, f64::max);
    println!("worst error on injected offsets: {:.2} ms", worst * 1e3);
    assert!(worst < 0.002, "{errors:?}");

    // Several episodes pool into one offset; each one's own estimate is
    // listed (the same episode twice: the pooled offset is its offset).
    let out = run(reel()
        .args(["calib", "time-offset", "--json", "--a", ta, "--b", tb])
        .arg(&episode)
        .arg(&episode));
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let each = r["episodes"].as_array().unwrap();
    assert_eq!(each.len(), 2);
    let pooled = r["b_lags_a_s"].as_f64().unwrap();
    assert!((pooled - front).abs() < 1e-9, "{pooled} vs {front}");
    assert!(r["episode_spread_s"].as_f64().unwrap() < 1e-9);

    // Stored in a rig: the camera's latency_ms grows by the lag, so
    // frames recorded with it are stamped that much earlier.
    let rig = tmp.path().join("rig.toml");
    let text =
        std::fs::read_to_string(common::workspace().join("samples/rigs/so101-emulated.toml"))
            .unwrap()
            .replacen(
                "\nstamps = \"cadence\"\n",
                "\nstamps = \"cadence\"\nlatency_ms = 20.0\n",
                1,
            );
    std::fs::write(&rig, &text).unwrap();
    let before = reel_capture::rig::Rig::parse(&text).unwrap();
    assert_eq!(before.cameras[0].name, "front");
    let out = run(reel()
        .args(["calib", "time-offset", "--a", ta, "--b", tb, "--rig"])
        .arg(&rig)
        .arg(&episode));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("latency_ms raised by"),
        "{}",
        stderr(&out)
    );
    let after = reel_capture::rig::Rig::parse(&std::fs::read_to_string(&rig).unwrap()).unwrap();
    let expected = 20.0 + (front * 1e3 * 100.0).round() / 100.0;
    assert!(
        (after.cameras[0].latency_ms - expected).abs() < 0.011,
        "{} vs {expected}",
        after.cameras[0].latency_ms
    );
    assert_eq!(after.cameras[1].latency_ms, before.cameras[1].latency_ms);
    // Two joint streams: no camera to store it in; the rig is untouched.
    let stored = std::fs::read_to_string(&rig).unwrap();
    let out = run(reel()
        .args([
            "calib",
            "time-offset",
            "--a",
            ta,
            "--b",
            "/robot/leader/joint_commands",
            "--rig",
        ])
        .arg(&rig)
        .arg(&episode));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only cameras have a latency_ms"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&rig).unwrap(), stored);

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

/// A rendered view of `board` at `pose` (camera ← board) as JPEG.
fn board_jpeg(camera: &CameraModel, board: &Checkerboard, pose: &reel_calib::Pose) -> Vec<u8> {
    let pixels = render_board(camera, board, pose, 2);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .encode(
            &pixels,
            camera.width,
            camera.height,
            image::ExtendedColorType::L8,
        )
        .unwrap();
    jpeg
}

/// A transform as `reel calib` prints it in JSON.
fn json_transform(v: &serde_json::Value) -> nalgebra::Isometry3<f64> {
    let n = |key: &str, i: usize| v[key][i].as_f64().unwrap();
    nalgebra::Isometry3::from_parts(
        nalgebra::Translation3::new(
            n("translation", 0),
            n("translation", 1),
            n("translation", 2),
        ),
        nalgebra::UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
            n("rotation_xyzw", 3),
            n("rotation_xyzw", 0),
            n("rotation_xyzw", 1),
            n("rotation_xyzw", 2),
        )),
    )
}

/// How far `found` is from `truth`: degrees, millimetres.
fn off_by(found: &nalgebra::Isometry3<f64>, truth: &nalgebra::Isometry3<f64>) -> (f64, f64) {
    (
        found.rotation.angle_to(&truth.rotation).to_degrees(),
        (found.translation.vector - truth.translation.vector).norm() * 1e3,
    )
}

/// An SO-101 with a wrist camera at a known mount, pausing at poses that
/// show a fixed board and moving between them, written as an episode; the
/// camera's true mount (gripper_link ← camera) is returned.
fn write_hand_eye_episode(path: &Path) -> nalgebra::Isometry3<f64> {
    use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};
    use reel_calib::pose::{from_formats, iso_to_pose};
    use reel_episode::robot::RobotModel;
    use reel_episode::ros2::sensor_msgs::{CameraInfo, CompressedImage, JointState};
    use reel_episode::ros2::std_msgs::{Header, StringMsg};
    use reel_episode::topics;
    use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};

    const START: u64 = 1_700_000_000_000_000_000;
    let camera = truth();
    let board = Checkerboard::parse("checkerboard:9x6:0.02").unwrap();
    let urdf = std::fs::read_to_string(
        common::workspace().join("samples/robots/so101/so101_new_calib.urdf"),
    )
    .unwrap();
    let robot = RobotModel::parse(&urdf).unwrap();
    // shoulder_pan … gripper, the order of `home` below.
    let joint_names: Vec<String> = robot.actuated_joints().map(|j| j.name.clone()).collect();
    let gripper = |q: &[f64]| {
        let poses =
            robot.link_poses(&|name| joint_names.iter().position(|j| j == name).map(|i| q[i]));
        from_formats(&poses["gripper_link"])
    };
    // The truth: camera 5 cm off the gripper, turned; the board placed 35 cm
    // in front of the camera at the home pose.
    let mount = Isometry3::from_parts(
        Translation3::new(0.012, -0.05, 0.03),
        UnitQuaternion::from_euler_angles(0.4, -0.2, 1.2),
    );
    let home = [0.0, -0.4, 0.7, 0.6, 0.0, 0.0];
    let centred = Isometry3::translation(-0.08, -0.05, 0.35);
    let board_in_base = gripper(&home) * mount * centred;
    let target = |q: &[f64]| iso_to_pose(&(mount.inverse() * gripper(q).inverse() * board_in_base));
    // Poses that keep the whole board in view and facing the camera.
    let margin: Vec<Vector3<f64>> = [(-1.0, -1.0), (9.0, -1.0), (-1.0, 6.0), (9.0, 6.0)]
        .iter()
        .map(|(i, j)| Vector3::new(i * 0.02, j * 0.02, 0.0))
        .collect();
    let in_view = |q: &[f64]| {
        let pose = target(q);
        pose.rotation()[(2, 2)] > 0.5
            && margin.iter().all(|p| {
                camera
                    .project(pose.apply(p).into())
                    .is_some_and(|u| u[0] > 4.0 && u[1] > 4.0 && u[0] < 635.0 && u[1] < 475.0)
            })
    };
    let amplitude = [0.25, 0.1, 0.1, 0.35, 0.6, 0.0];
    let poses: Vec<[f64; 6]> = (0..400)
        .map(|k| {
            let f = k as f64;
            std::array::from_fn(|j| {
                home[j] + amplitude[j] * (f * (1.3 + 0.77 * j as f64) + j as f64).sin()
            })
        })
        .filter(|q: &[f64; 6]| in_view(q))
        .take(20)
        .collect();
    assert_eq!(poses.len(), 20);

    // 1 s per pose: 0.6 s still, then 0.4 s moving to the next; joints at
    // 100 Hz quantised to the STS3215's 4096 steps per turn, frames at 5 Hz.
    let quantise =
        |q: f64| (q / (std::f64::consts::TAU / 4096.0)).round() * std::f64::consts::TAU / 4096.0;
    let at = |t: f64| -> [f64; 6] {
        let k = (t.floor() as usize).min(poses.len() - 1);
        let s = ((t - k as f64 - 0.6) / 0.4).clamp(0.0, 1.0);
        let next = poses[(k + 1).min(poses.len() - 1)];
        std::array::from_fn(|j| poses[k][j] * (1.0 - s) + next[j] * s)
    };
    let mut w = EpisodeWriter::create(
        path,
        EpisodeMeta::new("hand-eye calibration", "so101"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    let description = w.add_topic::<StringMsg>(topics::ROBOT_DESCRIPTION).unwrap();
    let info = w
        .add_topic::<CameraInfo>(&topics::camera_info("wrist"))
        .unwrap();
    let joints = w
        .add_topic::<JointState>(&topics::joint_states("follower"))
        .unwrap();
    let images = w
        .add_topic::<CompressedImage>(&topics::camera_image("wrist"))
        .unwrap();
    w.write(description, &StringMsg { data: urdf.clone() }, START, START)
        .unwrap();
    let k = camera.k();
    let camera_info = CameraInfo {
        header: Header::new(START, "wrist_camera_optical"),
        width: 640,
        height: 480,
        distortion_model: "plumb_bob".into(),
        d: camera.distortion.clone(),
        k,
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p: [
            k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0,
        ],
        ..Default::default()
    };
    w.write(info, &camera_info, START, START).unwrap();
    let duration = poses.len() as f64 - 0.4;
    for step in 0..(duration * 100.0) as u64 {
        let t = step as f64 * 0.01;
        let stamp = START + step * 10_000_000;
        let js = JointState {
            header: Header::new(stamp, "base_link"),
            name: joint_names.clone(),
            // The encoders report the true angle to one step.
            position: at(t).iter().map(|&q| quantise(q)).collect(),
            ..Default::default()
        };
        w.write(joints, &js, stamp, stamp).unwrap();
        if step % 20 == 10 {
            let frame = CompressedImage {
                header: Header::new(stamp, "wrist_camera_optical"),
                format: "jpeg".into(),
                data: board_jpeg(&camera, &board, &target(&at(t))),
            };
            w.write(images, &frame, stamp, stamp).unwrap();
        }
    }
    w.finish().unwrap();
    mount
}

#[test]
fn hand_eye_from_an_episode_recovers_the_wrist_camera_mount() {
    let dir = tempfile::tempdir().unwrap();
    let episode = dir.path().join("hand_eye.mcap");
    let truth_mount = write_hand_eye_episode(&episode);
    let args = |link: &str| {
        let mut c = reel();
        c.args([
            "calib",
            "hand-eye",
            "--camera",
            "wrist",
            "--arm",
            "follower",
            "--mount",
            "eye-in-hand",
            "--link",
            link,
            "--board",
            "checkerboard:9x6:0.02",
            "--json",
        ])
        .arg(&episode);
        c
    };
    let out = run(&mut args("gripper_link"));
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &r["result"];
    let (deg, mm) = off_by(&json_transform(&result["camera"]), &truth_mount);
    let views = result["views"].as_array().unwrap().len();
    println!(
        "hand-eye from the episode: {deg:.3} deg, {mm:.2} mm off the truth; {views} views, rms {:.3} px, {} of {} frames taken while moving; intrinsics from {}",
        result["rms_px"], r["frames_while_moving"], r["frames"], r["intrinsics_from"]
    );
    assert_eq!(views, 20, "one view per pause");
    assert!(r["frames_while_moving"].as_u64().unwrap() >= 19 * 2);
    assert_eq!(r["parent_frame"], "gripper_link");
    assert_eq!(r["camera_frame"], "wrist_camera_optical");
    assert!(deg < 0.5, "rotation {deg} deg off");
    assert!(mm < 2.0, "translation {mm} mm off");

    // A link the URDF does not have, and an arm the episode does not have.
    let out = run(&mut args("wrist_cam_link"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no such link") && stderr(&out).contains("gripper_link"),
        "{}",
        stderr(&out)
    );
    let out = run(reel()
        .args([
            "calib",
            "hand-eye",
            "--camera",
            "wrist",
            "--arm",
            "leader",
            "--mount",
            "eye-in-hand",
            "--link",
            "gripper_link",
            "--board",
            "checkerboard:9x6:0.02",
        ])
        .arg(&episode));
    assert!(
        stderr(&out).contains("no joint states on /robot/leader/joint_states"),
        "{}",
        stderr(&out)
    );
}

/// A board held still at varied tilts in front of a camera and a VLP-16
/// (both at 10 Hz), moved between poses, over a floor; returns the true
/// camera ← LiDAR.
fn write_camera_lidar_episode(path: &Path) -> nalgebra::Isometry3<f64> {
    use nalgebra::{Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion};
    use reel_calib::pose::{iso_to_pose, pose_to_iso};
    use reel_calib::synthetic::vlp16_scan;
    use reel_episode::ros2::sensor_msgs::{CompressedImage, PointCloud2};
    use reel_episode::ros2::std_msgs::Header;
    use reel_episode::topics;
    use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};

    const START: u64 = 1_700_000_000_000_000_000;
    let camera = truth();
    let board = Checkerboard::parse("checkerboard:7x5:0.1").unwrap();
    let axes = Matrix3::new(0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0);
    let camera_from_lidar = Isometry3::from_parts(
        Translation3::new(-0.04, -0.11, 0.02),
        UnitQuaternion::from_euler_angles(-0.03, 0.04, 0.02)
            * UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(axes)),
    );
    let poses: Vec<Isometry3<f64>> = varied_poses(&camera, &board, 14)
        .iter()
        .map(pose_to_iso)
        .collect();
    // 1.3 s per pose: 1 s still, then 0.3 s moving to the next.
    let board_at = |t: f64| {
        let k = (t / 1.3).floor() as usize;
        let s = ((t - k as f64 * 1.3 - 1.0) / 0.3).clamp(0.0, 1.0);
        let (a, b) = (poses[k.min(13)], poses[(k + 1).min(13)]);
        (a.lerp_slerp(&b, s), s == 0.0)
    };
    let jpeg_of = |camera_from_board: &Isometry3<f64>| {
        board_jpeg(&camera, &board, &iso_to_pose(camera_from_board))
    };
    let still_jpegs: Vec<Vec<u8>> = poses.iter().map(jpeg_of).collect();
    let mut w = EpisodeWriter::create(
        path,
        EpisodeMeta::new("camera-lidar calibration", "so101"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    let images = w
        .add_topic::<CompressedImage>(&topics::camera_image("front"))
        .unwrap();
    let clouds = w
        .add_topic::<PointCloud2>(&topics::lidar_points("top"))
        .unwrap();
    let lidar_from_camera = camera_from_lidar.inverse();
    for step in 0..(14.0 * 1.3 / 0.1) as u64 - 3 {
        let t = step as f64 * 0.1;
        let stamp = START + step * 100_000_000;
        let (camera_from_board, still) = board_at(t);
        let jpeg = if still {
            still_jpegs[((t / 1.3).floor() as usize).min(13)].clone()
        } else {
            jpeg_of(&camera_from_board)
        };
        let frame = CompressedImage {
            header: Header::new(stamp + 50_000_000, "front_camera_optical"),
            format: "jpeg".into(),
            data: jpeg,
        };
        let scan = vlp16_scan(
            &(lidar_from_camera * camera_from_board),
            [-0.1, 0.7, -0.1, 0.5],
            -1.0,
            0.01,
            step,
        );
        let mut data = Vec::new();
        for p in &scan {
            PointCloud2::push_lidar_point(
                &mut data,
                [p.x as f32, p.y as f32, p.z as f32],
                100.0,
                0,
                1,
                0.0,
            );
        }
        let cloud = PointCloud2::lidar(Header::new(stamp, "velodyne"), data);
        w.write(clouds, &cloud, stamp, stamp).unwrap();
        w.write(images, &frame, stamp + 50_000_000, stamp + 50_000_000)
            .unwrap();
    }
    w.finish().unwrap();
    camera_from_lidar
}

#[test]
fn camera_lidar_from_an_episode_recovers_the_lidar_mount() {
    let dir = tempfile::tempdir().unwrap();
    let episode = dir.path().join("camera_lidar.mcap");
    let truth_mount = write_camera_lidar_episode(&episode);
    let calib = |extra: &[&str]| {
        run(reel()
            .args([
                "calib",
                "camera-lidar",
                "--camera",
                "front",
                "--board",
                "checkerboard:7x5:0.1",
            ])
            .args(extra)
            .arg(&episode))
    };
    let out = calib(&["--lidar", "top", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &r["result"];
    let (deg, mm) = off_by(&json_transform(&result["camera_from_lidar"]), &truth_mount);
    let views = result["views"].as_array().unwrap().len();
    println!(
        "camera-lidar from the episode: {deg:.3} deg, {mm:.2} mm off the truth; {views} views, point-to-plane rms {:.2} mm, {} of {} revolutions with the board moving; intrinsics from {}",
        result["rms_m"].as_f64().unwrap() * 1e3,
        r["revolutions_while_moving"],
        r["revolutions"],
        r["intrinsics_from"]
    );
    assert!(views >= 10, "{views} views");
    assert!(r["revolutions_while_moving"].as_u64().unwrap() > 0);
    assert_eq!(r["lidar_frame"], "velodyne");
    assert!(deg < 1.0, "rotation {deg} deg off");
    assert!(mm < 10.0, "translation {mm} mm off");

    let out = calib(&["--lidar", "nope"]);
    assert!(
        stderr(&out).contains("no point clouds on /lidar/nope/points"),
        "{}",
        stderr(&out)
    );
    let out = calib(&["--lidar", "top", "--board-size", "big"]);
    assert!(stderr(&out).contains("WIDTHxHEIGHT"), "{}", stderr(&out));
}

#[test]
fn calibrations_stored_in_the_rig_reach_recorded_episodes() {
    use reel_episode::ros2::sensor_msgs::CameraInfo;
    use reel_episode::ros2::tf2_msgs::TFMessage;
    use reel_episode::{schema_name, EpisodeReader};

    let dir = tempfile::tempdir().unwrap();
    let rig = reel_capture::emulators::rig::isolated_copy(
        &common::workspace().join("samples/rigs/so101-emulated.toml"),
        dir.path(),
    )
    .unwrap();
    let original = std::fs::read_to_string(&rig).unwrap();
    // Intrinsics from pictures, the mount from a hand-eye episode.
    let views = dir.path().join("views");
    std::fs::create_dir(&views).unwrap();
    write_views(&views, 12);
    let out = run(reel()
        .args([
            "calib",
            "intrinsics",
            "--camera",
            "wrist",
            "--board",
            BOARD,
            "--images",
        ])
        .arg(&views)
        .arg("--rig")
        .arg(&rig));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("updated"), "{}", stderr(&out));
    let episode = dir.path().join("hand_eye.mcap");
    let mount = write_hand_eye_episode(&episode);
    let out = run(reel()
        .args([
            "calib",
            "hand-eye",
            "--camera",
            "wrist",
            "--arm",
            "follower",
            "--mount",
            "eye-in-hand",
            "--link",
            "gripper_link",
            "--board",
            "checkerboard:9x6:0.02",
            "--rig",
        ])
        .arg(&rig)
        .arg(&episode));
    assert!(out.status.success(), "{}", stderr(&out));
    let backups: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect();
    assert!(!backups.is_empty(), "no backup");
    assert!(backups
        .iter()
        .any(|b| std::fs::read_to_string(b).unwrap() == original));

    // A recording with the updated rig carries both.
    let episodes = dir.path().join("episodes");
    let out = run(reel()
        .args(["record", "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(&episodes)
        .args(["--emulate", "--episodes", "1", "--duration", "1"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let file = std::fs::read_dir(&episodes)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap();
    let reader = EpisodeReader::open(&file).unwrap();
    let (mut info, mut tf) = (None, None);
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        match (m.channel.topic.as_str(), schema_name(&m.channel)) {
            ("/camera/wrist/camera_info", "sensor_msgs/msg/CameraInfo") => {
                info = Some(reader.decode::<CameraInfo>(&m, i as u64).unwrap())
            }
            ("/tf_static", "tf2_msgs/msg/TFMessage") => {
                tf = Some(reader.decode::<TFMessage>(&m, i as u64).unwrap())
            }
            _ => {}
        }
    }
    let info = info.expect("camera_info in the recorded episode");
    assert_eq!(info.header.frame_id, "camera_wrist_optical");
    assert!(
        (info.k[0] - truth().fx).abs() / truth().fx < 0.005,
        "{:?}",
        info.k
    );
    assert_eq!(info.distortion_model, "plumb_bob");
    let tf = tf.expect("/tf_static in the recorded episode");
    let t = &tf.transforms[0];
    assert_eq!(t.header.frame_id, "gripper_link");
    assert_eq!(t.child_frame_id, "camera_wrist_optical");
    let found = reel_calib::pose::from_formats(&reel_episode::geometry::Iso::from_msg(t));
    let (deg, mm) = off_by(&found, &mount);
    println!("recorded /tf_static: {deg:.3} deg, {mm:.2} mm off the true mount");
    assert!(mm < 2.0 && deg < 0.5, "{mm} mm, {deg} deg");
}

/// Views rendered by OpenCV: the true corners of each, and how far OpenCV's
/// own detection lands from them (mean, worst; pixels).
struct OpenCvViews {
    corners: Vec<Vec<[f64; 2]>>,
    opencv_mean: f64,
    opencv_worst: f64,
}

/// Renders `views` of `board` through OpenCV's camera model
/// (`scripts/render_board_opencv.py`) into `dir`; the true corners of each
/// view as cv2.projectPoints gives them, and OpenCV's own detection error
/// (mean, worst) against them. None when the venv is absent.
fn opencv_rendered_views(
    dir: &Path,
    camera: &CameraModel,
    board: &Checkerboard,
    views: &[reel_calib::Pose],
) -> Option<OpenCvViews> {
    let python = venv_python("boards rendered through OpenCV's camera model")?;
    let spec = serde_json::json!({
        "camera": {
            "lens": lens_name(camera.lens),
            "width": camera.width, "height": camera.height,
            "fx": camera.fx, "fy": camera.fy, "cx": camera.cx, "cy": camera.cy,
            "distortion": camera.distortion,
        },
        "board": { "cols": board.cols, "rows": board.rows, "square": board.square },
        "views": views.iter().map(|p| serde_json::json!({ "rvec": p.rvec, "tvec": p.tvec })).collect::<Vec<_>>(),
        "samples": 3,
    });
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let out = run(std::process::Command::new(python)
        .arg(common::workspace().join("scripts/render_board_opencv.py"))
        .arg(&spec_path)
        .arg(dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let truth: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let roundtrip = truth["roundtrip_px"].as_f64().unwrap();
    println!(
        "rendered by OpenCV {}; its rays reproject within {roundtrip:.1e} px",
        truth["opencv"]
    );
    assert!(
        roundtrip < 1e-6,
        "OpenCV's inverse is off by {roundtrip} px"
    );
    let opencv = &truth["opencv_detection"];
    assert_eq!(
        opencv["found"],
        views.len(),
        "OpenCV missed a board: {opencv}"
    );
    Some(OpenCvViews {
        corners: serde_json::from_value(truth["corners"].clone()).unwrap(),
        opencv_mean: opencv["mean_px"].as_f64().unwrap(),
        opencv_worst: opencv["worst_px"].as_f64().unwrap(),
    })
}

/// reel's projection, detection and calibration on views that OpenCV
/// rendered: reel's model agrees with cv2.projectPoints, the corners it
/// finds are where OpenCV puts them, and every coefficient is recovered.
fn calibrates_boards_rendered_by_opencv(camera: &CameraModel, tolerances: &[f64]) {
    let dir = tempfile::tempdir().unwrap();
    let board = Checkerboard::parse(BOARD).unwrap();
    let poses = varied_poses(camera, &board, 16);
    let Some(OpenCvViews {
        corners: truth,
        opencv_mean,
        opencv_worst,
    }) = opencv_rendered_views(dir.path(), camera, &board, &poses)
    else {
        return;
    };
    let (mut model_gap, mut worst_corner, mut corner_sum, mut corner_count) = (0f64, 0f64, 0.0, 0);
    let mut observations = Vec::new();
    for (k, (pose, want)) in poses.iter().zip(&truth).enumerate() {
        for (p, w) in board.object_points().iter().zip(want) {
            let ours = camera.project(pose.apply(p).into()).unwrap();
            model_gap = model_gap.max((ours[0] - w[0]).hypot(ours[1] - w[1]));
        }
        let image = image::open(dir.path().join(format!("view{k:02}.png")))
            .unwrap()
            .to_luma8();
        let gray = reel_calib::detect::Gray::from_u8(
            camera.width as usize,
            camera.height as usize,
            image.as_raw(),
        );
        let Some(corners) = reel_calib::detect::find_checkerboard(&gray, &board) else {
            continue;
        };
        for (c, w) in corners.iter().zip(want) {
            let e = (c[0] - w[0]).hypot(c[1] - w[1]);
            worst_corner = worst_corner.max(e);
            corner_sum += e;
            corner_count += 1;
        }
        observations.push(reel_calib::intrinsics::Observation {
            name: format!("view{k:02}"),
            corners,
            ids: None,
        });
    }
    let mean_corner = corner_sum / corner_count.max(1) as f64;
    println!(
        "{:?}: reel's projection vs cv2.projectPoints: worst {model_gap:.1e} px; board found in {} of {}; corners vs the truth: reel mean {mean_corner:.4} px, worst {worst_corner:.4} px; OpenCV (findChessboardCorners + cornerSubPix) mean {opencv_mean:.4} px, worst {opencv_worst:.4} px",
        camera.lens,
        observations.len(),
        poses.len(),
    );
    assert!(
        model_gap < 1e-6,
        "reel's projection differs from OpenCV's by {model_gap} px"
    );
    assert_eq!(
        observations.len(),
        poses.len(),
        "reel missed boards OpenCV found"
    );
    // Both detectors are limited by the rendering (3×3 samples a pixel, 8
    // bits); reel must be as close to the truth as OpenCV is.
    assert!(
        mean_corner <= opencv_mean * 1.1 && worst_corner <= opencv_worst * 1.25,
        "reel's corners are farther from the truth than OpenCV's: mean {mean_corner:.4} vs {opencv_mean:.4} px, worst {worst_corner:.4} vs {opencv_worst:.4} px"
    );
    let options = reel_calib::intrinsics::Options {
        lens: camera.lens,
        ..Default::default()
    };
    let fitted = reel_calib::intrinsics::calibrate(
        &board,
        camera.width,
        camera.height,
        &observations,
        options,
    )
    .unwrap()
    .camera;
    // OpenCV's calibration from the same corners, and both fits against the truth.
    let corners: Vec<&Vec<[f64; 2]>> = observations.iter().map(|o| &o.corners).collect();
    std::fs::write(
        dir.path().join("corners.json"),
        serde_json::to_string(&corners).unwrap(),
    )
    .unwrap();
    let fitted_json = serde_json::json!({
        "lens": lens_name(fitted.lens), "width": fitted.width, "height": fitted.height,
        "fx": fitted.fx, "fy": fitted.fy, "cx": fitted.cx, "cy": fitted.cy,
        "distortion": fitted.distortion,
    });
    std::fs::write(dir.path().join("fitted.json"), fitted_json.to_string()).unwrap();
    let out = run(
        std::process::Command::new(venv_python("OpenCV's calibration").unwrap())
            .arg(common::workspace().join("scripts/render_board_opencv.py"))
            .arg("--calibrate")
            .args(["spec.json", "corners.json", "fitted.json"].map(|f| dir.path().join(f))),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let compared: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let opencv = &compared["opencv"];
    let names: &[&str] = match camera.lens {
        LensModel::PinholeRadtan => &["k1", "k2", "p1", "p2", "k3"],
        LensModel::Fisheye => &["k1", "k2", "k3", "k4"],
    };
    println!("  coefficient: reel / OpenCV from the same corners / truth");
    for (name, (got, want)) in ["fx", "fy", "cx", "cy"].iter().zip([
        (fitted.fx, camera.fx),
        (fitted.fy, camera.fy),
        (fitted.cx, camera.cx),
        (fitted.cy, camera.cy),
    ]) {
        let theirs = opencv[name].as_f64().unwrap();
        println!("  {name}: {got:.4} / {theirs:.4} / {want}");
        assert!((got - want).abs() / want < 0.002, "{name}: {got} vs {want}");
        assert!(
            (got - theirs).abs() / theirs < 0.001,
            "{name}: reel {got} vs OpenCV {theirs}"
        );
    }
    for (k, (name, tolerance)) in names.iter().zip(tolerances).enumerate() {
        let (got, want) = (fitted.distortion[k], camera.distortion[k]);
        let theirs = opencv["distortion"][k].as_f64().unwrap();
        println!(
            "  {name}: {got:+.5} / {theirs:+.5} / {want:+.5} (reel vs OpenCV allowed ±{tolerance})"
        );
        assert!(
            (got - theirs).abs() <= *tolerance,
            "{name}: reel {got} vs OpenCV {theirs}"
        );
    }
    // The coefficients trade off against each other; what a user gets is the
    // mapping: where the fitted lens puts each pixel's true ray.
    let (ours, theirs) = (
        compared["mapping_px"]["other"].as_f64().unwrap(),
        compared["mapping_px"]["opencv"].as_f64().unwrap(),
    );
    println!("  fitted vs true lens where the boards were seen: reel worst {ours:.4} px, OpenCV worst {theirs:.4} px");
    assert!(
        ours <= (theirs * 1.25).max(0.05),
        "reel's lens is {ours:.3} px off the truth where OpenCV's is {theirs:.3} px"
    );
}

fn lens_name(lens: LensModel) -> &'static str {
    match lens {
        LensModel::PinholeRadtan => "pinhole-radtan",
        LensModel::Fisheye => "fisheye",
    }
}

#[test]
fn a_pinhole_lens_rendered_by_opencv_is_recovered_coefficient_by_coefficient() {
    calibrates_boards_rendered_by_opencv(&truth(), &[0.001, 0.002, 0.00005, 0.00005, 0.005]);
}

#[test]
fn a_fisheye_lens_rendered_by_opencv_is_recovered_coefficient_by_coefficient() {
    let camera = CameraModel {
        lens: LensModel::Fisheye,
        distortion: vec![0.04, -0.012, 0.003, -0.0005],
        ..truth()
    };
    calibrates_boards_rendered_by_opencv(&camera, &[0.001, 0.003, 0.01, 0.02]);
}
