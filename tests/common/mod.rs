//! Helpers the CLI tests share: the built `reel` binary, the workspace, and
//! the Python venv of third-party readers (`scripts/setup.sh`).
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

#[path = "../../formats/tests/common/skip.rs"]
pub mod skip;
use skip::skip;

/// The repository root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `reel` binary under test.
pub fn reel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reel"))
}

/// Runs `cmd` to completion with no stdin.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The venv's Python, or None with the skip recorded. Under CI a missing
/// venv is a failure: the third-party checks must run there.
pub fn venv_python(checks: &str) -> Option<PathBuf> {
    let python = workspace().join(".venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the {checks}: run scripts/setup.sh"
    );
    skip(checks, "no .venv (run scripts/setup.sh)");
    None
}
