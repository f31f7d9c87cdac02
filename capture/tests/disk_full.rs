#![allow(clippy::unwrap_used)]
//! A full disk during a recording: the episode is closed readable and the
//! error says what happened. The first test runs anywhere: the writer's
//! free-space probe sees a 16 MB disk that the episode fills. The tmpfs
//! tests need permission to mount one (root in the CI container). A write
//! refused by the kernel without root (a file-size limit) is in the CLI
//! tests (`tests/cli_capture.rs`).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::{recover, EpisodeReader, RecoverOptions};

struct Tmpfs(std::path::PathBuf);
impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, size: &str) -> Option<Tmpfs> {
    std::fs::create_dir_all(at).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        reel_testkit::skip::skip(
            "disk_full",
            "cannot mount a tmpfs here (needs CAP_SYS_ADMIN); disk-full behaviour not tested",
        );
        return None;
    }
    Some(Tmpfs(at.to_path_buf()))
}

fn record_until_closed(recorder: &Recorder) {
    recorder.start_episode(None).unwrap();
    let t = Instant::now();
    while recorder.is_recording() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the disk never filled"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Bytes of the files directly in `dir`.
fn used_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Records the SO-101 sample rig into `out` (a disk about to fill) with an
/// 8 MB reserve until the recorder closes the episode; checks the error
/// names the folder and the free space, and that the one closed episode
/// reads clean with its messages. Returns it.
fn closed_at_reserve(dir: &Path, out: &Path, mut options: RecorderOptions) -> std::path::PathBuf {
    let rig = common::sample_rig_in("so101-emulated", dir);
    let _emu = EmulatedRig::start(&rig.rig).unwrap();
    options.min_free_bytes = 8 << 20;
    let recorder = Recorder::start(rig, options).unwrap();
    record_until_closed(&recorder);
    let status = recorder.status();
    let closed = recorder.closed_episodes();
    drop(recorder);
    let error = status.last_error.unwrap();
    println!("disk nearly full: {error}");
    assert!(
        error.contains("MB free") && error.contains(&out.display().to_string()),
        "{error}"
    );
    assert_eq!(closed.len(), 1);
    let reader = EpisodeReader::open(&closed[0].path).unwrap();
    assert!(reader.state().is_clean(), "{:?}", reader.state());
    assert!(reader.messages().count() > 500);
    closed[0].path.clone()
}

#[test]
fn low_space_on_a_small_disk_seen_through_the_free_space_probe_closes_the_episode() {
    const DISK: u64 = 16 << 20;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small");
    let mut options = RecorderOptions::new(&out);
    let probed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = probed.clone();
    options.free_space = reel_capture::recorder::writer::FreeSpace::new(move |d| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(DISK.saturating_sub(used_bytes(d)))
    });
    let episode = closed_at_reserve(dir.path(), &out, options);
    assert!(probed.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    let size = std::fs::metadata(&episode).unwrap().len();
    // It stopped at the reserve: past 8 MB used, before the disk's 16.
    assert!((8 << 20..DISK).contains(&size), "{size} bytes");
}

#[test]
fn low_space_closes_the_episode_cleanly_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small");
    let Some(_fs) = mount_tmpfs(&out, "16m") else {
        return;
    };
    closed_at_reserve(dir.path(), &out, RecorderOptions::new(&out));
}

#[test]
fn no_space_at_all_keeps_what_was_written_and_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny");
    let Some(_fs) = mount_tmpfs(&out, "6m") else {
        return;
    };
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let _emu = EmulatedRig::start(&rig.rig).unwrap();
    let mut options = RecorderOptions::new(&out);
    options.min_free_bytes = 0; // no reserve: writes themselves fail
    let recorder = Recorder::start(rig, options).unwrap();
    record_until_closed(&recorder);
    let error = recorder.status().last_error.unwrap();
    drop(recorder);
    println!("disk full: {error}");
    assert!(error.contains("No space left on device"), "{error}");
    // Either the close still fit, or the .partial keeps every flushed chunk
    // and the error names `reel recover`.
    let files: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    let readable = if file.to_string_lossy().ends_with(".partial") {
        assert!(error.contains("reel recover"), "{error}");
        let fixed = dir.path().join("recovered.mcap");
        recover(
            file,
            &RecoverOptions {
                output: Some(fixed.clone()),
            },
        )
        .unwrap();
        fixed
    } else {
        file.clone()
    };
    let reader = EpisodeReader::open(&readable).unwrap();
    assert!(reader.messages().count() > 300);
}
