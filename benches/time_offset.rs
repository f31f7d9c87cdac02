#![allow(clippy::unwrap_used)]
//! `reel calib time-offset` accuracy over many episodes whose truth is
//! known: the simulator stamps joints and frames at the instant they
//! describe, so the true offset between them is 0.
//!
//! 1. Simulates 48 episodes of the sample SO-101 scenario at its own length
//!    (12 s: the expert's whole pick and place), cameras at 160×120 (`reel
//!    sim`, seed 3, episodes 0..47). (Shortened to 8 s, as the suite's test
//!    does for speed, the episodes hold less motion: a first run on those
//!    gave the wrist camera p95 5.09 ms, worst 6.06 ms.)
//! 2. Runs `reel calib time-offset --json` on each: the fixed camera with the
//!    links projected into it (the default), the same camera with joint speed
//!    (`--motion joint-speed`), and the wrist camera.
//! 3. Runs it once over all episodes pooled.
//!
//! Prints each episode's offsets and, per case, the median, 95th percentile
//! and worst absolute error. Targets: the fixed camera within 2 ms on every
//! episode (the calibration issue's target), pooled within 1 ms; the wrist
//! camera (whose whole view moves, which /tf describes only as a ground
//! plane) within 5 ms on 95 % of episodes; joint speed within 15 ms.
//!
//! `cargo bench --bench time_offset` (release); REEL_BENCH_EPISODES=N
//! simulates N episodes instead of 48.

use std::path::{Path, PathBuf};

use reel_testkit::targets::Targets;

mod common;
use common::bimanual::reel;

const JOINTS: &str = "/robot/follower/joint_states";

/// `reel calib time-offset --json` of camera `camera` against the joints
/// over `episodes`; the lag found, in seconds.
fn lag(episodes: &[PathBuf], camera: &str, motion: &str) -> f64 {
    let out = reel()
        .args(["calib", "time-offset", "--json", "--motion", motion])
        .args(["--a", JOINTS, "--b"])
        .arg(format!("/camera/{camera}/image/compressed"))
        .args(episodes)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "time-offset: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    r["b_lags_a_s"].as_f64().unwrap()
}

/// Median, 95th percentile and worst of the absolute values, in ms.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut abs: Vec<f64> = values.iter().map(|v| v.abs() * 1e3).collect();
    abs.sort_by(f64::total_cmp);
    let at = |q: f64| abs[((abs.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), abs[abs.len() - 1])
}

fn simulate(dir: &Path, episodes: usize) -> Vec<PathBuf> {
    let samples = reel_testkit::skip::workspace().join("samples");
    let scenario = dir.join("scenario.toml");
    reel_testkit::short_scenario::write_short_scenario(
        &samples,
        &scenario,
        12.0,
        (160, 120),
        &samples.join("robots/so101/so101_new_calib.urdf"),
    );
    let out = dir.join("episodes");
    let status = reel()
        .args(["sim", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .args([
            "--seed",
            "3",
            "--episodes",
            &episodes.to_string(),
            "--jobs",
            "2",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "reel sim failed");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), episodes, "episodes simulated");
    files
}

fn main() {
    let episodes: usize = std::env::var("REEL_BENCH_EPISODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let files = simulate(dir.path(), episodes);
    println!(
        "simulated {episodes} episodes of 12 s in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    println!("episode                                  front (links)  front (joint speed)  wrist (links)   [ms; truth 0]");
    let (mut front, mut speed, mut wrist) = (Vec::new(), Vec::new(), Vec::new());
    for file in &files {
        let one = std::slice::from_ref(file);
        front.push(lag(one, "front", "projected"));
        speed.push(lag(one, "front", "joint-speed"));
        wrist.push(lag(one, "wrist", "projected"));
        println!(
            "{:<40} {:>13.2} {:>20.2} {:>14.2}",
            file.file_name().unwrap().to_string_lossy(),
            front.last().unwrap() * 1e3,
            speed.last().unwrap() * 1e3,
            wrist.last().unwrap() * 1e3
        );
    }
    let pooled = lag(&files, "front", "projected");
    let mut targets = Targets::new();
    for (name, values) in [
        ("front camera, links projected", &front),
        ("front camera, joint speed", &speed),
        ("wrist camera, links projected", &wrist),
    ] {
        let (median, p95, worst) = spread(values);
        println!(
            "{name}: |error| median {median:.2} ms, p95 {p95:.2} ms, worst {worst:.2} ms over {} episodes",
            values.len()
        );
    }
    println!("front camera, all episodes pooled: {:.3} ms", pooled * 1e3);
    targets.at_most(
        "front camera, links projected: worst |error| ms",
        spread(&front).2,
        2.0,
    );
    targets.at_most(
        "front camera, pooled over all episodes: |error| ms",
        pooled.abs() * 1e3,
        1.0,
    );
    targets.at_most(
        "wrist camera, links projected: p95 |error| ms",
        spread(&wrist).1,
        5.0,
    );
    targets.at_most(
        "front camera, joint speed: worst |error| ms",
        spread(&speed).2,
        15.0,
    );
    targets.finish();
}
