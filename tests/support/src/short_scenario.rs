//! The sample SO-101 scenario made short and small for tests; shared by the
//! sim crate's tests and the CLI tests (included with `#[path]`).

use std::path::Path;

/// Writes to `out` the sample scenario from `samples`, shortened to
/// `seconds`, every camera at `size`, with the URDF path replaced by `urdf`.
pub fn write_short_scenario(
    samples: &Path,
    out: &Path,
    seconds: f64,
    size: (u32, u32),
    urdf: &Path,
) {
    let sample = samples.join("sim/so101-pick-place.toml");
    let text = std::fs::read_to_string(&sample).expect("sample scenario");
    let cameras = text.matches("width = 320").count();
    assert!(
        cameras > 0,
        "{}: no camera of width 320 to shrink",
        sample.display()
    );
    let text = replace_exactly(
        &text,
        "duration_s = 12.0",
        &format!("duration_s = {seconds}"),
        1,
    );
    let text = replace_exactly(
        &text,
        "width = 320",
        &format!("width = {}", size.0),
        cameras,
    );
    let text = replace_exactly(
        &text,
        "height = 240",
        &format!("height = {}", size.1),
        cameras,
    );
    let text = replace_exactly(
        &text,
        "\"../robots/so101/so101_new_calib.urdf\"",
        &format!("{:?}", urdf.display().to_string()),
        1,
    );
    std::fs::write(out, text).expect("write the short scenario");
}

/// `text` with `from` replaced by `to`, which must occur exactly `times`
/// times: a sample that changed must fail the tests, not quietly leave
/// them running the long, large scenario.
fn replace_exactly(text: &str, from: &str, to: &str, times: usize) -> String {
    let found = text.matches(from).count();
    assert_eq!(
        found, times,
        "the sample scenario has `{from}` {found} times, the tests expect {times}: update short_scenario.rs"
    );
    text.replace(from, to)
}
