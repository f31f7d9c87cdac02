#![allow(clippy::unwrap_used)]
//! `reel check` on a 1-hour dataset of the bimanual rig (target < 60 s).
//!
//! 1. Records one 30 s episode from `samples/rigs/bimanual-emulated.toml`
//!    with `reel record --emulate` (4 × 7-DoF arms at 200 Hz, 3 cameras
//!    640×480 JPEG at 30 fps, a VLP-16 at 10 Hz with raw packets kept).
//! 2. Writes 120 episodes from it (one hour): each re-stamped 31 s later
//!    than the one before (header stamps too), with a new episode id and
//!    every joint moved by a further 0.01 rad, so none duplicates another.
//! 3. Drops the page cache when allowed (root), then times `reel check` on
//!    the folder (default: each file read through its indexes, one chunk
//!    per second decoded), and side by side a whole read (`--full`) of the
//!    first 10 episodes, extrapolated to the hour.
//!
//! `cargo bench --bench check_dataset` (release). REEL_BENCH_DATASET=DIR
//! keeps the dataset in DIR and reuses it on the next run (about 22 GB);
//! REEL_BENCH_EPISODES=N writes N episodes instead of 120.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use reel_episode::{EpisodeReader, EpisodeWriterOptions};

mod common;
use common::bimanual::{record_bimanual, reel};
use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::ros2::RosMessage;

const EPISODE_S: u32 = 30;

/// Moves the header stamp (the 8 bytes after the CDR encapsulation) by `shift` ns.
fn restamp(cdr: &mut [u8], shift: u64) {
    let Some(stamp) = reel_quality::scan::header_stamp(cdr) else {
        return;
    };
    let t = stamp + shift;
    let little = cdr[1] & 1 == 1;
    let (sec, nsec) = ((t / 1_000_000_000) as u32, (t % 1_000_000_000) as u32);
    let (a, b) = if little {
        (sec.to_le_bytes(), nsec.to_le_bytes())
    } else {
        (sec.to_be_bytes(), nsec.to_be_bytes())
    };
    cdr[4..8].copy_from_slice(&a);
    cdr[8..12].copy_from_slice(&b);
}

/// Episode `k` of the dataset from the template.
fn derive(template: &EpisodeReader, k: u64, out: &Path) {
    let shift = k * (u64::from(EPISODE_S) + 1) * 1_000_000_000;
    let options = EpisodeWriterOptions::default();
    let file = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut w = mcap::WriteOptions::new()
        .profile(template.profile())
        .library(template.library())
        .compression(Some(mcap::Compression::Zstd))
        .compression_level(options.compression_level)
        .chunk_size(Some(options.chunk_size_bytes))
        .create(file)
        .unwrap();
    let mut channels: BTreeMap<u16, u16> = BTreeMap::new();
    let mut schemas: BTreeMap<u16, u16> = BTreeMap::new();
    for (i, m) in template.messages().enumerate() {
        let m = m.unwrap();
        let id = m.channel.id;
        if let std::collections::btree_map::Entry::Vacant(slot) = channels.entry(id) {
            let schema_id = match &m.channel.schema {
                Some(s) => *schemas
                    .entry(s.id)
                    .or_insert_with(|| w.add_schema(&s.name, &s.encoding, &s.data).unwrap()),
                None => 0,
            };
            let new = w
                .add_channel(
                    schema_id,
                    &m.channel.topic,
                    &m.channel.message_encoding,
                    &m.channel.metadata,
                )
                .unwrap();
            slot.insert(new);
        }
        let mut data = m.data.into_owned();
        if m.channel
            .schema
            .as_ref()
            .is_some_and(|s| s.name == "sensor_msgs/msg/JointState")
        {
            let mut js = template
                .decode::<JointState>(
                    &mcap::Message {
                        channel: m.channel.clone(),
                        sequence: m.sequence,
                        log_time: m.log_time,
                        publish_time: m.publish_time,
                        data: Cow::Borrowed(&data),
                    },
                    i as u64,
                )
                .unwrap();
            js.position
                .iter_mut()
                .for_each(|q| *q += 0.01 * (k + 1) as f64);
            data = js.to_cdr();
        }
        restamp(&mut data, shift);
        w.write_to_known_channel(
            &mcap::records::MessageHeader {
                channel_id: channels[&id],
                sequence: m.sequence,
                log_time: m.log_time + shift,
                publish_time: m.publish_time + shift,
            },
            &data,
        )
        .unwrap();
    }
    for mut meta in template.metadata().unwrap() {
        if meta.name == reel_episode::EPISODE_METADATA_NAME {
            let id = meta.metadata.get("episode_id").cloned().unwrap_or_default();
            meta.metadata
                .insert("episode_id".into(), format!("{id}-bench-{k:04}"));
        }
        w.write_metadata(&meta).unwrap();
    }
    for a in template.attachments().unwrap() {
        w.attach(&mcap::Attachment {
            log_time: a.log_time + shift,
            create_time: a.log_time + shift,
            name: a.name,
            media_type: a.media_type,
            data: Cow::Owned(a.data),
        })
        .unwrap();
    }
    w.finish().unwrap();
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn drop_page_cache() -> bool {
    Command::new("sync").status().is_ok_and(|s| s.success())
        && std::fs::write("/proc/sys/vm/drop_caches", b"3").is_ok()
}

fn time_check(args: &[&str], path: &Path) -> (f64, serde_json::Value) {
    let t = Instant::now();
    let out = reel()
        .arg("check")
        .args(args)
        .args(["--json"])
        .arg(path)
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        matches!(out.status.code(), Some(0 | 4)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, serde_json::from_slice(&out.stdout).unwrap())
}

fn main() {
    let keep = std::env::var_os("REEL_BENCH_DATASET").map(PathBuf::from);
    let episodes: u64 = std::env::var("REEL_BENCH_EPISODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let dataset = root.join("dataset");
    let ready = dataset.is_dir() && std::fs::read_dir(&dataset).unwrap().count() as u64 == episodes;
    if !ready {
        let _ = std::fs::remove_dir_all(&dataset);
        std::fs::create_dir_all(&dataset).unwrap();
        eprintln!("recording a {EPISODE_S} s bimanual episode ...");
        let template_path = record_bimanual(&root, EPISODE_S);
        let template = Arc::new(EpisodeReader::open(&template_path).unwrap());
        eprintln!(
            "writing {episodes} episodes ({} min) ...",
            episodes * u64::from(EPISODE_S) / 60
        );
        let t = Instant::now();
        let next = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if k >= episodes {
                        break;
                    }
                    derive(&template, k, &dataset.join(format!("bimanual_{k:04}.mcap")));
                });
            }
        });
        eprintln!("written in {:.0} s", t.elapsed().as_secs_f64());
    }
    let bytes = dir_bytes(&dataset);
    let hours = (episodes * u64::from(EPISODE_S)) as f64 / 3600.0;

    let cold = drop_page_cache();
    let (sampled_s, report) = time_check(&[], &dataset);
    let eps = report["episodes"].as_array().unwrap();
    let decoded: f64 = eps
        .iter()
        .map(|e| e["decoded_fraction"].as_f64().unwrap())
        .sum::<f64>()
        / eps.len() as f64;
    let failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .count();

    // A whole read of the first 10 episodes, side by side.
    let subset = root.join("subset");
    let _ = std::fs::remove_dir_all(&subset);
    std::fs::create_dir_all(&subset).unwrap();
    for k in 0..episodes.min(10) {
        let name = format!("bimanual_{k:04}.mcap");
        std::fs::hard_link(dataset.join(&name), subset.join(&name)).unwrap();
    }
    let cold_subset = drop_page_cache();
    let (full_s, _) = time_check(&["--full"], &subset);
    let full_hour_s = full_s * episodes as f64 / episodes.min(10) as f64;
    let _ = std::fs::remove_dir_all(&subset);

    println!(
        "reel check on {episodes} bimanual episodes of {EPISODE_S} s ({hours:.2} h, {:.1} GB):",
        bytes as f64 / 1e9
    );
    println!(
        "  page cache dropped before each run: {}",
        if cold && cold_subset {
            "yes"
        } else {
            "no (not root): data may come from the page cache"
        }
    );
    println!(
        "  sampled read (default): {sampled_s:.1} s for the {hours:.2} h (target < 60 s per hour: {}), {:.0} MB/s of episodes, {:.1} % of chunks decompressed",
        if sampled_s < 60.0 * hours { "met" } else { "MISSED" },
        bytes as f64 / 1e6 / sampled_s,
        decoded * 100.0
    );
    println!(
        "  whole read (--full) of {} episodes: {full_s:.1} s → {full_hour_s:.0} s for all {episodes}; sampled/full time {:.2}",
        episodes.min(10),
        sampled_s / full_hour_s
    );
    println!(
        "  {} checks, {failed} failed; passed: {}",
        report["checks"].as_array().unwrap().len(),
        report["passed"]
    );
    let mut targets = reel_testkit::targets::Targets::new();
    targets.at_most(
        "reel check, seconds per hour of recording",
        sampled_s / hours,
        60.0,
    );
    targets.at_most("checks failed on clean recordings", failed as f64, 0.0);
    if keep.is_none() {
        drop(tmp);
    }
    targets.finish();
}
