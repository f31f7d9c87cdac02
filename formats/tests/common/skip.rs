//! Where the tests find third-party files, and how they skip when
//! something they need is absent. Shared by the test crates (included with
//! `#[path]`).
//!
//! A skip is printed and also appended to `target/tmp/reel-skipped.txt`,
//! which `scripts/test.sh` lists after the run: cargo hides the output of
//! passing tests, and a skip must never look like a pass.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Records that a test skipped part of its work, and why.
pub fn skip(test: &str, reason: &str) {
    println!("SKIPPED: {test}: {reason}");
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reel-skipped.txt");
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

/// `shared/testdata` (third-party MCAP, rosbag2, VLP-16, Dynamixel files):
/// `$REEL_TESTDATA`, else `shared/testdata` beside the repository. None,
/// with the skip recorded, when neither exists (a bare clone).
pub fn testdata(test: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("REEL_TESTDATA")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            // CARGO_MANIFEST_DIR is a crate of the workspace or its root.
            ["..", "../.."].map(|up| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join(up)
                    .join("shared/testdata")
            }),
        );
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
