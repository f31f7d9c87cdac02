//! Camera frames for quality checks: every frame is compared with the one
//! before (a camera that repeats its last frame is frozen), and one frame
//! per sampling interval is decoded at 1/8 size for its brightness (black
//! frames) and a 64-bit difference hash (near-duplicate episodes).

use serde::{Deserialize, Serialize};

use reel_media::{StoredCodec, StreamDecoder};

/// libav `lowres` for sampled JPEG frames: 1/8 of each side.
const LOWRES: u8 = 3;

/// What was seen of one camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraFrames {
    /// Frame topic.
    pub topic: String,
    /// Frames in the episode.
    pub frames: u64,
    /// Full frame size, from the first frame's header.
    pub full_size: Option<(u32, u32)>,
    /// Times of the sampled frames (s from the episode start).
    pub sample_s: Vec<f32>,
    /// Mean luma (0–255) of each sampled frame.
    pub mean_luma: Vec<f32>,
    /// Difference hash of each sampled frame (kept in shard reports, as
    /// the trajectory is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<u64>,
    /// Sampled frames that failed to decode.
    pub decode_errors: u64,
    /// The first decode error's message.
    pub first_decode_error: Option<String>,
    /// Frames byte-identical to the frame before.
    pub repeated: u64,
    /// Longest run of identical frames (s, first to last stamp).
    pub longest_identical_s: f64,
    /// Where that run starts (s from the episode start).
    pub longest_identical_at_s: f64,
}

/// Feeds one camera's frames in stamp order.
pub struct CameraSampler {
    codec: StoredCodec,
    interval_nanos: u64,
    sparse: bool,
    next_sample: Option<u64>,
    decoder: Option<StreamDecoder>,
    previous: Vec<u8>,
    previous_size: u64,
    run_start: u64,
    out: CameraFrames,
    stamps: Vec<u64>,
    longest_at: u64,
}

impl std::fmt::Debug for CameraSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSampler")
            .field("topic", &self.out.topic)
            .finish_non_exhaustive()
    }
}

impl CameraSampler {
    /// A sampler taking one frame every `interval_nanos`; `sparse` when it is
    /// fed only the frames of sampled chunks.
    pub fn new(topic: &str, codec: StoredCodec, interval_nanos: u64, sparse: bool) -> Self {
        Self {
            codec,
            interval_nanos,
            sparse,
            next_sample: None,
            decoder: None,
            previous: Vec::new(),
            previous_size: 0,
            run_start: 0,
            out: CameraFrames {
                topic: topic.to_string(),
                frames: 0,
                full_size: None,
                sample_s: Vec::new(),
                mean_luma: Vec::new(),
                hashes: Vec::new(),
                decode_errors: 0,
                first_decode_error: None,
                repeated: 0,
                longest_identical_s: 0.0,
                longest_identical_at_s: 0.0,
            },
            stamps: Vec::new(),
            longest_at: 0,
        }
    }

    /// One frame (its encoded bytes) stamped `stamp` (ns): compared with
    /// the one before, and decoded when a sample is due.
    pub fn push(&mut self, stamp: u64, data: Vec<u8>) {
        if self.out.full_size.is_none() && self.codec == StoredCodec::Jpeg {
            self.out.full_size = jpeg_size(&data);
        }
        let repeated = !data.is_empty() && data == self.previous;
        self.run(stamp, repeated);
        self.sample_only(stamp, &data);
        self.previous = data;
    }

    /// One frame known only by its stored size (from the file's index): a
    /// camera repeating its frame repeats its size. Sizes of compressed
    /// frames of a live scene differ from frame to frame.
    pub fn observe_size(&mut self, stamp: u64, size: u64) {
        let repeated = size > 0 && size == self.previous_size;
        self.previous_size = size;
        self.run(stamp, repeated);
    }

    fn run(&mut self, stamp: u64, repeated: bool) {
        self.out.frames += 1;
        if repeated {
            self.out.repeated += 1;
        } else {
            self.run_start = stamp;
        }
        let run = stamp.saturating_sub(self.run_start) as f64 / 1e9;
        if run > self.out.longest_identical_s {
            self.out.longest_identical_s = run;
            self.longest_at = self.run_start;
        }
    }

    /// Decodes the frame when a sample is due (and, for H.264, when it is a
    /// keyframe: a frame between them needs every frame since the last).
    pub fn sample_only(&mut self, stamp: u64, data: &[u8]) {
        if self.out.full_size.is_none() && self.codec == StoredCodec::Jpeg {
            self.out.full_size = jpeg_size(data);
        }
        let due = *self.next_sample.get_or_insert(stamp);
        let decodable = self.codec == StoredCodec::Jpeg || is_h264_keyframe(data);
        if stamp >= due && decodable {
            self.sample(stamp, data);
            self.next_sample = Some(if self.sparse {
                // Sampled chunks do not start on the tick: three quarters
                // of an interval still gives one frame each.
                stamp + self.interval_nanos * 3 / 4
            } else {
                due + self.interval_nanos
            });
        }
    }

    fn sample(&mut self, stamp: u64, data: &[u8]) {
        let decoded = match self.codec {
            StoredCodec::Jpeg => {
                if self.decoder.is_none() {
                    match StreamDecoder::reduced(StoredCodec::Jpeg, LOWRES) {
                        Ok(d) => self.decoder = Some(d),
                        Err(e) => return self.failed(e.to_string()),
                    }
                }
                self.decoder
                    .as_mut()
                    .map(|d| d.decode(data))
                    .unwrap_or_else(|| Ok(Vec::new()))
            }
            StoredCodec::H264 => StreamDecoder::new(StoredCodec::H264).and_then(|mut d| {
                let mut frames = d.decode(data)?;
                frames.extend(d.finish()?);
                Ok(frames)
            }),
        };
        let frame = match decoded {
            Ok(frames) => match frames.into_iter().next() {
                Some(f) => f,
                None => return self.failed("the frame decoded to no picture".into()),
            },
            Err(e) => {
                // A broken JPEG can leave the decoder unusable; start afresh.
                self.decoder = None;
                return self.failed(e.to_string());
            }
        };
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if self.codec == StoredCodec::H264 && self.out.full_size.is_none() {
            self.out.full_size = Some((frame.width(), frame.height()));
        }
        if w == 0 || h == 0 {
            return self.failed("the frame has no pixels".into());
        }
        let stride = frame.stride(0);
        let plane = frame.data(0);
        let luma: Vec<u8> = (0..h)
            .flat_map(|y| plane[y * stride..y * stride + w].iter().copied())
            .collect();
        let mean = luma.iter().map(|&v| f64::from(v)).sum::<f64>() / luma.len() as f64;
        self.stamps.push(stamp);
        self.out.mean_luma.push(mean as f32);
        self.out.hashes.push(difference_hash(&luma, w, h));
    }

    fn failed(&mut self, reason: String) {
        self.out.decode_errors += 1;
        self.out.first_decode_error.get_or_insert(reason);
    }

    /// The measurements, with times relative to `start` (ns).
    pub fn finish(mut self, start: u64) -> CameraFrames {
        let rel = |t: u64| t.saturating_sub(start) as f64 / 1e9;
        self.out.sample_s = self.stamps.iter().map(|&t| rel(t) as f32).collect();
        self.out.longest_identical_at_s = rel(self.longest_at);
        self.out
    }
}

/// Width and height from a JPEG's start-of-frame marker.
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// True when an Annex B access unit holds an IDR slice (NAL type 5).
fn is_h264_keyframe(au: &[u8]) -> bool {
    au.windows(4)
        .any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] & 0x1F == 5)
}

/// 64-bit difference hash (dHash): the image shrunk to 9×8 by box
/// averaging; a bit is set where a cell is brighter than its left
/// neighbour. Robust to re-encoding and small brightness changes.
pub fn difference_hash(luma: &[u8], w: usize, h: usize) -> u64 {
    let mut cells = [[0f64; 9]; 8];
    for (cy, row) in cells.iter_mut().enumerate() {
        let (y0, y1) = (cy * h / 8, ((cy + 1) * h / 8).max(cy * h / 8 + 1).min(h));
        for (cx, cell) in row.iter_mut().enumerate() {
            let (x0, x1) = (cx * w / 9, ((cx + 1) * w / 9).max(cx * w / 9 + 1).min(w));
            let mut sum = 0u64;
            for y in y0..y1 {
                sum += luma[y * w + x0..y * w + x1]
                    .iter()
                    .map(|&v| u64::from(v))
                    .sum::<u64>();
            }
            *cell = sum as f64 / ((y1 - y0) * (x1 - x0)).max(1) as f64;
        }
    }
    let mut hash = 0u64;
    for row in &cells {
        for x in 0..8 {
            hash = (hash << 1) | u64::from(row[x + 1] > row[x]);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_hash_sees_structure_not_brightness() {
        let (w, h) = (80, 60);
        let ramp: Vec<u8> = (0..w * h).map(|i| ((i % w) * 3) as u8).collect();
        let brighter: Vec<u8> = ramp.iter().map(|&v| v.saturating_add(10)).collect();
        let flipped: Vec<u8> = (0..w * h).map(|i| ((w - 1 - i % w) * 3) as u8).collect();
        let a = difference_hash(&ramp, w, h);
        assert_eq!(a, u64::MAX, "a rising ramp sets every bit");
        assert_eq!((a ^ difference_hash(&brighter, w, h)).count_ones(), 0);
        assert_eq!((a ^ difference_hash(&flipped, w, h)).count_ones(), 64);
    }

    #[test]
    fn jpeg_size_reads_the_frame_header() {
        assert_eq!(jpeg_size(&[0xFF, 0xD8]), None);
        assert_eq!(jpeg_size(b"not a jpeg at all"), None);
        // SOI, APP0 (length 4), SOF0 for 640×480.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01,
            0xE0, 0x02, 0x80, 0x03,
        ];
        assert_eq!(jpeg_size(&jpeg), Some((640, 480)));
    }
}
