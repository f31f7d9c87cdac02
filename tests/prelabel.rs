//! Automatic pre-labels (reel-quality) against the simulator's truth: the
//! expert's phase events in synthesized episodes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reel_episode::EpisodeReader;
use reel_sim::scenario::Scenario;
use reel_sim::SimOptions;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The sample scenario, shortened and with small cameras, written next to `dir`
/// with the URDF path made absolute.
fn short_scenario(dir: &Path, seconds: f64) -> Scenario {
    let path = dir.join("short.toml");
    let urdf = samples().join("robots/so101/so101_new_calib.urdf");
    reel_testkit::short_scenario::write_short_scenario(&samples(), &path, seconds, (96, 72), &urdf);
    Scenario::read(&path).expect("short scenario")
}

/// Times (s from the episode's first joint state) of the expert's phase
/// events; the grasp and the release must be among them.
fn phase_times(path: &Path) -> BTreeMap<String, f64> {
    use reel_episode::ros2::std_msgs::StringMsg;
    let reader = EpisodeReader::open(path).expect("open");
    let mut start = u64::MAX;
    let mut phases: BTreeMap<String, u64> = BTreeMap::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m.expect("message");
        if m.channel.topic == "/robot/follower/joint_states" {
            start = start.min(m.publish_time);
        }
        if m.channel.topic == "/episode/events" {
            let s: StringMsg = reader.decode(&m, i as u64).expect("event");
            let v: serde_json::Value = serde_json::from_str(&s.data).expect("json");
            if let Some(phase) = v["phase"].as_str() {
                let t = phases.entry(phase.to_string()).or_insert(m.publish_time);
                *t = (*t).min(m.publish_time);
            }
        }
    }
    assert!(start < u64::MAX, "{}: no joint state", path.display());
    for phase in ["grasp", "release"] {
        assert!(
            phases.contains_key(phase),
            "{}: the expert never reached its {phase} phase: {phases:?}",
            path.display()
        );
    }
    phases
        .into_iter()
        .map(|(phase, t)| (phase, (t as f64 - start as f64) / 1e9))
        .collect()
}

#[test]
fn pre_labels_find_the_grasp_and_the_release_within_100_ms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = short_scenario(dir.path(), 12.0);
    let options = SimOptions {
        out: dir.path().join("out"),
        ..Default::default()
    };
    let episodes = reel_sim::run(&s, 5, &[0, 1, 2], 2, &options, &|_| {}).expect("sim");
    assert_eq!(episodes.len(), 3);
    let mut worst: f64 = 0.0;
    for e in &episodes {
        let truth = phase_times(&e.path);
        let reader = EpisodeReader::open(&e.path).expect("open");
        let start = reel_quality::prelabel::first_sample_nanos(&reader).expect("start");
        let labels = reel_quality::prelabel::prelabel(&e.path, start).expect("prelabel");
        for (label, phase) in [("grasp", "grasp"), ("release", "release")] {
            let found = labels
                .iter()
                .find(|s| s.label == label)
                .unwrap_or_else(|| panic!("no {label} in {labels:?}"));
            let error = (found.start_s - truth[phase]).abs();
            assert!(
                error <= 0.1,
                "{label} at {:.3} s, the expert's {phase} phase at {:.3} s ({})",
                found.start_s,
                truth[phase],
                e.path.display()
            );
            worst = worst.max(error);
        }
        // The hold lasts from the grasp to the release; idle ends are found.
        assert!(labels.iter().any(|s| s.label == "holding"));
        assert!(labels.iter().filter(|s| s.label == "idle").count() >= 1);
    }
    println!(
        "worst pre-label error over 3 episodes: {:.1} ms",
        worst * 1e3
    );
}
