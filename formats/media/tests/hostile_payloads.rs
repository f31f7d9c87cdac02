#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! A camera's stored JPEG payloads, damaged (cut, flipped, a header
//! claiming a huge picture over a few bytes), through libav's decoder:
//! an error or a frame, never a crash, never the memory the header claims.

use reel_media::{StoredCodec, StreamDecoder};
use reel_testkit::damaged::damaged_jpegs;

#[test]
fn damaged_jpegs_never_crash_the_decoder() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/calib/boofcv_fiducial_chessboard/image00.jpg");
    let original = std::fs::read(path).unwrap();
    let (mut frames, mut refused) = (0, 0);
    for jpeg in damaged_jpegs(&original, 300) {
        let mut decoder = StreamDecoder::new(StoredCodec::Jpeg).unwrap();
        match decoder.decode(&jpeg).and_then(|mut f| {
            f.extend(decoder.finish()?);
            Ok(f)
        }) {
            Ok(f) => {
                for frame in &f {
                    assert!(frame.width() as u64 * frame.height() as u64 <= 64 << 20);
                }
                frames += f.len();
            }
            Err(_) => refused += 1,
        }
    }
    println!("300 damaged JPEGs: {frames} frames, {refused} refused");
    assert!(refused > 0);
}
