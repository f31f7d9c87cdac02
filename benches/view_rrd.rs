#![allow(clippy::unwrap_used)]
//! `reel view --save` speed and memory, printed next to the targets:
//!
//! 1. the bimanual sample episode (recorded from `samples/rigs/bimanual-emulated.toml`
//!    with `reel record --emulate`: 4 × 7-DoF arms at 200 Hz, 3 cameras 640×480 at
//!    30 fps, a VLP-16 at 10 Hz; 30 s) converted to `.rrd`, as a multiple of real time
//!    (target ≥ 20×), side by side with rerun's own MCAP importer
//!    (`rerun mcap convert`, from the set-up's venv) on the same file;
//! 2. a 10-minute episode (synthetic SO-101-like rig: 2 cameras 320×240 JPEG at
//!    30 fps, 6 joints at 200 Hz, a 2 000-point LiDAR at 10 Hz): time until the
//!    first camera frame has left for the file (target < 2 s);
//! 3. peak memory of converting 1 and 10 minutes of that rig, sampled from
//!    /proc every 20 ms: anonymous memory (heap) must stay flat; file-backed
//!    pages of the memory-mapped episode are page cache the kernel can drop.
//!
//! `cargo bench --bench view_rrd` (release). REEL_BENCH_LONG_MINUTES sets the
//! long episode's length (default 10); REEL_BENCH_KEEP=DIR keeps the long
//! episodes in DIR.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bimanual::{record_bimanual, reel};
use reel_episode::{EpisodeMeta, EpisodeReader, EpisodeWriter, EpisodeWriterOptions};
use reel_testkit::synthetic_rig::{generate_mix, RigMix, RigTopics};

/// Peak (RssAnon, RssFile) in MB of a running child, sampled until it exits.
fn run_sampling(mut cmd: Command) -> (Duration, f64, f64, String) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let (mut anon, mut file) = (0.0f64, 0.0f64);
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            let get = |key: &str| -> f64 {
                s.lines()
                    .find(|l| l.starts_with(key))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
                    / 1024.0
            };
            anon = anon.max(get("RssAnon:"));
            file = file.max(get("RssFile:"));
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = t.elapsed();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        elapsed,
        anon,
        file,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn episode_seconds(path: &Path) -> f64 {
    let r = EpisodeReader::open(path).unwrap();
    let s = r.summary().unwrap().stats.as_ref().unwrap();
    (s.message_end_time - s.message_start_time) as f64 * 1e-9
}

fn synthetic(path: &Path, seconds: f64) -> PathBuf {
    let mix = RigMix::so101(320, 240, 30, 2000);
    let mut w = EpisodeWriter::create(
        path,
        EpisodeMeta::new("long", "so101"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    let topics = RigTopics::register(&mut w, &mix).unwrap();
    // In 60 s slices so the generator never holds ten minutes of messages.
    let start = 1_790_000_000_000_000_000u64;
    let mut t = 0.0;
    while t < seconds {
        let slice = (seconds - t).min(60.0);
        for m in generate_mix(&mix, start + (t * 1e9) as u64, slice) {
            if matches!(
                m.message,
                reel_testkit::synthetic_rig::RigMessage::TfStatic(_)
            ) && t > 0.0
            {
                continue;
            }
            topics.write(&mut w, &m).unwrap();
        }
        t += slice;
    }
    w.finish().unwrap()
}

/// Peak of live heap allocations (MB) of converting `episode`, from
/// heaptrack (Debian's `heaptrack`), if installed: RssAnon also counts what
/// the allocator keeps after frees, which varies run to run.
fn peak_heap_mb(episode: &Path, rrd: &Path) -> Option<f64> {
    let out_base = rrd.with_extension("heaptrack");
    let status = Command::new("heaptrack")
        .arg("-o")
        .arg(&out_base)
        .arg(env!("CARGO_BIN_EXE_reel"))
        .arg("view")
        .arg(episode)
        .arg("--save")
        .arg(rrd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let data = out_base.with_extension("heaptrack.zst");
    let printed = Command::new("heaptrack_print").arg(&data).output().ok()?;
    let _ = std::fs::remove_file(&data);
    let text = String::from_utf8_lossy(&printed.stdout);
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("peak heap memory consumption: "))?
        .trim();
    let (number, unit) = value.split_at(value.find(|c: char| c.is_alphabetic())?);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "G" => number * 1024.0,
        "M" => number,
        "K" => number / 1024.0,
        _ => number / 1024.0 / 1024.0,
    })
}

fn first_frame_ms(json: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["recordings"][0]["first_frame_ms"]
        .as_f64()
        .unwrap_or(f64::NAN)
}

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let long_minutes: f64 = std::env::var("REEL_BENCH_LONG_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);

    // 1. The bimanual sample episode.
    let bimanual = record_bimanual(dir.path(), 30);
    // The fixed cost of starting `reel` (loading libav*, rerun), for reference.
    let t = Instant::now();
    assert!(reel().arg("--version").output().unwrap().status.success());
    let startup = t.elapsed();
    let secs = episode_seconds(&bimanual);
    let size_mb = std::fs::metadata(&bimanual).unwrap().len() as f64 / 1e6;
    let rrd = dir.path().join("bimanual.rrd");
    let mut cmd = reel();
    cmd.arg("view")
        .arg(&bimanual)
        .arg("--save")
        .arg(&rrd)
        .arg("--json");
    let (reel_time, anon, _, json) = run_sampling(cmd);
    let reel_x = secs / reel_time.as_secs_f64();
    println!(
        "bimanual sample episode: {secs:.1} s, {size_mb:.0} MB → .rrd {:.0} MB in {:.2} s = {reel_x:.1}× real time (target ≥ 20×; {:.0} ms of it is process start), first frame after {:.0} ms, peak anon {anon:.0} MB",
        std::fs::metadata(&rrd).unwrap().len() as f64 / 1e6,
        reel_time.as_secs_f64(),
        startup.as_secs_f64() * 1e3,
        first_frame_ms(&json),
    );
    let mut targets = reel_testkit::targets::Targets::new();
    targets.at_least(
        "view --save of the bimanual sample, times real time",
        reel_x,
        20.0,
    );
    let rerun = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/rerun");
    if rerun.exists() {
        let mut cmd = Command::new(&rerun);
        cmd.args(["mcap", "convert"])
            .arg(&bimanual)
            .arg("-o")
            .arg(dir.path().join("rerun.rrd"));
        let (t, anon_r, _, _) = run_sampling(cmd);
        println!(
            "  side by side, rerun mcap convert (rerun's own importer, no robot/blueprint/flags): {:.2} s = {:.1}× real time, peak anon {anon_r:.0} MB; reel/rerun time ratio {:.2}",
            t.as_secs_f64(),
            secs / t.as_secs_f64(),
            reel_time.as_secs_f64() / t.as_secs_f64()
        );
    } else {
        println!("  (no .venv/bin/rerun: run scripts/setup.sh for the side-by-side rerun mcap convert run)");
    }

    // 2 and 3. Long episodes: time to first frame, memory flat in length.
    let mut rows = Vec::new();
    for minutes in [1.0, long_minutes] {
        let path = synthetic(
            &dir.path().join(format!("long-{minutes}.mcap")),
            minutes * 60.0,
        );
        let size_mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
        // A fresh output each time: truncating the last run's .rrd (hundreds
        // of MB) happens before the first frame and would be counted in it.
        let rrd = dir.path().join(format!("long-{minutes}.rrd"));
        let mut cmd = reel();
        cmd.arg("view")
            .arg(&path)
            .arg("--save")
            .arg(&rrd)
            .arg("--json");
        let (t, anon, file, json) = run_sampling(cmd);
        let ff = first_frame_ms(&json);
        println!(
            "{minutes:.0}-minute episode ({size_mb:.0} MB): first frame after {ff:.0} ms (target < 2000 ms), converted in {:.1} s = {:.1}× real time, peak anon {anon:.0} MB, peak file-backed {file:.0} MB",
            t.as_secs_f64(),
            minutes * 60.0 / t.as_secs_f64()
        );
        targets.at_most(
            &format!("first frame of a {minutes:.0}-minute episode, ms"),
            ff,
            2000.0,
        );
        let heap = peak_heap_mb(&path, &rrd);
        if let Some(heap) = heap {
            println!("  peak heap (live allocations, heaptrack) {heap:.1} MB");
        }
        rows.push((anon, ff, heap));
        // REEL_BENCH_KEEP=DIR keeps the long episodes there, for profiling.
        match std::env::var_os("REEL_BENCH_KEEP") {
            Some(keep) => {
                std::fs::create_dir_all(&keep).unwrap();
                std::fs::rename(&path, Path::new(&keep).join(path.file_name().unwrap()))
                    .or_else(|_| {
                        std::fs::copy(&path, Path::new(&keep).join(path.file_name().unwrap()))
                            .map(|_| ())
                    })
                    .unwrap();
            }
            None => std::fs::remove_file(&path).unwrap(),
        }
    }
    println!(
        "peak anonymous memory {long_minutes:.0} min / 1 min = {:.2} (flat ≈ 1); first frame {long_minutes:.0} min / 1 min = {:.2}",
        rows[1].0 / rows[0].0,
        rows[1].1 / rows[0].1
    );
    // Memory flat in episode length: the live heap where heaptrack can
    // measure it, else the process's anonymous memory (noisier: glibc keeps
    // freed memory).
    match (rows[0].2, rows[1].2) {
        (Some(short), Some(long)) => {
            println!(
                "peak heap {long_minutes:.0} min / 1 min = {:.2} (anonymous memory above the heap is what glibc's malloc keeps after frees; it varies from run to run)",
                long / short
            );
            targets.at_most(
                "peak heap, long episode / 1-minute episode",
                long / short,
                1.5,
            );
        }
        _ => {
            println!(
                "(heaptrack not installed: no peak-heap comparison; apt-get install heaptrack)"
            );
            targets.at_most(
                "peak anonymous memory, long episode / 1-minute episode",
                rows[1].0 / rows[0].0,
                1.5,
            );
        }
    }
    targets.finish();
}
