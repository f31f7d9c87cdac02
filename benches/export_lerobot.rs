#![allow(clippy::unwrap_used, missing_docs)]
//! `reel export lerobot` against LeRobot's own writing path and against
//! FFmpeg alone, side by side in one run on the same episodes:
//!
//! (a) `reel export lerobot` (the release binary): read the MCAP episodes,
//!     align, decode the JPEGs, encode AV1, write tables, stats, manifest;
//! (b) LeRobot (`scripts/bench_lerobot_writer.py`): `LeRobotDataset.create`
//!     + `add_frame` + `save_episode`, fed the same aligned frames already
//!     decoded in memory (decoding is not charged to it);
//! (c) the `ffmpeg` CLI encoding the same raw frames with the same settings
//!     (libsvtav1, g=2, crf=30, preset 12, yuv420p), one run per episode
//!     and camera.
//!
//! Targets: (b)/(a) ≥ 1.5 (the ceiling is (b)/(d), about 2: both encode with
//! SVT-AV1) and (a)/(c) ≤ 1.2. The LeRobot side needs a Python
//! with `lerobot` (REEL_LEROBOT_PYTHON, default `.venv-lerobot/bin/python`,
//! made by `scripts/setup-lerobot.sh`); without it, or without `ffmpeg`,
//! that column is skipped with the reason printed.
//!
//! Size: REEL_BENCH_EPISODES (default 3) episodes of REEL_BENCH_SECONDS
//! (default 10) s, two 640×480 cameras at 30 fps, 6+6 joints at 200 Hz.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use reel_dataset::lerobot::mapping::Mapping;
use reel_dataset::lerobot::plan::{plan_episode, GapPolicy};
use reel_dataset::source::SourceEpisode;
use reel_episode::ros2::sensor_msgs::{CompressedImage, JointState};
use reel_episode::ros2::std_msgs::Header;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};
use reel_media::camera::{open_input, video_decoder, Codec, Converter, Encoder, Source};
use reel_media::{decode_jpeg, to_rgb24};

const W: u32 = 640;
const H: u32 = 480;
const FPS: u32 = 30;
const CAMERAS: [&str; 2] = ["front", "wrist"];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `count` JPEG frames of FFmpeg's testsrc2 (moving, textured content).
fn testsrc_jpegs(count: usize) -> Vec<Vec<u8>> {
    let mut input = open_input(&Source::TestSrc2, W, H, FPS, None, || false).unwrap();
    let (mut dec, index, _, _) = video_decoder(&input).unwrap();
    let mut conv = Converter::new(Encoder::pixel_format(Codec::Jpeg), W, H);
    let mut enc = Encoder::new(Codec::Jpeg, W, H, FPS).unwrap();
    let mut out = Vec::new();
    for (s, p) in input.packets() {
        if s.index() != index {
            continue;
        }
        dec.send_packet(&p).unwrap();
        let mut f = ffmpeg_next::frame::Video::empty();
        while dec.receive_frame(&mut f).is_ok() {
            let mut y = conv.run(&f).unwrap();
            out.extend(enc.encode(&mut y).unwrap());
        }
        if out.len() >= count {
            break;
        }
    }
    out.truncate(count);
    out
}

fn write_episode(path: &Path, start: u64, seconds: f64, jpegs: &[Vec<u8>], task: &str) {
    let mut w = EpisodeWriter::create(
        path,
        EpisodeMeta::new(task, "so101"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    let state = w
        .add_topic::<JointState>("/robot/follower/joint_states")
        .unwrap();
    let cmd = w
        .add_topic::<JointState>("/robot/leader/joint_commands")
        .unwrap();
    let cams: Vec<_> = CAMERAS
        .iter()
        .map(|c| {
            w.add_topic::<CompressedImage>(&topics::camera_image(c))
                .unwrap()
        })
        .collect();
    let names: Vec<String> = reel_testkit::synthetic_rig::SO101_JOINTS
        .map(String::from)
        .to_vec();
    let end = start + (seconds * 1e9) as u64;
    let mut next_joint = start;
    let mut frame = 0u64;
    loop {
        let next_cam = start + 1_000_000 + frame * 1_000_000_000 / u64::from(FPS);
        if next_joint > end && next_cam > end {
            break;
        }
        if next_joint <= next_cam {
            let t = (next_joint - start) as f64 / 1e9;
            for (topic, phase) in [(state, 0.0), (cmd, 0.02)] {
                let msg = JointState {
                    header: Header::new(next_joint, "base"),
                    name: names.clone(),
                    position: (0..6)
                        .map(|j| ((t + phase) * (0.5 + 0.2 * j as f64)).sin())
                        .collect(),
                    velocity: vec![0.0; 6],
                    effort: vec![0.0; 6],
                };
                w.write(topic, &msg, next_joint, next_joint).unwrap();
            }
            next_joint += 5_000_000;
        } else {
            for (c, topic) in cams.iter().enumerate() {
                let jpeg = &jpegs[(frame as usize + c * 97) % jpegs.len()];
                let msg = CompressedImage {
                    header: Header::new(next_cam, CAMERAS[c]),
                    format: "jpeg".into(),
                    data: jpeg.clone(),
                };
                w.write(*topic, &msg, next_cam, next_cam).unwrap();
            }
            frame += 1;
        }
    }
    w.finish().unwrap();
}

/// The aligned frames of `episode` as raw RGB24 per camera and f32 rows,
/// exactly the frames reel encodes (its own plan), for (b) and (c).
fn dump_raw(episode: &Path, dir: &Path, e: usize) -> serde_json::Value {
    let ep = SourceEpisode::read(episode).unwrap();
    let mapping = Mapping::default_for(&ep).unwrap();
    let plan = plan_episode(&ep, &mapping, FPS, GapPolicy::DropFrame).unwrap();
    let reader = reel_episode::EpisodeReader::open(episode).unwrap();
    let mut cameras = serde_json::Map::new();
    for (key, ordinals) in &plan.cameras {
        let topic = format!(
            "/camera/{}/image/compressed",
            key.trim_start_matches("observation.images.")
        );
        let jpegs: Vec<Vec<u8>> = reader
            .messages()
            .map(|m| m.unwrap())
            .filter(|m| m.channel.topic == topic)
            .enumerate()
            .map(|(i, m)| reader.decode::<CompressedImage>(&m, i as u64).unwrap().data)
            .collect();
        let mut raw = Vec::with_capacity(ordinals.len() * (W * H * 3) as usize);
        for &o in ordinals {
            let rgb = to_rgb24(&decode_jpeg(&jpegs[o]).unwrap()).unwrap();
            for y in 0..H as usize {
                raw.extend_from_slice(
                    &rgb.data(0)[y * rgb.stride(0)..y * rgb.stride(0) + W as usize * 3],
                );
            }
        }
        let path = dir.join(format!("ep{e}-{key}.rgb"));
        std::fs::write(&path, raw).unwrap();
        cameras.insert(key.clone(), path.to_string_lossy().into());
    }
    let mut files = serde_json::Map::new();
    for (name, _, values) in &plan.joints {
        let path = dir.join(format!("ep{e}-{name}.f32"));
        std::fs::write(
            &path,
            values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        files.insert(name.clone(), path.to_string_lossy().into());
    }
    serde_json::json!({
        "task": ep.meta.task,
        "frames": plan.frames,
        "cameras": cameras,
        "state": files["observation.state"],
        "action": files["action"],
    })
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            dir_size(&e.path())
        } else {
            m.len()
        };
    }
    total
}

fn main() {
    let episodes = env_num("REEL_BENCH_EPISODES", 3) as usize;
    let seconds = env_num("REEL_BENCH_SECONDS", 10) as f64;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-export");
    let _ = std::fs::remove_dir_all(&root);
    let src = root.join("episodes");
    let raw = root.join("raw");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&raw).unwrap();

    println!("export benchmark: {episodes} episodes × {seconds} s, 2 cameras {W}x{H} JPEG @ {FPS}, 6+6 joints @ 200 Hz");
    let jpegs = testsrc_jpegs(300);
    let mut files = Vec::new();
    for e in 0..episodes {
        let p = src.join(format!("ep{e:03}.mcap"));
        write_episode(
            &p,
            1_000_000_000_000 + e as u64 * 100_000_000_000,
            seconds,
            &jpegs,
            "pick the cube",
        );
        files.push(p);
    }
    let job_eps: Vec<serde_json::Value> = files
        .iter()
        .enumerate()
        .map(|(e, f)| dump_raw(f, &raw, e))
        .collect();
    let frames: u64 = job_eps.iter().map(|e| e["frames"].as_u64().unwrap()).sum();
    let video_frames = frames * CAMERAS.len() as u64;
    let first = SourceEpisode::read(&files[0]).unwrap();
    let names = |topic: &str| -> Vec<String> {
        first.joints[topic]
            .names
            .iter()
            .map(|n| format!("{n}.pos"))
            .collect()
    };
    let job = serde_json::json!({
        "fps": FPS, "width": W, "height": H, "crf": 30, "g": 2, "preset": 12,
        "cameras": CAMERAS.iter().map(|c| format!("observation.images.{c}")).collect::<Vec<_>>(),
        "state_names": names("/robot/follower/joint_states"),
        "action_names": names("/robot/leader/joint_commands"),
        "episodes": job_eps,
    });
    let job_path = root.join("job.json");
    std::fs::write(&job_path, serde_json::to_vec_pretty(&job).unwrap()).unwrap();
    println!("{frames} dataset frames, {video_frames} video frames to encode");

    // (a) reel.
    let out_a = root.join("reel-dataset");
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["export", "lerobot"])
        .args(&files)
        .arg("--out")
        .arg(&out_a)
        .output()
        .unwrap();
    let reel_s = t.elapsed().as_secs_f64();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    println!(
        "(a) reel export lerobot    {reel_s:8.2} s  {:7.1} video frames/s  {:6.1}× real time  {:.1} MB",
        video_frames as f64 / reel_s,
        frames as f64 / f64::from(FPS) / reel_s,
        dir_size(&out_a) as f64 / 1e6
    );

    // (c) FFmpeg alone.
    let ffmpeg_s = if Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let t = Instant::now();
        for (e, ep) in job["episodes"].as_array().unwrap().iter().enumerate() {
            for (key, path) in ep["cameras"].as_object().unwrap() {
                let o = Command::new("ffmpeg")
                    .args([
                        "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    ])
                    .arg(format!("{W}x{H}"))
                    .args(["-r", &FPS.to_string(), "-i", path.as_str().unwrap()])
                    .args([
                        "-c:v",
                        "libsvtav1",
                        "-g",
                        "2",
                        "-crf",
                        "30",
                        "-preset",
                        "12",
                    ])
                    .args(["-svtav1-params", "fast-decode=0", "-pix_fmt", "yuv420p"])
                    .arg(raw.join(format!("ep{e}-{key}.mp4")))
                    .env("SVT_LOG", "1")
                    .output()
                    .unwrap();
                assert!(
                    o.status.success(),
                    "ffmpeg: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "(c) ffmpeg CLI, encode only {s:8.2} s  {:7.1} video frames/s",
            video_frames as f64 / s
        );
        Some(s)
    } else {
        println!("(c) SKIPPED: no `ffmpeg` on PATH (scripts/setup-lerobot.sh installs it)");
        None
    };

    // (b) LeRobot.
    let py = std::env::var_os("REEL_LEROBOT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-lerobot/bin/python")
        });
    let python_run = |out: &Path, extra: &[&str]| -> f64 {
        let o = Command::new(&py)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_lerobot_writer.py"))
            .arg(&job_path)
            .arg(out)
            .args(extra)
            .env("SVT_LOG", "1")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "lerobot: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let line = String::from_utf8_lossy(&o.stdout);
        let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
        v["seconds"].as_f64().unwrap()
    };
    let lerobot_s = if py.exists() {
        let out_b = root.join("lerobot-dataset");
        let s = python_run(&out_b, &[]);
        println!(
            "(b) lerobot create/add_frame/save_episode {s:8.2} s  {:7.1} video frames/s  {:.1} MB",
            video_frames as f64 / s,
            dir_size(&out_b) as f64 / 1e6
        );
        let d = python_run(&root.join("pyav-encode"), &["--encode-only"]);
        println!(
            "(d) PyAV encode only (LeRobot's FFmpeg/SVT-AV1) {d:8.2} s  {:7.1} video frames/s",
            video_frames as f64 / d
        );
        println!(
            "  lerobot's time beyond its own encoder: {:.2} s ({:.0}%)",
            s - d,
            (s - d) / s * 100.0
        );
        Some((s, d))
    } else {
        println!("(b) SKIPPED: no Python with lerobot at {} (run scripts/setup-lerobot.sh or set REEL_LEROBOT_PYTHON)", py.display());
        None
    };

    println!("ratios (same run):");
    let mut targets = reel_testkit::targets::Targets::new();
    match lerobot_s {
        Some((b, d)) => {
            // Both spend most of their time in the same SVT-AV1 encoder, so
            // the ratio cannot exceed lerobot's time over its encode-only
            // time (reel with zero cost beyond encoding): about 2 on this
            // machine. The target is 1.5, three quarters of that ceiling.
            println!(
                "  lerobot / reel = {:.2}×   (target ≥ 1.5; ceiling lerobot / its encoder alone = {:.2}×)",
                b / reel_s,
                b / d
            );
            targets.at_least("lerobot time / reel time", b / reel_s, 1.5);
        }
        None => targets.unmeasured("lerobot time / reel time", "no lerobot"),
    }
    match ffmpeg_s {
        Some(c) => {
            println!("  reel / ffmpeg-alone = {:.2}   (target ≤ 1.2)", reel_s / c);
            targets.at_most("reel time / ffmpeg encode-only time", reel_s / c, 1.2);
        }
        None => targets.unmeasured("reel time / ffmpeg encode-only time", "no ffmpeg"),
    }
    targets.finish();
}
