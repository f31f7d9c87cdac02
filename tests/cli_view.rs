//! `reel view`: episodes and datasets into `.rrd` files, read back with
//! rerun's own reader (rerun-sdk's `RrdReader`, scripts/check_rrd.py), and
//! bad inputs.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{reel, run, stderr, venv_python, workspace};
use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};
use reel_testkit::synthetic_rig::{generate_mix, RigMessage, RigMix, RigTopics, SO101_JOINTS};
use serde_json::Value;

const START: u64 = 1_790_000_000_000_000_000;

/// A 3 s SO-101 episode: 2 cameras at 30 Hz (camera 0 loses 0.5 s from
/// t = 1.5 s), one arm at 200 Hz with the URDF's joint names, a LiDAR at
/// 10 Hz, `/tf_static`, the URDF attached and on `/robot_description`.
/// Returns the path and how many frames camera 0 kept.
fn write_episode(path: &Path) -> (PathBuf, u64) {
    let urdf =
        std::fs::read_to_string(workspace().join("samples/robots/so101/so101_new_calib.urdf"))
            .unwrap();
    let mix = RigMix::so101(160, 120, 4, 2000);
    let mut w = EpisodeWriter::create(
        path,
        EpisodeMeta::new("view test", "so101"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    w.attach(
        "so101_new_calib.urdf",
        "application/xml",
        urdf.as_bytes(),
        START,
    )
    .unwrap();
    let description = w.add_topic::<StringMsg>(topics::ROBOT_DESCRIPTION).unwrap();
    w.write(description, &StringMsg { data: urdf }, START, START)
        .unwrap();
    let rig = RigTopics::register(&mut w, &mix).unwrap();
    let (gap_from, gap_to) = (START + 1_500_000_000, START + 2_000_000_000);
    let mut cam0 = 0;
    for mut m in generate_mix(&mix, START, 3.0) {
        match &mut m.message {
            RigMessage::Joints(_, js) => {
                js.name = SO101_JOINTS.iter().map(|s| s.to_string()).collect()
            }
            RigMessage::Image(0, img) => {
                let t = img.header.stamp.to_nanos();
                if (gap_from..gap_to).contains(&t) {
                    continue;
                }
                cam0 += 1;
            }
            _ => {}
        }
        rig.write(&mut w, &m).unwrap();
    }
    (w.finish().unwrap(), cam0)
}

/// `check_rrd.py`'s JSON for `rrd`, or None (skip recorded) without the venv.
fn read_rrd(rrd: &Path) -> Option<Value> {
    let python = venv_python("rerun .rrd read-back checks")?;
    let out = run(std::process::Command::new(python)
        .arg(workspace().join("scripts/check_rrd.py"))
        .arg(rrd));
    assert!(out.status.success(), "check_rrd.py: {}", stderr(&out));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Runs `reel view PATH --save RRD --json [EXTRA…]`, which must succeed;
/// returns its JSON summary and stderr.
fn view_saved(path: &Path, rrd: &Path, extra: &[&std::ffi::OsStr]) -> (Value, String) {
    let out = run(reel()
        .arg("view")
        .arg(path)
        .arg("--save")
        .arg(rrd)
        .args(extra)
        .arg("--json"));
    assert!(out.status.success(), "{}", stderr(&out));
    (serde_json::from_slice(&out.stdout).unwrap(), stderr(&out))
}

/// The first recording of a read-back `.rrd`.
fn first_recording(rrd: &Value) -> &Value {
    rrd["recordings"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
}

/// How many values of `component` the entity holds; the entity must exist
/// (a count of 0 on a missing entity would prove nothing).
fn count(entity: &Value, component: &str) -> u64 {
    assert!(
        entity["components"].is_object(),
        "no such entity (looking for {component}): {entity}"
    );
    entity["components"][component].as_u64().unwrap_or(0)
}

/// How many different values of `component` the entity holds (transforms
/// and scalars); the entity must hold the component.
fn distinct(entity: &Value, component: &str) -> u64 {
    assert!(count(entity, component) > 0, "no {component}: {entity}");
    entity["distinct"][component].as_u64().unwrap_or(0)
}

#[test]
fn episode_rrd_has_cameras_joints_robot_lidar_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (episode, cam0_frames) = write_episode(&dir.path().join("ep.mcap"));
    let rrd = dir.path().join("ep.rrd");
    let (summary, _) = view_saved(&episode, &rrd, &[]);
    let rec = &summary["recordings"][0];
    assert_eq!(rec["logged"]["/camera/cam0/image/compressed"], cam0_frames);
    assert!(
        rec["flags"].as_u64().unwrap() >= 1,
        "the camera gap is flagged: {rec}"
    );
    assert!(rec["first_frame_ms"].as_f64().is_some());

    let Some(rrd) = read_rrd(&rrd) else { return };
    assert!(
        rrd["blueprints"].as_u64().unwrap() >= 1,
        "a blueprint is sent"
    );
    let recordings = rrd["recordings"].as_object().unwrap();
    assert_eq!(recordings.len(), 1);
    let r = recordings.values().next().unwrap();
    let e = &r["entities"];
    // Cameras: one encoded image per stored frame, at the camera's /tf frame, with its pinhole.
    let cam0 = &e["/world/tf/base/cam0/cam0"];
    assert_eq!(count(cam0, "EncodedImage:blob"), cam0_frames);
    assert_eq!(count(cam0, "Pinhole:image_from_camera"), 1);
    assert_eq!(
        count(&e["/world/tf/base/cam1/cam1"], "EncodedImage:blob"),
        90
    );
    // Joints: 200 Hz × 3 s, each quantity, with the joint names as series names.
    for q in ["position", "velocity", "effort"] {
        let j = &e[format!("/joints/arm0/{q}").as_str()];
        assert_eq!(count(j, "Scalars:scalars"), 600, "{q}");
        assert_eq!(count(j, "SeriesLines:names (static)"), 1, "{q}");
    }
    // The robot: meshes found beside the URDF, links moved at every joint sample.
    let entities: Vec<&String> = e.as_object().unwrap().keys().collect();
    let meshes = entities
        .iter()
        .filter(|p| p.starts_with("/world/robot/arm0/") && p.contains("/visual_"))
        .count();
    assert!(meshes >= 10, "robot meshes: {meshes}");
    let shoulder = &e["/world/robot/arm0/base_link/shoulder_link"];
    assert_eq!(count(shoulder, "Transform3D:quaternion"), 600);
    // No static pose on a moving link: rerun's static data shadows the
    // temporal samples, and the arm would stand still.
    assert_eq!(count(shoulder, "Transform3D:quaternion (static)"), 0);
    assert_eq!(count(shoulder, "Transform3D:translation (static)"), 0);
    // LiDAR: one cloud per revolution with intensity colours.
    let lidar = &e["/world/tf/base/lidar/top"];
    assert_eq!(count(lidar, "Points3D:positions"), 30);
    assert_eq!(count(lidar, "Points3D:colors"), 30);
    // Quality: the gap is a warning line and a marker series on the timeline.
    assert!(count(&e["/quality/camera_cam0_image_compressed"], "TextLog:text") >= 1);
    assert!(
        count(
            &e["/quality/camera_cam0_image_compressed/hole_s"],
            "Scalars:scalars"
        ) >= 1
    );
    assert_eq!(
        count(&e["/events"], "TextLog:text"),
        2,
        "start and stop events"
    );
    // Time range: the episode's sensor time, nothing else.
    let t = &r["timelines"]["sensor_time"];
    assert_eq!(
        r["timelines"].as_object().unwrap().len(),
        1,
        "{}",
        r["timelines"]
    );
    assert!(t[0].as_u64().unwrap() >= START && t[1].as_u64().unwrap() <= START + 3_000_000_000);
    assert!(t[1].as_u64().unwrap() - t[0].as_u64().unwrap() > 2_900_000_000);
}

#[test]
fn dataset_rrd_has_video_frames_and_plots_per_episode() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = write_episode(&dir.path().join("a.mcap"));
    // Subtasks: none, reach, none, lift, none → five log lines.
    let out = run(reel().arg("annotate").arg(&a).args([
        "--add",
        "0.3:0.8:reach",
        "--add",
        "1.1:1.5:lift",
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let ds = dir.path().join("ds");
    let out = run(reel()
        .args(["export", "lerobot"])
        .arg(&a)
        .arg("--out")
        .arg(&ds)
        .args(["--fps", "10", "--vcodec", "h264", "--on-gap", "drop-frame"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let rrd = dir.path().join("ds.rrd");
    let urdf = workspace().join("samples/robots/so101/so101_new_calib.urdf");
    let (summary, _) = view_saved(&ds, &rrd, &["--urdf".as_ref(), urdf.as_os_str()]);
    let frames = summary["recordings"][0]["messages"].as_u64().unwrap();
    assert!(frames > 20, "{summary}");
    assert!(
        summary["recordings"][0]["warnings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{summary}"
    );

    let Some(rrd) = read_rrd(&rrd) else { return };
    let r = first_recording(&rrd);
    let e = &r["entities"];
    for cam in ["cam0", "cam1"] {
        let c = &e[format!("/cameras/observation.images.{cam}").as_str()];
        assert_eq!(count(c, "AssetVideo:blob (static)"), 1, "{cam}");
        assert_eq!(count(c, "VideoFrameReference:timestamp"), frames, "{cam}");
    }
    assert_eq!(
        count(&e["/joints/observation.state/values"], "Scalars:scalars"),
        frames
    );
    assert_eq!(summary["recordings"][0]["logged"]["subtask_index"], 5);
    assert_eq!(count(&e["/annotations/subtask"], "TextLog:text"), 5);
    // No leader in this episode: no action plot beside the state's (whose
    // path, of the same form, was counted above).
    assert!(
        e.get("/joints/action/values").is_none(),
        "no leader in this episode"
    );
    assert!(e
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("/world/robot/") && k.contains("visual_")));
    let fi = &r["timelines"]["frame_index"];
    assert_eq!(
        (fi[0].as_u64(), fi[1].as_u64()),
        (Some(0), Some(frames - 1))
    );
}

#[test]
fn bad_inputs_get_one_line_errors_or_visible_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let rrd = dir.path().join("x.rrd");
    let view = |path: &Path| run(reel().args(["view"]).arg(path).arg("--save").arg(&rrd));

    // Unknown file, and a file that is not MCAP: exit 1, one line naming it.
    for (path, expect) in [
        (dir.path().join("missing.mcap"), "cannot open"),
        (dir.path().join("notes.mcap"), "not an MCAP"),
    ] {
        if path.ends_with("notes.mcap") {
            std::fs::write(&path, b"these are notes, not an episode").unwrap();
        }
        let out = view(&path);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.to_lowercase().contains(&expect.to_lowercase()), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    // A folder with nothing to show.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = view(&empty);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no episodes"), "{}", stderr(&out));
    // A failed conversion never leaves a file under the name asked for.
    assert!(!rrd.exists());

    // A cut-off episode (writer crashed): what is readable is shown, with a warning.
    let (episode, _) = write_episode(&dir.path().join("ep.mcap"));
    let bytes = std::fs::read(&episode).unwrap();
    let cut = dir.path().join("cut.mcap.partial");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (summary, _) = view_saved(&cut, &rrd, &[]);
    assert!(rrd.exists());
    assert!(!reel_viewer::output::partial_rrd_path(&rrd).exists());
    let rec = &summary["recordings"][0];
    assert!(rec["messages"].as_u64().unwrap() > 100, "{rec}");
    let warnings = rec["warnings"].to_string();
    assert!(warnings.contains("reel recover"), "{warnings}");

    // A dataset whose video file is gone: the rest is shown, the loss is a warning.
    let ds = dir.path().join("ds");
    let out = run(reel()
        .args(["export", "lerobot"])
        .arg(&episode)
        .arg("--out")
        .arg(&ds)
        .args(["--fps", "10", "--vcodec", "h264"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let video = ds.join("videos/observation.images.cam1/chunk-000/file-000.mp4");
    std::fs::remove_file(&video).unwrap();
    let (summary, err) = view_saved(&ds, &rrd, &[]);
    let warnings = summary["recordings"][0]["warnings"].to_string();
    assert!(
        warnings.contains("video file missing") && warnings.contains("file-000.mp4"),
        "{warnings}"
    );
    assert!(err.contains("warning:"), "{err}");
    assert!(
        summary["recordings"][0]["logged"]["observation.images.cam0"]
            .as_u64()
            .unwrap()
            > 0
    );

    // An episode index that does not exist.
    let out = run(reel()
        .args(["view"])
        .arg(&ds)
        .args(["--episode", "7"])
        .arg("--save")
        .arg(&rrd));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--episode 7"), "{}", stderr(&out));
}

#[test]
fn record_view_streams_the_live_episode() {
    let dir = tempfile::tempdir().unwrap();
    let rig = reel_capture::emulators::rig::isolated_copy(
        &workspace().join("samples/rigs/so101-emulated.toml"),
        dir.path(),
    )
    .unwrap();
    let live = dir.path().join("live.rrd");
    let out = run(reel()
        .args(["record", "--rig"])
        .arg(&rig)
        .arg("--out")
        .arg(dir.path().join("episodes"))
        .args([
            "--emulate",
            "--episodes",
            "1",
            "--duration",
            "2",
            "--view-save",
        ])
        .arg(&live));
    assert!(out.status.success(), "{}", stderr(&out));
    let episode = std::fs::read_dir(dir.path().join("episodes"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap();
    let info = reel_episode::info(&episode).unwrap();
    let written = |topic: &str| {
        info.topics
            .iter()
            .find(|t| t.topic == topic)
            .map_or(0, |t| t.message_count)
    };

    let Some(rrd) = read_rrd(&live) else { return };
    let r = first_recording(&rrd);
    let e = &r["entities"];
    // Everything written reached the live view (the tap only drops when the viewer lags).
    assert_eq!(
        count(&e["/cameras/front"], "EncodedImage:blob"),
        written("/camera/front/image/compressed")
    );
    assert_eq!(
        count(&e["/joints/follower/position"], "Scalars:scalars"),
        written("/robot/follower/joint_states")
    );
    assert_eq!(
        count(&e["/joints/leader_commands/position"], "Scalars:scalars"),
        written("/robot/leader/joint_commands")
    );
    assert!(e
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("/world/robot/follower/") && k.contains("visual_")));
}

#[test]
fn sim_episode_cameras_hang_from_their_links_and_the_arm_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("scenario.toml");
    // The URDF by a path relative to the scenario (a link beside it): the
    // episode's random draws hash the scenario's text, so an absolute path
    // would make the motion depend on where the repository is checked out
    // (one checkout's 2 s barely moved the arm).
    std::os::unix::fs::symlink(
        workspace().join("samples/robots/so101"),
        tmp.path().join("so101"),
    )
    .unwrap();
    reel_testkit::short_scenario::write_short_scenario(
        &workspace().join("samples"),
        &scenario,
        2.0,
        (160, 120),
        std::path::Path::new("so101/so101_new_calib.urdf"),
    );
    let episode = common::simulate(
        &scenario,
        &tmp.path().join("episodes"),
        ["--episodes", "1", "--seed", "2"],
    )
    .remove(0);
    // Annotations beside the episode show as a log and a summary.
    let o = run(reel()
        .args(["annotate", "--auto", "--instruction", "lift the cube"])
        .arg(&episode));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("idle"));
    let rrd = tmp.path().join("sim.rrd");
    view_saved(&episode, &rrd, &[]);
    let Some(rrd) = read_rrd(&rrd) else { return };
    let e = &first_recording(&rrd)["entities"];
    assert!(
        count(&e["/annotations"], "TextLog:text") >= 2,
        "{}",
        e["/annotations"]
    );
    assert_eq!(
        count(&e["/annotations/summary"], "TextDocument:text (static)"),
        1
    );
    // The wrist camera's /tf_static parent (gripper_link) comes before the
    // arm's /tf in the file; it still nests under the whole moving chain,
    // so its frustum rides on the arm.
    let wrist = e
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, v)| k.ends_with("/wrist") && count(v, "Pinhole:image_from_camera") > 0)
        .map(|(k, _)| k.clone())
        .unwrap();
    assert!(
        wrist.contains(
            "/base_link/shoulder_link/upper_arm_link/lower_arm_link/wrist_link/gripper_link/"
        ),
        "{wrist}"
    );
    // /tf moves the chain it hangs from, and the URDF robot moves too: many
    // transforms, and many different ones (the same pose logged 100 times
    // would not be motion).
    let gripper = wrist.split("/camera_wrist").next().unwrap();
    assert!(
        count(&e[gripper], "Transform3D:translation") > 100,
        "{gripper}"
    );
    assert!(
        // A revolute joint: the link turns about a fixed offset.
        distinct(&e[gripper], "Transform3D:quaternion") > 50,
        "{gripper}: {}",
        e[gripper]
    );
    let link = &e["/world/robot/follower/base_link/shoulder_link"];
    assert!(count(link, "Transform3D:quaternion") > 100);
    assert!(distinct(link, "Transform3D:quaternion") > 50, "{link}");
    assert_eq!(count(link, "Transform3D:quaternion (static)"), 0);
}
