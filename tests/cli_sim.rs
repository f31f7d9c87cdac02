#![allow(clippy::unwrap_used)]
//! `reel sim`: episodes that third-party readers open and that export to
//! LeRobot like captured ones; clear errors for bad scenarios.

mod common;

use std::path::{Path, PathBuf};

use common::{reel, run, stderr, workspace};
use reel_episode::EpisodeReader;

/// The sample scenario shortened to `seconds`, cameras at 128×96, with the
/// URDF path rewritten to `urdf`.
fn scenario_in(dir: &Path, seconds: f64, urdf: &Path) -> PathBuf {
    let path = dir.join("scenario.toml");
    reel_testkit::short_scenario::write_short_scenario(
        &workspace().join("samples"),
        &path,
        seconds,
        (128, 96),
        urdf,
    );
    path
}

fn sample_urdf() -> PathBuf {
    workspace().join("samples/robots/so101/so101_new_calib.urdf")
}

#[test]
fn sim_episodes_open_in_third_party_readers_and_export_to_lerobot() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_in(dir.path(), 2.0, &sample_urdf());
    let out = dir.path().join("sim");
    let files = common::simulate(
        &scenario,
        &out,
        ["--episodes", "2", "--seed", "4", "--jobs", "2"],
    );
    assert_eq!(files.len(), 2, "{files:?}");
    common::third_party_readers_agree(&files, "third-party checks of sim episodes");
    // Sim episodes pass every quality check; the rates they declare are met.
    let html = dir.path().join("quality.html");
    let o = run(reel()
        .args(["check", "--json", "--html"])
        .arg(&html)
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["passed"], true);
    let streams = report["episodes"][0]["streams"].as_array().unwrap();
    assert!(
        streams.len() >= 4 && streams.iter().all(|s| s["nominal_declared"] == true),
        "{streams:?}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("PASSED") && page.contains("<svg"));
    // An annotated instruction becomes that episode's task.
    let o = run(reel()
        .args([
            "annotate",
            "--instruction",
            "put the cube down gently",
            "--success",
        ])
        .arg(&files[0]));
    assert!(o.status.success(), "{}", stderr(&o));
    let dataset = dir.path().join("lerobot");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&out)
        .arg("--out")
        .arg(&dataset)
        .args(["--vcodec", "h264", "--repo-id", "reel/sim-test"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dataset.join("meta/info.json")).unwrap()).unwrap();
    assert_eq!(info["total_episodes"], 2);
    assert_eq!(
        info["total_tasks"], 2,
        "the annotated instruction is a second task"
    );
    assert_eq!(info["robot_type"], "so101");
    for key in [
        "observation.state",
        "action",
        "observation.images.front",
        "observation.images.wrist",
    ] {
        assert!(
            info["features"].get(key).is_some(),
            "{key} missing: {}",
            info["features"]
        );
    }
    assert_eq!(
        info["features"]["observation.state"]["names"][0],
        "shoulder_pan.pos"
    );
    let o = run(reel().arg("check").arg(&dataset));
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Runs `reel sim` on a bad scenario and returns its one-line error.
fn refused(scenario: &Path, out: &Path) -> String {
    let o = run(reel()
        .args(["sim", "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(out));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_scenarios_are_refused_with_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let good = scenario_in(dir.path(), 1.0, &sample_urdf());
    let text = std::fs::read_to_string(&good).unwrap();
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;

    // Malformed TOML.
    let bad = text.replace("duration_s = 1", "duration_s = [1");
    std::fs::write(&good, &bad).unwrap();
    let err = refused(&good, &out);
    // The parser reports where it noticed: the bad line or the one after.
    let at = line_of(&bad, "duration_s");
    assert!(
        err.contains(&format!("scenario.toml:{at}:"))
            || err.contains(&format!("scenario.toml:{}:", at + 1)),
        "{err}"
    );

    // A link the URDF does not have.
    let bad = text.replace(
        "contact_links = [\"moving_jaw_so101_v1_link\"]",
        "contact_links = [\"jaw_link\"]",
    );
    std::fs::write(&good, &bad).unwrap();
    let err = refused(&good, &out);
    assert!(
        err.contains(&format!("scenario.toml:{}:", line_of(&bad, "jaw_link"))),
        "{err}"
    );
    assert!(err.contains("unknown URDF link \"jaw_link\""), "{err}");

    // A URDF whose meshes are not beside it.
    let urdf_text = std::fs::read_to_string(sample_urdf()).unwrap();
    let lonely = dir.path().join("lonely.urdf");
    std::fs::write(&lonely, &urdf_text).unwrap();
    let err = refused(&scenario_in(dir.path(), 1.0, &lonely), &out);
    assert!(err.contains("lonely.urdf:"), "{err}");
    assert!(err.contains("not found next to the URDF"), "{err}");

    // Impossible joint limits.
    let swapped = urdf_text.replacen(
        "lower=\"-1.91986\" upper=\"1.91986\"",
        "lower=\"1.91986\" upper=\"-1.91986\"",
        1,
    );
    assert_ne!(swapped, urdf_text);
    let urdf_dir = dir.path().join("robot");
    std::fs::create_dir_all(&urdf_dir).unwrap();
    let limits = urdf_dir.join("limits.urdf");
    std::fs::write(&limits, &swapped).unwrap();
    let err = refused(&scenario_in(dir.path(), 1.0, &limits), &out);
    assert!(
        err.contains(&format!(
            "limits.urdf:{}:",
            line_of(&swapped, "name=\"shoulder_pan\" type")
        )),
        "{err}"
    );
    assert!(err.contains("impossible limits"), "{err}");

    // Nothing was written for any of them.
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn replaying_an_episodes_commands_reproduces_its_motion() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_in(dir.path(), 3.0, &sample_urdf());
    let source = common::simulate(&scenario, &dir.path().join("first"), ["--seed", "9"]).remove(0);
    let copy = common::simulate(
        &scenario,
        &dir.path().join("replayed"),
        [
            "--seed".as_ref(),
            "9".as_ref(),
            "--replay".as_ref(),
            source.as_os_str(),
        ],
    )
    .remove(0);
    let positions = |path: &Path| -> Vec<Vec<f64>> {
        let reader = EpisodeReader::open(path).unwrap();
        let mut out = Vec::new();
        for (i, m) in reader.messages().enumerate() {
            let m = m.unwrap();
            if m.channel.topic == "/robot/follower/joint_states" {
                let js: reel_episode::ros2::sensor_msgs::JointState =
                    reader.decode(&m, i as u64).unwrap();
                out.push(js.position);
            }
        }
        out
    };
    let (a, b) = (positions(&source), positions(&copy));
    assert!(
        a.len() > 250 && b.len() > 250,
        "{} and {} joint states",
        a.len(),
        b.len()
    );
    assert!(
        a.len().abs_diff(b.len()) <= 2,
        "{} joint states, replayed {}",
        a.len(),
        b.len()
    );
    // The expert must have moved the arm, or the same positions prove nothing.
    let travel = (0..a[0].len())
        .map(|j| {
            let (lo, hi) = a
                .iter()
                .map(|p| p[j])
                .fold((f64::MAX, f64::MIN), |(lo, hi), q| (lo.min(q), hi.max(q)));
            hi - lo
        })
        .fold(0.0f64, f64::max);
    assert!(travel > 0.3, "the source arm moved at most {travel} rad");
    // The replay holds each command until the next (100 Hz), so it trails the
    // expert's continuous targets slightly; the motion is the same.
    let worst = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0f64, f64::max);
    assert!(worst < 0.05, "replayed joints differ by up to {worst} rad");
    let meta = EpisodeReader::open(&copy)
        .unwrap()
        .episode_meta()
        .unwrap()
        .unwrap();
    assert_eq!(meta.source_params["policy"], "replay");
    assert!(meta.source_params["replay_of"].ends_with(".mcap"));
}

/// Runs `args` of `reel` under `script`, on a pseudo-terminal; returns what
/// the terminal showed. None (skip recorded) without `script`.
fn on_a_terminal(args: &[&str]) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(script) = script else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must check progress bars on a terminal: install util-linux (script)"
        );
        reel_testkit::skip::skip(
            "progress bars",
            "no `script` (util-linux) to give reel a terminal",
        );
        return None;
    };
    let command = std::iter::once(env!("CARGO_BIN_EXE_reel").to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let o = run(std::process::Command::new(script)
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("TERM", "xterm"));
    // `reel check` exits 4 when a quality limit is missed: a result, not a failure.
    assert!(
        matches!(o.status.code(), Some(0 | 4)),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn long_commands_show_a_progress_bar_on_a_terminal_and_none_on_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_in(dir.path(), 0.5, &sample_urdf());
    let sim = |out: &str| {
        vec![
            "sim".to_string(),
            "--scenario".into(),
            scenario.display().to_string(),
            "--episodes".into(),
            "2".into(),
            "--seed".into(),
            "1".into(),
            "--out".into(),
            dir.path().join(out).display().to_string(),
        ]
    };
    let args = sim("tty");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(tty) = on_a_terminal(&args) else {
        return;
    };
    assert!(tty.contains("episodes synthesized"), "{tty}");
    let check = dir.path().join("tty").display().to_string();
    let tty = on_a_terminal(&["check", &check]).unwrap();
    assert!(tty.contains("episodes checked"), "{tty}");
    let export = dir.path().join("dataset").display().to_string();
    let tty = on_a_terminal(&[
        "export", "lerobot", &check, "--out", &export, "--vcodec", "h264",
    ])
    .unwrap();
    assert!(tty.contains("videos encoded"), "{tty}");
    // Piped: the same commands print no bar, on stdout or stderr.
    let o = run(reel().args(sim("pipe")));
    assert!(o.status.success(), "{}", stderr(&o));
    let both = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!both.contains("synthesized (eta"), "{both}");
    let o = run(reel().arg("check").arg(dir.path().join("pipe")));
    let both = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!both.contains("episodes checked"), "{both}");
}

#[test]
fn sim_shards_make_the_files_of_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = scenario_in(dir.path(), 0.5, &sample_urdf());
    let args = |extra: &[&str]| -> Vec<String> {
        ["--episodes", "3", "--seed", "6"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let whole = common::simulate(&scenario, &dir.path().join("whole"), args(&[]));
    let mut sharded = Vec::new();
    for i in 0..2 {
        let out = dir.path().join("shards");
        sharded = common::simulate(&scenario, &out, args(&["--shard", &format!("{i}/2")]));
    }
    let names = |files: &[PathBuf]| -> Vec<String> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&whole), names(&sharded));
    for (a, b) in whole.iter().zip(&sharded) {
        // The same messages at the same times (the files' own write times differ).
        let (ma, mb) = (
            reel_testkit::episodes::all_messages(a),
            reel_testkit::episodes::all_messages(b),
        );
        assert!(!ma.is_empty());
        assert!(ma == mb, "{} differs from the whole run's", b.display());
    }
    let o = run(reel()
        .args(["sim", "--scenario"])
        .arg(&scenario)
        .args(["--episodes", "3", "--shard", "3/3", "--out"])
        .arg(dir.path().join("bad")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
