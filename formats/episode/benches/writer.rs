//! Episode writer throughput on a realistic rig mix, side by side with two
//! references in the same run (release build: `cargo bench -p reel-episode --bench writer`):
//!
//! - `raw file`: CDR-encode each message and append it to a buffered file
//!   (no container): the floor any recorder pays;
//! - `mcap (none)`: the bare `mcap` crate writer, chunked but uncompressed;
//! - `reel`: [`EpisodeWriter`] with its defaults (zstd chunks on the writing
//!   thread, a chunk closed and fsynced at least every second).
//!
//! The mix is the foundation issue's: 3×640×480 JPEG at 30 Hz, 2 arms × 7
//! joints at 500 Hz, a 300k points/s VLP-16-like cloud. Messages are generated
//! before timing. Rounds alternate between the writers; the median is shown.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::time::Instant;

use reel_episode::ros2::RosMessage;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions};
use reel_testkit::synthetic_rig::{generate_mix, RigMessage, RigMix, RigTopics, Timed};

const RIG_SECONDS: f64 = 10.0;
/// Each reel round fsyncs a chunk per second of rig time, so its time
/// follows the disk's sync latency, which varies on a shared VM (15-21x
/// over three 3-round runs here): 9 rounds and the spread printed.
const ROUNDS: usize = 9;

fn encode(m: &RigMessage, buf: &mut Vec<u8>) -> &'static str {
    match m {
        RigMessage::Image(_, x) => {
            x.encode_into(buf);
            "/camera/image"
        }
        RigMessage::Info(_, x) => {
            x.encode_into(buf);
            "/camera/info"
        }
        RigMessage::Joints(_, x) => {
            x.encode_into(buf);
            "/joints"
        }
        RigMessage::Cloud(x) => {
            x.encode_into(buf);
            "/points"
        }
        RigMessage::TfStatic(x) => {
            x.encode_into(buf);
            "/tf_static"
        }
        RigMessage::Event(x) => {
            x.encode_into(buf);
            "/events"
        }
    }
}

fn raw_file(msgs: &[Timed], dir: &std::path::Path) -> (f64, u64) {
    let path = dir.join("raw.bin");
    let start = Instant::now();
    let mut f = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    let mut buf = Vec::new();
    for m in msgs {
        encode(&m.message, &mut buf);
        f.write_all(&buf).unwrap();
    }
    let file = f.into_inner().unwrap();
    file.sync_all().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).unwrap().len();
    std::fs::remove_file(&path).unwrap();
    (secs, size)
}

fn bare_mcap(msgs: &[Timed], dir: &std::path::Path) -> (f64, u64) {
    let path = dir.join("bare.mcap");
    let start = Instant::now();
    let file = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    let mut w = mcap::WriteOptions::new()
        .profile("ros2")
        .compression(None)
        .create(file)
        .unwrap();
    let mut channels = BTreeMap::new();
    let mut buf = Vec::new();
    for (seq, m) in msgs.iter().enumerate() {
        let topic = encode(&m.message, &mut buf);
        let id = *channels.entry(topic).or_insert_with(|| {
            let schema = w.add_schema(topic, "ros2msg", b"").unwrap();
            w.add_channel(schema, topic, "cdr", &BTreeMap::new())
                .unwrap()
        });
        let header = mcap::records::MessageHeader {
            channel_id: id,
            sequence: seq as u32,
            log_time: m.log_nanos,
            publish_time: m.publish_nanos,
        };
        w.write_to_known_channel(&header, &buf).unwrap();
    }
    w.finish().unwrap();
    let file = w.into_inner().into_inner().unwrap();
    file.sync_all().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).unwrap().len();
    std::fs::remove_file(&path).unwrap();
    (secs, size)
}

/// CPU time of this thread so far, seconds (Linux's schedstat, in ns).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

/// Wall seconds (with the final fsync of the whole file, which the disk
/// sets), file size, and CPU seconds of the writing thread.
fn reel_writer(msgs: &[Timed], mix: &RigMix, dir: &std::path::Path) -> (f64, u64, f64) {
    let path = dir.join("reel.mcap");
    let start = Instant::now();
    let cpu0 = thread_cpu_seconds();
    let mut w = EpisodeWriter::create(
        &path,
        EpisodeMeta::new("bench", "bench"),
        EpisodeWriterOptions::default(),
    )
    .unwrap();
    let topics = RigTopics::register(&mut w, mix).unwrap();
    for m in msgs {
        topics.write(&mut w, m).unwrap();
    }
    let path = w.finish().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds() - cpu0;
    let size = std::fs::metadata(&path).unwrap().len();
    std::fs::remove_file(&path).unwrap();
    (secs, size, cpu)
}

fn median(mut v: Vec<(f64, u64)>) -> (f64, u64) {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this too; keep that quick.
    let quick =
        std::env::args().any(|a| a == "--test") || std::env::var_os("REEL_BENCH_QUICK").is_some();
    let rig_seconds = if quick { 0.5 } else { RIG_SECONDS };
    let rounds = if quick { 1 } else { ROUNDS };
    let mix = RigMix::bench();
    let msgs = generate_mix(&mix, 1_700_000_000_000_000_000, rig_seconds);
    let payload: u64 = msgs.iter().map(|m| m.message.payload_bytes()).sum();
    let rate_mb = payload as f64 / rig_seconds / 1e6;
    let rate_msgs = msgs.len() as f64 / rig_seconds;
    println!(
        "rig mix: {} cameras {}x{} JPEG @ {} Hz, {} arms x {} joints @ {} Hz, LiDAR {} pts x {} Hz",
        mix.cameras,
        mix.width,
        mix.height,
        mix.fps,
        mix.arms,
        mix.joints,
        mix.joint_hz,
        mix.lidar_points_per_rev,
        mix.lidar_hz
    );
    println!(
        "real-time data rate: {rate_mb:.2} MB/s, {rate_msgs:.0} msgs/s; {rig_seconds} s of rig time = {:.1} MB, {} messages; {rounds} rounds, median",
        payload as f64 / 1e6,
        msgs.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut raw, mut bare, mut reel, mut reel_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        raw.push(raw_file(&msgs, dir.path()));
        bare.push(bare_mcap(&msgs, dir.path()));
        let (secs, size, cpu) = reel_writer(&msgs, &mix, dir.path());
        reel.push((secs, size));
        reel_cpu.push((cpu, size));
    }
    let spread = |v: &[(f64, u64)]| {
        let secs = v.iter().map(|r| r.0);
        let (fast, slow) = (
            secs.clone().fold(f64::MAX, f64::min),
            secs.fold(0.0, f64::max),
        );
        format!("{:.1}x..{:.1}x", rig_seconds / slow, rig_seconds / fast)
    };
    println!(
        "rounds, x real time, slowest..fastest: raw {}, mcap {}, reel {}",
        spread(&raw),
        spread(&bare),
        spread(&reel)
    );
    let (cpu_secs, _) = median(reel_cpu.clone());
    println!(
        "reel, CPU of the writing thread (encode, chunk, zstd; without waiting for the disk): {:.1}x real time (rounds {})",
        rig_seconds / cpu_secs,
        spread(&reel_cpu)
    );
    let rows = [
        ("raw file (ref)", median(raw)),
        ("mcap, no compression (ref)", median(bare)),
        ("reel EpisodeWriter (zstd)", median(reel)),
    ];
    println!(
        "{:28} {:>9} {:>11} {:>12} {:>9}",
        "writer", "MB/s", "msgs/s", "x real time", "file MB"
    );
    for (name, (secs, size)) in rows {
        println!(
            "{name:28} {:>9.1} {:>11.0} {:>11.1}x {:>9.1}",
            payload as f64 / secs / 1e6,
            msgs.len() as f64 / secs,
            rig_seconds / secs,
            size as f64 / 1e6
        );
    }
    let (reel_secs, _) = rows[2].1;
    let (raw_secs, _) = rows[0].1;
    let (bare_secs, _) = rows[1].1;
    println!(
        "reel {:.1} MB/s  ref(raw) {:.1} MB/s  {:.2}x   ref(mcap) {:.1} MB/s  {:.2}x   real time {:.1}x (target >= 20x on one core)",
        payload as f64 / reel_secs / 1e6,
        payload as f64 / raw_secs / 1e6,
        raw_secs / reel_secs,
        payload as f64 / bare_secs / 1e6,
        bare_secs / reel_secs,
        rig_seconds / reel_secs
    );
    let mut targets = reel_testkit::targets::Targets::new();
    // "On one core" is CPU: the wall time above also holds the final fsync
    // of the whole file, which the disk sets (a recording syncs each second).
    targets.at_least(
        "writer, times real time on one core (CPU of the writing thread)",
        rig_seconds / cpu_secs,
        20.0,
    );
    targets.finish();
}
