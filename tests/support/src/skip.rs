//! Where the tests find third-party files, and how they skip when
//! something they need is absent.
//!
//! A skip is printed and also appended to `<target dir>/tmp/reel-skipped.txt`,
//! which `scripts/test.sh` lists after the run: cargo hides the output of
//! passing tests, and a skip must never look like a pass.

use std::io::Write;
use std::path::PathBuf;

/// Records that a test skipped part of its work, and why. Under CI (`CI`
/// set, as `.ci/run` sets it) nothing may be skipped: the test fails with
/// the reason instead.
pub fn skip(test: &str, reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {reason} (under CI nothing may be skipped: provide it, or run outside CI to skip)"
    );
    println!("SKIPPED: {test}: {reason}");
    let Some(log) = skip_log() else { return };
    // One write of the whole line: appends from parallel tests stay whole.
    let line = format!("{test}: {reason}\n");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// `<target dir>/tmp/reel-skipped.txt`, from the running test's executable
/// (`<target>/<profile>/deps/<test>` or `<target>/<profile>/examples/<x>`),
/// so it is right whatever `CARGO_TARGET_DIR` is.
pub fn skip_log() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?.parent()?;
    let tmp = target.join("tmp");
    std::fs::create_dir_all(&tmp).ok()?;
    Some(tmp.join("reel-skipped.txt"))
}

/// The repository's root folder.
pub fn workspace() -> PathBuf {
    // This crate is tests/support in the repository.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `shared/testdata` (third-party MCAP, rosbag2, VLP-16, Dynamixel files):
/// `$REEL_TESTDATA`, else `shared/testdata` beside the repository. None,
/// with the skip recorded, when neither exists (a bare clone).
pub fn testdata(test: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("REEL_TESTDATA")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(workspace().join("../shared/testdata")));
    for dir in candidates {
        if dir.join("mcap").is_dir() {
            return Some(dir);
        }
    }
    skip(
        test,
        "third-party test files not found (shared/testdata beside the repository, or set REEL_TESTDATA)",
    );
    None
}

/// The set-up's Python (`.venv/bin/python`, or `$REEL_PYTHON`), which has
/// the third-party readers the tests compare against. Under CI (`CI` set) a
/// missing venv fails the test; elsewhere the skip is recorded for `checks`
/// and None returned.
pub fn venv_python(checks: &str) -> Option<PathBuf> {
    python_in(".venv", "REEL_PYTHON", checks)
}

/// The Python of `.venv-lidar` (or `$REEL_LIDAR_PYTHON`), which has the
/// LiDAR vendors' decoders (velodyne_decoder, ouster-sdk); as [`venv_python`].
pub fn lidar_python(checks: &str) -> Option<PathBuf> {
    python_in(".venv-lidar", "REEL_LIDAR_PYTHON", checks)
}

/// The `bin` folder of `.venv-ray` (or `$REEL_RAY_VENV/bin`), which has
/// Ray and `reel-ray`; as [`venv_python`].
pub fn ray_bin(checks: &str) -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("REEL_RAY_VENV") {
        return Some(PathBuf::from(v).join("bin"));
    }
    python_in(".venv-ray", "REEL_RAY_PYTHON", checks).and_then(|p| p.parent().map(PathBuf::from))
}

fn python_in(venv: &str, variable: &str, checks: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(variable) {
        return Some(PathBuf::from(p));
    }
    let python = workspace().join(venv).join("bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the {checks}: run scripts/setup.sh"
    );
    skip(checks, &format!("no {venv} (run scripts/setup.sh)"));
    None
}
