//! `reel import` on bags made by other tools: every rosbag2 bag of the
//! rosbag2 project's own test resources, and robot bags written by the
//! `rosbags` writer (SQLite3 and MCAP storage). Checked by the `mcap` and
//! `rosbags` Python readers and by a YAML parser of rosbag2's metadata,
//! not by reel's own readers alone.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{reel, run, stderr, venv_python, workspace};
use reel_testkit::skip::testdata;

/// Runs `scripts/check_import.py ARGS` and returns its JSON (asserting exit 0).
fn check_import(python: &Path, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let o = run(std::process::Command::new(python)
        .arg(workspace().join("scripts/check_import.py"))
        .args(args));
    assert!(
        o.status.success(),
        "check_import.py {args:?}: {}\n{}",
        stderr(&o),
        String::from_utf8_lossy(&o.stdout)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `reel import SOURCE --out OUT --json ARGS` → (exit code, report).
fn import(source: &Path, out: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let o = run(reel()
        .arg("import")
        .arg(source)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .args(args));
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            stderr(&o),
            String::from_utf8_lossy(&o.stdout)
        )
    });
    (o.status.code().unwrap_or(-1), report)
}

/// Per-topic message counts `reel info --json` shows. The one problem it
/// may report is a message encoding the source itself got wrong (rosbag2's
/// `wrong_rmw_test` bag, kept as it was).
fn info_counts(episode: &Path) -> BTreeMap<String, u64> {
    let o = run(reel().arg("info").arg("--json").arg(episode));
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for problem in info[0]["problems"].as_array().unwrap() {
        assert!(
            problem
                .as_str()
                .unwrap()
                .contains("message encoding \"wrong_format\""),
            "{}: {problem}",
            episode.display()
        );
    }
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(3),
        "{}",
        stderr(&o)
    );
    info[0]["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().unwrap().to_string(),
                t["message_count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// {from: to} of an import report's first source.
fn topic_map(report: &serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for t in report["sources"][0]["topics"].as_array().unwrap() {
        if let Some(to) = t["to"].as_str() {
            m.insert(t["from"].as_str().unwrap().into(), to.into());
        }
    }
    serde_json::Value::Object(m)
}

#[test]
fn every_rosbag2_test_bag_imports_with_its_counts_and_bytes() {
    let Some(data) = testdata("every_rosbag2_test_bag_imports") else {
        return;
    };
    let Some(python) = venv_python("rosbag2 import checks") else {
        return;
    };
    let bags = data.join("mcap/rosbag2");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&bags)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap() != "rosbag2_cpp_bags")
        .collect();
    // rosbag2_cpp's bags are bare .mcap files without metadata.yaml.
    for f in std::fs::read_dir(bags.join("rosbag2_cpp_bags")).unwrap() {
        sources.push(f.unwrap().path());
    }
    sources.sort();
    assert!(sources.len() >= 10, "{sources:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut unknown_types = 0;
    for source in &sources {
        let (code, report) = import(source, dir.path(), &[]);
        assert_eq!(code, 0, "{}: {report}", source.display());
        let r = &report["sources"][0];
        assert_eq!(r["status"], "imported", "{report}");
        let episode = PathBuf::from(r["episode"].as_str().unwrap());
        let counts = info_counts(&episode);
        // metadata.yaml, as a YAML library reads it, and the data files,
        // as the `mcap` package reads them.
        let expected = check_import(&python, &["counts".as_ref(), source.as_os_str()]);
        for (topic, n) in expected["data"].as_object().unwrap() {
            assert_eq!(
                counts.get(topic).copied().unwrap_or(0),
                n.as_u64().unwrap(),
                "{}: {topic} (reel info vs the mcap package on the source)",
                source.display()
            );
        }
        if let Some(meta) = expected["metadata"].as_object() {
            for (topic, n) in meta {
                assert_eq!(
                    counts.get(topic).copied().unwrap_or(0),
                    n.as_u64().unwrap(),
                    "{}: {topic} (reel info vs metadata.yaml)",
                    source.display()
                );
            }
        }
        let map = topic_map(&report).to_string();
        let same = check_import(
            &python,
            &[
                "bytes".as_ref(),
                source.as_os_str(),
                episode.as_os_str(),
                map.as_ref(),
            ],
        );
        let topics = same["topics"].as_object().unwrap();
        assert!(!topics.is_empty(), "{}: {same}", source.display());
        for t in r["topics"].as_array().unwrap() {
            unknown_types += usize::from(!t["known_type"].as_bool().unwrap());
        }
        // Third-party readers decode the episode exactly when they decode
        // the source (some of rosbag2's bags hold service events or a
        // wrong encoding on purpose, which they refuse either way).
        let decodes = |files: &[PathBuf]| {
            run(std::process::Command::new(&python)
                .arg(workspace().join("scripts/check_interop.py"))
                .args(files))
            .status
            .success()
        };
        let source_files: Vec<PathBuf> = if source.is_dir() {
            std::fs::read_dir(source)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "mcap"))
                .collect()
        } else {
            vec![source.clone()]
        };
        let by_source = decodes(&source_files);
        assert_eq!(
            decodes(std::slice::from_ref(&episode)),
            by_source,
            "{}: mcap/rosbags decode the source: {by_source}",
            source.display()
        );
        if by_source {
            common::third_party_readers_agree(std::slice::from_ref(&episode), "import interop");
        }
    }
    assert!(
        unknown_types >= 8,
        "types reel does not know came through: {unknown_types}"
    );
}

#[test]
fn rosbags_written_robot_bags_import_with_identical_values_and_export() {
    let Some(python) = venv_python("rosbags robot bag import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let made = check_import(&python, &["make-bags".as_ref(), dir.path().as_os_str()]);
    let out = dir.path().join("episodes");
    for bag in made["bags"].as_array().unwrap() {
        let bag = PathBuf::from(bag.as_str().unwrap());
        let (code, report) = import(
            &bag,
            &out,
            &["--task", "pick the cube", "--robot-type", "so101"],
        );
        assert_eq!(code, 0, "{report}");
        let r = &report["sources"][0];
        let episode = PathBuf::from(r["episode"].as_str().unwrap());
        let map = topic_map(&report);
        assert_eq!(map["/joint_states"], "/robot/arm/joint_states");
        assert_eq!(
            map["/cam_high/image_raw/compressed"],
            "/camera/cam_high/image/compressed"
        );
        assert_eq!(map["/velodyne_points"], "/lidar/velodyne/points");
        assert_eq!(map["/gripper/status"], "/gripper/status");
        let cmp = check_import(
            &python,
            &[
                "compare".as_ref(),
                bag.as_os_str(),
                episode.as_os_str(),
                map.to_string().as_ref(),
            ],
        );
        for (topic, want) in [
            ("/joint_states", 200),
            ("/cam_high/image_raw/compressed", 6),
            ("/velodyne_points", 4),
            ("/tf", 200),
            ("/gripper/status", 10),
        ] {
            let t = &cmp["topics"][topic];
            assert_eq!(t["messages"], want, "{topic}: {cmp}");
            assert_eq!(t["same_values"], want, "{topic}: {cmp}");
            assert_eq!(t["same_bytes"], want, "{topic}: {cmp}");
        }
        // Stamped types carry header.stamp as publish time.
        assert_eq!(cmp["topics"]["/joint_states"]["publish_time_is_stamp"], 200);
        // Lineage.
        let reader = reel_episode::EpisodeReader::open(&episode).unwrap();
        let meta = reader.episode_meta().unwrap().unwrap();
        assert_eq!(meta.source, reel_episode::SourceKind::Import);
        assert_eq!(meta.task, "pick the cube");
        assert_eq!(meta.source_params["sha256"], r["sha256"].as_str().unwrap());
        assert!(meta.source_params["format"].starts_with("rosbag2-"));
        assert!(meta.source_params["mapping"].contains("to = \"/robot/arm/joint_states\""));
    }
    // The imported episodes export to LeRobot, and the release passes
    // reel's check with the import lineage in its manifest and card.
    let ds = dir.path().join("ds");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&out)
        .arg("--out")
        .arg(&ds)
        .args(["--fps", "30", "--repo-id", "lab/imported"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(reel().arg("check").arg(&ds));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("manifest.json")).unwrap()).unwrap();
    for s in manifest["sources"].as_array().unwrap() {
        assert!(
            s["imported_from"]["sha256"].as_str().unwrap().len() == 64,
            "{s}"
        );
    }
    let card = std::fs::read_to_string(ds.join("README.md")).unwrap();
    assert!(
        card.contains("Imported with `reel import` from a rosbag2-"),
        "{card}"
    );
}

/// The rosbag2 project's split bag (three MCAP files, no metadata.yaml)
/// copied with its last file cut inside its one chunk, as a crash mid-copy
/// leaves it.
fn split_bag_with_cut_tail(data: &Path, dir: &Path) -> PathBuf {
    let bag = dir.join("cut_bag");
    std::fs::create_dir_all(&bag).unwrap();
    for i in 0..3 {
        let name = format!("multiple_files_{i}.mcap");
        let bytes = std::fs::read(data.join("mcap/rosbag2/multiple_files").join(&name)).unwrap();
        let keep = if i == 2 { bytes.len() / 4 } else { bytes.len() };
        std::fs::write(bag.join(&name), &bytes[..keep]).unwrap();
    }
    bag
}

#[test]
fn a_damaged_bag_imports_what_is_readable_and_says_what_was_lost() {
    let Some(data) = testdata("a_damaged_bag_imports_what_is_readable") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A cut-off split bag: exit 3, the whole files kept, the loss written down.
    let bag = split_bag_with_cut_tail(&data, dir.path());
    let (code, report) = import(&bag, &out, &[]);
    assert_eq!(code, 3, "{report}");
    let r = &report["sources"][0];
    assert_eq!(r["messages"], 1324 * 2, "{report}");
    let loss = &r["losses"][0];
    assert_eq!(loss["reason"], "truncated", "{report}");
    assert!(loss["file"]
        .as_str()
        .unwrap()
        .ends_with("multiple_files_2.mcap"));
    let episode = PathBuf::from(r["episode"].as_str().unwrap());
    let o = run(reel().arg("info").arg(&episode));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("source truncated: read up to byte"), "{text}");
    let o = run(reel().arg("check").arg(&episode));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && text.contains("source truncated"),
        "{text}"
    );
    assert!(!text.contains("no stop event"), "{text}");

    // A cut-off SQLite3 bag (written by rosbags): SQLite itself refuses the
    // file; reel reads the rows before the cut from a patched copy, and the
    // source file is left as it was.
    if let Some(python) = venv_python("truncated SQLite3 import") {
        let made = check_import(&python, &["make-bags".as_ref(), dir.path().as_os_str()]);
        let db3 = PathBuf::from(made["bags"][0].as_str().unwrap()).join("robot_db3.db3");
        let bytes = std::fs::read(&db3).unwrap();
        let cut = dir.path().join("cut.db3");
        std::fs::write(&cut, &bytes[..bytes.len() / 2 / 4096 * 4096]).unwrap();
        let before = std::fs::read(&cut).unwrap();
        let (code, report) = import(&cut, &out, &[]);
        assert_eq!(code, 3, "{report}");
        let r = &report["sources"][0];
        let got = r["messages"].as_u64().unwrap();
        assert!(got > 20 && got < 420, "{report}");
        assert!(
            r["losses"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("cut off"),
            "{report}"
        );
        assert_eq!(
            std::fs::read(&cut).unwrap(),
            before,
            "the source is never written"
        );
    }

    // Not a bag, or a damaged one: one line naming the file, exit 1,
    // nothing left under the episode's name.
    let garbage = dir.path().join("garbage.mcap");
    let mut bytes = b"\x89MCAP0\r\n".to_vec();
    bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&garbage, bytes).unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "not a recording").unwrap();
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    for (source, want) in [
        (&garbage, "damaged MCAP"),
        (&junk, "not a recording reel can import"),
        (&empty_dir, "not a recording reel can import"),
    ] {
        let o = run(reel().arg("import").arg(source).arg("--out").arg(&out));
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(want) && err.contains(&*source.to_string_lossy()),
            "{err}"
        );
    }
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !left
            .iter()
            .any(|n| n.starts_with("garbage") || n.starts_with("notes") || n.contains("partial")),
        "{left:?}"
    );
}

#[test]
fn an_imported_source_is_skipped_unless_forced() {
    let Some(data) = testdata("an_imported_source_is_skipped") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let bag = data.join("mcap/rosbag2/talker");
    let (code, first) = import(&bag, &out, &[]);
    assert_eq!(code, 0);
    let episode = PathBuf::from(first["sources"][0]["episode"].as_str().unwrap());
    let id = |p: &Path| {
        reel_episode::EpisodeReader::open(p)
            .unwrap()
            .episode_meta()
            .unwrap()
            .unwrap()
            .episode_id
    };
    let first_id = id(&episode);
    let (code, again) = import(&bag, &out, &[]);
    assert_eq!(code, 0);
    assert_eq!(again["skipped"], 1, "{again}");
    assert_eq!(
        again["sources"][0]["episode"],
        first["sources"][0]["episode"]
    );
    // The same bytes under another name are the same source.
    let copy = dir.path().join("renamed.mcap");
    std::fs::copy(bag.join("talker.mcap"), &copy).unwrap();
    let (_, renamed) = import(&copy, &out, &[]);
    assert_eq!(renamed["skipped"], 1, "{renamed}");
    // --force imports again, replacing the episode (same id: same bytes).
    let (code, forced) = import(&bag, &out, &["--force"]);
    assert_eq!(code, 0);
    assert_eq!(forced["imported"], 1, "{forced}");
    assert_eq!(
        forced["sources"][0]["episode"],
        first["sources"][0]["episode"]
    );
    assert_eq!(id(&episode), first_id);
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, 1, "one episode, no leftovers");
}

#[test]
fn the_proposed_mapping_is_printed_edited_and_applied() {
    let Some(python) = venv_python("import mapping") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let made = check_import(&python, &["make-bags".as_ref(), dir.path().as_os_str()]);
    let bag = PathBuf::from(made["bags"][1].as_str().unwrap());
    let o = run(reel().arg("import").arg(&bag).arg("--print-mapping"));
    assert!(o.status.success(), "{}", stderr(&o));
    let proposed = String::from_utf8(o.stdout).unwrap();
    assert!(
        proposed.contains("to = \"/robot/arm/joint_states\""),
        "{proposed}"
    );
    assert!(proposed.contains("200 messages"), "{proposed}");
    assert!(proposed.contains("copied byte for byte"), "{proposed}");
    // The user's edits: the arm's own name, its joints' names, degrees
    // stored by mistake turned back into radians... and /tf dropped.
    let edited = proposed
        .replace("to = \"/robot/arm/joint_states\"", "to = \"/robot/follower/joint_states\"\njoint_names = [\"shoulder_pan\", \"elbow_flex\", \"gripper\"]\nposition_scale = 2.0\nframe_id = \"follower_base\"")
        .replace("from = \"/tf\"\n", "from = \"/tf\"\ndrop = true\n");
    let mapping = dir.path().join("map.toml");
    std::fs::write(&mapping, &edited).unwrap();
    let out = dir.path().join("out");
    let (code, report) = import(&bag, &out, &["--mapping", mapping.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
    let r = &report["sources"][0];
    let topics = r["topics"].as_array().unwrap();
    let tf = topics.iter().find(|t| t["from"] == "/tf").unwrap();
    assert!(tf["to"].is_null(), "{tf}");
    let episode = PathBuf::from(r["episode"].as_str().unwrap());
    let counts = info_counts(&episode);
    assert!(!counts.contains_key("/tf"), "{counts:?}");
    // Values: the source's, as rosbags decodes them, changed as asked.
    let reader = reel_episode::EpisodeReader::open(&episode).unwrap();
    let mut n = 0;
    for m in reader.messages() {
        let m = m.unwrap();
        if m.channel.topic == "/robot/follower/joint_states" {
            let js: reel_episode::ros2::sensor_msgs::JointState = reader.decode(&m, n).unwrap();
            assert_eq!(js.name, ["shoulder_pan", "elbow_flex", "gripper"]);
            assert_eq!(js.header.frame_id, "follower_base");
            let i = n as f64;
            let want = (i / 20.0 + 1.0).sin() * 2.0;
            assert!(
                (js.position[0] - want).abs() < 1e-12,
                "{} vs {want}",
                js.position[0]
            );
            assert_eq!(js.velocity, [0.1, -0.2, 0.0], "velocities untouched");
            n += 1;
        }
    }
    assert_eq!(n, 200);
    // A mapping that does not fit the source: one line naming the mapping.
    std::fs::write(
        &mapping,
        "[[topic]]\nfrom = \"/cam_high/image_raw/compressed\"\njoint_names = [\"a\"]\n",
    )
    .unwrap();
    let o = run(reel()
        .arg("import")
        .arg(&bag)
        .arg("--out")
        .arg(dir.path().join("out2"))
        .arg("--mapping")
        .arg(&mapping));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("map.toml") && err.contains("joint_names"),
        "{err}"
    );
}

#[test]
fn import_shards_split_the_sources_by_path_and_together_import_them_all() {
    let Some(data) = testdata("import shards") else {
        return;
    };
    let bags = data.join("mcap/rosbag2");
    let sources: Vec<PathBuf> = [
        "talker",
        "cdr_test",
        "multiple_files",
        "convert_a",
        "test_bag_for_seek",
    ]
    .iter()
    .map(|b| bags.join(b))
    .collect();
    let dir = tempfile::tempdir().unwrap();
    for n in [1usize, 2, 3] {
        let out = dir.path().join(format!("n{n}"));
        let mut seen = Vec::new();
        for i in 0..n {
            let status = dir.path().join(format!("n{n}-{i}.json"));
            let o = run(reel()
                .arg("import")
                .args(&sources)
                .arg("--out")
                .arg(&out)
                .args(["--json", "--shard", &format!("{i}/{n}"), "--status"])
                .arg(&status));
            assert!(o.status.success(), "{}", stderr(&o));
            let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(report["skipped"], 0, "shards never overlap: {report}");
            for s in report["sources"].as_array().unwrap() {
                seen.push(s["source"].as_str().unwrap().to_string());
            }
            let st: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&status).unwrap()).unwrap();
            assert_eq!(st["state"], "done", "{st}");
        }
        let mut want: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
        want.sort();
        assert_eq!(
            seen, want,
            "{n} shards take every source once, in path order"
        );
    }
}

#[test]
fn lerobot_datasets_written_by_lerobot_import_row_for_row_and_frame_for_frame() {
    let Some(python) = venv_python("LeRobot import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, version) in [
        ("v30_by_lerobot_0.4.4", "lerobot-v3.0"),
        ("v21_by_lerobot_0.3.3", "lerobot-v2.1"),
    ] {
        let ds = workspace().join("tests/data/lerobot").join(name);
        let out = dir.path().join(name);
        let (code, report) = import(&ds, &out, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["imported"], 2, "{report}");
        let mut episodes: Vec<PathBuf> = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| PathBuf::from(s["episode"].as_str().unwrap()))
            .collect();
        episodes.sort();
        let mut args: Vec<&std::ffi::OsStr> = vec!["lerobot".as_ref(), ds.as_os_str()];
        args.extend(episodes.iter().map(|e| e.as_os_str()));
        let cmp = check_import(&python, &args);
        assert_eq!(cmp["episodes"]["1"]["action"]["identical"], 20, "{cmp}");
        // Task, robot type, lineage and the fps grid.
        let reader = reel_episode::EpisodeReader::open(&episodes[1]).unwrap();
        let meta = reader.episode_meta().unwrap().unwrap();
        assert_eq!(meta.task, "task 1");
        assert_eq!(meta.robot_type, "so100");
        assert_eq!(meta.source_params["format"], version);
        assert_eq!(meta.source_params["episode_index"], "1");
        assert!(meta.source_params["time"].contains("fps grid"));
        let names: Vec<String> = reader
            .attachments()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert!(names.contains(&"source/info.json".to_string()), "{names:?}");
        let counts = info_counts(&episodes[1]);
        assert_eq!(counts["/robot/arm/joint_states"], 20);
        assert_eq!(counts["/camera/top/image/compressed"], 20);
        // Importing again skips both; the dataset's episodes have distinct ids.
        let (_, again) = import(&ds, &out, &[]);
        assert_eq!(again["skipped"], 2, "{again}");
    }
}

#[test]
fn a_bag_round_trips_through_a_lerobot_export() {
    let Some(python) = venv_python("import/export round trip") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("aligned");
    check_import(&python, &["make-aligned".as_ref(), bag.as_os_str()]);
    let episodes = dir.path().join("episodes");
    let (code, report) = import(&bag, &episodes, &["--task", "wave"]);
    assert_eq!(code, 0, "{report}");
    let ds = dir.path().join("ds");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&episodes)
        .arg("--out")
        .arg(&ds)
        .args(["--fps", "30"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(reel().arg("check").arg(&ds));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let back = dir.path().join("back");
    let (code, report) = import(&ds, &back, &[]);
    assert_eq!(code, 0, "{report}");
    let episode = report["sources"][0]["episode"]
        .as_str()
        .unwrap()
        .to_string();
    let meta = reel_episode::EpisodeReader::open(&episode)
        .unwrap()
        .episode_meta()
        .unwrap()
        .unwrap();
    assert_eq!(meta.task, "wave", "the task travels through the dataset");
    // Every joint sample and frame of the bag, as rosbags and OpenCV read it.
    let cmp = check_import(
        &python,
        &["roundtrip".as_ref(), bag.as_os_str(), episode.as_ref()],
    );
    assert_eq!(
        cmp["streams"]["/follower/joint_states"]["samples"], 45,
        "{cmp}"
    );
    assert_eq!(
        cmp["streams"]["/front/image_raw/compressed"]["frames"], 45,
        "{cmp}"
    );
}

#[test]
fn real_sqlite3_bags_recorded_by_rosbag2_import_byte_for_byte() {
    // tier4/nebula's VelodyneScan bags (tests/data/README.md): rosbag2's own
    // SQLite3 storage, a type reel knows and one it copies.
    let Some(python) = venv_python("real .db3 import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for name in ["vlp16_dual_return.db3", "vlp32c_strongest.db3"] {
        let bag = workspace().join("tests/data/lidar/nebula").join(name);
        let (code, report) = import(&bag, dir.path(), &[]);
        assert_eq!(code, 0, "{report}");
        let r = &report["sources"][0];
        assert_eq!(r["format"], "rosbag2-sqlite3");
        let episode = PathBuf::from(r["episode"].as_str().unwrap());
        let expected = check_import(&python, &["counts".as_ref(), bag.as_os_str()]);
        let counts = info_counts(&episode);
        for (topic, n) in expected["data"].as_object().unwrap() {
            let to = r["topics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["from"] == *topic)
                .and_then(|t| t["to"].as_str())
                .unwrap();
            assert_eq!(counts[to], n.as_u64().unwrap(), "{name} {topic} -> {to}");
        }
        assert!(
            counts
                .keys()
                .any(|t| t.starts_with("/lidar/") && t.ends_with("/packets")),
            "{counts:?}"
        );
        let cmp = check_import(
            &python,
            &[
                "bytes".as_ref(),
                bag.as_os_str(),
                episode.as_os_str(),
                topic_map(&report).to_string().as_ref(),
            ],
        );
        assert!(cmp["problems"].as_array().unwrap().is_empty(), "{cmp}");
    }
}

#[test]
fn ros1_bags_written_by_rosbags_import_with_identical_values() {
    let Some(python) = venv_python("ROS 1 import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let made = check_import(&python, &["make-ros1".as_ref(), dir.path().as_os_str()]);
    let out = dir.path().join("out");
    for bag in made["bags"].as_array().unwrap() {
        let bag = PathBuf::from(bag.as_str().unwrap());
        let o = run(reel()
            .arg("import")
            .arg(&bag)
            .arg("--out")
            .arg(&out)
            .arg("--json"));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        // The custom type is translated from its own definition: nothing
        // stays in ROS 1 encoding.
        assert!(!stderr(&o).contains("ROS 1 encoding"), "{}", stderr(&o));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let r = &report["sources"][0];
        assert_eq!(r["format"], "ros1-bag");
        let episode = PathBuf::from(r["episode"].as_str().unwrap());
        let map = topic_map(&report);
        assert_eq!(
            map["/usb_cam/image_raw/compressed"],
            "/camera/usb_cam/image/compressed"
        );
        assert_eq!(map["/usb_cam/camera_info"], "/camera/usb_cam/camera_info");
        let cmp = check_import(
            &python,
            &[
                "compare-ros1".as_ref(),
                bag.as_os_str(),
                episode.as_os_str(),
                map.to_string().as_ref(),
            ],
        );
        for (topic, n, ty) in [
            ("/joint_states", 60, "sensor_msgs/msg/JointState"),
            ("/imu/data", 60, "sensor_msgs/msg/Imu"),
            ("/tf", 60, "tf2_msgs/msg/TFMessage"),
            (
                "/usb_cam/image_raw/compressed",
                10,
                "sensor_msgs/msg/CompressedImage",
            ),
            ("/usb_cam/camera_info", 10, "sensor_msgs/msg/CameraInfo"),
            ("/velodyne_points", 6, "sensor_msgs/msg/PointCloud2"),
            ("/operator/notes", 6, "std_msgs/msg/String"),
            ("/gripper/status", 6, "reel_test_msgs/msg/Gripper"),
        ] {
            let t = &cmp["topics"][topic];
            assert_eq!(t["same"], n, "{topic}: {cmp}");
            assert_eq!(t["type"], ty, "{topic}: {cmp}");
        }
        // The translated topics are ROS 2 CDR: rosbags decoded them from the
        // episode's own schemas above; the mcap package's ROS 2 decoder too.
        let decoded = check_import(&python, &["counts".as_ref(), episode.as_os_str()]);
        assert_eq!(decoded["data"]["/robot/arm/joint_states"], 60, "{decoded}");
    }
    // A ROS 1 bag cut short: what is whole imports, the cut is a loss (exit 3).
    let bag = PathBuf::from(made["bags"][1].as_str().unwrap());
    let bytes = std::fs::read(&bag).unwrap();
    let cut = dir.path().join("cut.bag");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (code, report) = import(&cut, &out, &[]);
    assert_eq!(code, 3, "{report}");
    let r = &report["sources"][0];
    assert!(r["messages"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(r["losses"][0]["reason"], "truncated", "{report}");
}

/// (x, y, z, intensity, ring) of every point of every cloud on `topic`.
fn cloud_points(path: &Path, topic: &str) -> Vec<Vec<[f32; 5]>> {
    use reel_episode::cloud::{read_field, CloudLayout};
    use reel_episode::ros2::sensor_msgs::PointCloud2;
    reel_testkit::episodes::decoded_on::<PointCloud2>(path, topic)
        .iter()
        .map(|cloud| {
            let layout = CloudLayout::of(cloud).unwrap();
            let fields: Vec<_> = ["x", "y", "z", "intensity", "ring"]
                .iter()
                .map(|f| cloud.field(f).unwrap_or_else(|| panic!("no {f}")).clone())
                .collect();
            layout
                .points(cloud)
                .map(|p| {
                    let mut v = [0f32; 5];
                    for (k, f) in fields.iter().enumerate() {
                        v[k] = read_field(p, f, cloud.is_bigendian).unwrap() as f32;
                    }
                    v
                })
                .collect()
        })
        .collect()
}

fn assert_same_points(what: &str, ours: &[Vec<[f32; 5]>], theirs: &[Vec<[f32; 5]>]) {
    let sizes = |s: &[Vec<[f32; 5]>]| s.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(sizes(ours), sizes(theirs), "{what}: points per revolution");
    for (s, (a, b)) in ours.iter().zip(theirs).enumerate() {
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            let d = (0..3).map(|k| (p[k] - q[k]).abs()).fold(0.0, f32::max);
            assert!(
                d <= 1e-3 && p[3..] == q[3..],
                "{what}: revolution {s} point {i}: {p:?} vs {q:?}"
            );
        }
    }
}

/// Records the Velodyne data packets of `pcap` with reel's recorder (a rig
/// with one VLP-16 on a free loopback port), replayed at their recorded
/// spacing; returns the episode.
fn record_packets(dir: &Path, pcap: &Path) -> PathBuf {
    use reel_capture::recorder::{Recorder, RecorderOptions};
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rig_path = dir.join("rig.toml");
    std::fs::write(
        &rig_path,
        format!("[rig]\nname = \"replay\"\nrobot_type = \"none\"\n\n[[lidar]]\nname = \"top\"\nmodel = \"vlp16\"\naddress = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let rig = reel_capture::rig::LoadedRig::load(&rig_path).unwrap();
    let mut options = RecorderOptions::new(dir.join("recorded"));
    options.lidar_check_timeout = std::time::Duration::ZERO;
    let recorder = Recorder::start(rig, options).unwrap();
    recorder.start_episode(None).unwrap();
    let bytes = std::fs::read(pcap).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
    let start = std::time::Instant::now();
    let mut t0 = None;
    while let Some(p) = reader.next_packet() {
        let p = p.unwrap();
        let d = &p.data;
        if d.len() != 42 + 1206 || u16::from_be_bytes([d[36], d[37]]) != 2368 {
            continue;
        }
        let t = p.timestamp;
        let due = t - *t0.get_or_insert(t);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        socket.send_to(&d[42..], ("127.0.0.1", port)).unwrap();
    }
    // Silence ends the last revolution.
    std::thread::sleep(std::time::Duration::from_millis(900));
    recorder
        .stop_episode(reel_episode::Outcome::Success)
        .unwrap()
        .path
}

/// Velodyne's own decoder (velodyne_decoder, `.venv-lidar`) on a capture:
/// points per scan; None (skip recorded) without the venv.
fn vendor_points(model: &str, capture: &Path, out: &Path) -> Option<Vec<Vec<[f32; 5]>>> {
    let python = reel_testkit::skip::lidar_python("import vs the vendor's Velodyne decoder")?;
    let o = run(std::process::Command::new(python)
        .arg(workspace().join("scripts/lidar_reference.py"))
        .args(["velodyne", model])
        .arg(capture)
        .arg(out));
    assert!(o.status.success(), "{}", stderr(&o));
    let b = std::fs::read(out.join("reference.bin")).unwrap();
    assert_eq!(&b[..8], b"REELREF1");
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let f32_at = |o: usize| f32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let mut scans = Vec::new();
    let mut o = 12;
    for _ in 0..u32_at(8) {
        let n = u32_at(o) as usize;
        o += 4;
        scans.push(
            (0..n)
                .map(|i| {
                    let p = o + i * 20;
                    [
                        f32_at(p),
                        f32_at(p + 4),
                        f32_at(p + 8),
                        f32_at(p + 12),
                        f32::from(u16::from_le_bytes([b[p + 16], b[p + 17]])),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        o += n * 20;
    }
    Some(scans)
}

#[test]
fn velodyne_scans_in_real_bags_decode_as_the_vendor_decodes() {
    // tier4/nebula's rosbag2 bags of VelodyneScan (tests/data/README.md):
    // a VLP-16 in dual-return mode and a VLP-32C.
    let dir = tempfile::tempdir().unwrap();
    for (name, model, points) in [
        ("vlp16_dual_return", "VLP16", "/lidar/velodyne/points"),
        (
            "vlp32c_strongest",
            "VLP32C",
            "/lidar/sensing_front_velodyne/points",
        ),
    ] {
        let bag = workspace().join(format!("tests/data/lidar/nebula/{name}.db3"));
        let (code, report) = import(&bag, &dir.path().join("out"), &[]);
        assert_eq!(code, 0, "{report}");
        let decoded = report["sources"][0]["topics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["to"] == points)
            .unwrap_or_else(|| panic!("{name}: no decoded topic: {report}"))
            .clone();
        let episode = PathBuf::from(report["sources"][0]["episode"].as_str().unwrap());
        let ours = cloud_points(&episode, points);
        assert_eq!(decoded["messages"], ours.len() as u64);
        if let Some(vendor) = vendor_points(model, &bag, &dir.path().join(name)) {
            assert_same_points(
                &format!("{name}: import vs velodyne_decoder"),
                &ours,
                &vendor,
            );
        }
    }
}

#[test]
fn a_velodyne_pcap_imports_as_revolutions_and_packets() {
    let Some(data) = testdata("Velodyne pcap import") else {
        return;
    };
    let pcap = data.join("lidar/rust-lidar-utils/velodyne_vlp16.pcap");
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = import(&pcap, dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    let r = &report["sources"][0];
    assert_eq!(r["format"], "pcap", "{report}");
    let episode = PathBuf::from(r["episode"].as_str().unwrap());
    let meta = reel_episode::EpisodeReader::open(&episode)
        .unwrap()
        .episode_meta()
        .unwrap()
        .unwrap();
    assert_eq!(
        meta.source_params["lidar_model"], "VLP-16",
        "named from the packets' rate"
    );
    let ours = cloud_points(&episode, "/lidar/velodyne_vlp16/points");
    assert!(!ours.is_empty());

    // The packets themselves travel along: every data packet of the pcap, once.
    let counts = info_counts(&episode);
    assert_eq!(counts["/lidar/velodyne_vlp16/packets"], ours.len() as u64);
    let reader = reel_episode::EpisodeReader::open(&episode).unwrap();
    let mut kept = 0;
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        if m.channel.topic.ends_with("/packets") {
            let scan: reel_episode::ros2::velodyne_msgs::VelodyneScan =
                reader.decode(&m, i as u64).unwrap();
            kept += scan.packets.len();
        }
    }
    assert_eq!(kept, 84, "the pcap's 84 data packets");

    // The same points as `reel record` makes of the same packets, sent over
    // loopback UDP at their recorded spacing to a recorder with one VLP-16.
    let recorded = record_packets(dir.path(), &pcap);
    assert_same_points(
        "import vs reel record",
        &ours,
        &cloud_points(&recorded, "/lidar/top/points"),
    );

    // ... and as Velodyne's own decoder (velodyne_decoder) decodes them.
    if let Some(vendor) = vendor_points("VLP16", &pcap, &dir.path().join("vendor")) {
        assert_same_points("import vs velodyne_decoder", &ours, &vendor);
    }
}

#[test]
fn aloha_and_robomimic_hdf5_files_import_and_export_to_lerobot() {
    let Some(python) = venv_python("HDF5 import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let made = check_import(&python, &["make-hdf5".as_ref(), dir.path().as_os_str()]);
    for (layout, demos, fps) in [
        ("aloha", 1, "50"),
        ("aloha_compressed", 1, "50"),
        ("robomimic", 2, "20"),
    ] {
        let file = PathBuf::from(made[layout].as_str().unwrap());
        let out = dir.path().join(layout);
        let (code, report) = import(&file, &out, &["--task", "lift the cube"]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["imported"], demos, "{report}");
        let mut episodes: Vec<PathBuf> = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| PathBuf::from(s["episode"].as_str().unwrap()))
            .collect();
        episodes.sort();
        // h5py's own reading of every dataset against the episodes.
        let mut args: Vec<&std::ffi::OsStr> = vec!["compare-hdf5".as_ref(), file.as_os_str()];
        args.extend(episodes.iter().map(|e| e.as_os_str()));
        let cmp = check_import(&python, &args);
        assert!(cmp["problems"].as_array().unwrap().is_empty(), "{cmp}");
        let meta = reel_episode::EpisodeReader::open(&episodes[0])
            .unwrap()
            .episode_meta()
            .unwrap()
            .unwrap();
        assert_eq!(
            meta.source_params["format"],
            format!("hdf5-{}", layout.trim_end_matches("_compressed"))
        );
        assert!(
            meta.source_params["time"].contains(&format!("i / {fps} s")),
            "{:?}",
            meta.source_params
        );
        // ... and the episodes make a LeRobot dataset that passes the checks.
        let ds = dir.path().join(format!("{layout}-ds"));
        let o = run(reel()
            .args(["export", "lerobot"])
            .arg(&out)
            .arg("--out")
            .arg(&ds)
            .args(["--fps", fps]));
        assert!(o.status.success(), "{layout}: {}", stderr(&o));
        let o = run(reel().arg("check").arg(&ds));
        assert!(
            o.status.success(),
            "{layout}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        let light = common::lerobot_files::python_light_check(&ds);
        assert!(
            light.lines().any(|l| l.starts_with("OK ")),
            "{layout}: {light}"
        );
    }
    // The ALOHA joints carry ALOHA's names, velocities and efforts.
    let file = PathBuf::from(made["aloha"].as_str().unwrap());
    let episode = dir.path().join("aloha/aloha_episode_0.mcap");
    let reader = reel_episode::EpisodeReader::open(&episode).unwrap();
    let m = reader
        .messages()
        .map(|m| m.unwrap())
        .find(|m| m.channel.topic == "/robot/arm/joint_states")
        .unwrap();
    let js: reel_episode::ros2::sensor_msgs::JointState = reader.decode(&m, 0).unwrap();
    assert_eq!(js.name[0], "left_waist");
    assert_eq!(js.name[13], "right_gripper");
    assert_eq!((js.velocity.len(), js.effort.len()), (14, 14));
    // A layout reel does not know: it asks for the rate, proposes the
    // datasets it found, and imports them as the edited mapping says.
    let custom = PathBuf::from(made["custom"].as_str().unwrap());
    let o = run(reel()
        .arg("import")
        .arg(&custom)
        .arg("--out")
        .arg(dir.path().join("custom")));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("give --fps"), "{}", stderr(&o));
    let o = run(reel().arg("import").arg(&custom).arg("--print-mapping"));
    let proposed = String::from_utf8(o.stdout).unwrap();
    assert!(
        proposed.contains("from = \"robot/joint_positions\"")
            && proposed.contains("from = \"sensors/front_rgb\""),
        "{proposed}"
    );
    assert!(
        !proposed.contains("meta/notes"),
        "a 1-D dataset is not a stream: {proposed}"
    );
    let edited = proposed
        .replace(
            "to = \"/hdf5/robot/joint_positions\"",
            "to = \"/robot/arm/joint_states\"",
        )
        .replace(
            "to = \"/hdf5/robot/commands\"",
            "to = \"/robot/arm/joint_commands\"",
        );
    let map = dir.path().join("custom.toml");
    std::fs::write(&map, edited).unwrap();
    let out = dir.path().join("custom");
    let (code, report) = import(
        &custom,
        &out,
        &["--fps", "30", "--mapping", map.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{report}");
    let counts = info_counts(&PathBuf::from(
        report["sources"][0]["episode"].as_str().unwrap(),
    ));
    assert_eq!(counts["/robot/arm/joint_states"], 60, "{counts:?}");
    assert_eq!(
        counts["/camera/front_rgb/image/compressed"], 60,
        "{counts:?}"
    );
    let ds = dir.path().join("custom-ds");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&out)
        .arg("--out")
        .arg(&ds)
        .args(["--fps", "30"]));
    assert!(o.status.success(), "{}", stderr(&o));

    // A cut-off HDF5 file: one line naming it, exit 1, nothing written.
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.path().join("cut.hdf5");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(reel()
        .arg("import")
        .arg(&cut)
        .arg("--out")
        .arg(dir.path().join("cut")));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("cut.hdf5"), "{}", stderr(&o));
}

/// Damaged copies of `original`: cut short, bytes flipped, and 4-byte
/// fields set to 0xffffffff (length fields claiming gigabytes).
fn damaged_copies(original: &[u8], cases: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..cases)
        .map(|case| {
            let mut b = original.to_vec();
            let len = b.len().max(1);
            let at = |n: u64| (n as usize) % len;
            match case % 3 {
                0 => {
                    let cut = at(next());
                    b.truncate(cut);
                }
                1 => {
                    for _ in 0..1 + next() % 8 {
                        let i = at(next());
                        b[i] ^= (next() as u8) | 1;
                    }
                }
                _ => {
                    let i = at(next()).min(b.len().saturating_sub(4));
                    b[i..i + 4].copy_from_slice(&[0xff; 4]);
                }
            }
            b
        })
        .collect()
}

#[test]
fn damaged_sources_never_panic_and_leave_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut sources: Vec<(String, Vec<u8>)> = vec![(
        "nebula.db3".into(),
        std::fs::read(workspace().join("tests/data/lidar/nebula/vlp16_dual_return.db3")).unwrap(),
    )];
    if let Some(data) = testdata("damaged import sources") {
        sources.push((
            "talker.mcap".into(),
            std::fs::read(data.join("mcap/rosbag2/talker/talker.mcap")).unwrap(),
        ));
    }
    if let Some(python) = venv_python("damaged ROS 1 / HDF5 imports") {
        let made = check_import(
            &python,
            &["make-ros1".as_ref(), dir.path().join("r1").as_os_str()],
        );
        sources.push((
            "robot.bag".into(),
            std::fs::read(made["bags"][1].as_str().unwrap()).unwrap(),
        ));
        let made = check_import(
            &python,
            &["make-hdf5".as_ref(), dir.path().join("h5").as_os_str()],
        );
        sources.push((
            "aloha.hdf5".into(),
            std::fs::read(made["aloha"].as_str().unwrap()).unwrap(),
        ));
    }
    let (mut runs, mut refused, mut partial) = (0, 0, 0);
    for (k, (name, original)) in sources.iter().enumerate() {
        for (case, bytes) in damaged_copies(original, 60, 0x9e37_79b9 + k as u64)
            .into_iter()
            .enumerate()
        {
            let case_dir = dir.path().join(format!("{k}-{case}"));
            std::fs::create_dir_all(&case_dir).unwrap();
            let source = case_dir.join(name);
            std::fs::write(&source, &bytes).unwrap();
            let out = case_dir.join("out");
            let options = reel_import::ImportOptions {
                out: out.clone(),
                mapping: None,
                task: None,
                robot_type: None,
                force: false,
                writer: reel_episode::EpisodeWriterOptions::default(),
                progress: None,
                fps: None,
                lidar_decoder: None,
            };
            runs += 1;
            let left: Vec<String> = match reel_import::import(&source, &options) {
                Ok(reports) => {
                    for r in &reports {
                        partial += usize::from(!r.losses.is_empty());
                        if let reel_import::Outcome::Imported { episode } = &r.outcome {
                            reel_episode::EpisodeReader::open(episode).unwrap();
                        }
                    }
                    Vec::new()
                }
                Err(e) => {
                    refused += 1;
                    let text = e.to_string();
                    assert!(!text.contains('\n'), "{name} case {case}: {text}");
                    std::fs::read_dir(&out)
                        .map(|d| {
                            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                                .collect()
                        })
                        .unwrap_or_default()
                }
            };
            assert!(
                left.is_empty(),
                "{name} case {case}: refused but left {left:?}"
            );
            if let Ok(d) = std::fs::read_dir(&out) {
                for e in d {
                    let n = e.unwrap().file_name().to_string_lossy().into_owned();
                    assert!(
                        !n.ends_with(".partial"),
                        "{name} case {case}: {n} left behind"
                    );
                }
            }
            std::fs::remove_dir_all(&case_dir).unwrap();
        }
    }
    println!("{runs} damaged sources: {refused} refused in one line, {partial} imported with their losses written down");
    assert!(
        runs >= 120 && refused > 0 && partial > 0,
        "{runs} {refused} {partial}"
    );
}

#[test]
fn raw_camera_images_are_stored_as_jpeg_on_reel_camera_topics() {
    let Some(python) = venv_python("raw image import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("raw");
    check_import(&python, &["make-raw-images".as_ref(), bag.as_os_str()]);
    let out = dir.path().join("out");
    let (code, report) = import(&bag, &out, &[]);
    assert_eq!(code, 0, "{report}");
    let map = topic_map(&report);
    assert_eq!(map["/front/image_raw"], "/camera/front/image/compressed");
    assert_eq!(
        map["/wrist/color/image_raw"],
        "/camera/wrist_color/image/compressed"
    );
    let episode = report["sources"][0]["episode"]
        .as_str()
        .unwrap()
        .to_string();
    let cmp = check_import(
        &python,
        &[
            "compare-raw-images".as_ref(),
            bag.as_os_str(),
            episode.as_ref(),
        ],
    );
    assert_eq!(cmp["cameras"]["rgb8"]["format"], "jpeg", "{cmp}");
    assert_eq!(cmp["cameras"]["bgr8"]["imported"], 10, "{cmp}");
    println!("raw frames vs their JPEG: {cmp}");
    // A JPEG quality out of range is refused with the mapping named.
    let map_file = dir.path().join("m.toml");
    std::fs::write(
        &map_file,
        "[[topic]]\nfrom = \"/front/image_raw\"\njpeg_quality = 0\n",
    )
    .unwrap();
    let o = run(reel()
        .arg("import")
        .arg(&bag)
        .arg("--out")
        .arg(dir.path().join("o2"))
        .arg("--mapping")
        .arg(&map_file));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("jpeg_quality"), "{}", stderr(&o));
}
