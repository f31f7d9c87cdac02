//! Helpers shared by the capture integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use reel_testkit::skip;

pub mod replay;

/// `shared/testdata/<rel>`, or None (skip recorded for `test`) in a clone
/// without the shared files.
pub fn testdata(test: &str, rel: &str) -> Option<PathBuf> {
    skip::testdata(test).map(|d| d.join(rel))
}

/// `"FF 0A"` → bytes.
pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// One example packet of the ROBOTIS e-Manual.
pub struct EmanualPacket {
    /// Example name.
    pub example: String,
    /// `instruction` or `status`.
    pub kind: String,
    /// Wire bytes.
    pub bytes: Vec<u8>,
}

/// The e-Manual's example packets of `protocol` (`protocol1` or `protocol2`),
/// each already marked valid by the transcription; None without the files.
pub fn emanual_packets(protocol: &str) -> Option<Vec<EmanualPacket>> {
    let path = testdata(
        &format!("e-Manual {protocol} examples"),
        "serial/robotis_emanual_packet_examples.json",
    )?;
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc[protocol]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["crc_ok"] == true || e["checksum_ok"] == true, "{e}");
            EmanualPacket {
                example: e["example"].as_str().unwrap().to_string(),
                kind: e["kind"].as_str().unwrap().to_string(),
                bytes: hex(e["hex"].as_str().unwrap()),
            }
        })
        .collect::<Vec<_>>()
        .into()
}

/// A sample rig (`samples/rigs/<name>.toml`) moved into `dir` (see
/// `reel_capture::emulators::rig::isolated_copy`), loaded.
pub fn sample_rig_in(name: &str, dir: &std::path::Path) -> reel_capture::rig::LoadedRig {
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../samples/rigs/{name}.toml"));
    let path = reel_capture::emulators::rig::isolated_copy(&sample, dir).unwrap();
    reel_capture::rig::LoadedRig::load(&path).unwrap()
}

// Episode helpers of the recorder tests.

use reel_capture::recorder::Recorder;
use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::{EpisodeReader, Outcome};
use std::collections::BTreeMap;
use std::time::Duration;

pub struct Stream {
    pub count: u64,
    pub first: u64,
    pub last: u64,
}

pub fn streams(reader: &EpisodeReader) -> BTreeMap<String, Stream> {
    let mut out: BTreeMap<String, Stream> = BTreeMap::new();
    for m in reader.messages() {
        let m = m.unwrap();
        let s = out.entry(m.channel.topic.clone()).or_insert(Stream {
            count: 0,
            first: u64::MAX,
            last: 0,
        });
        s.count += 1;
        s.first = s.first.min(m.publish_time);
        s.last = s.last.max(m.publish_time);
    }
    out
}

pub fn events(reader: &EpisodeReader) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m.unwrap();
        if m.channel.topic == "/episode/events" {
            let s: StringMsg = reader.decode(&m, i as u64).unwrap();
            out.push(serde_json::from_str(&s.data).unwrap());
        }
    }
    out
}

pub fn record_for(recorder: &Recorder, seconds: f64) -> std::path::PathBuf {
    recorder.start_episode(None).unwrap();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    recorder.stop_episode(Outcome::Success).unwrap().path
}

pub fn wait_connected(recorder: &Recorder) {
    for _ in 0..100 {
        if recorder.status().devices.iter().all(|d| d.connected) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("devices did not connect: {:#?}", recorder.status().devices);
}
