//! One camera of one episode: decode the stored frames the plan picked,
//! encode them to a temporary MP4 (no image files in between), and take
//! LeRobot's image statistics from the same decoded frames.

use std::path::Path;

use crate::deid::Mask;
use crate::stats::FeatureStats;
use crate::ExportError;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::sensor_msgs::CompressedImage;
use reel_episode::EpisodeReader;
use reel_media::{
    Converter, MediaError, Mp4Encoder, StoredCodec, StreamDecoder, VideoFrame, VideoSettings,
};

/// LeRobot's `estimate_num_samples` + `sample_indices`: every frame up to
/// 100, then about n^0.75 (at most 10 000), evenly spread.
pub fn sample_indices(n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let min = 100.min(n);
    let samples = min.max(((n as f64).powf(0.75) as usize).min(10_000));
    if samples == 1 {
        return vec![0];
    }
    (0..samples)
        .map(|i| {
            let x = i as f64 * (n - 1) as f64 / (samples - 1) as f64;
            // numpy rounds half to even.
            x.round_ties_even() as usize
        })
        .collect()
}

/// LeRobot's `auto_downsample_height_width`: a stride that brings the
/// larger side near 150 px, for images of 300 px or more.
pub fn downsample_stride(width: u32, height: u32) -> usize {
    if width.max(height) < 300 {
        1
    } else if width > height {
        (width / 150) as usize
    } else {
        (height / 150) as usize
    }
}

/// Appends the (strided) RGB pixels of `frame` to `out`.
fn sample_pixels(
    rgb_converter: &mut Converter,
    frame: &VideoFrame,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let rgb = rgb_converter.run(frame)?;
    let stride = downsample_stride(rgb.width(), rgb.height());
    let line = rgb.stride(0);
    let data = rgb.data(0);
    for y in (0..rgb.height() as usize).step_by(stride) {
        let row = &data[y * line..y * line + rgb.width() as usize * 3];
        for px in row.chunks_exact(3).step_by(stride) {
            out.extend_from_slice(px);
        }
    }
    Ok(())
}

/// The result of [`encode_camera`].
#[derive(Debug, Clone)]
pub struct EncodedCamera {
    /// Frames written.
    pub frames: u64,
    /// Frames that masks were applied to.
    pub masked: u64,
    /// Image stats of the sampled frames.
    pub stats: FeatureStats,
}

/// Encodes the frames `ordinals` (source frame numbers on `topic`, one per
/// output frame, non-decreasing) of the episode at `source` into `out`,
/// with `masks` blacked out in every frame.
#[allow(clippy::too_many_arguments)]
pub fn encode_camera(
    source: &Path,
    topic: &str,
    codec: StoredCodec,
    ordinals: &[usize],
    size: (u32, u32),
    settings: VideoSettings,
    masks: &[&Mask],
    out: &Path,
) -> Result<EncodedCamera, ExportError> {
    let fail = |what: String| ExportError::input(source, format!("{topic}: {what}"));
    let reader = EpisodeReader::open(source)?;
    let mut encoder = Mp4Encoder::create(out, size.0, size.1, settings)
        .map_err(|e| ExportError::output(out, format!("{topic}: video encoder: {e}")))?;
    let mut decoder = StreamDecoder::new(codec).map_err(|e| fail(e.to_string()))?;
    let sampled = sample_indices(ordinals.len());
    let mut next_sample = 0;
    let mut pixels = Vec::new();
    let mut rgb_converter = Converter::new(ffmpeg_next::format::Pixel::RGB24, size.0, size.1);
    let mut written = 0usize;
    let mut ordinal = 0usize;
    let mut masked = 0u64;
    let mut emit = |frame: &mut VideoFrame,
                    ordinal: usize,
                    written: &mut usize|
     -> Result<(), ExportError> {
        while *written < ordinals.len() && ordinals[*written] == ordinal {
            if (frame.width(), frame.height()) != size {
                return Err(fail(format!(
                    "frame {ordinal} is {}x{}, the dataset's camera is {}x{}; export episodes with the same camera mode together",
                    frame.width(),
                    frame.height(),
                    size.0,
                    size.1
                )));
            }
            if !masks.is_empty() {
                for m in masks {
                    m.apply(frame).map_err(|e| fail(e.to_string()))?;
                }
                masked += 1;
            }
            encoder
                .push(frame)
                .map_err(|e| ExportError::output(out, format!("{topic}: video encoder: {e}")))?;
            if sampled.get(next_sample) == Some(written) {
                sample_pixels(&mut rgb_converter, frame, &mut pixels)
                    .map_err(|e| fail(e.to_string()))?;
                while sampled.get(next_sample) == Some(written) {
                    next_sample += 1;
                }
            }
            *written += 1;
        }
        Ok(())
    };
    for (index, message) in reader.messages().enumerate() {
        if written == ordinals.len() {
            break;
        }
        let message = message?;
        if message.channel.topic != topic {
            continue;
        }
        let data = match codec {
            StoredCodec::Jpeg => {
                // Only the frames the plan picked are decoded.
                if ordinals[written] != ordinal {
                    ordinal += 1;
                    continue;
                }
                reader
                    .decode::<CompressedImage>(&message, index as u64)?
                    .data
            }
            StoredCodec::H264 => {
                reader
                    .decode::<CompressedVideo>(&message, index as u64)?
                    .data
            }
        };
        let frames = decoder
            .decode(&data)
            .map_err(|e| fail(format!("frame {ordinal} does not decode: {e}")))?;
        for mut f in frames {
            emit(&mut f, ordinal, &mut written)?;
            ordinal += 1;
        }
    }
    for mut f in decoder.finish().map_err(|e| fail(e.to_string()))? {
        emit(&mut f, ordinal, &mut written)?;
        ordinal += 1;
    }
    if written != ordinals.len() {
        return Err(fail(format!(
            "only {written} of {} frames could be decoded",
            ordinals.len()
        )));
    }
    let frames = encoder
        .finish()
        .map_err(|e| ExportError::output(out, format!("{topic}: video encoder: {e}")))?;
    let stats = FeatureStats::of_pixels(&pixels, sampled.len() as u64);
    Ok(EncodedCamera {
        frames,
        masked,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_matches_lerobot() {
        assert_eq!(sample_indices(5), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample_indices(100).len(), 100);
        // 1000 frames: int(1000**0.75) = 177 samples, first and last kept.
        let s = sample_indices(1000);
        assert_eq!(s.len(), 177);
        assert_eq!((s[0], s[176]), (0, 999));
        assert_eq!(sample_indices(300).len(), 100);
    }

    #[test]
    fn stride_matches_lerobot() {
        assert_eq!(downsample_stride(640, 480), 4);
        assert_eq!(downsample_stride(64, 48), 1);
        assert_eq!(downsample_stride(480, 640), 4);
        assert_eq!(downsample_stride(1280, 720), 8);
    }
}
