#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! Damaged JPEG frames through calibration's decoder (the `image` crate):
//! an error naming the episode and the frame's time, or a picture, never a
//! panic and never the memory a damaged header claims.

use reel_calib::images::decode_jpeg;
use reel_testkit::damaged::damaged_jpegs;

#[test]
fn damaged_jpegs_give_an_error_or_a_picture() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/calib/boofcv_fiducial_chessboard/image00.jpg");
    let original = std::fs::read(&path).unwrap();
    let mut refused = 0;
    for jpeg in damaged_jpegs(&original, 300) {
        match decode_jpeg(std::path::Path::new("ep.mcap"), 1.5, &jpeg) {
            Ok(img) => assert!(img.image.width * img.image.height <= 64 << 20),
            Err(e) => {
                refused += 1;
                let text = e.to_string();
                assert!(
                    text.contains("ep.mcap") && text.contains("t=1.500"),
                    "{text}"
                );
            }
        }
    }
    println!("300 damaged JPEGs: {refused} refused");
    assert!(refused > 0);
}
