#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `reel check`'s quality checks: every check fails on an episode made to
//! violate it and passes on clean ones.

use std::path::{Path, PathBuf};

use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};
use reel_quality::{self as quality, CheckOptions, Dimension, ReadMode, Report, Thresholds};
use reel_testkit::synthetic_rig::{generate_mix, RigMessage, RigMix, RigTopics, Timed};

const START: u64 = 1_790_000_000_000_000_000;
const SECONDS: f64 = 4.0;

fn mix() -> RigMix {
    RigMix::so101(160, 120, 12, 400)
}

/// A URDF whose `joint_1` is limited to ±`limit` rad.
fn urdf(limit: f64) -> String {
    format!(
        r#"<robot name="r"><link name="base"/><link name="l1"/>
<joint name="joint_1" type="revolute"><parent link="base"/><child link="l1"/>
<axis xyz="0 0 1"/><limit lower="-{limit}" upper="{limit}" effort="1" velocity="1"/></joint></robot>"#
    )
}

/// What to do to the messages of a clean episode.
type Fault<'a> = dyn Fn(&mut Vec<Timed>) + 'a;

/// Writes one episode of the synthetic rig; `shift` moves every joint
/// (so clean episodes differ), `fault` breaks it.
fn episode(dir: &Path, name: &str, shift: f64, joint_limit: f64, fault: &Fault<'_>) -> PathBuf {
    let mix = mix();
    let mut meta = EpisodeMeta::new("test", "so101");
    meta.nominal_rates_hz = (0..mix.cameras)
        .map(|c| (topics::camera_image(&format!("cam{c}")), f64::from(mix.fps)))
        .chain((0..mix.arms).map(|a| {
            (
                topics::joint_states(&format!("arm{a}")),
                f64::from(mix.joint_hz),
            )
        }))
        .chain([(topics::lidar_points("top"), f64::from(mix.lidar_hz))])
        .collect();
    let path = dir.join(name);
    let mut w = EpisodeWriter::create(&path, meta, EpisodeWriterOptions::default()).unwrap();
    let description = w.add_topic::<StringMsg>(topics::ROBOT_DESCRIPTION).unwrap();
    w.write(
        description,
        &StringMsg {
            data: urdf(joint_limit),
        },
        START,
        START,
    )
    .unwrap();
    let rig = RigTopics::register(&mut w, &mix).unwrap();
    let mut messages = generate_mix(&mix, START, SECONDS);
    for m in &mut messages {
        if let RigMessage::Joints(_, js) = &mut m.message {
            js.position.iter_mut().for_each(|q| *q += shift);
        }
    }
    fault(&mut messages);
    for m in &messages {
        rig.write(&mut w, m).unwrap();
    }
    w.finish().unwrap()
}

fn clean(dir: &Path, name: &str, shift: f64) -> PathBuf {
    episode(dir, name, shift, 1.5, &|_| {})
}

fn check_in(path: &Path, mode: ReadMode) -> Report {
    quality::check(
        path,
        &Thresholds::default(),
        &CheckOptions { jobs: 2, mode },
    )
    .unwrap()
}

/// Read whole.
fn check(path: &Path) -> Report {
    check_in(path, ReadMode::Full)
}

/// Both reads find the fault: whole, and through the indexes with sampled
/// chunks; they fail exactly `expected`.
fn assert_both_fail(path: &Path, expected: &[(Dimension, &str, &str)]) {
    assert_both_fail_and_maybe(path, expected, &[]);
}

/// As [`assert_both_fail`], where the checks in `maybe` may fail too (one
/// read sees what the other does not).
fn assert_both_fail_and_maybe(
    path: &Path,
    expected: &[(Dimension, &str, &str)],
    maybe: &[(Dimension, &str)],
) {
    for mode in [ReadMode::Full, ReadMode::Sampled] {
        let r = check_in(path, mode);
        assert_eq!(r.episodes[0].sampled, mode == ReadMode::Sampled);
        assert_fails_only(&r, expected, maybe);
    }
}

/// (dimension, check, item) of every failed check.
fn failures(r: &Report) -> Vec<(Dimension, String, String)> {
    r.failures()
        .map(|c| {
            (
                c.dimension,
                c.check.clone(),
                c.item.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The report fails each (dimension, check, item) of `expected` (the item
/// naming the topic or joint), and no other check.
fn assert_fails_exactly(r: &Report, expected: &[(Dimension, &str, &str)]) {
    assert_fails_only(r, expected, &[]);
}

/// As [`assert_fails_exactly`], where the checks in `maybe` may fail too.
fn assert_fails_only(
    r: &Report,
    expected: &[(Dimension, &str, &str)],
    maybe: &[(Dimension, &str)],
) {
    let f = failures(r);
    assert!(!r.passed, "{f:?}");
    for (dimension, check, item) in expected {
        assert!(
            f.iter()
                .any(|(d, c, i)| d == dimension && c == check && i.contains(item)),
            "expected {dimension:?} {check} {item} among {f:?}"
        );
        let score = r.scores.iter().find(|s| s.dimension == *dimension).unwrap();
        assert!(!score.passed && score.score < 100.0, "{score:?}");
    }
    let unexpected: Vec<_> = f
        .iter()
        .filter(|(d, c, _)| {
            !expected.iter().any(|(ed, ec, _)| ed == d && ec == c)
                && !maybe.iter().any(|(md, mc)| md == d && mc == c)
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "only {expected:?} were to fail, also: {unexpected:?}"
    );
}

fn in_window(m: &Timed, from: f64, to: f64) -> bool {
    let t = (m.publish_nanos - START) as f64 / 1e9;
    t >= from && t < to
}

#[test]
fn clean_episodes_pass_every_dimension() {
    let dir = tempfile::tempdir().unwrap();
    clean(dir.path(), "a.mcap", 0.0);
    clean(dir.path(), "b.mcap", 0.2);
    let sampled = check_in(dir.path(), ReadMode::Sampled);
    assert!(sampled.passed, "{:#?}", failures(&sampled));
    let r = check(dir.path());
    assert!(r.passed, "{:#?}", failures(&r));
    assert_eq!(r.episodes.len(), 2);
    for s in &r.scores {
        assert_eq!(s.score, 100.0, "{s:?}");
        assert!(s.checks > 0, "{:?} ran no check", s.dimension);
    }
    let e = &r.episodes[0];
    let cam = e.streams.iter().find(|s| s.topic.contains("cam0")).unwrap();
    assert!(cam.nominal_declared && cam.count == 120, "{cam:?}");
    assert_eq!(e.cameras[0].full_size, Some((160, 120)));
    assert_eq!(
        e.cameras[0].mean_luma.len(),
        4,
        "one sampled frame a second"
    );
    assert!(e.joints.iter().any(|j| j.limits == Some((-1.5, 1.5))));
    // The HTML report is one self-contained page with its plots.
    let html = quality::html::render(&r);
    assert!(html.starts_with("<!DOCTYPE html>") && html.matches("<svg").count() >= 8);
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
}

#[test]
fn a_dropped_stream_fails_completeness() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        m.retain(|m| !matches!(m.message, RigMessage::Image(1, _)));
    });
    assert_both_fail(&path, &[(Dimension::Completeness, "present", "cam1")]);
}

#[test]
fn a_gap_fails_completeness_and_rate_stability() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        m.retain(|m| !(matches!(m.message, RigMessage::Joints(0, _)) && in_window(m, 1.5, 2.1)));
    });
    let gap = [
        (Dimension::Completeness, "gaps", "arm0"),
        (Dimension::Completeness, "rate", "arm0"),
        (Dimension::Consistency, "rate-stability", "arm0"),
    ];
    assert_both_fail(&path, &gap);
    let r = check(&path);
    assert_fails_exactly(&r, &gap);
    let gap = r
        .checks
        .iter()
        .find(|c| c.check == "gaps" && !c.passed)
        .unwrap();
    assert!((gap.at_s.unwrap() - 1.5).abs() < 0.01, "{gap:?}");
}

#[test]
fn a_frozen_camera_fails_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        let mut held = None;
        for m in m.iter_mut().filter(|m| in_window(m, 1.0, 2.5)) {
            if let RigMessage::Image(0, img) = &mut m.message {
                img.data = held.get_or_insert_with(|| img.data.clone()).clone();
            }
        }
    });
    assert_both_fail(&path, &[(Dimension::Accuracy, "not-frozen", "cam0")]);
    let r = check(&path);
    let cam = &r.episodes[0].cameras[0];
    assert!((cam.longest_identical_s - 1.47).abs() < 0.05, "{cam:?}");
}

#[test]
fn a_black_camera_fails_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let mut black = Vec::new();
    jpeg_encoder::Encoder::new(&mut black, 85)
        .encode(
            &[3u8; 160 * 120 * 3],
            160,
            120,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        for (i, m) in m.iter_mut().enumerate() {
            if let RigMessage::Image(1, img) = &mut m.message {
                // Black, but not byte-identical (a trailing byte after
                // the JPEG's end differs): a lens cap, not a frozen driver.
                img.data = black.clone();
                img.data.push((i % 251) as u8);
            }
        }
    });
    // A black camera is a frozen one too (the whole read sees it).
    assert_both_fail_and_maybe(
        &path,
        &[(Dimension::Accuracy, "not-black", "cam1")],
        &[(Dimension::Accuracy, "not-frozen")],
    );
}

#[test]
fn a_joint_past_its_urdf_limit_fails_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    // joint_1 swings ±0.8 rad; a URDF limit of ±0.5 is exceeded.
    let path = episode(dir.path(), "e.mcap", 0.0, 0.5, &|_| {});
    assert_both_fail(&path, &[(Dimension::Accuracy, "joint-limits", "joint_1")]);
    let r = check(&path);
    let j = r.episodes[0]
        .joints
        .iter()
        .find(|j| j.name == "joint_1" && j.topic.contains("arm0"))
        .unwrap();
    assert!(j.outside > 0 && j.max > 0.5 + 0.01, "{j:?}");
}

#[test]
fn stamps_going_backwards_fail_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        let idx: Vec<usize> = (0..m.len())
            .filter(|&i| matches!(m[i].message, RigMessage::Joints(0, _)))
            .collect();
        let (a, b) = (idx[300], idx[301]);
        let (ta, tb) = (m[a].publish_nanos, m[b].publish_nanos);
        for (i, t) in [(a, tb), (b, ta)] {
            m[i].publish_nanos = t;
            if let RigMessage::Joints(_, js) = &mut m[i].message {
                js.header.stamp = reel_episode::ros2::builtin_interfaces::Time::from_nanos(t);
            }
        }
    });
    // Only a whole read sees every stamp.
    assert_fails_exactly(&check(&path), &[(Dimension::Accuracy, "monotonic", "arm0")]);
}

#[test]
fn a_missing_calibration_fails_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        m.retain(|m| !matches!(m.message, RigMessage::Info(0, _)));
    });
    assert_both_fail(&path, &[(Dimension::Accuracy, "calibration", "cam0")]);
}

#[test]
fn late_samples_fail_timeliness_and_another_clock_fails_consistency() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        for m in m.iter_mut() {
            match &m.message {
                RigMessage::Joints(0, _) => m.log_nanos += 40_000_000,
                // A camera on a clock 150 ms behind.
                RigMessage::Image(1, _) => m.log_nanos += 150_000_000,
                _ => {}
            }
        }
    });
    // Log times 150 ms late stretch a 1.5 s episode's span: every stream's
    // rate over it may fall below the limit too.
    assert_both_fail_and_maybe(
        &path,
        &[
            (Dimension::Timeliness, "latency", "arm0"),
            (Dimension::Consistency, "clock-agreement", ""),
        ],
        &[(Dimension::Completeness, "rate")],
    );
}

#[test]
fn duplicates_fail_uniqueness() {
    let dir = tempfile::tempdir().unwrap();
    let a = clean(dir.path(), "a.mcap", 0.0);
    clean(dir.path(), "b.mcap", 0.3);
    // A copied file (same id) and a re-recorded copy (new id, same content).
    std::fs::copy(&a, dir.path().join("c.mcap")).unwrap();
    clean(dir.path(), "d.mcap", 0.0);
    // Almost the same motion: within the RMS tolerance.
    clean(dir.path(), "e.mcap", 0.002);
    let sampled = check_in(dir.path(), ReadMode::Sampled);
    assert_eq!(sampled.duplicates.len(), 1, "{:?}", sampled.duplicates);
    assert_eq!(sampled.duplicates[0].members.len(), 4);
    let r = check(dir.path());
    assert_eq!(r.duplicates.len(), 1, "{:?}", r.duplicates);
    assert_eq!(
        r.duplicates[0].members,
        ["a.mcap", "c.mcap", "d.mcap", "e.mcap"]
    );
    let failed: Vec<String> = r
        .failures()
        .filter(|c| c.dimension == Dimension::Uniqueness)
        .map(|c| format!("{} {}", c.subject, c.message))
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed[0].starts_with("c.mcap exact"), "{failed:?}");
    assert!(failed[0].starts_with("c.mcap exact") && failed[0].contains("same episode id"));
    assert!(failed[1].starts_with("d.mcap exact") && failed[1].contains("same trajectory"));
    assert!(failed[2].starts_with("e.mcap near") && failed[2].contains("RMS 0.002"));
    assert!(r.failures().all(|c| c.dimension == Dimension::Uniqueness));
}

#[test]
fn a_cut_off_file_fails_integrity() {
    let dir = tempfile::tempdir().unwrap();
    let path = clean(dir.path(), "e.mcap", 0.0);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 5]).unwrap();
    let r = check(&cut);
    // A cut file is unreadable past the cut, not closed, and never ended.
    assert_fails_exactly(
        &r,
        &[
            (Dimension::Integrity, "closed", ""),
            (Dimension::Integrity, "ended", ""),
            (Dimension::Integrity, "readable", ""),
        ],
    );
    // A flipped byte inside a chunk's data is caught (CRC or decompression).
    let reader = reel_episode::EpisodeReader::open(&path).unwrap();
    let chunks = &reader.summary().unwrap().chunk_indexes;
    let chunk = &chunks[chunks.len() / 2];
    let at = (chunk.chunk_start_offset + chunk.chunk_length / 2) as usize;
    drop(reader);
    let mut flipped = bytes.clone();
    flipped[at] ^= 0x01;
    let bad = dir.path().join("flipped.mcap");
    std::fs::write(&bad, &flipped).unwrap();
    // The streams around the damaged chunk are also reported out of order
    // (the read resumes after it); only integrity must fail.
    assert_fails_only(
        &check(&bad),
        &[(Dimension::Integrity, "readable", "")],
        &[(Dimension::Accuracy, "monotonic")],
    );
}

#[test]
fn thresholds_are_configurable_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = episode(dir.path(), "e.mcap", 0.0, 1.5, &|m| {
        m.retain(|m| !matches!(m.message, RigMessage::Info(_, _)));
    });
    assert!(!check(&path).passed);
    let file = dir.path().join("limits.toml");
    std::fs::write(&file, "[accuracy]\nrequire_camera_info = false\n").unwrap();
    let t = Thresholds::read(&file).unwrap();
    assert!(
        quality::check(&path, &t, &CheckOptions::default())
            .unwrap()
            .passed
    );
    // A lower minimum score lets a dimension pass with failures.
    std::fs::write(&file, "[min_score]\naccuracy = 50.0\n").unwrap();
    let t = Thresholds::read(&file).unwrap();
    let r = quality::check(&path, &t, &CheckOptions::default()).unwrap();
    assert!(r.passed && r.failures().count() == 2, "{:?}", failures(&r));
    std::fs::write(&file, "[accuracy]\nno_such_limit = 1\n").unwrap();
    let e = Thresholds::read(&file).unwrap_err().to_string();
    assert!(
        e.contains("limits.toml") && e.contains("no_such_limit"),
        "{e}"
    );
    // The defaults round-trip through their TOML.
    let text = Thresholds::default().to_toml();
    assert_eq!(
        toml::from_str::<Thresholds>(&text).unwrap(),
        Thresholds::default()
    );
}

#[test]
fn bad_paths_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = quality::check(
        &dir.path().join("nope"),
        &Thresholds::default(),
        &CheckOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    let e =
        quality::check(dir.path(), &Thresholds::default(), &CheckOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no episode"), "{e}");
    // Not MCAP: reported as unreadable, not a crash.
    let junk = dir.path().join("junk.mcap");
    std::fs::write(&junk, b"hello").unwrap();
    let r = check(&junk);
    assert_fails_exactly(&r, &[(Dimension::Integrity, "readable", "")]);
}
