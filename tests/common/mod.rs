//! Helpers the CLI tests share: the built `reel` binary, the workspace, and
//! the Python venv of third-party readers (`scripts/setup.sh`).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub mod lerobot_files;

/// The repository root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `reel` binary under test.
pub fn reel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reel"))
}

/// Runs `cmd` to completion with no stdin.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub use reel_testkit::skip::venv_python;

/// Messages per topic as reel reads them.
pub fn topic_counts(path: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    let reader = reel_episode::EpisodeReader::open(path).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for m in reader.messages() {
        *out.entry(m.unwrap().channel.topic.clone()).or_insert(0) += 1;
    }
    out
}

/// Runs `scripts/check_interop.py` on `files` and asserts that the Python
/// `mcap` and `rosbags` readers decode, per topic, exactly the messages reel
/// reads. Returns their report, or None (skip recorded) without the venv.
pub fn third_party_readers_agree(files: &[PathBuf], checks: &str) -> Option<serde_json::Value> {
    let python = venv_python(checks)?;
    let o = Command::new(&python)
        .arg(workspace().join("scripts/check_interop.py"))
        .args(files)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let decoded: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for f in files {
        for (topic, n) in &topic_counts(f) {
            for reader in ["mcap", "rosbags"] {
                assert_eq!(
                    decoded[f.to_string_lossy().as_ref()][reader][topic]["count"].as_u64(),
                    Some(*n),
                    "{reader} {topic} in {}",
                    f.display()
                );
            }
        }
    }
    Some(decoded)
}

/// Runs `reel sim --scenario SCENARIO --out OUT ARGS...`, asserts that it
/// succeeded, and returns the episodes it wrote, sorted.
pub fn simulate<A: AsRef<std::ffi::OsStr>>(
    scenario: &std::path::Path,
    out: &std::path::Path,
    args: impl IntoIterator<Item = A>,
) -> Vec<PathBuf> {
    let o = run(reel()
        .arg("sim")
        .arg("--scenario")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .args(args));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The sample scenario made `seconds` long with cameras at 96×72 (the
/// smallest size SVT-AV1 encodes), written in `dir`; and `count` of its
/// episodes under seed `seed` in `dir/episodes` (sorted).
pub fn short_sim(
    dir: &std::path::Path,
    seconds: f64,
    count: usize,
    seed: u64,
) -> (PathBuf, Vec<PathBuf>) {
    let scenario = dir.join("scenario.toml");
    reel_testkit::short_scenario::write_short_scenario(
        &workspace().join("samples"),
        &scenario,
        seconds,
        (96, 72),
        &workspace().join("samples/robots/so101/so101_new_calib.urdf"),
    );
    let episodes = simulate(
        &scenario,
        &dir.join("episodes"),
        [
            "--episodes",
            &count.to_string(),
            "--seed",
            &seed.to_string(),
            "--jobs",
            "2",
        ],
    );
    assert_eq!(episodes.len(), count);
    (scenario, episodes)
}
