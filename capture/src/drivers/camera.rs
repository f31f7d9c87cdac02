//! The camera driver: any FFmpeg source (V4L2, RTSP/HTTP stream, lavfi
//! `testsrc2`) read as JPEG (`CompressedImage`) or H.264 (`CompressedVideo`)
//! payloads. MJPEG sources stored as JPEG pass through without re-encoding;
//! anything else is decoded and encoded once. Each frame comes with its
//! arrival time and the stream's own presentation time; how it is stamped
//! is the recorder's business (`recorder::camera`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use reel_episode::time::host_now_nanos;
use reel_media::camera::{self as camera_io, Codec, Converter, Encoder, Source};
use reel_media::MediaError;

use crate::rig::{Camera, CameraFormat};

/// The camera's optical frame id.
pub fn frame_id(camera: &str) -> String {
    format!("camera_{camera}_optical")
}

/// One frame as read from the source.
#[derive(Debug)]
pub struct RawFrame {
    /// When the host received it (ns, host clock).
    pub received_nanos: u64,
    /// Its presentation time on the stream's clock (ns), if the stream has
    /// one: the kernel's CLOCK_MONOTONIC stamp for V4L2, RTP/PTS for streams.
    pub pts_nanos: Option<i128>,
    /// Encoded payloads (usually one).
    pub payloads: Vec<Vec<u8>>,
}

/// An open camera source.
pub struct CameraSource {
    source: Source,
    input: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    stream_index: usize,
    time_base: ffmpeg::Rational,
    /// None: the source's JPEG passes through.
    encoder: Option<Encoder>,
    converter: Converter,
    decoded: ffmpeg::frame::Video,
    period_nanos: u64,
    paced_start: u64,
    frames_read: u64,
}

impl std::fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl CameraSource {
    /// Opens the camera's source; `stop` interrupts blocking reads.
    pub fn open(camera: &Camera, stop: &Arc<AtomicBool>) -> Result<Self, MediaError> {
        let source = Source::parse(&camera.source);
        let interrupt = {
            let stop = stop.clone();
            move || stop.load(Ordering::Relaxed)
        };
        let input_format = (camera.format == CameraFormat::Jpeg
            && matches!(source, Source::V4l2(_)))
        .then_some("mjpeg");
        let input = camera_io::open_input(
            &source,
            camera.width,
            camera.height,
            camera.fps,
            input_format,
            interrupt,
        )?;
        let (decoder, stream_index, codec_id, time_base) = camera_io::video_decoder(&input)?;
        let codec = Self::codec(camera);
        let passthrough = codec == Codec::Jpeg && codec_id == ffmpeg::codec::Id::MJPEG;
        let encoder = if passthrough {
            None
        } else {
            Some(Encoder::new(
                codec,
                camera.width,
                camera.height,
                camera.fps,
            )?)
        };
        Ok(Self {
            source,
            input,
            decoder,
            stream_index,
            time_base,
            encoder,
            converter: Converter::new(Encoder::pixel_format(codec), camera.width, camera.height),
            decoded: ffmpeg::frame::Video::empty(),
            period_nanos: 1_000_000_000 / u64::from(camera.fps.max(1)),
            paced_start: host_now_nanos(),
            frames_read: 0,
        })
    }

    /// The codec the camera's frames are stored in.
    pub fn codec(camera: &Camera) -> Codec {
        match camera.format {
            CameraFormat::Jpeg => Codec::Jpeg,
            CameraFormat::H264 => Codec::H264,
        }
    }

    /// Whether the source is a V4L2 device (its stamps are the kernel's).
    pub fn is_v4l2(&self) -> bool {
        matches!(self.source, Source::V4l2(_))
    }

    /// Reads the next frame of the camera's stream (blocking).
    pub fn next_frame(&mut self) -> Result<RawFrame, MediaError> {
        loop {
            if self.source == Source::TestSrc2 {
                // lavfi makes frames as fast as they are read: pace them like
                // a sensor that exposes one frame per period.
                let due = self.paced_start + self.frames_read * self.period_nanos;
                let now = host_now_nanos();
                if due > now {
                    std::thread::sleep(Duration::from_nanos(due - now));
                }
                self.frames_read += 1;
            }
            // A fresh packet per read: av_read_frame does not release what a
            // reused packet still holds (ffmpeg-next's `read` does not either).
            let mut packet = ffmpeg::Packet::empty();
            packet
                .read(&mut self.input)
                .map_err(MediaError::libav("reading the stream"))?;
            if packet.stream() != self.stream_index {
                continue;
            }
            let received_nanos = host_now_nanos();
            let mut payloads = Vec::new();
            match self.encoder.as_mut() {
                None => {
                    if let Some(data) = packet.data() {
                        payloads.push(data.to_vec());
                    }
                }
                Some(enc) => {
                    self.decoder
                        .send_packet(&packet)
                        .map_err(MediaError::libav("decoding the stream"))?;
                    while self.decoder.receive_frame(&mut self.decoded).is_ok() {
                        let mut converted = self.converter.run(&self.decoded)?;
                        payloads.extend(enc.encode(&mut converted)?);
                    }
                }
            }
            let tb = self.time_base;
            let pts_nanos = packet.pts().map(|pts| {
                i128::from(pts) * 1_000_000_000 * i128::from(tb.numerator())
                    / i128::from(tb.denominator().max(1))
            });
            return Ok(RawFrame {
                received_nanos,
                pts_nanos,
                payloads,
            });
        }
    }
}
