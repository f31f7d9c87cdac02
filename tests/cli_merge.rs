#![allow(clippy::unwrap_used)]
//! Sharded export and `reel merge`: for N in {1, 2, 3, 7}, the merge of N
//! shard exports (`reel export lerobot --shard I/N`) is the single export:
//! the same info, tasks, subtask labels, data rows, episode rows, stats and
//! video frames; it passes `reel check` and the light LeRobot check.
//! Datasets of different fps or features are refused; a shard killed mid-way and run
//! again leaves nothing behind, and a shard run twice does its work once.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lerobot_files::{assert_same_dataset, json};
use common::{reel, run, stderr};
use serde_json::Value;

/// `count` simulated episodes of `seconds`, auto-annotated (so the
/// datasets have the subtask feature), the last two under another
/// instruction (so shards hold different task lists).
fn episodes(dir: &Path, count: usize, seconds: f64) -> PathBuf {
    let (_, files) = common::short_sim(dir, seconds, count, 4);
    let out = dir.join("episodes");
    let o = run(reel().args(["annotate", "--auto"]).args(&files));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(reel()
        .args(["annotate", "--instruction", "stack the cube"])
        .args(&files[count - 2..]));
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn export(episodes: &Path, out: &Path, extra: &[&str]) {
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(episodes)
        .arg("--out")
        .arg(out)
        .args(["--fps", "15", "--jobs", "2", "--json"])
        .args(extra));
    assert!(o.status.success(), "{}: {}", out.display(), stderr(&o));
}

#[test]
fn merged_shards_are_the_single_export() {
    let tmp = tempfile::tempdir().unwrap();
    let eps = episodes(tmp.path(), 7, 1.0);
    let single = tmp.path().join("single");
    export(&eps, &single, &[]);
    let info = json(&single.join("meta/info.json"));
    assert_eq!(info["total_tasks"], 2, "{info}");
    assert!(
        info["features"].get("subtask_index").is_some(),
        "the episodes' segments should make the subtask feature"
    );
    for n in [1usize, 2, 3, 7] {
        let shards: Vec<PathBuf> = (0..n)
            .map(|i| tmp.path().join(format!("shards-{n}/{i}")))
            .collect();
        for (i, shard) in shards.iter().enumerate() {
            export(&eps, shard, &["--shard", &format!("{i}/{n}")]);
        }
        let merged = tmp.path().join(format!("merged-{n}"));
        let t = Instant::now();
        let o = run(reel()
            .arg("merge")
            .args(&shards)
            .arg("--out")
            .arg(&merged)
            .arg("--json"));
        assert!(o.status.success(), "merge of {n}: {}", stderr(&o));
        let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
        println!(
            "{n} shard(s): merged {} episodes, {} frames in {:.2} s",
            summary["total_episodes"],
            summary["total_frames"],
            t.elapsed().as_secs_f64()
        );
        assert_same_dataset(&single, &merged, &format!("{n} shards"));
        let parents = json(&merged.join("manifest.json"))["merged_from"].clone();
        assert_eq!(parents.as_array().map(Vec::len), Some(n), "{parents}");
        let card = std::fs::read_to_string(merged.join("README.md")).unwrap();
        assert!(card.contains("Merged from"), "{card}");
    }
    // More shards than episodes: refused, not an empty success.
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(tmp.path().join("too-many"))
        .args(["--shard", "0/8"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only 7"), "{}", stderr(&o));
}

#[test]
fn datasets_of_another_fps_are_refused_and_a_killed_shard_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let eps = episodes(tmp.path(), 3, 1.0);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    export(&eps, &a, &["--shard", "0/2"]);
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(&b)
        .args(["--fps", "10", "--shard", "1/2"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = tmp.path().join("merged");
    let o = run(reel()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("--out")
        .arg(&merged));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fps")
            && err.contains(&*a.to_string_lossy())
            && err.contains(&*b.to_string_lossy()),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!merged.exists());
    // The same fps, but one without the subtask feature: other features.
    let c = tmp.path().join("c");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(&c)
        .args(["--fps", "15", "--shard", "1/2", "--subtasks", "none"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(reel()
        .arg("merge")
        .arg(&a)
        .arg(&c)
        .arg("--out")
        .arg(&merged));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("features differ") && err.contains("subtask_index"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!merged.exists());

    // A shard killed while it writes: its staging directory stays behind;
    // run again, the shard replaces it and leaves nothing else.
    let shard = tmp.path().join("shard");
    let partials = || -> Vec<PathBuf> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".shard.reel-partial-")
            })
            .collect()
    };
    let mut child = reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(&shard)
        .args(["--fps", "15", "--jobs", "1", "--shard", "0/1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while partials().is_empty() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    assert_eq!(partials().len(), 1, "the killed shard's staging directory");
    assert!(!shard.exists(), "a killed shard must not look finished");
    export(&eps, &shard, &["--shard", "0/1"]);
    assert!(partials().is_empty(), "left behind: {:?}", partials());
    assert_eq!(json(&shard.join("meta/info.json"))["total_episodes"], 3);
    // Run once more (a retry of a shard that had finished): nothing doubles.
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(&shard)
        .args(["--fps", "15", "--shard", "0/1"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nothing to do"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(json(&shard.join("meta/info.json"))["total_episodes"], 3);

    // A damaged episode in a shard: left out, recorded, the rest exported;
    // with --fail-fast the shard stops, and its status says why.
    let mut bytes = std::fs::read(
        std::fs::read_dir(&eps)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    bytes.truncate(bytes.len() / 3);
    bytes[40..48].copy_from_slice(b"damaged!");
    std::fs::write(eps.join("zz-damaged.mcap"), &bytes).unwrap();
    let status = tmp.path().join("status.json");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(tmp.path().join("with-bad"))
        .args(["--fps", "15", "--shard", "1/2", "--json", "--status"])
        .arg(&status));
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let left_out = summary["left_out"].as_array().unwrap();
    assert_eq!(left_out.len(), 1, "{summary}");
    assert!(left_out[0]["episode"]
        .as_str()
        .unwrap()
        .ends_with("zz-damaged.mcap"));
    assert!(stderr(&o).contains("left out"), "{}", stderr(&o));
    let st = json(&status);
    assert_eq!(st["state"], "done", "{st}");
    assert_eq!(st["shard"], "1/2");
    assert_eq!(st["episodes"], 2, "{st}");
    assert_eq!(st["failed"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(
        json(&tmp.path().join("with-bad/meta/info.json"))["total_episodes"],
        1
    );
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&eps)
        .arg("--out")
        .arg(tmp.path().join("fail-fast"))
        .args(["--fps", "15", "--shard", "1/2", "--fail-fast", "--status"])
        .arg(&status));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let st = json(&status);
    assert_eq!(st["state"], "failed", "{st}");
    assert!(
        st["error"].as_str().unwrap().contains("zz-damaged.mcap"),
        "{st}"
    );
    assert!(!tmp.path().join("fail-fast").exists());
}

/// (dimension, check, subject, passed) of every check in a report.
fn verdicts(report: &Value) -> Vec<(String, String, String, bool)> {
    let mut v: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["dimension"].to_string(),
                c["check"].to_string(),
                c["subject"].to_string(),
                c["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn sharded_check_reports_merge_into_the_whole_folders_check() {
    let tmp = tempfile::tempdir().unwrap();
    // Long enough for the expert to move: shorter ones are near-duplicates.
    let eps = episodes(tmp.path(), 4, 6.0);
    // A copy of the first episode, last by name: the pair falls in two shards.
    let first = std::fs::read_dir(&eps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mcap"))
        .min()
        .unwrap();
    std::fs::copy(&first, eps.join("zz-copy.mcap")).unwrap();
    let check = |extra: &[&str]| {
        let o = run(reel().arg("check").arg(&eps).arg("--json").args(extra));
        (
            o.status.code(),
            serde_json::from_slice::<Value>(&o.stdout).unwrap(),
        )
    };
    let (whole_code, whole) = check(&[]);
    assert!(
        !whole["duplicates"].as_array().unwrap().is_empty(),
        "the copy should be found: {}",
        whole["duplicates"]
    );
    let mut reports = Vec::new();
    for i in 0..2 {
        let (_, shard) = check(&["--shard", &format!("{i}/2")]);
        assert!(
            shard["duplicates"].as_array().unwrap().is_empty(),
            "one shard alone cannot see the pair"
        );
        let path = tmp.path().join(format!("check-{i}.json"));
        std::fs::write(&path, shard.to_string()).unwrap();
        reports.push(path);
    }
    let o = run(reel()
        .args(["check", "--json", "--merge-reports"])
        .args(&reports));
    let merged: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), whole_code, "{}", stderr(&o));
    assert_eq!(merged["duplicates"], whole["duplicates"]);
    assert_eq!(verdicts(&merged), verdicts(&whole));
    assert_eq!(merged["passed"], whole["passed"]);
    assert_eq!(
        merged["episodes"].as_array().unwrap().len(),
        whole["episodes"].as_array().unwrap().len()
    );
}
