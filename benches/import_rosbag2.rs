#![allow(clippy::unwrap_used)]
//! `reel import` of a rosbag2 MCAP bag side by side with the same bag read
//! by `rosbags` in Python, in one run, both pinned to one core
//! (`taskset -c 0`) with the bag in the page cache:
//! - reel: the whole command (detect, sha256 of the bag, read, write the
//!   episode with zstd chunks synced every second, rename);
//! - rosbags: `AnyReader` reading every message's raw bytes (what any
//!   converter must do before it decodes), nothing written.
//!
//! The bags are written by the `rosbags` writer (`scripts/check_import.py
//! make-big`): JointState and /tf at 500 Hz, three 30 Hz cameras with
//! 100 kB JPEG-sized payloads (copied, never re-encoded), a 10 Hz
//! PointCloud2 of 30,000 points. Two sizes, 256 MB and 1 GB, show whether
//! the peak resident set grows with the bag.
//!
//! Writing the episode is the bound on a disk: the run also measures what
//! this disk writes (512 MB, synced) and imports the 1 GB bag once more
//! into RAM (`/dev/shm`), where only the CPU limits.
//!
//! Targets: at least 200 MB/s of bag data on one core (into RAM), and at
//! least 0.9x the disk's own write speed onto the disk; the peak resident
//! set of the 1 GB import at most 1.25x that of the 256 MB one (+16 MB),
//! and under 256 MB.
//!
//! `cargo bench --bench import_rosbag2` (release); needs `.venv`
//! (scripts/setup.sh).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use reel_testkit::skip::{venv_python, workspace};
use reel_testkit::targets::Targets;

fn helper(python: &Path, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let o = Command::new(python)
        .arg(workspace().join("scripts/check_import.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "check_import.py {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Runs `cmd` pinned to core 0 under the rss helper: (seconds, peak RSS MB, stdout).
fn measured(python: &Path, cmd: &[&std::ffi::OsStr]) -> (f64, f64, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "rss".as_ref(),
        "taskset".as_ref(),
        "-c".as_ref(),
        "0".as_ref(),
    ];
    args.extend_from_slice(cmd);
    let r = helper(python, &args);
    assert_eq!(r["code"], 0, "{r}");
    (
        r["seconds"].as_f64().unwrap(),
        r["max_rss_kb"].as_f64().unwrap() / 1024.0,
        r["stdout"].as_str().unwrap().to_string(),
    )
}

/// MB/s this disk takes 512 MB at, synced (the ceiling of any import onto it).
fn disk_write_speed(dir: &Path) -> f64 {
    let path = dir.join("disk-speed");
    let block = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..512 {
        f.write_all(&block).unwrap();
    }
    f.sync_all().unwrap();
    let rate = 512.0 * 1.048_576 / t.elapsed().as_secs_f64();
    std::fs::remove_file(&path).unwrap();
    rate
}

fn main() {
    let mut targets = Targets::new();
    let Some(python) = venv_python("import benchmark") else {
        targets.unmeasured("import speed", "no .venv (run scripts/setup.sh)");
        targets.finish();
        return;
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let reel = env!("CARGO_BIN_EXE_reel");
    println!(
        "{:>8} {:>9} {:>11} {:>10} {:>13} {:>12} {:>10}",
        "bag MB", "messages", "reel MB/s", "reel RSS", "rosbags MB/s", "rosbags RSS", "reel/rosb"
    );
    let disk = disk_write_speed(dir.path());
    println!("this disk writes {disk:.1} MB/s (512 MB, synced)");
    let mut rows = Vec::new();
    let mut in_ram = None;
    for mb in [256u64, 1024] {
        let bag = dir.path().join(format!("bag{mb}"));
        helper(
            &python,
            &[
                "make-big".as_ref(),
                bag.as_os_str(),
                mb.to_string().as_ref(),
            ],
        );
        let size: u64 = std::fs::read_dir(&bag)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        let size_mb = size as f64 / 1e6;
        // Both read the bag from the page cache (it was just written; one
        // read of it first makes sure), and its own writeback is over
        // before the import writes: the disk is the import's alone.
        for entry in std::fs::read_dir(&bag).unwrap() {
            let path = entry.unwrap().path();
            std::fs::File::open(&path).unwrap().sync_all().unwrap();
            let _ = std::fs::read(&path);
        }
        let out = dir.path().join(format!("out{mb}"));
        let (reel_s, reel_rss, _) = measured(
            &python,
            &[
                reel.as_ref(),
                "import".as_ref(),
                bag.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
        );
        let (rosbags_s, rosbags_rss, stdout) = measured(
            &python,
            &[
                python.as_os_str(),
                workspace().join("scripts/check_import.py").as_os_str(),
                "read-rosbags".as_ref(),
                bag.as_os_str(),
            ],
        );
        let read: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let reel_rate = size_mb / reel_s;
        let rosbags_rate = size_mb / rosbags_s;
        println!(
            "{:>8.0} {:>9} {:>11.1} {:>7.1} MB {:>13.1} {:>9.1} MB {:>10.2}",
            size_mb,
            read["messages"],
            reel_rate,
            reel_rss,
            rosbags_rate,
            rosbags_rss,
            reel_rate / rosbags_rate
        );
        let episode = out.join(format!("bag{mb}.mcap"));
        let written = std::fs::metadata(&episode).unwrap().len() as f64 / 1e6;
        println!(
            "         episode {written:.0} MB (zstd chunks); rosbags' own read loop alone: {:.2} s",
            read["seconds"].as_f64().unwrap()
        );
        rows.push((size_mb, reel_rate, reel_rss));
        std::fs::remove_dir_all(&out).unwrap();
        let shm = Path::new("/dev/shm");
        if mb == 1024 && shm.is_dir() {
            let ram = tempfile::tempdir_in(shm).unwrap();
            let out = ram.path().join("out");
            let (s, rss, _) = measured(
                &python,
                &[
                    reel.as_ref(),
                    "import".as_ref(),
                    bag.as_os_str(),
                    "--out".as_ref(),
                    out.as_os_str(),
                ],
            );
            println!(
                "{:>8.0} {:>9} {:>11.1} {:>7.1} MB   (episode written to RAM, /dev/shm)",
                size_mb,
                read["messages"],
                size_mb / s,
                rss
            );
            in_ram = Some(size_mb / s);
        }
        std::fs::remove_dir_all(&bag).unwrap();
    }
    let (_, rate_big, rss_big) = rows[1];
    let (_, _, rss_small) = rows[0];
    match in_ram {
        Some(rate) => targets.at_least(
            "reel import MB/s of bag data on one core, into RAM (1 GB bag)",
            rate,
            200.0,
        ),
        None => targets.unmeasured("reel import into RAM", "no /dev/shm"),
    }
    targets.at_least(
        "reel import onto this disk over the disk's own write speed (1 GB bag)",
        rate_big / disk,
        0.9,
    );
    targets.at_most(
        "peak RSS of the 1 GB import over 1.25 x the 256 MB one + 16 MB",
        rss_big / (1.25 * rss_small + 16.0),
        1.0,
    );
    targets.at_most("peak RSS of the 1 GB import (MB)", rss_big, 256.0);
    targets.finish();
}
