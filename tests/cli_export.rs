#![allow(clippy::unwrap_used)]
//! `reel export` and `reel check` end to end on episodes with known
//! content: joint values that are a known function of time, camera frames
//! whose acquisition time is drawn into the image (so the exported video's
//! frame order can be read back), and a LiDAR with a static mount.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow_array::{Array, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch};
use ffmpeg_next as ffmpeg;
use reel_capture::timecode;
use reel_episode::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use reel_episode::ros2::sensor_msgs::{CompressedImage, JointState, PointCloud2, PointField};
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};
use reel_media::camera::{Codec, Encoder};

const W: u32 = 320;
const H: u32 = 240;
const JOINT_PERIOD_NS: u64 = 5_000_000;
const CAMERA_PERIOD_NS: u64 = 33_333_333;
/// Personal fields every test episode carries; no export may contain them.
const OPERATOR: &str = "Ana Lopez-Garcia";
const SITE: &str = "Building 7, robot lab";

mod common;
use common::lerobot_files::{for_each_frame, python, python_light_check, read_parquet};
use common::{reel, run, stderr};

/// Joint j of arm `arm` at time t (s): a known smooth function.
fn joint_value(arm: usize, j: usize, t: f64) -> f64 {
    (t * (0.7 + 0.3 * j as f64)).sin() * 0.8 + 0.05 * j as f64 + arm as f64
}

/// Camera frame i's acquisition time: 30 Hz with a deterministic ±2 ms jitter.
fn camera_stamp(start: u64, i: u64) -> u64 {
    start + 2_000_000 + i * CAMERA_PERIOD_NS + (i * 7 % 5) * 1_000_000 - 2_000_000
}

struct Spec {
    task: &'static str,
    seconds: f64,
    /// Camera frames left out (a stall), as a frame range.
    camera_gap: Option<std::ops::Range<u64>>,
    lidar: bool,
}

impl Spec {
    /// Cameras and joints without stalls, no LiDAR.
    fn plain(task: &'static str, seconds: f64) -> Self {
        Self {
            task,
            seconds,
            camera_gap: None,
            lidar: false,
        }
    }
}

fn jpeg_with_time(encoder: &mut Encoder, nanos: u64, shade: u8) -> Vec<u8> {
    let mut f = ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUVJ420P, W, H);
    let stride = f.stride(0);
    for (y, row) in f.data_mut(0).chunks_mut(stride).enumerate() {
        for (x, px) in row.iter_mut().enumerate() {
            *px = shade.wrapping_add(((x + y) / 4) as u8);
        }
    }
    timecode::stamp(f.data_mut(0), stride, W as usize, nanos);
    for plane in 1..3 {
        let s = f.stride(plane);
        f.data_mut(plane).fill(128);
        timecode::neutral_chroma(f.data_mut(plane), s, W as usize);
    }
    encoder.encode(&mut f).unwrap().remove(0)
}

/// Writes an episode: follower joint_states at 200 Hz, leader
/// joint_commands at 200 Hz (offset by 2.5 ms), two cameras at ~30 Hz,
/// optionally a LiDAR at 10 Hz with a /tf_static mount.
fn write_episode(path: &Path, start: u64, spec: &Spec) -> PathBuf {
    let mut meta = EpisodeMeta::new(spec.task, "so101");
    meta.rig_config_hash = Some("0".repeat(64));
    meta.operator = Some(OPERATOR.into());
    meta.site = Some(SITE.into());
    let mut w = EpisodeWriter::create(path, meta, EpisodeWriterOptions::default()).unwrap();
    let state = w
        .add_topic::<JointState>("/robot/follower/joint_states")
        .unwrap();
    let cmd = w
        .add_topic::<JointState>("/robot/leader/joint_commands")
        .unwrap();
    let cams = [
        w.add_topic::<CompressedImage>("/camera/front/image/compressed")
            .unwrap(),
        w.add_topic::<CompressedImage>("/camera/wrist/image/compressed")
            .unwrap(),
    ];
    let mut encoder = Encoder::new(Codec::Jpeg, W, H, 30).unwrap();
    let names: Vec<String> = ["pan", "lift", "elbow"].map(String::from).to_vec();
    let end = start + (spec.seconds * 1e9) as u64;
    let mut events: Vec<(u64, u8, u64)> = Vec::new();
    let mut t = start;
    while t <= end {
        events.push((t, 0, 0));
        events.push((t + JOINT_PERIOD_NS / 2, 1, 0));
        t += JOINT_PERIOD_NS;
    }
    let mut i = 0;
    while camera_stamp(start, i) <= end {
        if !spec.camera_gap.as_ref().is_some_and(|g| g.contains(&i)) {
            events.push((camera_stamp(start, i), 2, i));
        }
        i += 1;
    }
    if spec.lidar {
        let tf = w.add_topic::<TFMessage>("/tf_static").unwrap();
        let mount = TransformStamped {
            header: Header::new(start, "base"),
            child_frame_id: "lidar".into(),
            transform: Transform {
                translation: Vector3 {
                    x: 0.5,
                    y: 0.0,
                    z: 1.0,
                },
                rotation: Quaternion {
                    x: 0.0,
                    y: 0.0,
                    z: 0.0,
                    w: 1.0,
                },
            },
        };
        w.write(
            tf,
            &TFMessage {
                transforms: vec![mount],
            },
            start,
            start,
        )
        .unwrap();
        let mut k = 0;
        while start + k * 100_000_000 <= end {
            events.push((start + k * 100_000_000, 3, k));
            k += 1;
        }
    }
    events.sort();
    let lidar = if spec.lidar {
        Some(w.add_topic::<PointCloud2>("/lidar/top/points").unwrap())
    } else {
        None
    };
    for (t, kind, i) in events {
        let secs = (t - start) as f64 / 1e9;
        match kind {
            0 | 1 => {
                let arm = usize::from(kind);
                let msg = JointState {
                    header: Header::new(t, "base"),
                    name: names.clone(),
                    position: (0..3).map(|j| joint_value(arm, j, secs)).collect(),
                    velocity: vec![0.0; 3],
                    effort: vec![0.0; 3],
                };
                w.write(if kind == 0 { state } else { cmd }, &msg, t, t)
                    .unwrap();
            }
            2 => {
                let jpeg = jpeg_with_time(&mut encoder, t, (i * 3) as u8);
                for (c, topic) in cams.iter().enumerate() {
                    let msg = CompressedImage {
                        header: Header::new(t, if c == 0 { "front" } else { "wrist" }),
                        format: "jpeg".into(),
                        data: jpeg.clone(),
                    };
                    w.write(*topic, &msg, t, t).unwrap();
                }
            }
            _ => {
                // 16 rings × 100 azimuths; point time offsets over 0.1 s.
                let mut data = Vec::new();
                for a in 0..100 {
                    for ring in 0..16u16 {
                        let az = f32::from(a as u8) * 0.0628;
                        let el = (f32::from(ring) - 7.5) * 0.035;
                        let r = 5.0f32;
                        for v in [
                            r * el.cos() * az.cos(),
                            r * el.cos() * az.sin(),
                            r * el.sin(),
                            f32::from(ring) * 10.0,
                        ] {
                            data.extend_from_slice(&v.to_le_bytes());
                        }
                        data.extend_from_slice(&ring.to_le_bytes());
                        data.extend_from_slice(&[0, 0]);
                        data.extend_from_slice(&(a as f32 * 0.001).to_le_bytes());
                    }
                }
                let cloud = PointCloud2 {
                    header: Header::new(t, "lidar"),
                    height: 1,
                    width: 1600,
                    fields: PointCloud2::lidar_fields(),
                    is_bigendian: false,
                    point_step: PointCloud2::LIDAR_POINT_STEP,
                    row_step: 1600 * PointCloud2::LIDAR_POINT_STEP,
                    data,
                    is_dense: true,
                };
                let _ = PointField::FLOAT32;
                w.write(lidar.unwrap(), &cloud, t, t).unwrap();
            }
        }
    }
    w.finish().unwrap()
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

/// Time codes read back from every frame of an MP4, in order.
fn video_timecodes(path: &Path) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for_each_frame(path, |f| {
        out.push(timecode::read(f.data(0), f.stride(0), f.width() as usize));
    });
    out
}

fn export(args: &[&str], episodes: &[&Path], out: &Path) -> Output {
    run(reel()
        .args(["export", "lerobot"])
        .args(episodes)
        .arg("--out")
        .arg(out)
        .args(args))
}

#[test]
fn exported_rows_and_video_frames_match_the_source_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_700_000_000_000_000_000;
    let a = write_episode(&dir.path().join("a.mcap"), start, &Spec::plain("pick", 2.0));
    let b = write_episode(
        &dir.path().join("b.mcap"),
        start + 10_000_000_000,
        &Spec::plain("place", 1.5),
    );
    let out = dir.path().join("ds");
    let o = export(
        &["--fps", "30", "--repo-id", "test/exact", "--jobs", "2"],
        &[&a, &b],
        &out,
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta/info.json")).unwrap()).unwrap();
    assert_eq!(info["codebase_version"], "v3.0");
    assert_eq!(info["total_episodes"], 2);
    assert_eq!(info["total_tasks"], 2);
    assert_eq!(
        info["features"]["observation.state"]["names"],
        serde_json::json!(["pan.pos", "lift.pos", "elbow.pos"])
    );
    assert_eq!(
        info["features"]["observation.images.front"]["shape"],
        serde_json::json!([H, W, 3])
    );
    let keys: Vec<&str> = info["features"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "observation.state",
            "action",
            "observation.images.front",
            "observation.images.wrist",
            "timestamp",
            "frame_index",
            "episode_index",
            "index",
            "task_index"
        ]
    );

    let data = read_parquet(&out.join("data/chunk-000/file-000.parquet"));
    assert_eq!(data.len(), 1, "one batch per read here");
    let batch = &data[0];
    let eps = read_parquet(&out.join("meta/episodes/chunk-000/file-000.parquet"));
    let eps = &eps[0];
    assert_eq!(eps.num_rows(), 2);
    // The exact Arrow types LeRobot writes.
    let schema = batch.schema();
    assert_eq!(
        schema
            .field_with_name("observation.state")
            .unwrap()
            .data_type(),
        &arrow_schema::DataType::FixedSizeList(
            Arc::new(arrow_schema::Field::new(
                "element",
                arrow_schema::DataType::Float32,
                true
            )),
            3
        )
    );
    assert_eq!(
        schema.field_with_name("timestamp").unwrap().data_type(),
        &arrow_schema::DataType::Float32
    );
    let state = col::<FixedSizeListArray>(batch, "observation.state");
    let action = col::<FixedSizeListArray>(batch, "action");
    let ts = col::<Float32Array>(batch, "timestamp");
    let index = col::<Int64Array>(batch, "index");
    let from = col::<Int64Array>(eps, "dataset_from_index");
    let to = col::<Int64Array>(eps, "dataset_to_index");
    let vfrom = col::<Float64Array>(eps, "videos/observation.images.front/from_timestamp");
    let timecodes =
        video_timecodes(&out.join("videos/observation.images.front/chunk-000/file-000.mp4"));
    assert_eq!(
        timecodes.len() as i64,
        to.value(1),
        "one video frame per row"
    );
    let mut checked = 0;
    for (e, (ep_start, secs)) in [(start, 2.0f64), (start + 10_000_000_000, 1.5)]
        .into_iter()
        .enumerate()
    {
        // Grid: from the latest first sample (camera frame 0 at +0 ms with
        // jitter −2 ms → start; commands start at +2.5 ms) to the earliest last.
        let first = [
            ep_start,
            ep_start + JOINT_PERIOD_NS / 2,
            camera_stamp(ep_start, 0),
        ]
        .into_iter()
        .max()
        .unwrap();
        let n = (to.value(e) - from.value(e)) as usize;
        let end_nanos = ep_start + (secs * 1e9) as u64;
        assert!(
            n as f64 >= (end_nanos - first) as f64 / 1e9 * 30.0 - 1.0,
            "episode {e}: {n} frames"
        );
        assert!(vfrom.value(e) >= 0.0);
        for k in 0..n {
            let row = from.value(e) as usize + k;
            assert_eq!(index.value(row), row as i64);
            assert_eq!(ts.value(row), (k as f64 / 30.0) as f32);
            let t = first + (k as u128 * 1_000_000_000 / 30) as u64;
            // Joints: linear interpolation of the known samples, as f32.
            let interp = |arm: usize, offset: u64, j: usize| -> f32 {
                let rel = t - ep_start - offset;
                let i0 = rel / JOINT_PERIOD_NS;
                let (t0, t1) = (i0 * JOINT_PERIOD_NS, (i0 + 1) * JOINT_PERIOD_NS);
                let v0 = joint_value(arm, j, (t0 + offset) as f64 / 1e9);
                let v1 = joint_value(arm, j, (t1 + offset) as f64 / 1e9);
                if rel == t0 {
                    v0 as f32
                } else {
                    (v0 + (v1 - v0) * ((rel - t0) as f64 / JOINT_PERIOD_NS as f64)) as f32
                }
            };
            let s = state.value(row);
            let s = s.as_any().downcast_ref::<Float32Array>().unwrap();
            let a = action.value(row);
            let a = a.as_any().downcast_ref::<Float32Array>().unwrap();
            for j in 0..3 {
                assert_eq!(
                    s.value(j),
                    interp(0, 0, j),
                    "episode {e} frame {k} state {j}"
                );
                assert_eq!(
                    a.value(j),
                    interp(1, JOINT_PERIOD_NS / 2, j),
                    "episode {e} frame {k} action {j}"
                );
            }
            // Video: the frame shown is the source frame nearest in time.
            let want = (0..200u64)
                .map(|i| camera_stamp(ep_start, i))
                .min_by_key(|&s| (s as i128 - t as i128).abs())
                .unwrap();
            assert_eq!(
                timecodes[row],
                Some(want),
                "episode {e} frame {k}: wrong or unreadable video frame"
            );
            checked += 1;
        }
    }
    assert!(checked > 100);

    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("---\nlicense: other\n"));
    for needle in [
        "## Data dictionary",
        "`observation.state`",
        "pan.pos",
        "## How to load",
        "| 1 | place |",
    ] {
        assert!(card.contains(needle), "card lacks {needle}");
    }
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta/stats.json")).unwrap()).unwrap();
    assert_eq!(
        stats["observation.images.front"]["mean"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        stats["index"]["max"],
        serde_json::json!([(to.value(1) - 1) as f64])
    );
    python_light_check(&out);

    // The manifest covers every file; any change is reported with exit 3.
    let o = run(reel().arg("check").arg(&out));
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    // One flipped byte in a video is caught (integrity), with the file named.
    let video = std::fs::read_dir(out.join("videos"))
        .unwrap()
        .flat_map(|d| walk(&d.unwrap().path()))
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .unwrap();
    let mut bytes = std::fs::read(&video).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x80;
    std::fs::write(&video, &bytes).unwrap();
    let o = run(reel().args(["check", "--json"]).arg(&out));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let integrity = report["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dimension"] == "integrity")
        .unwrap();
    assert_eq!(integrity["passed"], false, "{integrity}");
    let rel = video
        .strip_prefix(&out)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(report["manifest"]["changed"], serde_json::json!([rel]));
    bytes[middle] ^= 0x80;
    std::fs::write(&video, &bytes).unwrap();
    assert!(run(reel().arg("check").arg(&out)).status.success());

    std::fs::write(out.join("meta/stats.json"), b"{}").unwrap();
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let o = run(reel().arg("check").arg(&out));
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("changed  meta/stats.json") && text.contains("added    notes.txt"),
        "{text}"
    );
}

/// Two "pick" episodes in `dir`: one to export first, one to append (a
/// little longer: the same motion twice would be a duplicate).
fn first_and_appended(dir: &Path) -> (PathBuf, PathBuf) {
    let a = write_episode(
        &dir.join("a.mcap"),
        1_000_000_000,
        &Spec::plain("pick", 1.0),
    );
    let b = write_episode(
        &dir.join("b.mcap"),
        9_000_000_000,
        &Spec::plain("pick", 1.1),
    );
    (a, b)
}

#[test]
fn append_adds_episodes_without_touching_the_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = first_and_appended(dir.path());
    let out = dir.path().join("ds");
    let o = export(&["--vcodec", "h264"], &[&a], &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = reel_dataset::manifest::Manifest::read(&out).unwrap();
    assert_eq!(before.version.as_deref(), Some("1.0.0"));
    // Keep release 1.0.0 (hard links: no copy) to compare with the next.
    let old = dir.path().join("ds-1.0.0");
    for f in walk(&out) {
        let dst = old.join(f.strip_prefix(&out).unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::hard_link(&f, &dst).unwrap();
    }
    // A release must be newer than the dataset's.
    let o = export(
        &["--vcodec", "h264", "--dataset-version", "1.0.0"],
        &[&b],
        &out,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not newer than the dataset's 1.0.0"),
        "{}",
        stderr(&o)
    );
    let o = export(
        &["--vcodec", "h264", "--changelog", "a second pick"],
        &[&b],
        &out,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("appended to"));
    let after = reel_dataset::manifest::Manifest::read(&out).unwrap();
    assert_eq!(after.version.as_deref(), Some("1.1.0"));
    assert_eq!(after.changelog.len(), 2);
    assert_eq!(after.changelog[1].note, "a second pick");
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains("Version 1.1.0") && card.contains("| 1.0.0 |"),
        "{card}"
    );
    // Lineage of every episode: what wrote it and from which rig or scenario.
    assert!(after
        .sources
        .iter()
        .all(|s| s.software_version.starts_with("reel ")));
    // `reel diff` names the added episode and the files that changed.
    let o = run(reel().args(["diff", "--json"]).arg(&old).arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["old_version"], "1.0.0");
    assert_eq!(d["new_version"], "1.1.0");
    assert_eq!(d["added"], serde_json::json!([after.sources[1].episode_id]));
    assert_eq!(
        (
            d["removed"].as_array().unwrap().len(),
            d["unchanged"].as_u64()
        ),
        (0, Some(1))
    );
    assert!(d["files_changed"].to_string().contains("meta/info.json"));
    assert!(d["files_added"]
        .to_string()
        .contains("data/chunk-000/file-001.parquet"));
    for f in before.files.iter().filter(|f| {
        f.path.starts_with("data/")
            || f.path.starts_with("videos/")
            || f.path.starts_with("meta/episodes/")
    }) {
        assert!(after.files.contains(f), "{} was rewritten", f.path);
    }
    assert_eq!(after.sources.len(), 2);
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta/info.json")).unwrap()).unwrap();
    assert_eq!(info["total_episodes"], 2);
    assert_eq!(info["total_tasks"], 1);
    assert!(out.join("data/chunk-000/file-001.parquet").exists());
    assert!(out
        .join("videos/observation.images.wrist/chunk-000/file-001.mp4")
        .exists());
    assert!(run(reel().arg("check").arg(&out)).status.success());
    python_light_check(&out);

    // The same episode again is refused; so is a dataset with other settings.
    let o = export(&["--vcodec", "h264"], &[&b], &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is already in"), "{}", stderr(&o));
    let c = write_episode(
        &dir.path().join("c.mcap"),
        20_000_000_000,
        &Spec::plain("pick", 1.0),
    );
    let o = export(&["--fps", "15"], &[&c], &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already holds a different dataset (fps 30 instead of 15)"),
        "{}",
        stderr(&o)
    );
    assert!(
        run(reel().arg("check").arg(&out)).status.success(),
        "a refused append changed the dataset"
    );
}

#[test]
fn frames_a_stream_cannot_supply_are_dropped_or_fail_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let ep = write_episode(
        &dir.path().join("gap.mcap"),
        5_000_000_000,
        &Spec {
            task: "pick",
            seconds: 2.0,
            camera_gap: Some(20..26),
            lidar: false,
        },
    );
    let out = dir.path().join("ds");
    let o = export(&["--vcodec", "h264", "--json"], &[&ep], &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let dropped = s["episodes"][0]["alignment"]["dropped"].as_array().unwrap();
    // Frames 20..25 missing: grid frames more than one period from any
    // remaining frame are dropped (about 4 of them), and named.
    assert!((3..=6).contains(&dropped.len()), "{dropped:?}");
    assert!(dropped[0]["features"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "observation.images.front"));
    let frames = s["episodes"][0]["frames"].as_u64().unwrap();
    assert_eq!(
        frames + dropped.len() as u64,
        s["episodes"][0]["alignment"]["grid_frames"]
            .as_u64()
            .unwrap()
    );
    python_light_check(&out);

    let out2 = dir.path().join("ds2");
    let o = export(&["--on-gap", "fail-episode"], &[&ep], &out2);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("gap.mcap") && err.contains("fail-episode") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out2.exists());
}

#[test]
fn bad_inputs_get_one_line_errors_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_episode(
        &dir.path().join("good.mcap"),
        1_000_000_000,
        &Spec::plain("pick", 1.0),
    );
    let leftovers = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("reel-partial"))
            .collect()
    };
    let check = |o: Output, needles: &[&str]| {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        for n in needles {
            assert!(e.contains(n), "{e} lacks {n}");
        }
    };
    // A mapped topic that the episode lacks.
    let mapping = dir.path().join("map.toml");
    std::fs::write(
        &mapping,
        "[[feature]]\nname = \"observation.state\"\ntopics = [\"/robot/left/joint_states\"]\n",
    )
    .unwrap();
    check(
        export(
            &["--mapping", mapping.to_str().unwrap()],
            &[&good],
            &dir.path().join("o1"),
        ),
        &["good.mcap", "/robot/left/joint_states", "missing"],
    );
    // A corrupt (cut-off) episode.
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    check(
        export(&[], &[&cut], &dir.path().join("o2")),
        &["cut.mcap", "reel recover"],
    );
    // An output directory holding something else.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("x.txt"), b"keep me").unwrap();
    check(
        export(&[], &[&good], &other),
        &["other", "not a LeRobot dataset"],
    );
    assert_eq!(std::fs::read(other.join("x.txt")).unwrap(), b"keep me");
    // A missing file; a file that is not MCAP.
    check(
        export(
            &[],
            &[&dir.path().join("nope.mcap")],
            &dir.path().join("o3"),
        ),
        &["nope.mcap", "no such file"],
    );
    std::fs::write(dir.path().join("text.mcap"), b"hello").unwrap();
    check(
        export(
            &[],
            &[&dir.path().join("text.mcap")],
            &dir.path().join("o4"),
        ),
        &["text.mcap", "not an MCAP file"],
    );
    for o in ["o1", "o2", "o3", "o4"] {
        assert!(!dir.path().join(o).exists(), "{o} was left behind");
    }
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    // `reel check` on a folder without a manifest.
    let o = run(reel().arg("check").arg(&other));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no manifest"), "{}", stderr(&o));
}

#[test]
fn las_export_per_revolution_and_merged_through_tf() {
    let dir = tempfile::tempdir().unwrap();
    let start = 1_800_000_000_000_000_000;
    let ep = write_episode(
        &dir.path().join("lidar.mcap"),
        start,
        &Spec {
            task: "scan",
            seconds: 1.0,
            camera_gap: None,
            lidar: true,
        },
    );
    let out = dir.path().join("las");
    let o = run(reel()
        .args(["export", "las"])
        .arg(&ep)
        .arg("--out")
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let files: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(out.join("top"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files.len(), 11, "0.0 .. 1.0 s at 10 Hz");
    let mut r = las::Reader::from_path(&files[3]).unwrap();
    let h = r.header().clone();
    assert_eq!((h.version().major, h.version().minor), (1, 4));
    assert_eq!(h.number_of_points(), 1600);
    assert_eq!(h.transforms().x.scale, 0.001);
    let pts: Vec<las::Point> = r.points().map(|p| p.unwrap()).collect();
    let t0 = (start + 300_000_000) as f64 / 1e9;
    let times: Vec<f64> = pts.iter().map(|p| p.gps_time.unwrap()).collect();
    assert!((times.iter().cloned().fold(f64::MAX, f64::min) - t0).abs() < 1e-6);
    assert!((times.iter().cloned().fold(f64::MIN, f64::max) - (t0 + 0.099)).abs() < 1e-5);
    assert_eq!(pts.iter().map(|p| p.user_data).max(), Some(15));
    assert_eq!(pts[17].intensity, 10, "ring 1's intensity");
    let p0 = &pts[0];
    assert!(
        (p0.z - 5.0 * (-7.5f64 * 0.035).sin()).abs() < 0.002,
        "{}",
        p0.z
    );

    let merged = dir.path().join("merged");
    let o = run(reel()
        .args(["export", "las", "--merge", "--frame", "base", "--laz"])
        .arg(&ep)
        .arg("--out")
        .arg(&merged));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = las::Reader::from_path(merged.join("top_base.laz")).unwrap();
    assert_eq!(r.header().number_of_points(), 11 * 1600);
    let p = r.points().next().unwrap().unwrap();
    assert!(
        (p.z - (1.0 + 5.0 * (-7.5f64 * 0.035).sin())).abs() < 0.002,
        "mount z = 1 m: {}",
        p.z
    );
    assert!(
        (p.x - (0.5 + 5.0 * (-7.5f64 * 0.035).cos())).abs() < 0.002,
        "{}",
        p.x
    );
    assert!(run(reel().arg("check").arg(&merged)).status.success());

    let o = run(reel()
        .args(["export", "las", "--merge", "--frame", "map"])
        .arg(&ep)
        .arg("--out")
        .arg(dir.path().join("m2")));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no /tf path"), "{}", stderr(&o));

    if let Some(py) = python() {
        let script = "import laspy,sys\nf=laspy.read(sys.argv[1])\nprint(f.header.point_count, [float(x) for x in f.header.scales], round(float(f.gps_time.min()),6), round(float(f.gps_time.max()),6), int(f.user_data.max()))";
        let o = run(Command::new(py).args(["-c", script]).arg(&files[3]));
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        let fields: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(fields[0], "1600", "{text}");
        assert!(text.contains("[0.001, 0.001, 0.001]"), "{text}");
        assert!(
            (fields[4].parse::<f64>().unwrap() - t0).abs() < 1e-5,
            "{text}"
        );
        assert_eq!(fields[6], "15", "{text}");
    }
}

/// Every file under `p` (or `p` itself).
fn walk(p: &Path) -> Vec<PathBuf> {
    if p.is_dir() {
        std::fs::read_dir(p)
            .unwrap()
            .flat_map(|e| walk(&e.unwrap().path()))
            .collect()
    } else {
        vec![p.to_path_buf()]
    }
}

/// Mean luma inside and outside the top-left quarter of every frame of `path`.
fn quarter_luma(path: &Path) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for_each_frame(path, |f| {
        let (w, h, s) = (f.width() as usize, f.height() as usize, f.stride(0));
        let (mut inside, mut outside) = ((0.0, 0.0), (0.0, 0.0));
        for y in 0..h {
            for x in 0..w {
                let v = f64::from(f.data(0)[y * s + x]);
                let acc = if x < w / 2 && y < h / 2 {
                    &mut inside
                } else {
                    &mut outside
                };
                acc.0 += v;
                acc.1 += 1.0;
            }
        }
        out.push((inside.0 / inside.1, outside.0 / outside.1));
    });
    out
}

#[test]
fn masks_black_out_their_region_in_every_frame_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ep = write_episode(
        &dir.path().join("ep.mcap"),
        5_000_000_000,
        &Spec::plain("pick", 1.5),
    );
    let out = dir.path().join("ds");
    let o = export(
        &["--vcodec", "h264", "--json", "--mask", "front:0,0,0.5,0.5"],
        &[&ep],
        &out,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let frames = s["episodes"][0]["frames"].as_u64().unwrap();
    let video = walk(&out.join("videos/observation.images.front"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .unwrap();
    let luma = quarter_luma(&video);
    assert_eq!(luma.len() as u64, frames);
    for (i, (inside, outside)) in luma.iter().enumerate() {
        assert!(
            *inside < 20.0 && outside - inside > 20.0,
            "frame {i}: {inside} vs {outside}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta/deidentification.json")).unwrap())
            .unwrap();
    assert_eq!(report["masks"][0]["camera"], "front");
    assert_eq!(report["masks"][0]["frames"], frames);
    assert!(report["never_exported"].to_string().contains("operator"));
    // The report is part of the manifest; a bad mask is one clear line.
    assert!(run(reel().arg("check").arg(&out)).status.success());
    python_light_check(&out);
    let o = export(
        &["--mask", "front:0.8,0,0.5,1"],
        &[&ep],
        &dir.path().join("bad"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("inside the image"), "{}", stderr(&o));
}

#[test]
fn annotated_segments_become_a_per_frame_subtask_feature() {
    let dir = tempfile::tempdir().unwrap();
    let ep = write_episode(
        &dir.path().join("ep.mcap"),
        5_000_000_000,
        &Spec::plain("pick", 2.0),
    );
    // Nested segments: the shorter one labels the frames it covers.
    let segments = [
        (0.41, 1.23, "reach"),
        (0.72, 0.93, "touch"),
        (1.37, 1.71, "lift"),
    ];
    let mut cmd = reel();
    cmd.arg("annotate").arg(&ep);
    for (a, b, l) in segments {
        cmd.arg("--add").arg(format!("{a}:{b}:{l}"));
    }
    let o = run(&mut cmd);
    assert!(o.status.success(), "{}", stderr(&o));
    let sidecar: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("ep.mcap.annotations.json")).unwrap(),
    )
    .unwrap();
    let origin_nanos = sidecar["start_ns"].as_i64().unwrap();

    let out = dir.path().join("ds");
    let o = export(&["--vcodec", "h264", "--json"], &[&ep], &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let grid_start = summary["episodes"][0]["alignment"]["start_ns"]
        .as_i64()
        .unwrap();
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta/info.json")).unwrap()).unwrap();
    assert_eq!(info["features"]["subtask_index"]["dtype"], "int64");
    let table = read_parquet(&out.join("meta/subtasks.parquet"));
    let labels: Vec<String> = (0..table[0].num_rows())
        .map(|i| {
            col::<arrow_array::StringArray>(&table[0], "subtask")
                .value(i)
                .to_string()
        })
        .collect();
    assert_eq!(labels, ["reach", "touch", "lift"]);
    let data = read_parquet(&walk(&out.join("data"))[0]);
    let (mut checked, mut per_label) = (0, [0usize; 3]);
    for b in &data {
        let fi = col::<Int64Array>(b, "frame_index");
        let sub = col::<Int64Array>(b, "subtask_index");
        for r in 0..b.num_rows() {
            let t_nanos = grid_start + fi.value(r) * 1_000_000_000 / 30;
            let t = (t_nanos - origin_nanos) as f64 / 1e9;
            if segments
                .iter()
                .any(|(a, e, _)| (t - a).abs() < 1e-3 || (t - e).abs() < 1e-3)
            {
                continue;
            }
            let want = segments
                .iter()
                .enumerate()
                .filter(|(_, (a, e, _))| *a <= t && t < *e)
                .min_by(|x, y| (x.1 .1 - x.1 .0).total_cmp(&(y.1 .1 - y.1 .0)))
                .map_or(-1, |(i, _)| i as i64);
            assert_eq!(sub.value(r), want, "frame {} at {t:.3} s", fi.value(r));
            if want >= 0 {
                per_label[want as usize] += 1;
            }
            checked += 1;
        }
    }
    assert!(
        checked > 50 && per_label.iter().all(|&n| n >= 5),
        "{per_label:?}"
    );
    python_light_check(&out);
    assert!(run(reel().arg("check").arg(&out)).status.success());

    // A dataset exported without subtasks refuses an annotated episode
    // rather than dropping its segments silently.
    let plain = dir.path().join("plain");
    let o = export(&["--vcodec", "h264", "--subtasks", "none"], &[&ep], &plain);
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("meta/info.json")).unwrap()).unwrap();
    assert!(info["features"].get("subtask_index").is_none());
    let ep2 = write_episode(
        &dir.path().join("ep2.mcap"),
        9_000_000_000,
        &Spec::plain("pick", 1.5),
    );
    let o = run(reel()
        .arg("annotate")
        .arg(&ep2)
        .args(["--add", "0.2:0.6:reach"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = export(&["--vcodec", "h264"], &[&ep2], &plain);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no subtask_index"), "{}", stderr(&o));
}

fn json_of(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// observation.state rows of every episode of a dataset, by episode id
/// (through the manifest), in frame order.
fn states_by_episode(root: &Path) -> std::collections::BTreeMap<String, Vec<Vec<f32>>> {
    let manifest = json_of(&root.join("manifest.json"));
    let id_of = |i: i64| -> String {
        manifest["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["episode_index"] == i)
            .unwrap()["episode_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut out: std::collections::BTreeMap<String, Vec<Vec<f32>>> = Default::default();
    let mut last_index = -1;
    for f in walk(&root.join("data")) {
        for b in read_parquet(&f) {
            let ep = col::<Int64Array>(&b, "episode_index");
            let idx = col::<Int64Array>(&b, "index");
            let st = col::<FixedSizeListArray>(&b, "observation.state");
            for r in 0..b.num_rows() {
                assert_eq!(idx.value(r), last_index + 1, "index contiguous");
                last_index = idx.value(r);
                let v = st.value(r);
                let v = v.as_any().downcast_ref::<Float32Array>().unwrap();
                out.entry(id_of(ep.value(r)))
                    .or_default()
                    .push(v.values().to_vec());
            }
        }
    }
    out
}

#[test]
fn filter_and_split_make_new_releases_that_link_the_videos() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let mut eps = Vec::new();
    for (i, task) in ["pick", "pick", "pick", "place", "place", "place"]
        .iter()
        .enumerate()
    {
        let ep = write_episode(
            &dir.path().join(format!("ep{i}.mcap")),
            (10 + 5 * i as u64) * 1_000_000_000,
            &Spec::plain(task, 1.0 + 0.1 * i as f64),
        );
        let outcome = if i == 1 { "--failure" } else { "--success" };
        let mut cmd = reel();
        cmd.arg("annotate").arg(&ep).arg(outcome);
        if i == 0 {
            cmd.args(["--add", "0.2:0.6:reach"]);
        }
        assert!(run(&mut cmd).status.success());
        eps.push(ep);
    }
    let src = dir.path().join("ds");
    let refs: Vec<&Path> = eps.iter().map(PathBuf::as_path).collect();
    let o = export(&["--vcodec", "h264"], &refs, &src);
    assert!(o.status.success(), "{}", stderr(&o));
    let src_states = states_by_episode(&src);

    // Filter: the failed episode goes; the rest keep their rows exactly.
    let filtered = dir.path().join("filtered");
    let o = run(reel()
        .arg("filter")
        .arg(&src)
        .arg("--out")
        .arg(&filtered)
        .args(["--drop-failed", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["kept"].as_array().unwrap().len(), 5);
    assert_eq!(summary["dropped"][0]["index"], 1);
    assert_eq!(summary["version"], "2.0.0");
    assert_eq!(summary["copied_bytes"], 0);
    assert!(summary["linked_bytes"].as_u64().unwrap() > 0);
    let states = states_by_episode(&filtered);
    assert_eq!(states.len(), 5);
    for (id, rows) in &states {
        assert_eq!(rows, &src_states[id], "episode {id} rows differ");
    }
    let info = json_of(&filtered.join("meta/info.json"));
    let frames: usize = states.values().map(Vec::len).sum();
    assert_eq!(info["total_frames"], frames);
    let stats = json_of(&filtered.join("meta/stats.json"));
    assert_eq!(stats["observation.state"]["count"][0], frames);
    assert_eq!(stats["episode_index"]["max"][0], 4.0);
    // The videos are the source's files, linked.
    for v in walk(&filtered.join("videos")) {
        let rel = v.strip_prefix(&filtered).unwrap();
        assert_eq!(
            std::fs::metadata(&v).unwrap().ino(),
            std::fs::metadata(src.join(rel)).unwrap().ino()
        );
    }
    assert!(filtered.join("meta/subtasks.parquet").exists());
    let manifest = json_of(&filtered.join("manifest.json"));
    assert_eq!(manifest["derived_from"]["version"], "1.0.0");
    assert!(std::fs::read_to_string(filtered.join("README.md"))
        .unwrap()
        .contains("filter: kept 5 of 6"));
    python_light_check(&filtered);
    for d in [&src, &filtered] {
        let o = run(reel().arg("check").arg(d));
        assert!(o.status.success(), "{}: {}", d.display(), stderr(&o));
    }
    let o = run(reel().arg("diff").arg(&src).arg(&filtered).arg("--json"));
    let diff: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(diff["removed"].as_array().unwrap().len(), 1);

    // Split: per task one of three episodes to val, the same for the
    // same seed; train first, then val.
    let split = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = run(reel()
            .arg("split")
            .arg(&src)
            .arg("--out")
            .arg(&out)
            .args(["--val", "0.3", "--seed", seed]));
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let (s1, s2) = (split("s1", "7"), split("s2", "7"));
    let info = json_of(&s1.join("meta/info.json"));
    assert_eq!(
        info["splits"],
        serde_json::json!({"train": "0:4", "val": "4:6"})
    );
    let order = |d: &Path| -> Vec<String> {
        json_of(&d.join("manifest.json"))["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{} {}", s["episode_id"], s["task"]))
            .collect()
    };
    assert_eq!(order(&s1), order(&s2));
    let val_tasks: Vec<String> = order(&s1)[4..].to_vec();
    assert!(
        val_tasks[0].ends_with("\"pick\"") != val_tasks[1].ends_with("\"pick\""),
        "one val episode per task: {val_tasks:?}"
    );
    assert_eq!(states_by_episode(&s1), src_states);
    python_light_check(&s1);
    assert!(run(reel().arg("check").arg(&s1)).status.success());

    // Bad input: one line, nothing left behind.
    let bad = dir.path().join("bad");
    let o = run(reel()
        .arg("filter")
        .arg(&src)
        .arg("--out")
        .arg(&bad)
        .args(["--task", "stack"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no episode is left"), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    assert!(!bad.exists());
    let o = run(reel().arg("split").arg(&filtered).arg("--out").arg(&s1));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    let o = run(reel().arg("filter").arg(dir.path()).arg("--out").arg(&bad));
    assert!(stderr(&o).contains("info.json"), "{}", stderr(&o));
}

/// Files under `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    walk(root)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .collect()
}

#[test]
fn operators_and_sites_are_left_out_or_pseudonymised_with_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let eps: Vec<PathBuf> = (0..2)
        .map(|i| {
            write_episode(
                &dir.path().join(format!("ep{i}.mcap")),
                (3 + 4 * i) * 1_000_000_000,
                &Spec::plain("pick", 1.0),
            )
        })
        .collect();
    let refs: Vec<&Path> = eps.iter().map(PathBuf::as_path).collect();
    // Without a key: left out, and reported.
    let plain = dir.path().join("plain");
    assert!(export(&["--vcodec", "h264"], &refs, &plain)
        .status
        .success());
    let report = json_of(&plain.join("meta/deidentification.json"));
    assert_eq!(report["operator_removed_from"].as_array().unwrap().len(), 2);
    assert_eq!(report["site_removed_from"].as_array().unwrap().len(), 2);
    assert!(json_of(&plain.join("manifest.json"))["sources"][0]
        .get("operator")
        .is_none());
    // With a key: the same person gets the same pseudonym; names never appear.
    let key = dir.path().join("key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let keyed = dir.path().join("keyed");
    let o = export(
        &["--vcodec", "h264", "--pseudonym-key", key.to_str().unwrap()],
        &refs,
        &keyed,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sources = json_of(&keyed.join("manifest.json"))["sources"].clone();
    let op = sources[0]["operator"].as_str().unwrap().to_string();
    assert!(
        op.starts_with("operator-") && op.len() == "operator-".len() + 12,
        "{op}"
    );
    assert_eq!(sources[1]["operator"], op.as_str());
    assert!(sources[0]["site"].as_str().unwrap().starts_with("site-"));
    assert!(std::fs::read_to_string(keyed.join("README.md"))
        .unwrap()
        .contains(&op));
    let report = json_of(&keyed.join("meta/deidentification.json"));
    assert_eq!(report["pseudonymised_in"].as_array().unwrap().len(), 2);
    for d in [&plain, &keyed] {
        for needle in [OPERATOR, SITE] {
            assert!(
                files_containing(d, needle).is_empty(),
                "{needle} in {}",
                d.display()
            );
        }
    }
    // Another key gives other pseudonyms; a short key is refused.
    std::fs::write(&key, [8u8; 32]).unwrap();
    let other = dir.path().join("other");
    assert!(export(
        &["--vcodec", "h264", "--pseudonym-key", key.to_str().unwrap()],
        &refs[..1],
        &other
    )
    .status
    .success());
    assert_ne!(
        json_of(&other.join("manifest.json"))["sources"][0]["operator"],
        op.as_str()
    );
    std::fs::write(&key, b"short").unwrap();
    let o = export(
        &["--pseudonym-key", key.to_str().unwrap()],
        &refs[..1],
        &dir.path().join("bad"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("at least 16 bytes"), "{}", stderr(&o));
}

/// `reel check --json` on `dir`: (exit code, failed checks as "check: message").
fn failed_checks(dir: &Path) -> (Option<i32>, Vec<String>) {
    let o = run(reel().arg("check").arg("--json").arg(dir));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| format!("{}: {}", c["check"].as_str().unwrap(), c["message"]))
        .collect();
    (o.status.code(), failed)
}

#[test]
fn check_reads_an_exported_datasets_tables_and_videos() {
    let dir = tempfile::tempdir().unwrap();
    // Two recordings of the same motion under different episode ids.
    let a = write_episode(
        &dir.path().join("a.mcap"),
        2_000_000_000,
        &Spec::plain("pick", 1.0),
    );
    let b = write_episode(
        &dir.path().join("b.mcap"),
        2_000_000_000,
        &Spec::plain("pick", 1.0),
    );
    let c = write_episode(
        &dir.path().join("c.mcap"),
        6_000_000_000,
        &Spec::plain("pick", 1.2),
    );
    let clean = dir.path().join("clean");
    assert!(export(&["--vcodec", "h264"], &[&a, &c], &clean)
        .status
        .success());
    let (code, failed) = failed_checks(&clean);
    assert_eq!((code, failed.len()), (Some(0), 0), "{failed:?}");
    let o = run(reel().arg("check").arg("--json").arg(&clean));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for n in [
        "episode-rows",
        "videos",
        "indices",
        "timestamps",
        "stats",
        "duplicate-episodes",
    ] {
        assert!(names.contains(&n), "{n} not checked: {names:?}");
    }

    let dup = dir.path().join("dup");
    assert!(export(&["--vcodec", "h264"], &[&a, &b], &dup)
        .status
        .success());
    let (code, failed) = failed_checks(&dup);
    assert_eq!(code, Some(4), "{failed:?}");
    assert!(
        failed.len() == 1 && failed[0].contains("same observation.state trajectory as episode 0"),
        "{failed:?}"
    );

    // A row count that no longer matches, and a lost video file.
    let info_path = clean.join("meta/info.json");
    let mut info = json_of(&info_path);
    info["total_frames"] = serde_json::json!(info["total_frames"].as_u64().unwrap() + 1);
    std::fs::write(&info_path, serde_json::to_vec_pretty(&info).unwrap()).unwrap();
    let video = walk(&clean.join("videos")).remove(0);
    std::fs::remove_file(&video).unwrap();
    let (code, failed) = failed_checks(&clean);
    assert_eq!(code, Some(3), "{failed:?}");
    let all = failed.join("\n");
    for needle in [
        "indices: ",
        "for total_frames",
        "videos: ",
        "missing or not a readable MP4",
        "manifest: ",
    ] {
        assert!(all.contains(needle), "{needle} not in {all}");
    }
}

/// Every file of `root` with its bytes.
fn snapshot(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    walk(root)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(root).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// Damaged copies of a dataset file: cut at several places, bytes flipped,
/// and what its format's header or footer claims made absurd.
fn damaged_table_bytes(name: &str, original: &[u8]) -> Vec<(String, Vec<u8>)> {
    let n = original.len();
    let mut cases = Vec::new();
    for cut in [0, 1, n / 3, n / 2, n.saturating_sub(9), n.saturating_sub(1)] {
        cases.push((format!("cut at {cut}"), original[..cut].to_vec()));
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for k in 0..6 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let mut b = original.to_vec();
        let at = (seed >> 33) as usize % n.max(1);
        if let Some(x) = b.get_mut(at) {
            *x ^= 0x5A;
        }
        cases.push((format!("flip {k} at {at}"), b));
    }
    if name.ends_with(".parquet") && n >= 8 {
        // The footer length (4 bytes before the closing PAR1): 2 GB.
        let mut b = original.to_vec();
        b[n - 8..n - 4].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        cases.push(("footer claims 2 GB".into(), b));
    }
    if name.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_slice(original).unwrap();
        let mut mutate = |what: &str, f: &dyn Fn(&mut serde_json::Value)| {
            let mut m = v.clone();
            f(&mut m);
            cases.push((what.to_string(), serde_json::to_vec(&m).unwrap()));
        };
        mutate("total_frames 1e18", &|m| {
            m["total_frames"] = serde_json::json!(1_000_000_000_000_000_000u64)
        });
        mutate("total_episodes huge", &|m| {
            m["total_episodes"] = serde_json::json!(u64::MAX)
        });
        mutate("fps 0", &|m| m["fps"] = serde_json::json!(0));
        mutate("fps negative", &|m| m["fps"] = serde_json::json!(-30));
        mutate("features a string", &|m| {
            m["features"] = serde_json::json!("x")
        });
        mutate("no features", &|m| {
            m.as_object_mut().unwrap().remove("features");
        });
        mutate("chunks_size 0", &|m| {
            m["chunks_size"] = serde_json::json!(0)
        });
        mutate("data_path escapes", &|m| {
            m["data_path"] = serde_json::json!("../../../etc/{chunk_index}{file_index}")
        });
        mutate("shape enormous", &|m| {
            if let Some(feats) = m["features"].as_object_mut() {
                for f in feats.values_mut() {
                    f["shape"] = serde_json::json!([1_000_000_000_000u64, 1_000_000]);
                }
            }
        });
        mutate("every count a string", &|m| {
            for s in m.as_object_mut().unwrap().values_mut() {
                for v in s.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                    *v = serde_json::json!("many");
                }
            }
        });
    }
    cases
}

/// A damaged table or JSON in an existing release, fed to append (export
/// into it), `reel split` and `reel filter`: an error naming the file or a
/// result, never a crash or an allocation of what the file claims, and,
/// when refused, every file already there left as it was.
#[test]
fn damaged_dataset_files_are_refused_on_append_curation_and_merge_without_touching_the_release() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = first_and_appended(dir.path());
    let clean = dir.path().join("clean");
    let o = export(&["--vcodec", "h264"], &[&a], &clean);
    assert!(o.status.success(), "{}", stderr(&o));
    let targets = [
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        "meta/episodes/chunk-000/file-000.parquet",
        "data/chunk-000/file-000.parquet",
    ];
    let (mut runs, mut refused) = (0, 0);
    for target in targets {
        let original = std::fs::read(clean.join(target)).unwrap();
        for (what, bytes) in damaged_table_bytes(target, &original) {
            for name in ["append", "split", "filter", "merge"] {
                // A fresh damaged copy of the release for each command.
                let case = dir.path().join("case");
                let _ = std::fs::remove_dir_all(&case);
                for (rel, content) in snapshot(&clean) {
                    std::fs::create_dir_all(case.join(&rel).parent().unwrap()).unwrap();
                    std::fs::write(case.join(&rel), content).unwrap();
                }
                std::fs::write(case.join(target), &bytes).unwrap();
                let before = snapshot(&case);
                let _ = std::fs::remove_dir_all(dir.path().join("derived"));
                let mut cmd = reel();
                match name {
                    "append" => cmd
                        .args(["export", "lerobot"])
                        .arg(&b)
                        .arg("--out")
                        .arg(&case)
                        .args(["--vcodec", "h264"]),
                    "split" => cmd
                        .arg("split")
                        .arg(&case)
                        .arg("--out")
                        .arg(dir.path().join("derived"))
                        .args(["--val", "0.5"]),
                    "filter" => cmd
                        .arg("filter")
                        .arg(&case)
                        .arg("--out")
                        .arg(dir.path().join("derived"))
                        .arg("--drop-failed"),
                    _ => cmd
                        .arg("merge")
                        .arg(&case)
                        .arg(&clean)
                        .arg("--out")
                        .arg(dir.path().join("derived")),
                };
                let o = run(&mut cmd);
                runs += 1;
                let err = stderr(&o);
                let label = format!("{name} with {target} {what}");
                let code = o.status.code();
                assert!(
                    matches!(code, Some(0..=4)),
                    "{label}: exit {code:?} (a crash?): {err}"
                );
                if code != Some(0) {
                    refused += 1;
                    let last = err.trim().lines().last().unwrap_or_default();
                    assert!(
                        !last.is_empty() && !last.contains("panicked"),
                        "{label}: {err}"
                    );
                    assert!(
                        snapshot(&case) == before,
                        "{label}: refused, yet the release changed"
                    );
                    assert!(
                        !dir.path().join("derived").exists(),
                        "{label}: refused, yet it left a dataset"
                    );
                }
            }
        }
    }
    println!("{runs} runs on damaged releases, {refused} refused with an error");
    assert!(
        refused * 2 > runs,
        "most damage went unnoticed: {refused} of {runs}"
    );
}

#[test]
fn cameras_too_small_for_av1_get_one_line_that_says_to_use_h264() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.toml");
    reel_testkit::short_scenario::write_short_scenario(
        &common::workspace().join("samples"),
        &scenario,
        0.5,
        (48, 36),
        &common::workspace().join("samples/robots/so101/so101_new_calib.urdf"),
    );
    let episodes = dir.path().join("episodes");
    common::simulate(&scenario, &episodes, ["--episodes", "1"]);
    let o = export(&["--fps", "15"], &[&episodes], &dir.path().join("av1"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("48×36") && err.contains("--vcodec h264") && err.lines().count() == 1,
        "{err}"
    );
    let o = export(
        &["--fps", "15", "--vcodec", "h264"],
        &[&episodes],
        &dir.path().join("h264"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}
