#![allow(clippy::unwrap_used)]
//! `reel-ray` on a real Ray cluster of two nodes on loopback (`ray start
//! --head` and `ray start --address`, Ray 2.60 from PyPI, usage reporting
//! off): an export over 4 shards, one of which fails on its first attempt,
//! gives the dataset a single-machine export gives; a sharded check gives
//! the folder's own report, a sharded simulation the same files. The
//! cluster is stopped even when the test fails.

mod common;

use std::time::Instant;

use common::lerobot_files::{assert_same_dataset, json};
use common::{reel, run, stderr};
use reel_testkit::ray::{in_venv, RayCluster};

#[test]
fn reel_ray_on_a_two_node_cluster_retries_a_failed_shard_and_matches_one_machine() {
    let Some(bin) = reel_testkit::skip::ray_bin("a two-node Ray cluster") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Five short simulated episodes (4 shards: one takes two).
    let (scenario, _) = common::short_sim(tmp.path(), 1.0, 5, 8);
    let episodes = tmp.path().join("episodes");
    let single = tmp.path().join("single");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&episodes)
        .arg("--out")
        .arg(&single)
        .args(["--fps", "15", "--jobs", "1"]));
    assert!(o.status.success(), "{}", stderr(&o));

    // The cluster: a head and a second node, both on loopback.
    let cluster = RayCluster::start(&bin, 2, 1);
    let address = cluster.address.clone();

    // Shard 1 fails on its first attempt (a wrapper around reel), as a
    // node lost mid-run would make it.
    let marker = tmp.path().join("shard-1-failed-once");
    let wrapper = tmp.path().join("reel-flaky");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *\"--shard 1/4\"*) if [ ! -e '{m}' ]; then touch '{m}'; echo 'injected failure of shard 1' >&2; exit 1; fi;; esac\nexec '{reel}' \"$@\"\n",
            m = marker.display(),
            reel = env!("CARGO_BIN_EXE_reel"),
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .unwrap();
    let merged = tmp.path().join("merged");
    let t = Instant::now();
    let o = in_venv(&bin, "reel-ray")
        .args(["--address", &address, "--reel"])
        .arg(&wrapper)
        .args(["--max-retries", "2", "--json", "export", "lerobot"])
        .arg(&episodes)
        .args(["--shards", "4", "--out"])
        .arg(&merged)
        .args(["--fps", "15", "--jobs", "1"])
        .output()
        .unwrap();
    let log = stderr(&o);
    assert!(o.status.success(), "reel-ray: {log}");
    println!("{log}reel-ray took {:.1} s", t.elapsed().as_secs_f64());
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(marker.exists(), "the injected failure did not happen");
    assert_eq!(summary["retries"], 1, "{summary}");
    assert_eq!(summary["failed"], serde_json::json!([]), "{summary}");
    assert_eq!(
        summary["nodes"], 2,
        "both nodes should run shards: {summary}"
    );
    assert_eq!(summary["episodes"], 5, "{summary}");
    assert!(
        log.contains("attempt 1 failed (injected failure of shard 1); retrying"),
        "{log}"
    );
    assert!(
        !tmp.path().join("merged.shards").exists(),
        "the shards were kept"
    );
    assert_same_dataset(&single, &merged, "4 shards on Ray");
    assert_eq!(
        json(&merged.join("manifest.json"))["merged_from"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );

    // The sharded check on the same cluster: the merged report is the
    // folder's own.
    let report = tmp.path().join("check.json");
    let o = in_venv(&bin, "reel-ray")
        .args([
            "--address",
            &address,
            "--json",
            "--reel",
            env!("CARGO_BIN_EXE_reel"),
        ])
        .arg("check")
        .arg(&episodes)
        .args(["--shards", "2", "--out"])
        .arg(&report)
        .output()
        .unwrap();
    let whole = run(reel().arg("check").arg(&episodes).arg("--json"));
    // As `reel check` exits (these short episodes are near-duplicates: 4).
    assert_eq!(
        o.status.code(),
        whole.status.code(),
        "reel-ray check: {}",
        stderr(&o)
    );
    let sharded = json(&report);
    let whole: serde_json::Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert_eq!(sharded["passed"], whole["passed"]);
    assert_eq!(sharded["duplicates"], whole["duplicates"]);
    assert_eq!(
        sharded["checks"].as_array().map(Vec::len),
        whole["checks"].as_array().map(Vec::len)
    );

    // The sharded simulation: the same files as one machine's.
    let sims = tmp.path().join("sims");
    let o = in_venv(&bin, "reel-ray")
        .args(["--address", &address, "--reel", env!("CARGO_BIN_EXE_reel")])
        .args(["sim", "--shards", "2", "--out"])
        .arg(&sims)
        .arg("--scenario")
        .arg(&scenario)
        .args(["--episodes", "3", "--seed", "8"])
        .output()
        .unwrap();
    assert!(o.status.success(), "reel-ray sim: {}", stderr(&o));
    let local = common::simulate(
        &scenario,
        &tmp.path().join("sims-local"),
        ["--episodes", "3", "--seed", "8"],
    );
    for file in &local {
        let twin = sims.join(file.file_name().unwrap());
        assert!(
            reel_testkit::episodes::all_messages(file)
                == reel_testkit::episodes::all_messages(&twin),
            "{} differs from one machine's",
            twin.display()
        );
    }

    // The sharded import of the rosbag2 project's bags: the same episodes,
    // message for message, as one machine's import.
    if let Some(data) = reel_testkit::skip::testdata("reel-ray import") {
        let bags = data.join("mcap/rosbag2");
        let sources: Vec<std::path::PathBuf> = [
            "talker",
            "cdr_test",
            "multiple_files",
            "convert_a",
            "test_bag_for_seek",
        ]
        .iter()
        .map(|b| bags.join(b))
        .collect();
        let imported = tmp.path().join("imported");
        let o = in_venv(&bin, "reel-ray")
            .args([
                "--address",
                &address,
                "--reel",
                env!("CARGO_BIN_EXE_reel"),
                "--json",
            ])
            .arg("import")
            .args(&sources)
            .args(["--shards", "3", "--out"])
            .arg(&imported)
            .output()
            .unwrap();
        assert!(o.status.success(), "reel-ray import: {}", stderr(&o));
        let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(summary["imported"], 5, "{summary}");
        let local = tmp.path().join("imported-local");
        let o = run(reel().arg("import").args(&sources).arg("--out").arg(&local));
        assert!(o.status.success(), "{}", stderr(&o));
        let names = |dir: &std::path::Path| {
            let mut n: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(&imported), names(&local));
        for name in names(&local) {
            assert!(
                reel_testkit::episodes::all_messages(&local.join(&name))
                    == reel_testkit::episodes::all_messages(&imported.join(&name)),
                "{name:?} differs from one machine's import"
            );
        }
    }
    drop(cluster);
}
