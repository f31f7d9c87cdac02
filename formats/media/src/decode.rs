//! Decoding the frames an episode stores (JPEG, H.264).

use ffmpeg::{codec, decoder, frame, Dictionary, Packet};
use ffmpeg_next as ffmpeg;

use crate::{init, MediaError};

/// Decodes one JPEG image to a frame (for tests and for re-encoding).
pub fn decode_jpeg(jpeg: &[u8]) -> Result<frame::Video, MediaError> {
    let mut dec = StreamDecoder::new(StoredCodec::Jpeg)?;
    let mut frames = dec.decode(jpeg)?;
    frames.extend(dec.finish()?);
    frames
        .into_iter()
        .next()
        .ok_or(MediaError::Stream("the JPEG decoded to no frame"))
}

/// How frames were stored in an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredCodec {
    /// One JPEG per message (`sensor_msgs/CompressedImage`).
    Jpeg,
    /// H.264 Annex B, one access unit per message (`CompressedVideo`).
    H264,
}

/// A decoder fed one stored message at a time.
pub struct StreamDecoder {
    decoder: decoder::Video,
}

impl std::fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamDecoder").finish_non_exhaustive()
    }
}

impl StreamDecoder {
    /// A decoder for `codec`.
    pub fn new(codec: StoredCodec) -> Result<Self, MediaError> {
        Self::open(codec, Dictionary::new())
    }

    /// A decoder that returns frames at 1/2^`lowres` of their size
    /// (libav's `lowres`: the MJPEG decoder skips the high-frequency part
    /// of the IDCT, several times faster). For sampling frames, not export.
    /// H.264 has no reduced decoding; it decodes at full size.
    pub fn reduced(codec: StoredCodec, lowres: u8) -> Result<Self, MediaError> {
        let mut options = Dictionary::new();
        if codec == StoredCodec::Jpeg {
            options.set("lowres", &lowres.min(3).to_string());
        }
        Self::open(codec, options)
    }

    fn open(codec: StoredCodec, options: Dictionary<'_>) -> Result<Self, MediaError> {
        init();
        let id = match codec {
            StoredCodec::Jpeg => codec::Id::MJPEG,
            StoredCodec::H264 => codec::Id::H264,
        };
        let found = decoder::find(id).ok_or_else(|| MediaError::Missing {
            what: format!("{id:?} decoder"),
        })?;
        let decoder = codec::context::Context::new_with_codec(found)
            .decoder()
            .open_as_with(found, options)
            .and_then(|d| d.video())
            .map_err(MediaError::libav("opening the decoder"))?;
        Ok(Self { decoder })
    }

    /// Feeds one message's bytes; returns the frames that came out.
    pub fn decode(&mut self, data: &[u8]) -> Result<Vec<frame::Video>, MediaError> {
        self.decoder
            .send_packet(&Packet::copy(data))
            .map_err(MediaError::libav("decoding a frame"))?;
        Ok(self.drain())
    }

    /// Flushes the decoder; returns the frames still inside.
    pub fn finish(&mut self) -> Result<Vec<frame::Video>, MediaError> {
        self.decoder
            .send_eof()
            .map_err(MediaError::libav("flushing the decoder"))?;
        Ok(self.drain())
    }

    fn drain(&mut self) -> Vec<frame::Video> {
        let mut out = Vec::new();
        loop {
            let mut f = frame::Video::empty();
            if self.decoder.receive_frame(&mut f).is_err() {
                break;
            }
            out.push(f);
        }
        out
    }
}
