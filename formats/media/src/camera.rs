//! Camera sources as the capture drivers and emulators use them: open a
//! source (V4L2 device, network stream, lavfi test source), decode,
//! convert, and encode JPEG or H.264.

use crate::MediaError;
pub use crate::{decode_jpeg, init, Converter};
use ffmpeg::{codec, decoder, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

/// Where a camera's frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// FFmpeg's lavfi test source `testsrc2` at the camera's size and rate.
    TestSrc2,
    /// A V4L2 device such as `/dev/video0`.
    V4l2(String),
    /// A network stream (`rtsp://`, `http://`, ...).
    Url(String),
}

impl Source {
    /// Reads the rig's `source` string.
    pub fn parse(s: &str) -> Self {
        if s == "testsrc2" {
            Self::TestSrc2
        } else if s.starts_with("/dev/") {
            Self::V4l2(s.to_string())
        } else {
            Self::Url(s.to_string())
        }
    }
}

fn input_device(name: &str) -> Option<ffmpeg::Format> {
    ffmpeg::device::input::video().find(|f| f.name() == name)
}

/// Opens `source` for reading packets. `interrupt` is polled during
/// blocking network reads; returning true aborts them (used on stop).
pub fn open_input<F: FnMut() -> bool + Send + 'static>(
    source: &Source,
    width: u32,
    height: u32,
    fps: u32,
    input_format: Option<&str>,
    interrupt: F,
) -> Result<format::context::Input, MediaError> {
    init();
    let mut options = Dictionary::new();
    match source {
        Source::TestSrc2 => {
            let lavfi = input_device("lavfi").ok_or_else(|| MediaError::Missing {
                what: "lavfi input device".into(),
            })?;
            let graph = format!("testsrc2=size={width}x{height}:rate={fps}");
            match format::open_with(&graph, &lavfi, options)
                .map_err(MediaError::libav("opening the lavfi test source"))?
            {
                format::context::Context::Input(i) => Ok(i),
                format::context::Context::Output(_) => {
                    Err(MediaError::Stream("lavfi opened as output"))
                }
            }
        }
        Source::V4l2(device) => {
            let v4l2 = input_device("video4linux2,v4l2")
                .or_else(|| input_device("v4l2"))
                .ok_or_else(|| MediaError::Missing {
                    what: "v4l2 input device".into(),
                })?;
            options.set("video_size", &format!("{width}x{height}"));
            options.set("framerate", &fps.to_string());
            if let Some(f) = input_format {
                options.set("input_format", f);
            }
            match format::open_with(device, &v4l2, options)
                .map_err(MediaError::libav("opening the V4L2 device"))?
            {
                format::context::Context::Input(i) => Ok(i),
                format::context::Context::Output(_) => {
                    Err(MediaError::Stream("v4l2 opened as output"))
                }
            }
        }
        Source::Url(url) => {
            // Give up on a dead stream instead of hanging.
            options.set("rw_timeout", "2000000");
            options.set("timeout", "2000000");
            if url.starts_with("rtsp://") {
                options.set("rtsp_transport", "tcp");
            }
            format::input_with_interrupt_and_dictionary(url, interrupt, options)
                .map_err(MediaError::libav("opening the stream"))
        }
    }
}

/// A video decoder for the best video stream of `input`; returns it with
/// the stream index, codec id and time base.
pub fn video_decoder(
    input: &format::context::Input,
) -> Result<(decoder::Video, usize, codec::Id, Rational), MediaError> {
    let stream = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or(MediaError::Stream("no video stream"))?;
    let params = stream.parameters();
    let id = params.id();
    let decoder = codec::context::Context::from_parameters(params)
        .and_then(|c| c.decoder().video())
        .map_err(MediaError::libav("opening the stream's decoder"))?;
    Ok((decoder, stream.index(), id, stream.time_base()))
}

/// What an encoder produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Baseline JPEG per frame (libav's mjpeg encoder).
    Jpeg,
    /// H.264 Annex B through libx264, SPS/PPS before every keyframe.
    H264,
}

/// A JPEG or H.264 encoder.
pub struct Encoder {
    encoder: encoder::Video,
    codec: Codec,
    next_pts: i64,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// The pixel format the encoder takes.
    pub fn pixel_format(codec: Codec) -> format::Pixel {
        match codec {
            Codec::Jpeg => format::Pixel::YUVJ420P,
            Codec::H264 => format::Pixel::YUV420P,
        }
    }

    /// Opens an encoder for `width`×`height` at `fps`.
    pub fn new(codec: Codec, width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
        init();
        let (id, name) = match codec {
            Codec::Jpeg => (codec::Id::MJPEG, "mjpeg"),
            Codec::H264 => (codec::Id::H264, "libx264"),
        };
        let found = encoder::find_by_name(name)
            .or_else(|| encoder::find(id))
            .ok_or_else(|| MediaError::Missing {
                what: format!("{name} encoder"),
            })?;
        let mut enc = codec::context::Context::new_with_codec(found)
            .encoder()
            .video()
            .map_err(MediaError::libav("creating the encoder"))?;
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(Self::pixel_format(codec));
        enc.set_time_base(Rational(1, fps as i32));
        enc.set_frame_rate(Some(Rational(fps as i32, 1)));
        let mut options = Dictionary::new();
        match codec {
            Codec::Jpeg => {
                // Fixed quantiser 3 (of 2..31): visually lossless for review
                // and training, about 40 KB for 640x480.
                enc.set_flags(codec::Flags::QSCALE);
                enc.set_global_quality(3 * 118);
            }
            Codec::H264 => {
                enc.set_gop(fps);
                enc.set_max_b_frames(0);
                options.set("preset", "veryfast");
                options.set("tune", "zerolatency");
                options.set("x264-params", "repeat-headers=1");
            }
        }
        let encoder = enc
            .open_with(options)
            .map_err(MediaError::libav("opening the encoder"))?;
        Ok(Self {
            encoder,
            codec,
            next_pts: 0,
        })
    }

    /// Encodes one frame (already in [`Self::pixel_format`]); returns the
    /// packets that came out (JPEG: always one; H.264 zero-latency: one).
    pub fn encode(&mut self, frame: &mut frame::Video) -> Result<Vec<Vec<u8>>, MediaError> {
        frame.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.encoder
            .send_frame(frame)
            .map_err(MediaError::libav("encoding a frame"))?;
        let mut out = Vec::new();
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            if let Some(data) = packet.data() {
                out.push(data.to_vec());
            }
        }
        Ok(out)
    }
}
