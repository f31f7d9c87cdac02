//! Pixel format and size conversion of decoded frames (libswscale).

use ffmpeg::{format, frame, software};
use ffmpeg_next as ffmpeg;

use crate::MediaError;

/// Converts decoded frames to one pixel format and size.
pub struct Converter {
    scaler: Option<(software::scaling::Context, format::Pixel, u32, u32)>,
    out: format::Pixel,
    width: u32,
    height: u32,
}

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converter")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Converter {
    /// Converts to `out` at `width`×`height`.
    pub fn new(out: format::Pixel, width: u32, height: u32) -> Self {
        Self {
            scaler: None,
            out,
            width,
            height,
        }
    }

    /// `input` converted (a new frame). The scaler is rebuilt when the
    /// input's format or size changes (a camera reopened at another mode).
    pub fn run(&mut self, input: &frame::Video) -> Result<frame::Video, MediaError> {
        let key = (input.format(), input.width(), input.height());
        let stale = match &self.scaler {
            Some((_, f, w, h)) => (*f, *w, *h) != key,
            None => true,
        };
        if stale {
            let ctx = software::scaling::Context::get(
                key.0,
                key.1,
                key.2,
                self.out,
                self.width,
                self.height,
                software::scaling::Flags::BILINEAR,
            )
            .map_err(MediaError::libav("creating the pixel format converter"))?;
            self.scaler = Some((ctx, key.0, key.1, key.2));
        }
        let mut out = frame::Video::empty();
        if let Some((s, ..)) = self.scaler.as_mut() {
            s.run(input, &mut out)
                .map_err(MediaError::libav("converting a frame"))?;
        }
        out.set_pts(input.pts());
        Ok(out)
    }
}

/// Converts a frame to packed RGB24 at its own size (for image statistics).
pub fn to_rgb24(input: &frame::Video) -> Result<frame::Video, MediaError> {
    let mut c = Converter::new(format::Pixel::RGB24, input.width(), input.height());
    c.run(input)
}
