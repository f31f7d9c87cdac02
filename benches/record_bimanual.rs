#![allow(clippy::unwrap_used)]
//! Records the bimanual sample rig (4 × 7-DoF arms at 200 Hz, 3 cameras
//! 640×480 at 30 fps, a VLP-16 at 10 Hz) from its emulators, which run as a
//! separate `reel emulate` process on the same machine, and prints what the
//! issue asks for next to its target: achieved rate per stream, dropped
//! samples, recorder CPU, peak RSS over time, sensor-to-disk latency.
//!
//! `cargo bench --bench record_bimanual` (release). REEL_BENCH_SECONDS sets
//! the length (default 120).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reel_capture::emulators::ground_truth::{percentile as percentile_ms, sync_errors};
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_capture::rig::LoadedRig;
use reel_episode::{EpisodeReader, Outcome};
use reel_testkit::targets::Targets;

/// utime + stime of this process, seconds (from /proc/self/stat).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// (VmRSS, VmHWM) in MB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let get = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (get("VmRSS:"), get("VmHWM:"))
}

fn rig_in(dir: &Path) -> PathBuf {
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/rigs/bimanual-emulated.toml");
    reel_capture::emulators::rig::isolated_copy(&sample, dir).unwrap()
}

fn percentile(v: &mut [u32], p: f64) -> f64 {
    v.sort_unstable();
    if v.is_empty() {
        return f64::NAN;
    }
    f64::from(v[((v.len() - 1) as f64 * p / 100.0).round() as usize]) / 1000.0
}

fn main() {
    let seconds: f64 = std::env::var("REEL_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120.0);
    let dir = tempfile::tempdir().unwrap();
    let rig_path = rig_in(dir.path());
    let mut emulators = Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["emulate", "--rig"])
        .arg(&rig_path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rig = LoadedRig::load(&rig_path).unwrap();
    let recorder =
        Recorder::start(rig.clone(), RecorderOptions::new(dir.path().join("out"))).unwrap();
    let t = Instant::now();
    while !recorder.status().devices.iter().all(|d| d.connected) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{:#?}",
            recorder.status().devices
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    println!(
        "record_bimanual: {seconds:.0} s of the bimanual rig, emulators in a separate process"
    );
    let cpu0 = cpu_seconds();
    let wall0 = Instant::now();
    recorder.start_episode(Some("benchmark")).unwrap();
    let mut rss_series = Vec::new();
    let mut next_sample = 0.0;
    while wall0.elapsed().as_secs_f64() < seconds {
        if wall0.elapsed().as_secs_f64() >= next_sample {
            rss_series.push((wall0.elapsed().as_secs_f64(), rss_mb().0));
            next_sample += 10.0;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = recorder.status();
    let summary = recorder.stop_episode(Outcome::Unknown).unwrap();
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let (_, peak_rss) = rss_mb();
    let mut latency = recorder_latency(&recorder);
    drop(recorder);
    let _ = emulators.kill();
    let _ = emulators.wait();

    let reader = EpisodeReader::open(&summary.path).unwrap();
    let mut streams: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
    for m in reader.messages() {
        let m = m.unwrap();
        let e = streams
            .entry(m.channel.topic.clone())
            .or_insert((0, u64::MAX, 0));
        e.0 += 1;
        e.1 = e.1.min(m.log_time);
        e.2 = e.2.max(m.log_time);
    }
    let expected = |topic: &str| -> Option<f64> {
        if topic.starts_with("/robot/") {
            Some(200.0)
        } else if topic.starts_with("/camera/") && topic.ends_with("/image/compressed") {
            // (camera_info is written once per episode, latched.)
            Some(30.0)
        } else if topic.starts_with("/lidar/") {
            Some(10.0)
        } else {
            None
        }
    };
    let mut targets = Targets::new();
    println!(
        "{:<40} {:>8} {:>10} {:>9} {:>8}",
        "stream", "count", "rate Hz", "target", "ratio"
    );
    for (topic, (n, first, last)) in &streams {
        let Some(target) = expected(topic) else {
            continue;
        };
        let rate = (*n - 1) as f64 / ((last - first) as f64 / 1e9);
        println!(
            "{topic:<40} {n:>8} {rate:>10.2} {target:>9.1} {:>8.4}",
            rate / target
        );
        targets.at_least(
            &format!("{topic} rate, share of nominal"),
            rate / target,
            0.995,
        );
    }
    let dropped: u64 = summary.dropped.iter().map(|d| d.1).sum();
    let wire: u64 = status.devices.iter().map(|d| d.wire_faults).sum();
    println!("dropped samples            {dropped:>10}   (target 0)");
    println!("bus faults (retried)       {wire:>10}");
    println!(
        "recorder CPU               {:>10.3} cores   (target < 1; ratio {:.3})",
        cpu / wall,
        cpu / wall
    );
    println!(
        "peak RSS                   {peak_rss:>10.1} MB      (target < 300; ratio {:.3})",
        peak_rss / 300.0
    );
    let series: Vec<String> = rss_series
        .iter()
        .map(|(t, r)| format!("{t:.0}s {r:.0}"))
        .collect();
    println!("RSS over time (MB)         {}", series.join(", "));
    println!(
        "sensor-to-disk latency     p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms   (chunks are synced every 1 s by design)",
        percentile(&mut latency, 50.0),
        percentile(&mut latency, 99.0),
        percentile(&mut latency, 100.0)
    );
    println!(
        "episode                    {:.1} MB, {} messages, {:.1} MB/s",
        std::fs::metadata(&summary.path).unwrap().len() as f64 / 1e6,
        summary.messages,
        std::fs::metadata(&summary.path).unwrap().len() as f64 / 1e6 / wall
    );
    targets.at_most("dropped samples", dropped as f64, 0.0);
    targets.at_most("recorder CPU, cores", cpu / wall, 1.0);
    targets.at_most("peak RSS, MB", peak_rss, 300.0);
    drop(dir);
    sync_phase(seconds.min(30.0), &mut targets);
    targets.finish();
}

/// Sync accuracy needs the emulators' ground truth, so this phase runs them
/// in this process (the CPU and memory figures above exclude them).
fn sync_phase(seconds: f64, targets: &mut Targets) {
    let dir = tempfile::tempdir().unwrap();
    let rig = LoadedRig::load(rig_in(dir.path())).unwrap();
    let emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder =
        Recorder::start(rig.clone(), RecorderOptions::new(dir.path().join("out"))).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    recorder.start_episode(Some("sync benchmark")).unwrap();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let summary = recorder.stop_episode(Outcome::Unknown).unwrap();
    drop(recorder);
    let e = sync_errors(&summary.path, &rig.rig, &emu).unwrap();
    println!("sync accuracy ({seconds:.0} s, emulators in-process, against their ground truth)");
    for (name, v, target) in [
        ("joints", &e.joints_ms, 2.0),
        ("lidar", &e.lidar_ms, 2.0),
        ("cameras", &e.cameras_ms, 5.0),
    ] {
        let p99 = percentile_ms(v, 99.0);
        println!(
            "  {name:<8} n={:<7} p50 {:.3} ms  p99 {p99:.3} ms   (target p99 ≤ {target} ms; ratio {:.3})",
            v.len(),
            percentile_ms(v, 50.0),
            p99 / target
        );
        targets.at_most(&format!("sync error p99 of {name}, ms"), p99, target);
    }
}

fn recorder_latency(recorder: &Recorder) -> Vec<u32> {
    recorder.disk_latency_us()
}
