//! Files made by other tools (`shared/testdata/mcap`): every MCAP conformance
//! file (416, with their expected records), rosbag2's bags, and the `mcap`
//! crate's real-data files are read, or rejected with a clear error.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::ros2::RosMessage;
use reel_episode::{info, EpisodeReader, FileState};
use serde_json::Value;

/// Message records (log_time, data), metadata and attachment counts of a
/// conformance JSON file.
fn expected_records(json: &Path) -> (Vec<(u64, Vec<u8>)>, usize, usize) {
    let doc: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    let mut messages = Vec::new();
    let (mut metadata, mut attachments) = (0, 0);
    for record in doc["records"].as_array().unwrap() {
        let field = |name: &str| -> Value {
            record["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f[0] == name)
                .map(|f| f[1].clone())
                .unwrap_or(Value::Null)
        };
        match record["type"].as_str().unwrap() {
            "Message" => {
                let log_time = field("log_time").as_str().unwrap().parse().unwrap();
                let data = field("data")
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_str().unwrap().parse().unwrap())
                    .collect();
                messages.push((log_time, data));
            }
            "Metadata" => metadata += 1,
            "Attachment" => attachments += 1,
            _ => {}
        }
    }
    (messages, metadata, attachments)
}

fn check_conformance_file(mcap: &Path) {
    let json = mcap.with_extension("json");
    let (messages, metadata, attachments) = expected_records(&json);
    let summary = info(mcap).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        summary.cleanly_closed,
        "{}: {:?}",
        mcap.display(),
        summary.problems
    );
    assert_eq!(
        summary.message_count as usize,
        messages.len(),
        "{}",
        mcap.display()
    );
    assert_eq!(summary.other_metadata.len(), metadata, "{}", mcap.display());
    assert_eq!(summary.attachments.len(), attachments, "{}", mcap.display());
    let reader = EpisodeReader::open(mcap).unwrap();
    let read: Vec<(u64, Vec<u8>)> = reader
        .messages()
        .map(|m| {
            let m = m.unwrap_or_else(|e| panic!("{e}"));
            (m.log_time, m.data.into_owned())
        })
        .collect();
    assert_eq!(read, messages, "{}", mcap.display());
    assert_eq!(
        reader.metadata().unwrap().len(),
        metadata,
        "{}",
        mcap.display()
    );
    assert_eq!(
        reader.attachments().unwrap().len(),
        attachments,
        "{}",
        mcap.display()
    );
}

#[test]
fn conformance_files_in_the_folder() {
    let Some(testdata) = reel_testkit::skip::testdata("conformance_files_in_the_folder") else {
        return;
    };
    let dir = testdata.join("mcap/foxglove_conformance");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mcap") {
            check_conformance_file(&path);
            n += 1;
        }
    }
    assert!(n >= 13, "only {n} conformance files found");
}

#[test]
fn all_416_conformance_files() {
    let Some(testdata) = reel_testkit::skip::testdata("all_416_conformance_files") else {
        return;
    };
    let tarball = testdata.join("mcap/foxglove_conformance/conformance_all_416.tar.gz");
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar is needed to unpack the conformance files");
    assert!(status.success());
    let mut files: Vec<PathBuf> = Vec::new();
    let root = dir.path().join("conformance_data");
    for group in std::fs::read_dir(&root).unwrap() {
        for f in std::fs::read_dir(group.unwrap().path()).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "mcap") {
                files.push(f);
            }
        }
    }
    assert_eq!(files.len(), 416);
    for f in &files {
        check_conformance_file(f);
    }
}

/// Total `message_count` of a rosbag2 `metadata.yaml` (its top-level key).
fn bag_message_count(yaml: &Path) -> u64 {
    std::fs::read_to_string(yaml)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("  message_count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[test]
fn rosbag2_bags() {
    let Some(testdata) = reel_testkit::skip::testdata("rosbag2_bags") else {
        return;
    };
    let root = testdata.join("mcap/rosbag2");
    let mut checked = 0;
    for bag in std::fs::read_dir(&root).unwrap() {
        let bag = bag.unwrap().path();
        if !bag.is_dir() {
            continue;
        }
        let mut total = 0;
        for f in std::fs::read_dir(&bag).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "mcap") {
                let summary = info(&f).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(summary.profile, "ros2", "{}", f.display());
                let wrong_encoding = bag.ends_with("wrong_rmw_test");
                assert_eq!(
                    summary
                        .problems
                        .iter()
                        .any(|p| p.contains("message encoding")),
                    wrong_encoding,
                    "{}: {:?}",
                    f.display(),
                    summary.problems
                );
                total += summary.message_count;
                checked += 1;
            }
        }
        let yaml = bag.join("metadata.yaml");
        if yaml.exists() {
            assert_eq!(total, bag_message_count(&yaml), "{}", bag.display());
        }
    }
    assert!(checked >= 10);
}

/// rosbag2's talker bag holds `std_msgs/msg/String` written by ROS 2 itself:
/// our decoder must read every one as mcap-ros2-support did.
#[test]
fn decodes_ros2_strings_like_mcap_ros2() {
    let Some(testdata) = reel_testkit::skip::testdata("decodes_ros2_strings_like_mcap_ros2") else {
        return;
    };
    let dir = testdata.join("mcap/rosbag2/talker");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("talker.expected_decoded.json")).unwrap())
            .unwrap();
    let mut want: Vec<(u64, String)> = expected["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == StringMsg::TYPE_NAME)
        .map(|m| {
            (
                m["log_time"].as_u64().unwrap(),
                m["decoded"]["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    let reader = EpisodeReader::open(dir.join("talker.mcap")).unwrap();
    let mut got = Vec::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        if m.channel
            .schema
            .as_ref()
            .is_some_and(|s| s.name == StringMsg::TYPE_NAME)
        {
            got.push((
                m.log_time,
                reader.decode::<StringMsg>(&m, i as u64).unwrap().data,
            ));
        }
    }
    got.sort();
    assert_eq!(got.len(), 10);
    assert_eq!(got, want);
}

#[test]
fn mcap_crate_real_data_files() {
    let Some(testdata) = reel_testkit::skip::testdata("mcap_crate_real_data_files") else {
        return;
    };
    let dir = testdata.join("mcap/foxglove_rust_testdata");
    let compressed = info(dir.join("compressed.mcap")).unwrap();
    let uncompressed = info(dir.join("uncompressed.mcap")).unwrap();
    assert!(compressed.cleanly_closed && uncompressed.cleanly_closed);
    assert!(compressed.message_count > 0);
    assert_eq!(compressed.message_count, uncompressed.message_count);
    assert_eq!(
        compressed
            .topics
            .iter()
            .map(|t| (&t.topic, t.message_count))
            .collect::<Vec<_>>(),
        uncompressed
            .topics
            .iter()
            .map(|t| (&t.topic, t.message_count))
            .collect::<Vec<_>>()
    );
    // A zstd chunk with padding whose messages use a channel the file never
    // defines: read, and the undefined channel reported, not invented.
    let padded = info(dir.join("zstd_chunk_with_padding.mcap")).unwrap();
    assert_eq!(padded.chunk_count, 1);
    assert!(
        padded.problems.iter().any(|p| p.contains("never defines")),
        "{:?}",
        padded.problems
    );
    // A writer that crashed with a chunk open: readable, and flagged for recovery.
    let crashed = info(dir.join("chunk_not_closed.mcap")).unwrap();
    assert_eq!(crashed.file_state, FileState::Truncated);
    assert!(!crashed.cleanly_closed);
    assert!(crashed.problems.iter().any(|p| p.contains("reel recover")));
}
