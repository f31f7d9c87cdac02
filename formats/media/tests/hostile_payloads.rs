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

/// NAL units of an Annex B access unit: (offset of the NAL header, end).
fn nal_units(au: &[u8]) -> Vec<(usize, usize)> {
    let starts: Vec<usize> = (0..au.len().saturating_sub(3))
        .filter(|&i| au[i..i + 3] == [0, 0, 1])
        .map(|i| i + 3)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| (s, starts.get(k + 1).map_or(au.len(), |&n| n - 3)))
        .collect()
}

/// H.264 access units as a camera stores them (`CompressedVideo`, Annex B),
/// made by x264 from a real photograph, then damaged: cut, flipped, bits of
/// the sequence parameter set (the picture size) scrambled, NAL headers
/// retyped, units dropped or repeated. libav's decoder gives an error or a
/// frame, never a crash or a frame past 8192 x 8192.
#[test]
fn damaged_h264_access_units_never_crash_the_decoder() {
    use reel_media::camera::{Codec, Encoder};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/calib/boofcv_fiducial_chessboard/image00.jpg");
    let photo = reel_media::decode_jpeg(&std::fs::read(path).unwrap()).unwrap();
    let (w, h) = (photo.width() & !1, photo.height() & !1);
    let mut yuv = reel_media::Converter::new(Encoder::pixel_format(Codec::H264), w, h)
        .run(&photo)
        .unwrap();
    let mut encoder = Encoder::new(Codec::H264, w, h, 30).unwrap();
    let mut units = Vec::new();
    for _ in 0..8 {
        units.extend(encoder.encode(&mut yuv).unwrap());
    }
    assert!(units.len() >= 6, "x264 gave {} access units", units.len());
    // The clean stream decodes.
    let mut decoder = StreamDecoder::new(StoredCodec::H264).unwrap();
    let mut clean = 0;
    for au in &units {
        clean += decoder.decode(au).unwrap().len();
    }
    clean += decoder.finish().unwrap().len();
    assert_eq!(clean, units.len());

    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n.max(1) as u64) as usize
    };
    let (mut frames, mut refused, mut cases) = (0usize, 0usize, 0usize);
    for case in 0..400 {
        let mut stream = units.clone();
        let k = next(stream.len());
        let au = &mut stream[k];
        let nals = nal_units(au);
        match case % 6 {
            0 => {
                let cut = next(au.len());
                au.truncate(cut);
            }
            1 => {
                for _ in 0..=next(8) {
                    let at = next(au.len());
                    au[at] ^= 1 << next(8);
                }
            }
            2 => {
                // Scramble the SPS (NAL type 7): its size fields.
                if let Some(&(s, e)) = nals.iter().find(|(s, _)| au[*s] & 0x1F == 7) {
                    for _ in 0..=next(4) {
                        let at = s + 1 + next(e - s - 1);
                        au[at] = next(256) as u8;
                    }
                }
            }
            3 => {
                if let Some(&(s, _)) = nals.get(next(nals.len())) {
                    au[s] = (au[s] & 0xE0) | next(32) as u8;
                }
            }
            4 => {
                stream.remove(k);
            }
            _ => {
                let copy = stream[k].clone();
                stream.insert(next(stream.len()), copy);
            }
        }
        cases += 1;
        let mut decoder = StreamDecoder::new(StoredCodec::H264).unwrap();
        let mut got = Vec::new();
        let mut failed = false;
        for au in &stream {
            match decoder.decode(au) {
                Ok(f) => got.extend(f),
                Err(_) => failed = true,
            }
        }
        match decoder.finish() {
            Ok(f) => got.extend(f),
            Err(_) => failed = true,
        }
        for f in &got {
            assert!(
                f.width() <= 8192 && f.height() <= 8192,
                "case {case}: a {}x{} frame",
                f.width(),
                f.height()
            );
        }
        frames += got.len();
        refused += usize::from(failed);
    }
    println!("{cases} damaged H.264 streams: {frames} frames, {refused} with an error");
    assert!(refused > 0 && frames > 0);
}
