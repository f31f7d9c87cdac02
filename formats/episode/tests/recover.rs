//! Recovery: a file cut at any offset recovers every chunk that was complete
//! before the cut, and a writer killed with SIGKILL loses at most about the
//! last second.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::Error;
use reel_episode::{
    partial_path_for, recover, EpisodeMeta, EpisodeReader, EpisodeWriter, EpisodeWriterOptions,
    FileState, RecoverOptions,
};

/// Cuts a finished episode at 60 offsets spread over the file and checks that
/// recovery keeps exactly the messages of the chunks that end before the cut.
#[test]
fn truncation_at_many_offsets_keeps_every_complete_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let options = reel_testkit::episodes::many_chunks_options();
    let original =
        reel_testkit::episodes::write_small_episode(&dir.path().join("full.mcap"), 3.0, options);
    let bytes = std::fs::read(&original).unwrap();
    let all = reel_testkit::episodes::all_messages(&original);
    let reader = EpisodeReader::open(&original).unwrap();
    let summary = reader.summary().unwrap();
    // (end offset, messages) of every chunk, in file order.
    let mut chunks: Vec<(u64, usize)> = summary
        .chunk_indexes
        .iter()
        .map(|ci| {
            let n = summary.stream_chunk(reader.bytes(), ci).unwrap().count();
            (ci.chunk_start_offset + ci.chunk_length, n)
        })
        .collect();
    chunks.sort();
    assert!(chunks.len() >= 10, "want many chunks, got {}", chunks.len());
    let data_end = summary
        .chunk_indexes
        .iter()
        .map(|c| c.chunk_start_offset + c.chunk_length)
        .max()
        .unwrap();

    let mut noise = reel_testkit::synthetic_rig::Noise::new(11);
    let mut offsets: Vec<u64> = (0..50)
        .map(|_| 40 + noise.next_u64() % (data_end + 64 - 40))
        .collect();
    // Exactly at, one before and one after chunk boundaries too.
    for &(end, _) in chunks.iter().take(4) {
        offsets.extend([end - 1, end, end + 1]);
    }
    for cut in offsets {
        let partial = dir.path().join(format!("cut{cut}.mcap.partial"));
        std::fs::write(&partial, &bytes[..cut as usize]).unwrap();
        let expected: usize = chunks
            .iter()
            .filter(|(end, _)| *end <= cut)
            .map(|(_, n)| n)
            .sum();
        match recover(&partial, &RecoverOptions::default()) {
            Ok(report) => {
                assert_eq!(report.messages_kept as usize, expected, "cut at {cut}");
                assert!(
                    report.tail.is_some(),
                    "cut at {cut} should say the file was unfinished"
                );
                let on_boundary = chunks.iter().any(|(end, _)| *end == cut);
                assert_eq!(
                    report.lost_anything(),
                    !on_boundary && report.lost_tail_bytes > 0
                );
                assert_eq!(report.kept_bytes + report.lost_tail_bytes, cut);
                let out = dir.path().join(format!("cut{cut}.mcap"));
                assert_eq!(report.output, out);
                let r = EpisodeReader::open(&out).unwrap();
                assert_eq!(r.state(), &FileState::Closed);
                assert_eq!(r.profile(), "ros2");
                assert!(
                    r.episode_meta().unwrap().is_some(),
                    "metadata lost at cut {cut}"
                );
                assert_eq!(
                    reel_testkit::episodes::all_messages(&out),
                    all[..expected],
                    "cut at {cut}"
                );
                // The input is left as it was.
                assert_eq!(std::fs::metadata(&partial).unwrap().len(), cut);
            }
            Err(Error::NothingToRecover { .. }) => assert_eq!(expected, 0, "cut at {cut}"),
            Err(e) => panic!("cut at {cut}: {e}"),
        }
    }
}

#[test]
fn damaged_chunk_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let options = reel_testkit::episodes::many_chunks_options();
    let original =
        reel_testkit::episodes::write_small_episode(&dir.path().join("full.mcap"), 2.0, options);
    let mut bytes = std::fs::read(&original).unwrap();
    let reader = EpisodeReader::open(&original).unwrap();
    let summary = reader.summary().unwrap();
    let mut cis: Vec<_> = summary.chunk_indexes.clone();
    cis.sort_by_key(|c| c.chunk_start_offset);
    let victim = &cis[cis.len() / 2];
    let lost = summary
        .stream_chunk(reader.bytes(), victim)
        .unwrap()
        .count();
    let total = reel_testkit::episodes::all_messages(&original).len();
    // Flip a byte in the middle of the compressed data of one chunk.
    let at = (victim.chunk_start_offset + victim.chunk_length / 2) as usize;
    bytes[at] ^= 0x5a;
    let damaged = dir.path().join("damaged.mcap.partial");
    std::fs::write(&damaged, &bytes).unwrap();
    let report = recover(&damaged, &RecoverOptions::default()).unwrap();
    assert_eq!(report.chunks_dropped, 1);
    assert_eq!(report.messages_kept as usize, total - lost);
    assert!(report.lost_anything());
}

#[test]
fn recover_refuses_to_overwrite_and_rejects_non_mcap() {
    let dir = tempfile::tempdir().unwrap();
    let original = reel_testkit::episodes::write_small_episode(
        &dir.path().join("a.mcap"),
        0.5,
        reel_testkit::episodes::fast_options(),
    );
    let copy = partial_path_for(&original);
    std::fs::copy(&original, &copy).unwrap();
    // `a.mcap` exists: recovering `a.mcap.partial` must not replace it.
    let err = recover(&copy, &RecoverOptions::default()).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    // A complete file recovers with nothing lost.
    let out = dir.path().join("b.mcap");
    let report = recover(
        &copy,
        &RecoverOptions {
            output: Some(out.clone()),
        },
    )
    .unwrap();
    assert!(!report.lost_anything(), "{report:?}");
    assert_eq!(
        reel_testkit::episodes::all_messages(&out),
        reel_testkit::episodes::all_messages(&original)
    );
    let text = dir.path().join("notes.mcap.partial");
    std::fs::write(&text, "hello").unwrap();
    assert!(matches!(
        recover(&text, &RecoverOptions::default()),
        Err(Error::NotMcap { .. })
    ));
}

const CHILD_ENV: &str = "REEL_TEST_STEADY_WRITER";

/// The child side of `kill_9_loses_at_most_about_one_second`: writes joint
/// states at 200 Hz until killed, printing each log time after writing it.
#[test]
#[ignore = "helper process for kill_9_loses_at_most_about_one_second"]
fn steady_writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut w = EpisodeWriter::create(
        &path,
        EpisodeMeta::new("steady", "test"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    let topic = w
        .add_topic::<JointState>("/robot/arm/joint_states")
        .unwrap();
    let start = std::time::Instant::now();
    for i in 0u64.. {
        let now = reel_episode::time::host_now_nanos();
        let js = JointState {
            header: Header::new(now, ""),
            name: (0..7).map(|j| format!("joint_{j}")).collect(),
            position: vec![i as f64; 7],
            velocity: vec![0.0; 7],
            effort: vec![0.0; 7],
        };
        w.write(topic, &js, now, now).unwrap();
        println!("{now}");
        let next = Duration::from_millis(5) * (i as u32 + 1);
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// Starts a writer in another process, SIGKILLs it mid-recording, recovers,
/// and checks that everything written more than ~1 s before the kill is there.
#[test]
fn kill_9_loses_at_most_about_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.mcap");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "steady_writer_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut last_written = 0u64;
    let mut lines = 0;
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        if let Ok(t) = line.trim().parse::<u64>() {
            last_written = t;
            lines += 1;
            // ~3 s of recording at 200 Hz, then kill.
            if lines == 600 {
                child.kill().unwrap();
                break;
            }
        }
    }
    let _ = child.wait();
    assert_eq!(lines, 600, "child stopped early");
    let partial = partial_path_for(&path);
    assert!(partial.exists() && !path.exists());
    let report = recover(&partial, &RecoverOptions::default()).unwrap();
    let msgs = reel_testkit::episodes::all_messages(Path::new(&report.output));
    assert!(!msgs.is_empty());
    // Sequences are contiguous from 0: nothing in the middle is lost.
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.1 as usize, i);
    }
    let last_kept = msgs.last().unwrap().2;
    let lag = last_written.saturating_sub(last_kept) as f64 * 1e-9;
    println!(
        "kept {} of at least {lines} messages; newest kept is {lag:.3} s older than the newest written",
        msgs.len()
    );
    // One chunk period plus one message interval plus scheduling slack.
    assert!(lag <= 1.2, "lost {lag:.3} s of data");
}
