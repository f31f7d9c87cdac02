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
    let text = std::fs::read_to_string(samples.join("sim/so101-pick-place.toml"))
        .expect("sample scenario");
    let text = text
        .replace("duration_s = 12.0", &format!("duration_s = {seconds}"))
        .replace("width = 320", &format!("width = {}", size.0))
        .replace("height = 240", &format!("height = {}", size.1))
        .replace(
            "\"../robots/so101/so101_new_calib.urdf\"",
            &format!("{:?}", urdf.display().to_string()),
        );
    std::fs::write(out, text).expect("write the short scenario");
}
