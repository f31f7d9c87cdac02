//! Helpers shared by the capture integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

/// `shared/testdata/<rel>` beside the repository; fails clearly when missing.
pub fn testdata(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(rel);
    assert!(
        path.exists(),
        "{} is missing (shared/testdata must sit beside the repository)",
        path.display()
    );
    path
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
/// each already marked valid by the transcription.
pub fn emanual_packets(protocol: &str) -> Vec<EmanualPacket> {
    let path = testdata("serial/robotis_emanual_packet_examples.json");
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
        .collect()
}

/// A sample rig (`samples/rigs/<name>.toml`) moved into `dir`: serial links
/// under `dir`, free loopback ports for cameras and LiDAR, the URDF path
/// absolute. Tests can run side by side without clashing.
pub fn sample_rig_in(name: &str, dir: &std::path::Path) -> reel_capture::rig::LoadedRig {
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut text = std::fs::read_to_string(samples.join(format!("rigs/{name}.toml"))).unwrap();
    text = text.replace("/tmp/reel-", &format!("{}/", dir.display()));
    for port in [18601, 18602, 18611, 18612, 18613] {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        text = text.replace(&format!("127.0.0.1:{port}/"), &format!("127.0.0.1:{free}/"));
    }
    let free_udp = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    text = text.replace("127.0.0.1:2368", &format!("127.0.0.1:{free_udp}"));
    let urdf = samples.join("robots/so101/so101_new_calib.urdf");
    text = text.replace(
        "\"../robots/so101/so101_new_calib.urdf\"",
        &format!("{:?}", urdf.canonicalize().unwrap().display().to_string()),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    reel_capture::rig::LoadedRig::load(&path).unwrap()
}

/// p-th percentile (0..=100) of `values` (sorted in place).
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return f64::NAN;
    }
    let i = ((values.len() - 1) as f64 * p / 100.0).round() as usize;
    values[i]
}
