//! Reading an exported LeRobot dataset back in the CLI tests: its parquet
//! tables, its videos frame by frame, and the light third-party check
//! (`scripts/check_lerobot.py`: pyarrow and PyAV, as LeRobot reads).

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::RecordBatch;
use ffmpeg_next as ffmpeg;
use serde_json::Value;

use super::{reel, run, stderr, venv_python, workspace};

/// Every record batch of a parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Every decoded frame of the video at `path`, in order, through `each`.
pub fn for_each_frame(path: &Path, mut each: impl FnMut(&ffmpeg::frame::Video)) {
    reel_media::init();
    let mut input = ffmpeg::format::input(path).unwrap();
    let stream = input.streams().best(ffmpeg::media::Type::Video).unwrap();
    let index = stream.index();
    let mut dec = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut read = |dec: &mut ffmpeg::decoder::Video| {
        let mut f = ffmpeg::frame::Video::empty();
        while dec.receive_frame(&mut f).is_ok() {
            each(&f);
        }
    };
    for (s, p) in input.packets() {
        if s.index() == index {
            dec.send_packet(&p).unwrap();
            read(&mut dec);
        }
    }
    dec.send_eof().unwrap();
    read(&mut dec);
}

/// The venv's Python for the dataset checks (skip recorded without it).
pub fn python() -> Option<PathBuf> {
    venv_python("pyarrow/PyAV/laspy checks")
}

/// `scripts/check_lerobot.py DIR`, which must pass; its output ("" when
/// the venv is absent and the skip was recorded).
pub fn python_light_check(dir: &Path) -> String {
    let Some(py) = python() else {
        return String::new();
    };
    let o = run(Command::new(py)
        .arg(workspace().join("scripts/check_lerobot.py"))
        .arg(dir));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "check_lerobot.py: {out}{}", stderr(&o));
    out
}

pub fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Files under `dir/sub` with extension `ext`, sorted, relative to `dir`.
fn files(dir: &Path, sub: &str, ext: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(sub)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Every frame of a video: its presentation time and a hash of its pixels.
fn frames(path: &Path) -> Vec<(Option<i64>, String)> {
    let mut out = Vec::new();
    for_each_frame(path, |f| {
        // The visible pixels only: the padding at the end of each row is
        // whatever the decoder left there.
        let mut bytes = Vec::new();
        for plane in 0..f.planes() {
            let (width, height, stride) = (
                f.plane_width(plane) as usize,
                f.plane_height(plane) as usize,
                f.stride(plane),
            );
            for row in f.data(plane).chunks(stride).take(height) {
                bytes.extend_from_slice(&row[..width]);
            }
        }
        out.push((f.pts(), reel_episode::sha256_hex(&bytes)));
    });
    out
}

/// Numbers of two stats.json trees within `rel` of each other.
fn assert_close(a: &Value, b: &Value, at: &str, rel: f64) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= rel * x.abs().max(y.abs()).max(1e-300),
                "{at}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (k, (x, y)) in x.iter().zip(y).enumerate() {
                assert_close(x, y, &format!("{at}[{k}]"), rel);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{at}.{k}"), rel);
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// `merged` (from shards) holds what the single export `single` holds:
/// info, tasks, subtask labels, data and episode rows, stats (1e-9), video
/// frames (pixels and times), manifest sources; it passes `reel check` and
/// the light LeRobot check.
pub fn assert_same_dataset(single: &Path, merged: &Path, what: &str) {
    assert_eq!(
        json(&single.join("meta/info.json")),
        json(&merged.join("meta/info.json")),
        "{what}: info.json"
    );
    for table in ["meta/tasks.parquet", "meta/subtasks.parquet"] {
        if !single.join(table).exists() {
            assert!(!merged.join(table).exists(), "{what}: {table}");
            continue;
        }
        assert_eq!(
            read_parquet(&single.join(table)),
            read_parquet(&merged.join(table)),
            "{what}: {table}"
        );
    }
    for (sub, ext) in [("data", "parquet"), ("meta/episodes", "parquet")] {
        let (a, b) = (files(single, sub, ext), files(merged, sub, ext));
        assert_eq!(a, b, "{what}: {sub} files");
        for f in &a {
            assert_eq!(
                read_parquet(&single.join(f)),
                read_parquet(&merged.join(f)),
                "{what}: {f}"
            );
        }
    }
    assert_close(
        &json(&single.join("meta/stats.json")),
        &json(&merged.join("meta/stats.json")),
        "stats",
        1e-9,
    );
    let videos = files(single, "videos", "mp4");
    assert!(!videos.is_empty(), "{what}: no videos");
    assert_eq!(
        videos,
        files(merged, "videos", "mp4"),
        "{what}: video files"
    );
    for v in &videos {
        let (a, b) = (frames(&single.join(v)), frames(&merged.join(v)));
        assert!(!a.is_empty(), "{what}: {v} has no frames");
        assert_eq!(a, b, "{what}: {v} frames");
    }
    let (ms, mm) = (
        json(&single.join("manifest.json")),
        json(&merged.join("manifest.json")),
    );
    let ids = |m: &Value| -> Vec<(Value, Value)> {
        m["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["episode_id"].clone(), s["episode_index"].clone()))
            .collect()
    };
    assert_eq!(ids(&ms), ids(&mm), "{what}: manifest sources");
    let o = run(reel().arg("check").arg(merged));
    assert!(
        o.status.success(),
        "{what}: reel check: {}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    python_light_check(merged);
}
