//! The frames of one span of an MP4 (one episode of a LeRobot video file),
//! decoded, with their presentation times: what an importer turns back into
//! per-frame images.

use std::path::Path;

use ffmpeg::{format, frame, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::camera::video_decoder;
use crate::{init, MediaError};

/// A decoded frame and its presentation time in seconds from the file's start.
pub type TimedFrame = (f64, frame::Video);

/// Decodes the frames of `path` whose presentation time lies in
/// `[from_s, to_s)` (a small tolerance of half a frame at `fps` on both
/// sides), calling `each` with each in order. Returns how many were passed.
pub fn decode_span(
    path: &Path,
    from_s: f64,
    to_s: f64,
    fps: f64,
    each: &mut dyn FnMut(TimedFrame) -> Result<(), MediaError>,
) -> Result<u64, MediaError> {
    init();
    let bad = |reason: String| MediaError::File {
        path: path.to_path_buf(),
        reason,
    };
    let mut input = format::input(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let (mut decoder, index, _, time_base) = video_decoder(&input)?;
    let seconds = |pts: i64, tb: Rational| {
        pts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator())
    };
    let half = 0.5 / fps.max(1e-9);
    if from_s > half {
        // Seek to the keyframe at or before the span (timestamps in
        // AV_TIME_BASE units for stream -1).
        let target = ((from_s - half) * 1e6) as i64;
        input
            .seek(target, ..target)
            .map_err(|e| bad(format!("cannot seek to {from_s:.3} s: {e}")))?;
    }
    let mut passed = 0u64;
    let mut done = false;
    let mut take =
        |decoder: &mut ffmpeg::decoder::Video, passed: &mut u64| -> Result<bool, MediaError> {
            let mut decoded = frame::Video::empty();
            while decoder.receive_frame(&mut decoded).is_ok() {
                let pts = decoded.timestamp().or(decoded.pts()).unwrap_or(0);
                let t = seconds(pts, time_base);
                if t >= to_s - half {
                    return Ok(true);
                }
                if t >= from_s - half {
                    each((t, decoded.clone()))?;
                    *passed += 1;
                }
            }
            Ok(false)
        };
    for (stream, packet) in input.packets() {
        if stream.index() != index {
            continue;
        }
        decoder
            .send_packet(&packet)
            .map_err(|e| bad(format!("cannot decode: {e}")))?;
        if take(&mut decoder, &mut passed)? {
            done = true;
            break;
        }
    }
    if !done {
        let _ = decoder.send_packet(&Packet::empty());
        let _ = decoder.send_eof();
        take(&mut decoder, &mut passed)?;
    }
    Ok(passed)
}
