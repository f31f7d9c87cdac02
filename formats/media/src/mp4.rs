//! Dataset videos: frames encoded into MP4 (SVT-AV1 or libx264), and MP4
//! files joined by stream copy.

use std::path::Path;
use std::sync::Mutex;

use ffmpeg::{codec, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::{init, Converter, MediaError};

/// The dataset video codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// AV1 through SVT-AV1 (LeRobot's default).
    Av1,
    /// H.264 through libx264.
    H264,
}

impl VideoCodec {
    /// The stream's canonical codec name, as ffprobe and LeRobot's
    /// `video.codec` report it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Av1 => "av1",
            Self::H264 => "h264",
        }
    }

    fn encoder_name(self) -> &'static str {
        match self {
            Self::Av1 => "libsvtav1",
            Self::H264 => "libx264",
        }
    }
}

/// Encoder settings, named as LeRobot's `info.json` `video.*` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSettings {
    /// Codec.
    pub codec: VideoCodec,
    /// Constant rate factor (AV1 0..63, H.264 0..51).
    pub crf: u32,
    /// Keyframe interval in frames (LeRobot: 2, for fast random access).
    pub gop: u32,
    /// SVT-AV1 preset (0 slowest .. 13 fastest); ignored for H.264.
    pub preset: u32,
    /// Frames per second (an integer, as LeRobot requires).
    pub fps: u32,
}

impl VideoSettings {
    /// LeRobot's defaults (`g=2`, `crf=30`, SVT-AV1 preset 12).
    pub fn lerobot_default(codec: VideoCodec, fps: u32) -> Self {
        Self {
            codec,
            crf: 30,
            gop: 2,
            preset: 12,
            fps,
        }
    }
}

/// Serializes opening and closing encoders. SVT-AV1 keeps process-global
/// state (lookup tables filled at init, a CPU-topology pointer that every
/// teardown frees) without locking, so two instances opened or closed at the
/// same moment can fail or crash; encoding itself runs in parallel.
static ENCODER_LIFECYCLE: Mutex<()> = Mutex::new(());

/// Writes frames to an MP4 file: constant frame rate, sample k at k/fps,
/// every sample lasting one frame.
pub struct Mp4Encoder {
    output: format::context::Output,
    /// Always Some until dropped (taken in Drop under the lifecycle lock).
    encoder: Option<encoder::Video>,
    converter: Converter,
    encoder_time_base: Rational,
    stream_time_base: Rational,
    next_pts: i64,
    frames: u64,
}

impl std::fmt::Debug for Mp4Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Encoder")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Mp4Encoder {
    /// Creates `path` for `width`×`height` video.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        settings: VideoSettings,
    ) -> Result<Self, MediaError> {
        init();
        // SVT-AV1's limit; libav only says "Invalid argument".
        if settings.codec == VideoCodec::Av1 && (width < 64 || height < 64) {
            return Err(MediaError::File {
                path: path.to_path_buf(),
                reason: format!(
                    "AV1 (SVT-AV1) encodes frames of at least 64×64 pixels and these are {width}×{height}; export this camera with --vcodec h264"
                ),
            });
        }
        let name = settings.codec.encoder_name();
        tracing::debug!(file = %path.display(), encoder = name, crf = settings.crf, gop = settings.gop, "encoding");
        let found = encoder::find_by_name(name).ok_or_else(|| MediaError::Missing {
            what: format!("{name} encoder"),
        })?;
        let mut output = format::output_as(path, "mp4").map_err(|e| MediaError::File {
            path: path.to_path_buf(),
            reason: format!("cannot create the MP4: {e}"),
        })?;
        let global_header = output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER);
        let mut enc = codec::context::Context::new_with_codec(found)
            .encoder()
            .video()
            .map_err(MediaError::libav("writing the MP4"))?;
        let fps = settings.fps as i32;
        let time_base = Rational(1, fps);
        enc.set_width(width);
        enc.set_height(height);
        enc.set_format(format::Pixel::YUV420P);
        enc.set_time_base(time_base);
        enc.set_frame_rate(Some(Rational(fps, 1)));
        enc.set_gop(settings.gop);
        enc.set_max_b_frames(0);
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut options = Dictionary::new();
        options.set("crf", &settings.crf.to_string());
        match settings.codec {
            VideoCodec::Av1 => {
                options.set("preset", &settings.preset.to_string());
                options.set("svtav1-params", "fast-decode=0");
            }
            VideoCodec::H264 => {
                options.set("preset", "veryfast");
                options.set("x264-params", "bframes=0");
            }
        }
        let encoder = {
            let _lifecycle = ENCODER_LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner());
            enc.open_with(options)
                .map_err(MediaError::libav("writing the MP4"))?
        };
        {
            let mut stream = output
                .add_stream(found)
                .map_err(MediaError::libav("writing the MP4"))?;
            stream.set_parameters(&encoder);
            stream.set_time_base(time_base);
            stream.set_avg_frame_rate(Rational(fps, 1));
            stream.set_rate(Rational(fps, 1));
        }
        output
            .write_header()
            .map_err(MediaError::libav("writing the MP4"))?;
        // The muxer picks the stream's time base when writing the header.
        let stream_time_base = output
            .stream(0)
            .map(|s| s.time_base())
            .ok_or(MediaError::Stream("the output has no stream"))?;
        Ok(Self {
            output,
            encoder: Some(encoder),
            converter: Converter::new(format::Pixel::YUV420P, width, height),
            encoder_time_base: time_base,
            stream_time_base,
            next_pts: 0,
            frames: 0,
        })
    }

    /// Encodes one decoded frame (any pixel format; converted here).
    pub fn push(&mut self, input: &frame::Video) -> Result<(), MediaError> {
        let mut yuv = self.converter.run(input)?;
        yuv.set_pts(Some(self.next_pts));
        self.next_pts += 1;
        self.frames += 1;
        self.encoder_mut()?
            .send_frame(&yuv)
            .map_err(MediaError::libav("writing the MP4"))?;
        self.write_packets()
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn write_packets(&mut self) -> Result<(), MediaError> {
        let mut packet = Packet::empty();
        while self.encoder_mut()?.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.set_duration(1);
            packet.rescale_ts(self.encoder_time_base, self.stream_time_base);
            packet
                .write_interleaved(&mut self.output)
                .map_err(MediaError::libav("writing the MP4"))?;
        }
        Ok(())
    }

    fn encoder_mut(&mut self) -> Result<&mut encoder::Video, MediaError> {
        self.encoder
            .as_mut()
            .ok_or(MediaError::Stream("the encoder is closed"))
    }

    /// Flushes the encoder and closes the file.
    pub fn finish(mut self) -> Result<u64, MediaError> {
        self.encoder_mut()?
            .send_eof()
            .map_err(MediaError::libav("writing the MP4"))?;
        self.write_packets()?;
        self.output
            .write_trailer()
            .map_err(MediaError::libav("writing the MP4"))?;
        Ok(self.frames)
    }
}

impl Drop for Mp4Encoder {
    fn drop(&mut self) {
        let _lifecycle = ENCODER_LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.encoder.take());
    }
}

/// Joins MP4 files of one stream by stream copy (no re-encoding), each
/// input's timestamps shifted to follow the previous one's end. The first
/// input's codec parameters (AV1 sequence header, H.264 SPS/PPS) are used;
/// every input must come from the same encoder settings.
pub struct Mp4Concat {
    output: Option<format::context::Output>,
    path: std::path::PathBuf,
    fps: i32,
    /// Frames written so far (the next input starts here).
    frames: i64,
}

impl std::fmt::Debug for Mp4Concat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mp4Concat")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Mp4Concat {
    /// Will write `path` at `fps`.
    pub fn new(path: &Path, fps: u32) -> Self {
        Self {
            output: None,
            path: path.to_path_buf(),
            fps: fps as i32,
            frames: 0,
        }
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames as u64
    }

    /// Appends every packet of `input`; returns its frame count.
    pub fn append(&mut self, input_path: &Path) -> Result<u64, MediaError> {
        self.append_span(input_path, 0, None)
    }

    /// Appends the frames `first..first + frames` of `input` (all from
    /// `first` when `frames` is None); returns how many there were. The span
    /// must start at a keyframe (a whole episode of a joined file does).
    pub fn append_span(
        &mut self,
        input_path: &Path,
        first: u64,
        frames: Option<u64>,
    ) -> Result<u64, MediaError> {
        init();
        let mut input = format::input(input_path).map_err(|e| MediaError::File {
            path: input_path.to_path_buf(),
            reason: format!("cannot open: {e}"),
        })?;
        let (in_index, in_tb, params) = {
            let stream = input
                .streams()
                .best(ffmpeg::media::Type::Video)
                .ok_or_else(|| MediaError::File {
                    path: input_path.to_path_buf(),
                    reason: "no video stream".into(),
                })?;
            (stream.index(), stream.time_base(), stream.parameters())
        };
        if self.output.is_none() {
            let mut output =
                format::output_as(&self.path, "mp4").map_err(|e| MediaError::File {
                    path: self.path.clone(),
                    reason: format!("cannot create the MP4: {e}"),
                })?;
            {
                let mut stream = output
                    .add_stream(None::<ffmpeg::Codec>)
                    .map_err(MediaError::libav("writing the MP4"))?;
                stream.set_parameters(params);
                stream.set_time_base(Rational(1, self.fps));
                stream.set_avg_frame_rate(Rational(self.fps, 1));
                stream.set_rate(Rational(self.fps, 1));
            }
            // The index goes to the front so players and loaders can seek
            // without reading the whole file first.
            let mut options = Dictionary::new();
            options.set("movflags", "faststart");
            output
                .write_header_with(options)
                .map_err(MediaError::libav("writing the MP4"))?;
            self.output = Some(output);
        }
        let output = self
            .output
            .as_mut()
            .ok_or(MediaError::Stream("no output"))?;
        let out_tb = output
            .stream(0)
            .map(|s| s.time_base())
            .ok_or(MediaError::Stream("no output stream"))?;
        let frame_tb = Rational(1, self.fps);
        let first = first as i64;
        let end = frames.map_or(i64::MAX, |n| first.saturating_add(n as i64));
        let offset = self.frames - first;
        // Start reading at the keyframe at or before `first` (in
        // AV_TIME_BASE microseconds); without an index, read from the start.
        if first > 0 {
            let at = first * 1_000_000 / i64::from(self.fps);
            let _ = input.seek(at, ..at + 1);
        }
        let (mut count, mut seen) = (0i64, 0i64);
        for (stream, mut packet) in input.packets() {
            if stream.index() != in_index {
                continue;
            }
            // Frame number inside the input, from its own time base.
            packet.rescale_ts(in_tb, frame_tb);
            let k = packet.pts().unwrap_or(seen);
            seen += 1;
            if k >= end {
                // Frames come in decode order, a few ahead of display order
                // at most; well past the span, nothing of it is left.
                if k >= end.saturating_add(64) {
                    break;
                }
                continue;
            }
            if k < first {
                continue;
            }
            if count == 0 && first > 0 && !packet.is_key() {
                return Err(MediaError::File {
                    path: input_path.to_path_buf(),
                    reason: format!("frame {first} is not a keyframe; a span must start at one"),
                });
            }
            packet.set_pts(Some(k + offset));
            packet.set_dts(packet.dts().map(|d| d + offset));
            packet.set_duration(1);
            packet.set_position(-1);
            packet.set_stream(0);
            packet.rescale_ts(frame_tb, out_tb);
            packet
                .write_interleaved(output)
                .map_err(MediaError::libav("writing the MP4"))?;
            count += 1;
        }
        self.frames += count;
        Ok(count as u64)
    }

    /// Writes the trailer (and moves the index to the front).
    pub fn finish(mut self) -> Result<u64, MediaError> {
        if let Some(mut output) = self.output.take() {
            output
                .write_trailer()
                .map_err(MediaError::libav("writing the MP4"))?;
        }
        Ok(self.frames as u64)
    }
}
