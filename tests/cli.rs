//! The `reel` binary on good and bad input: tables and JSON for good files;
//! one clear line naming the file, a non-zero exit code and no panic for bad.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Output;

use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};

mod common;
use common::stderr;

fn reel(args: &[&str]) -> Output {
    common::run(common::reel().args(args))
}

/// Bad input: exit `code`, exactly one line on stderr naming `file`, no panic.
fn assert_one_line_error(o: &Output, code: i32, file: &Path, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "want one line, got: {err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert!(err.contains(needle), "{err} lacks {needle:?}");
}

fn episode(dir: &Path, name: &str, samples: u64) -> PathBuf {
    let options = EpisodeWriterOptions {
        sync_on_flush: false,
        chunk_size_bytes: 4096,
        ..Default::default()
    };
    let mut w =
        EpisodeWriter::create(dir.join(name), EpisodeMeta::new("wave", "so101"), options).unwrap();
    let topic = w
        .add_topic::<JointState>("/robot/follower/joint_states")
        .unwrap();
    for i in 0..samples {
        let t = 1_700_000_000_000_000_000 + i * 10_000_000;
        let js = JointState {
            header: Header::new(t, ""),
            name: vec!["shoulder_pan".into(), "gripper".into()],
            position: vec![i as f64 * 0.01, 0.5],
            ..Default::default()
        };
        w.write(topic, &js, t, t).unwrap();
    }
    w.finish().unwrap()
}

/// A finished MCAP (no summary) whose only channel names schema 9, never defined.
fn file_with_unknown_schema(path: &Path) {
    fn record(out: &mut Vec<u8>, op: u8, body: &[u8]) {
        out.push(op);
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(body);
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut f = mcap::MAGIC.to_vec();
    let mut header = Vec::new();
    string(&mut header, "ros2");
    string(&mut header, "hand-made");
    record(&mut f, 0x01, &header);
    let mut channel = 1u16.to_le_bytes().to_vec();
    channel.extend_from_slice(&9u16.to_le_bytes());
    string(&mut channel, "/mystery");
    string(&mut channel, "cdr");
    channel.extend_from_slice(&0u32.to_le_bytes());
    record(&mut f, 0x04, &channel);
    let mut message = 1u16.to_le_bytes().to_vec();
    message.extend_from_slice(&0u32.to_le_bytes());
    message.extend_from_slice(&5u64.to_le_bytes());
    message.extend_from_slice(&5u64.to_le_bytes());
    message.extend_from_slice(&[0, 1, 0, 0]);
    record(&mut f, 0x05, &message);
    record(&mut f, 0x0f, &0u32.to_le_bytes());
    record(&mut f, 0x02, &[0u8; 20]);
    f.extend_from_slice(mcap::MAGIC);
    std::fs::write(path, f).unwrap();
}

#[test]
fn info_prints_a_table_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let ep = episode(dir.path(), "ep.mcap", 101);
    let o = reel(&["info", ep.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("closed cleanly"), "{out}");
    assert!(out.contains("/robot/follower/joint_states"), "{out}");
    assert!(out.contains("sensor_msgs/msg/JointState"), "{out}");
    assert!(out.contains("task \"wave\""), "{out}");

    let o = reel(&["info", "--json", ep.to_str().unwrap()]);
    assert!(o.status.success());
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let file = &json[0];
    assert_eq!(file["cleanly_closed"], true);
    assert_eq!(file["episode"]["robot_type"], "so101");
    let topic = &file["topics"][0];
    assert_eq!(topic["message_count"], 101);
    assert!((topic["mean_rate_hz"].as_f64().unwrap() - 100.0).abs() < 1e-6);
    assert!((topic["worst_gap_secs"].as_f64().unwrap() - 0.01).abs() < 1e-9);
}

#[test]
fn missing_file() {
    let o = reel(&["info", "/no/such/episode.mcap"]);
    assert_one_line_error(&o, 1, Path::new("/no/such/episode.mcap"), "no such file");
    let o = reel(&["recover", "/no/such/episode.mcap.partial"]);
    assert_one_line_error(
        &o,
        1,
        Path::new("/no/such/episode.mcap.partial"),
        "no such file",
    );
}

#[test]
fn not_an_mcap() {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in [
        ("notes.mcap", &b"hello world, not mcap"[..]),
        ("empty.mcap", &b""[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let o = reel(&["info", path.to_str().unwrap()]);
        assert_one_line_error(&o, 1, &path, "not an MCAP file");
    }
    let o = reel(&["info", dir.path().to_str().unwrap()]);
    assert_one_line_error(&o, 1, dir.path(), "directory");
    // MCAP magic followed by garbage.
    let path = dir.path().join("garbage.mcap");
    let mut bytes = mcap::MAGIC.to_vec();
    bytes.extend_from_slice(&[0xAB; 100]);
    std::fs::write(&path, bytes).unwrap();
    let o = reel(&["info", path.to_str().unwrap()]);
    assert_one_line_error(&o, 1, &path, "not a Header");
}

#[test]
fn truncated_file_is_shown_flagged_and_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let ep = episode(dir.path(), "full.mcap", 2000);
    let bytes = std::fs::read(&ep).unwrap();
    let cut = dir.path().join("cut.mcap.partial");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let o = reel(&["info", cut.to_str().unwrap()]);
    assert_one_line_error(&o, 3, &cut, "reel recover");
    assert!(String::from_utf8_lossy(&o.stdout).contains("NOT closed"));

    let o = reel(&["recover", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("kept") && out.contains("lost:"), "{out}");
    let recovered = dir.path().join("cut.mcap");
    let o = reel(&["info", "--json", recovered.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json[0]["cleanly_closed"], true);
    let kept = json[0]["message_count"].as_u64().unwrap();
    assert!(kept > 1000 && kept < 2000, "{kept}");

    // Recovering again must not overwrite the result.
    let o = reel(&["recover", cut.to_str().unwrap()]);
    assert_one_line_error(&o, 1, &recovered, "already exists");
}

#[test]
fn unknown_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mystery.mcap");
    file_with_unknown_schema(&path);
    let o = reel(&["info", path.to_str().unwrap()]);
    assert_one_line_error(&o, 3, &path, "schema 9");
}

#[test]
fn several_files_report_each() {
    let dir = tempfile::tempdir().unwrap();
    let good = episode(dir.path(), "good.mcap", 10);
    let o = reel(&["info", good.to_str().unwrap(), "/no/such.mcap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("good.mcap"));
    assert_eq!(stderr(&o).lines().count(), 1);
}

/// `reel info` on every MCAP in `shared/testdata/mcap`: each is shown (exit 0),
/// or shown and flagged with one line (exit 3: the crashed-writer file, the
/// wrongly encoded bag, the fixture with an undefined channel); none fails or panics.
#[test]
fn info_reads_every_third_party_file() {
    let Some(testdata) = reel_testkit::skip::testdata("info_reads_every_third_party_file") else {
        return;
    };
    let root = testdata.join("mcap");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "mcap") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 29, "{}", files.len());
    let mut flagged = Vec::new();
    for f in &files {
        let o = reel(&["info", f.to_str().unwrap()]);
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{}: {err}", f.display());
        match o.status.code() {
            Some(0) => assert!(err.is_empty(), "{err}"),
            Some(3) => {
                assert_eq!(err.lines().count(), 1, "{err}");
                flagged.push(f.file_name().unwrap().to_string_lossy().into_owned());
            }
            other => panic!("{}: exit {other:?}: {err}", f.display()),
        }
    }
    flagged.sort();
    assert_eq!(
        flagged,
        [
            "chunk_not_closed.mcap",
            "wrong_rmw_test_0.mcap",
            "zstd_chunk_with_padding.mcap"
        ]
    );
}
