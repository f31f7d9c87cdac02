//! libav* (through ffmpeg-next) as reel uses it, in one place: decoding
//! stored frames ([`decode`]), converting them ([`convert`]), encoding
//! dataset videos (AV1 through SVT-AV1, or H.264) into MP4 and joining MP4
//! files by stream copy ([`mp4`]); [`camera`] opens camera sources and
//! encodes their frames. Capture, export, checks and the viewer share it.

pub mod camera;
pub mod convert;
pub mod decode;
pub mod mp4;
pub mod mp4_frames;

use std::path::PathBuf;
use std::sync::Once;

use ffmpeg_next as ffmpeg;

pub use convert::{to_rgb24, Converter};
pub use decode::{decode_jpeg, StoredCodec, StreamDecoder};
pub use mp4::{Mp4Concat, Mp4Encoder, VideoCodec, VideoSettings};

/// Re-exports for callers that need libav types.
pub use ffmpeg::frame::Video as VideoFrame;

/// Initialises libav* once (devices included: v4l2, lavfi).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg::init();
        ffmpeg::device::register_all();
        // Failures reach the user as reel errors; keep libav quiet.
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
}

/// Why libav could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// This FFmpeg build lacks a codec or device.
    #[error("this FFmpeg has no {what}; install an FFmpeg built with it")]
    Missing {
        /// The codec, encoder or device.
        what: String,
    },
    /// A libav call failed.
    #[error("{context}: {source}")]
    Libav {
        /// What was being done.
        context: &'static str,
        /// What libav said.
        source: ffmpeg::Error,
    },
    /// A media file that cannot be used.
    #[error("{}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A stream that does not hold what it should.
    #[error("{0}")]
    Stream(&'static str),
}

impl MediaError {
    /// Wraps a libav error with what was being done.
    pub fn libav(context: &'static str) -> impl FnOnce(ffmpeg::Error) -> Self {
        move |source| Self::Libav { context, source }
    }
}
