#![allow(clippy::unwrap_used)]
//! Simulation speed and the expert's success rate, printed next to the targets:
//!
//! 1. one episode of the sample scenario (`samples/sim/so101-pick-place.toml`:
//!    2 cameras 320×240 at 30 Hz, joints at 100 Hz, a VLP-16 at 10 Hz, 1 kHz
//!    physics) on one thread: simulated time / wall time per core (target ≥ 2×),
//!    side by side with the same episode without sensors (physics + policy only),
//!    so the sensors' share is visible;
//! 2. four episodes with `jobs = 2`: aggregate and per-core speed, episodes per hour;
//! 3. the expert's success rate over 50 seeds (target ≥ 90 %).
//!
//! `cargo bench -p reel-sim --bench sim_speed` (release).

use std::path::Path;
use std::time::Instant;

use reel_episode::Outcome;
use reel_sim::{Scenario, SimOptions};

fn main() {
    let scenario = Scenario::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/sim/so101-pick-place.toml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "sim_speed: sample scenario {}, {cores} cores available",
        scenario.spec.scenario.name
    );

    // 1. One episode, one thread, with and without sensors.
    let options = SimOptions {
        out: dir.path().join("one"),
        ..Default::default()
    };
    let t = Instant::now();
    let one = reel_sim::run(&scenario, 1, &[0], 1, &options, &|_| {}).unwrap();
    let wall = t.elapsed().as_secs_f64();
    let sim = one[0].sim_seconds;
    let bytes = std::fs::metadata(&one[0].path).unwrap().len();
    let t = Instant::now();
    let bare = reel_sim::evaluate(&scenario, 1, &[0], 1, None).unwrap();
    let bare_wall = t.elapsed().as_secs_f64();
    println!(
        "  1 episode, 1 thread: {sim:.1} s simulated in {wall:.2} s = {:.2}x real time per core (target >= 2x); \
         {} messages, {:.1} MB",
        sim / wall,
        one[0].messages,
        bytes as f64 / 1e6
    );
    println!(
        "  same episode, physics + policy only: {:.2} s = {:.1}x real time; sensors (render, JPEG, ray casts, writing) take {:.0} % of the full run",
        bare_wall,
        bare[0].2 / bare_wall,
        100.0 * (wall - bare_wall) / wall
    );

    // Where the time goes: the same episode without the LiDAR, and without the cameras.
    let cut = |from: &str, to: &str| {
        let (a, b) = (
            scenario.text.find(from).unwrap(),
            scenario.text.find(to).unwrap(),
        );
        let text = format!("{}{}", &scenario.text[..a], &scenario.text[b..]);
        Scenario::parse(&scenario.path, text).unwrap()
    };
    for (what, variant) in [
        ("without the LiDAR", cut("[lidar]", "[lighting]")),
        ("without cameras", cut("[[camera]]", "[lidar]")),
    ] {
        let options = SimOptions {
            out: dir.path().join(what.replace(' ', "_")),
            ..Default::default()
        };
        let t = Instant::now();
        let r = reel_sim::run(&variant, 1, &[0], 1, &options, &|_| {}).unwrap();
        let w = t.elapsed().as_secs_f64();
        println!(
            "  same episode {what}: {w:.2} s = {:.2}x real time",
            r[0].sim_seconds / w
        );
    }

    // 2. Four episodes on two threads.
    let options = SimOptions {
        out: dir.path().join("four"),
        ..Default::default()
    };
    let t = Instant::now();
    let four = reel_sim::run(&scenario, 1, &[0, 1, 2, 3], 2, &options, &|_| {}).unwrap();
    let wall4 = t.elapsed().as_secs_f64();
    let sim4: f64 = four.iter().map(|r| r.sim_seconds).sum();
    let threads = 2.0f64.min(cores as f64);
    println!(
        "  4 episodes, jobs 2: {sim4:.1} s simulated in {wall4:.2} s = {:.2}x real time ({:.2}x per core on {threads} cores); \
         {:.0} episodes/hour; speed-up over 1 thread {:.2}x",
        sim4 / wall4,
        sim4 / wall4 / threads,
        4.0 * 3600.0 / wall4,
        (sim4 / wall4) / (sim / wall)
    );

    // 3. The expert over 50 seeds.
    let t = Instant::now();
    let indices: Vec<u64> = (0..50).collect();
    let outcomes = reel_sim::evaluate(&scenario, 2026, &indices, 2, None).unwrap();
    let ok = outcomes.iter().filter(|o| o.1 == Outcome::Success).count();
    let failed: Vec<u64> = outcomes
        .iter()
        .filter(|o| o.1 != Outcome::Success)
        .map(|o| o.0)
        .collect();
    println!(
        "  expert success over 50 seeds: {ok}/50 = {:.0} % (target >= 90 %), not successful: {failed:?} ({:.1} s)",
        2.0 * ok as f64,
        t.elapsed().as_secs_f64()
    );
    let mut targets = reel_testkit::targets::Targets::new();
    targets.at_least(
        "sim, times real time per core (1 episode, 1 thread)",
        sim / wall,
        2.0,
    );
    targets.at_least(
        "expert success rate over 50 seeds, %",
        2.0 * ok as f64,
        90.0,
    );
    targets.finish();
}
