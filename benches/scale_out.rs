#![allow(clippy::unwrap_used)]
//! Sharded export side by side with one process, in one run, on the same
//! episodes:
//! 1. `reel export lerobot --jobs 2` (one process, both cores);
//! 2. `reel-ray export lerobot --shards 2` on one Ray node of 2 CPUs;
//! 3. the same on two Ray nodes of 1 CPU each (one machine, loopback);
//! 4. `reel merge` of the two shards alone.
//!
//! Episodes: 12 simulated SO-101 episodes of 4 s, two cameras at 320×240
//! (`reel sim`, seed 5). Targets: the merge at most 5 % of the one-process
//! export time; Ray's overhead (from submitting the shards to the last
//! result, past the slowest shard's own run) under 1 s per shard.
//!
//! `cargo bench --bench scale_out` (release); needs `.venv-ray`
//! (scripts/setup.sh); without it the Ray figures count as missed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use reel_testkit::ray::{in_venv, RayCluster};
use reel_testkit::targets::Targets;

mod common;
use common::bimanual::reel;

fn must(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `reel-ray export` of `episodes` in `shards` shards on the cluster at
/// `address`: its JSON summary and the process's own wall time.
fn reel_ray(
    bin: &Path,
    address: &str,
    episodes: &Path,
    out: &Path,
    shards: usize,
) -> (serde_json::Value, f64) {
    let t = Instant::now();
    let text = must(
        in_venv(bin, "reel-ray")
            .args([
                "--address",
                address,
                "--reel",
                env!("CARGO_BIN_EXE_reel"),
                "--json",
            ])
            .args(["export", "lerobot"])
            .arg(episodes)
            .args(["--shards", &shards.to_string(), "--keep-shards", "--out"])
            .arg(out)
            .args(["--fps", "30", "--jobs", "1"]),
        "reel-ray",
    );
    (
        serde_json::from_str(&text).unwrap(),
        t.elapsed().as_secs_f64(),
    )
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let samples = reel_testkit::skip::workspace().join("samples");
    let scenario = dir.path().join("scenario.toml");
    reel_testkit::short_scenario::write_short_scenario(
        &samples,
        &scenario,
        4.0,
        (320, 240),
        &samples.join("robots/so101/so101_new_calib.urdf"),
    );
    let episodes = dir.path().join("episodes");
    must(
        reel()
            .args(["sim", "--scenario"])
            .arg(&scenario)
            .arg("--out")
            .arg(&episodes)
            .args(["--episodes", "12", "--seed", "5", "--jobs", "2"]),
        "reel sim",
    );
    println!(
        "episodes: 12 simulated SO-101 episodes of 4 s, two cameras 320x240, exported at 30 fps"
    );

    let t = Instant::now();
    must(
        reel()
            .args(["export", "lerobot"])
            .arg(&episodes)
            .arg("--out")
            .arg(dir.path().join("one"))
            .args(["--fps", "30", "--jobs", "2"]),
        "reel export",
    );
    let one = t.elapsed().as_secs_f64();
    println!("one process, --jobs 2:               {one:7.2} s");

    let mut targets = Targets::new();
    let Some(bin) = reel_testkit::skip::ray_bin("the scale-out benchmark") else {
        targets.unmeasured(
            "Ray overhead and merge share",
            "no .venv-ray (scripts/setup.sh)",
        );
        targets.finish();
        return;
    };
    let mut overheads = Vec::new();
    let mut merge_times = Vec::new();
    for (nodes, cpus, name) in [
        (1usize, 2u32, "two shards on one Ray node (2 CPUs)"),
        (2, 1, "two shards on two Ray nodes (1 CPU each)"),
    ] {
        let cluster = RayCluster::start(&bin, nodes, cpus);
        let address = cluster.address.clone();
        let out = dir.path().join(format!("ray-{nodes}"));
        let (summary, process) = reel_ray(&bin, &address, &episodes, &out, 2);
        drop(cluster);
        let wall = summary["wall_s"].as_f64().unwrap();
        let merge = summary["merge_s"].as_f64().unwrap();
        let slowest = summary["shard_s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .fold(0.0, f64::max);
        // `wall_s` covers the shards (submission to the last result); the
        // merge and the driver's connection to Ray come on top.
        let overhead = (wall - slowest).max(0.0);
        let driver = (process - wall - merge).max(0.0);
        let total = wall + merge;
        assert_eq!(summary["nodes"], nodes, "{summary}");
        assert_eq!(summary["episodes"], 12, "{summary}");
        println!(
            "{name}: {total:7.2} s = shards {wall:.2} s (each {} s; Ray overhead {overhead:.2} s) + merge {merge:.2} s; {:.2}x one process (the driver's own start, {driver:.2} s, not counted)",
            summary["shard_s"],
            one / total
        );
        overheads.push(overhead);
        merge_times.push(merge);
        // The merge alone, again, from the kept shards.
        let shards: Vec<PathBuf> = (0..2)
            .map(|i| PathBuf::from(format!("{}.shards/shard-{i:04}", out.display())))
            .collect();
        let t = Instant::now();
        must(
            reel()
                .arg("merge")
                .args(&shards)
                .arg("--out")
                .arg(dir.path().join(format!("merge-alone-{nodes}"))),
            "reel merge",
        );
        let alone = t.elapsed().as_secs_f64();
        println!(
            "  reel merge of those shards alone: {alone:.2} s ({:.1} % of the one-process export)",
            100.0 * alone / one
        );
        merge_times.push(alone);
    }
    let merge = merge_times.iter().copied().fold(0.0, f64::max);
    targets.at_most(
        "merge time / one-process export time (worst of 4 merges)",
        merge / one,
        0.05,
    );
    targets.at_most(
        "Ray overhead on the critical path, s (worst of 2 clusters)",
        overheads.iter().copied().fold(0.0, f64::max),
        1.0,
    );
    targets.finish();
}
