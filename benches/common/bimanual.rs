//! Shared by the benchmarks that need a real recording of the bimanual rig.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `reel` binary of this build.
pub fn reel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reel"))
}

/// Records `seconds` of `samples/rigs/bimanual-emulated.toml` with
/// `reel record --emulate` (emulators on ports private to `dir`) into
/// `dir/bimanual/`; returns the episode.
pub fn record_bimanual(dir: &Path, seconds: u32) -> PathBuf {
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/rigs/bimanual-emulated.toml");
    let rig = reel_capture::emulators::rig::isolated_copy(&sample, dir).unwrap();
    let out = reel()
        .args(["record", "--rig"])
        .arg(&rig)
        .args([
            "--emulate",
            "--episodes",
            "1",
            "--duration",
            &seconds.to_string(),
            "--out",
        ])
        .arg(dir.join("bimanual"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_dir(dir.join("bimanual"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap()
}
