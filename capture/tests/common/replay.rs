//! Recording packets replayed over loopback UDP, and reading the clouds
//! back: what the LiDAR tests against vendor decoders share.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_capture::rig::LoadedRig;
use reel_episode::cloud::{read_field, CloudLayout};
use reel_episode::ros2::sensor_msgs::PointCloud2;
use reel_episode::{EpisodeReader, Outcome};
use reel_testkit::episodes::decoded_on;

/// One point as both sides give it.
#[derive(Debug, Clone, Copy)]
pub struct RefPoint {
    pub xyz: [f32; 3],
    pub intensity: f32,
    pub ring: u16,
    pub return_type: u8,
}

/// A free loopback UDP port.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A rig with one LiDAR of `model` listening on `port`.
pub fn lidar_rig(dir: &Path, model: &str, port: u16, extra: &str) -> LoadedRig {
    let path = dir.join("rig.toml");
    std::fs::write(
        &path,
        format!(
            "[rig]\nname = \"replay\"\nrobot_type = \"none\"\n\n[[lidar]]\nname = \"top\"\nmodel = \"{model}\"\naddress = \"127.0.0.1:{port}\"\n{extra}\n"
        ),
    )
    .unwrap();
    LoadedRig::load(&path).unwrap()
}

/// Sends `packets` to `port` at their recorded spacing.
pub fn replay(packets: &[(u64, Vec<u8>)], port: u16) {
    replay_to(&to_port(packets, port));
}

/// `packets` as (time, payload, port) for [`replay_to`].
fn to_port(packets: &[(u64, Vec<u8>)], port: u16) -> Vec<(u64, &[u8], u16)> {
    packets
        .iter()
        .map(|(t, d)| (*t, d.as_slice(), port))
        .collect()
}

/// Sends each (time, payload, port) at its recorded spacing.
pub fn replay_to(packets: &[(u64, &[u8], u16)]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    let t0 = packets.iter().map(|p| p.0).min().unwrap();
    for (t, data, port) in packets {
        let due = Duration::from_nanos(t - t0);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        socket.send_to(data, ("127.0.0.1", *port)).unwrap();
    }
}

/// Records the replay of `packets` into one episode; returns its path.
pub fn record_replay(dir: &Path, rig: LoadedRig, port: u16, packets: &[(u64, Vec<u8>)]) -> PathBuf {
    record_replay_to(dir, rig, &to_port(packets, port))
}

/// [`record_replay`] of packets to several ports, in time order.
pub fn record_replay_to(dir: &Path, rig: LoadedRig, packets: &[(u64, &[u8], u16)]) -> PathBuf {
    let mut options = RecorderOptions::new(dir.join("out"));
    options.lidar_check_timeout = Duration::ZERO;
    let recorder = Recorder::start(rig, options).unwrap();
    recorder.start_episode(None).unwrap();
    replay_to(packets);
    // Silence ends the last scan (the vendor decoder's `finish`).
    std::thread::sleep(Duration::from_millis(900));
    recorder.stop_episode(Outcome::Success).unwrap().path
}

/// [`record_replay_to`] of point packets to `port` and IMU packets to
/// `imu_port`, interleaved by time as they arrived.
pub fn record_points_and_imu(
    dir: &Path,
    rig: LoadedRig,
    (packets, port): (&[(u64, Vec<u8>)], u16),
    (imu_packets, imu_port): (&[(u64, Vec<u8>)], u16),
) -> PathBuf {
    let mut tagged = to_port(packets, port);
    tagged.extend(to_port(imu_packets, imu_port));
    tagged.sort_by_key(|p| p.0);
    record_replay_to(dir, rig, &tagged)
}

/// Every cloud of `topic`, as points.
pub fn clouds(path: &Path, topic: &str) -> Vec<Vec<RefPoint>> {
    decoded_on::<PointCloud2>(path, topic)
        .iter()
        .map(|cloud| {
            let layout = CloudLayout::of(cloud).unwrap();
            // Every field the comparison reads must be there: a missing one
            // read as 0 would match a vendor's 0 and prove nothing.
            let field = |name: &str| {
                cloud
                    .field(name)
                    .unwrap_or_else(|| panic!("{topic}: the cloud has no `{name}` field"))
                    .clone()
            };
            let [x, y, z, intensity, ring, kind] =
                ["x", "y", "z", "intensity", "ring", "return_type"].map(field);
            layout
                .points(cloud)
                .map(|p| {
                    let get = |f| read_field(p, f, cloud.is_bigendian).unwrap_or(0.0);
                    RefPoint {
                        xyz: [get(&x) as f32, get(&y) as f32, get(&z) as f32],
                        intensity: get(&intensity) as f32,
                        ring: get(&ring) as u16,
                        return_type: get(&kind) as u8,
                    }
                })
                .collect()
        })
        .collect()
}

/// The episode's events of `kind`.
pub fn events_of(path: &Path, kind: &str) -> Vec<serde_json::Value> {
    let reader = EpisodeReader::open(path).unwrap();
    super::events(&reader)
        .into_iter()
        .filter(|e| e["event"] == kind)
        .collect()
}

/// Scan count, points per scan, and every point within 1 mm with the same
/// ring, intensity and return type.
pub fn assert_same_scans(name: &str, ours: &[Vec<RefPoint>], theirs: &[Vec<RefPoint>]) {
    let count = |s: &[Vec<RefPoint>]| s.iter().map(Vec::len).collect::<Vec<_>>();
    assert!(
        theirs.iter().any(|s| !s.is_empty()),
        "{name}: the vendor decoded no point; nothing to compare"
    );
    assert_eq!(
        count(ours),
        count(theirs),
        "{name}: points per scan (reel vs vendor)"
    );
    let mut worst = 0f32;
    for (s, (a, b)) in ours.iter().zip(theirs).enumerate() {
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            let d = (0..3)
                .map(|k| (p.xyz[k] - q.xyz[k]).abs())
                .fold(0.0, f32::max);
            worst = worst.max(d);
            assert!(d <= 1e-3, "{name}: scan {s} point {i}: {p:?} vs {q:?}");
            assert_eq!(
                (p.ring, p.return_type, p.intensity),
                (q.ring, q.return_type, q.intensity),
                "{name}: scan {s} point {i}"
            );
        }
    }
    println!(
        "{name}: {} scans, {} points, worst coordinate difference {:.3} mm",
        ours.len(),
        ours.iter().map(Vec::len).sum::<usize>(),
        worst * 1000.0
    );
}

/// `u64 time | u32 length | payload` records (`scripts/lidar_reference.py`,
/// `scripts/livox_sdk_reference.py`).
pub fn read_packets(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut o = 0;
    while o < bytes.len() {
        let t = u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        let n = u32::from_le_bytes(bytes[o + 8..o + 12].try_into().unwrap()) as usize;
        out.push((t, bytes[o + 12..o + 12 + n].to_vec()));
        o += 12 + n;
    }
    out
}

/// The vendor's scans of a `reference.bin` (`b"REELREF1"` format).
pub fn read_reference(path: &Path) -> Vec<Vec<RefPoint>> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"REELREF1");
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let f32_at = |o: usize| f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let scans = u32_at(8) as usize;
    let mut o = 12;
    let mut out = Vec::with_capacity(scans);
    for _ in 0..scans {
        let n = u32_at(o) as usize;
        o += 4;
        let points = (0..n)
            .map(|i| {
                let p = o + i * 20;
                RefPoint {
                    xyz: [f32_at(p), f32_at(p + 4), f32_at(p + 8)],
                    intensity: f32_at(p + 12),
                    ring: u16::from_le_bytes([bytes[p + 16], bytes[p + 17]]),
                    return_type: bytes[p + 18],
                }
            })
            .collect();
        o += n * 20;
        out.push(points);
    }
    out
}

/// Every IMU sample of `topic`, in order.
pub fn imu_samples(path: &Path, topic: &str) -> Vec<reel_episode::ros2::sensor_msgs::Imu> {
    decoded_on(path, topic)
}
