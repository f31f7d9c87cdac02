#![allow(clippy::unwrap_used)]
//! The Slurm and Kubernetes files in deploy/, run by hand with the index a
//! scheduler would set (no scheduler here): the array tasks and the merge
//! give the single-machine export; `submit.sh` submits the array and a
//! merge that depends on it (a stand-in `sbatch` records what it is given);
//! the Kubernetes manifests parse (PyYAML) into an Indexed Job and a merge
//! Job whose container scripts, run with JOB_COMPLETION_INDEX set, give the
//! single export too.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::lerobot_files::assert_same_dataset;
use common::{reel, run, stderr, workspace};

/// Three short simulated episodes and their single-machine export.
fn episodes_and_single(dir: &Path) -> (PathBuf, PathBuf) {
    common::short_sim(dir, 1.0, 3, 2);
    let episodes = dir.join("episodes");
    let single = dir.join("single");
    let o = run(reel()
        .args(["export", "lerobot"])
        .arg(&episodes)
        .arg("--out")
        .arg(&single)
        .args(["--fps", "30", "--repo-id", "lab/pick", "--jobs", "1"]));
    assert!(o.status.success(), "{}", stderr(&o));
    (episodes, single)
}

/// PATH with the built `reel` first, as an image or a module would put it.
fn path_with_reel() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_reel")).parent().unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn ok(cmd: &mut Command, what: &str) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn slurm_array_tasks_and_merge_give_the_single_export() {
    let tmp = tempfile::tempdir().unwrap();
    let (episodes, single) = episodes_and_single(tmp.path());
    let out = tmp.path().join("slurm/pick");
    let slurm = workspace().join("deploy/slurm");
    let env = |c: &mut Command| {
        c.env("EPISODES", &episodes)
            .env("OUT", &out)
            .env("SHARDS", "2")
            .env("FPS", "30")
            .env("REPO_ID", "lab/pick")
            .env("PATH", path_with_reel());
    };
    for index in 0..2 {
        let mut c = Command::new("bash");
        c.arg(slurm.join("export.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", index.to_string())
            .env("SLURM_CPUS_PER_TASK", "1");
        env(&mut c);
        ok(&mut c, &format!("array task {index}"));
    }
    let mut c = Command::new("bash");
    c.arg(slurm.join("merge.sbatch"));
    env(&mut c);
    ok(&mut c, "merge job");
    assert!(!tmp.path().join("slurm/pick.shards").exists());
    assert_same_dataset(&single, &out, "Slurm");

    // submit.sh: the array, then the merge after it (a stand-in sbatch).
    let fake = tmp.path().join("fake-bin");
    std::fs::create_dir(&fake).unwrap();
    let log = tmp.path().join("sbatch.log");
    std::fs::write(
        fake.join("sbatch"),
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nn=$(wc -l < '{}')\necho $((4241 + n))\n",
            log.display(),
            log.display()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(fake.join("sbatch"))
        .status()
        .unwrap();
    let mut c = Command::new("bash");
    c.arg(slurm.join("submit.sh"));
    env(&mut c);
    c.env("SHARDS", "16").env(
        "PATH",
        format!("{}:{}", fake.display(), std::env::var("PATH").unwrap()),
    );
    let said = ok(&mut c, "submit.sh");
    let calls = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls[0].contains("--array=0-15") && calls[0].ends_with("export.sbatch"),
        "{calls:?}"
    );
    assert!(
        calls[1].contains("--dependency=afterok:4242") && calls[1].ends_with("merge.sbatch"),
        "{calls:?}"
    );
    assert!(said.contains("4242") && said.contains("4243"), "{said}");
}

#[test]
fn kubernetes_indexed_job_and_merge_job_give_the_single_export() {
    let Some(bin) = reel_testkit::skip::ray_bin("the Kubernetes manifests (PyYAML)") else {
        return;
    };
    let manifest = workspace().join("deploy/k8s/export-job.yaml");
    let script =
        "import json,sys,yaml\nprint(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let parsed = ok(
        Command::new(bin.join("python"))
            .args(["-c", script])
            .arg(&manifest),
        "PyYAML",
    );
    let docs: serde_json::Value = serde_json::from_str(&parsed).unwrap();
    let (export, merge) = (&docs[0], &docs[1]);
    assert_eq!(export["kind"], "Job");
    assert_eq!(export["spec"]["completionMode"], "Indexed");
    let completions = export["spec"]["completions"].as_u64().unwrap();
    let container = &export["spec"]["template"]["spec"]["containers"][0];
    let env_value = |c: &serde_json::Value, name: &str| -> String {
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(env_value(container, "SHARDS"), completions.to_string());
    assert_eq!(merge["kind"], "Job");
    let waiter = &merge["spec"]["template"]["spec"]["initContainers"][0];
    let merger = &merge["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_value(merger, "SHARDS"), completions.to_string());
    assert_eq!(env_value(merger, "OUT"), env_value(container, "OUT"));

    // The pods' scripts, by hand, on this machine's paths (2 shards).
    let tmp = tempfile::tempdir().unwrap();
    let (episodes, single) = episodes_and_single(tmp.path());
    let out = tmp.path().join("k8s/pick");
    let pod = |c: &serde_json::Value, index: Option<usize>| {
        let script = c["args"][0].as_str().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script])
            .env("EPISODES", &episodes)
            .env("OUT", &out)
            .env("SHARDS", "2")
            .env("FPS", "30")
            .env("REPO_ID", env_value(container, "REPO_ID"))
            .env("PATH", path_with_reel());
        if let Some(i) = index {
            cmd.env("JOB_COMPLETION_INDEX", i.to_string());
        }
        cmd
    };
    for index in 0..2 {
        ok(
            &mut pod(container, Some(index)),
            &format!("export pod {index}"),
        );
    }
    ok(&mut pod(waiter, None), "wait-for-shards");
    ok(&mut pod(merger, None), "merge pod");
    assert_same_dataset(&single, &out, "Kubernetes");
}
