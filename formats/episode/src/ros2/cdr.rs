//! Classic CDR (XCDR1), the wire encoding of ROS 2 messages as rmw_fastrtps and
//! rmw_cyclonedds write them and as MCAP's `cdr` message encoding stores them.
//!
//! Written by hand: the Rust CDR crates are serde-based and size their buffers
//! from the length fields they read, so a hostile message can make them allocate
//! gigabytes. Here every length is checked against the bytes that remain before
//! anything is allocated.
//!
//! Layout rules (see `shared/spec/mcap_ros2.md` §4):
//! - a 4-byte encapsulation header, `00 01 00 00` for little endian, `00 00 00 00` for big;
//! - every primitive is aligned to its own size, counted from the first byte after the header;
//! - `string` = u32 length including the NUL, the bytes, the NUL;
//! - `T[]` = u32 count then elements; `T[N]` = elements only.

use crate::error::CdrError;

/// Encapsulation header for little-endian classic CDR.
pub const ENCAPSULATION_CDR_LE: [u8; 4] = [0x00, 0x01, 0x00, 0x00];
/// Encapsulation header for big-endian classic CDR.
pub const ENCAPSULATION_CDR_BE: [u8; 4] = [0x00, 0x00, 0x00, 0x00];

/// Serializes one message to little-endian CDR, the encoding every ROS 2 tool writes.
#[derive(Debug)]
pub struct CdrWriter<'a> {
    buf: &'a mut Vec<u8>,
    origin: usize,
}

impl<'a> CdrWriter<'a> {
    /// Starts a message at the end of `buf` by writing the encapsulation header.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.extend_from_slice(&ENCAPSULATION_CDR_LE);
        let origin = buf.len();
        Self { buf, origin }
    }

    fn align(&mut self, size: usize) {
        let pos = self.buf.len() - self.origin;
        let pad = (size - pos % size) % size;
        self.buf.resize(self.buf.len() + pad, 0);
    }

    /// Writes one primitive of 1, 2, 4 or 8 bytes, given little endian,
    /// aligned to its size (for messages translated field by field from a
    /// definition rather than from a Rust type).
    pub fn primitive(&mut self, le_bytes: &[u8]) {
        self.align(le_bytes.len().max(1));
        self.buf.extend_from_slice(le_bytes);
    }

    /// Writes a `bool` as one byte.
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }
    /// Writes a `uint8`/`byte`/`char`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Writes an aligned `uint16`.
    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes an aligned `uint32`.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes an aligned `int32`.
    pub fn i32(&mut self, v: i32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes an aligned `float32`.
    pub fn f32(&mut self, v: f32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes an aligned `float64`.
    pub fn f64(&mut self, v: f64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Writes a sequence length. Panics never: lengths above `u32::MAX` cannot
    /// be represented in CDR, so callers bound them (messages that large exceed
    /// any MCAP record we write).
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    /// Writes a `string`.
    pub fn string(&mut self, s: &str) {
        self.len(s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// Writes a `string[]`.
    pub fn strings(&mut self, v: &[String]) {
        self.len(v.len());
        for s in v {
            self.string(s);
        }
    }
    /// Writes a `uint8[]`.
    pub fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.buf.extend_from_slice(v);
    }
    /// Writes a `uint8[N]` (no count, no alignment).
    pub fn u8_array(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// Writes a `float64[]`.
    pub fn f64s(&mut self, v: &[f64]) {
        self.len(v.len());
        self.f64_array(v);
    }
    /// Writes a `float64[N]` (no count).
    pub fn f64_array(&mut self, v: &[f64]) {
        if v.is_empty() {
            return;
        }
        self.align(8);
        self.buf.reserve(v.len() * 8);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Reads one CDR message of either endianness, never reading past the end and
/// never allocating more than the remaining bytes could hold.
#[derive(Debug)]
pub struct CdrReader<'a> {
    data: &'a [u8],
    pos: usize,
    big_endian: bool,
    /// 8 for classic CDR; XCDR2 aligns 8-byte primitives to 4 only.
    max_align: usize,
}

impl<'a> CdrReader<'a> {
    /// Checks the encapsulation header and positions the reader on the first field.
    pub fn new(message: &'a [u8]) -> Result<Self, CdrError> {
        let header: [u8; 4] = message
            .get(..4)
            .and_then(|h| h.try_into().ok())
            .ok_or(CdrError::Truncated { at: 0, need: 4 })?;
        // 0x00/0x01: classic CDR BE/LE; 0x06/0x07: plain XCDR2 BE/LE (final types,
        // which ROS 2 messages are). Parameter lists and delimited forms are not ROS 2 messages.
        let (big_endian, max_align) = match (header[0], header[1]) {
            (0, 0x00) => (true, 8),
            (0, 0x01) => (false, 8),
            (0, 0x06) => (true, 4),
            (0, 0x07) => (false, 4),
            _ => return Err(CdrError::Encapsulation { header }),
        };
        Ok(Self {
            data: &message[4..],
            pos: 0,
            big_endian,
            max_align,
        })
    }

    /// Bytes left after the current position.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn align(&mut self, size: usize) -> Result<(), CdrError> {
        let size = size.min(self.max_align);
        let pad = (size - self.pos % size) % size;
        if pad > self.remaining() {
            return Err(CdrError::Truncated {
                at: self.pos + 4,
                need: pad,
            });
        }
        self.pos += pad;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CdrError> {
        if n > self.remaining() {
            return Err(CdrError::Truncated {
                at: self.pos + 4,
                need: n,
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CdrError> {
        self.align(N)?;
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        if self.big_endian {
            b.reverse();
        }
        Ok(b)
    }

    /// Reads a `bool`; any byte other than 0 or 1 is an error.
    pub fn bool(&mut self) -> Result<bool, CdrError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(CdrError::BadBool {
                at: self.pos + 3,
                value,
            }),
        }
    }
    /// Reads a `uint8`.
    pub fn u8(&mut self) -> Result<u8, CdrError> {
        Ok(self.take(1)?[0])
    }
    /// Reads a `uint16`.
    pub fn u16(&mut self) -> Result<u16, CdrError> {
        Ok(u16::from_le_bytes(self.fixed()?))
    }
    /// Reads a `uint32`.
    pub fn u32(&mut self) -> Result<u32, CdrError> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }
    /// Reads an `int32`.
    pub fn i32(&mut self) -> Result<i32, CdrError> {
        Ok(i32::from_le_bytes(self.fixed()?))
    }
    /// Reads a `float32`.
    pub fn f32(&mut self) -> Result<f32, CdrError> {
        Ok(f32::from_le_bytes(self.fixed()?))
    }
    /// Reads a `float64`.
    pub fn f64(&mut self) -> Result<f64, CdrError> {
        Ok(f64::from_le_bytes(self.fixed()?))
    }

    /// Reads a sequence count and checks that `count` elements of at least
    /// `min_element_size` bytes each can still fit in the message.
    pub fn len(&mut self, min_element_size: usize) -> Result<usize, CdrError> {
        let at = self.pos + 4;
        let count = self.u32()? as usize;
        if count.saturating_mul(min_element_size) > self.remaining() {
            return Err(CdrError::BadLength {
                at,
                count,
                remaining: self.remaining(),
            });
        }
        Ok(count)
    }

    /// Reads a `string` (must be UTF-8 and NUL-terminated).
    pub fn string(&mut self) -> Result<String, CdrError> {
        let at = self.pos + 4;
        let n = self.len(1)?;
        if n == 0 {
            // Some writers encode "" as length 0 without the NUL; accept it.
            return Ok(String::new());
        }
        let raw = self.take(n)?;
        let (text, nul) = raw.split_at(n - 1);
        if nul != [0] {
            return Err(CdrError::StringNotTerminated { at });
        }
        std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|_| CdrError::StringNotUtf8 { at })
    }
    /// Reads a `string[]`.
    pub fn strings(&mut self) -> Result<Vec<String>, CdrError> {
        // Each string takes at least its 4-byte length.
        let n = self.len(4)?;
        (0..n).map(|_| self.string()).collect()
    }
    /// Reads a `uint8[]`.
    pub fn bytes(&mut self) -> Result<Vec<u8>, CdrError> {
        let n = self.len(1)?;
        Ok(self.take(n)?.to_vec())
    }
    /// Reads a `uint8[N]`.
    pub fn u8_array(&mut self, n: usize) -> Result<Vec<u8>, CdrError> {
        Ok(self.take(n)?.to_vec())
    }
    /// Reads a `float64[]`.
    pub fn f64s(&mut self) -> Result<Vec<f64>, CdrError> {
        let count_at = self.pos;
        let n = self.u32()? as usize;
        // Alignment padding may sit between the count and the first element.
        let align = 8.min(self.max_align);
        let pad = (align - self.pos % align) % align;
        if n > 0 && n.saturating_mul(8).saturating_add(pad) > self.remaining() {
            return Err(CdrError::BadLength {
                at: count_at + 4,
                count: n,
                remaining: self.remaining(),
            });
        }
        self.f64_array(n)
    }
    /// Reads a `float64[N]`.
    pub fn f64_array(&mut self, n: usize) -> Result<Vec<f64>, CdrError> {
        (0..n).map(|_| self.f64()).collect()
    }
    /// Reads a fixed `float64[N]` into an array.
    pub fn f64_fixed<const N: usize>(&mut self) -> Result<[f64; N], CdrError> {
        let mut out = [0.0; N];
        for v in &mut out {
            *v = self.f64()?;
        }
        Ok(out)
    }
}

/// Sensor stamp of a message that starts with a `std_msgs/Header` (or,
/// like `CompressedVideo`, with a `Time`): the 8 bytes after the CDR
/// encapsulation. None when the bytes are too short or the time negative.
pub fn header_stamp(cdr: &[u8]) -> Option<u64> {
    let b = cdr.get(..12)?;
    let little = b[1] & 1 == 1;
    let word = |i: usize| {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let sec = word(4) as i32;
    let nsec = word(8);
    (sec >= 0 && nsec < 1_000_000_000).then(|| sec as u64 * 1_000_000_000 + u64::from(nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_counts_from_after_the_header() {
        let mut buf = Vec::new();
        let mut w = CdrWriter::new(&mut buf);
        w.u8(7);
        w.f64(1.5);
        // header(4) + u8(1) + pad(7) + f64(8)
        assert_eq!(buf.len(), 20);
        assert_eq!(&buf[5..12], &[0; 7]);
        let mut r = CdrReader::new(&buf).unwrap();
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.f64().unwrap(), 1.5);
    }

    #[test]
    fn empty_string_is_length_one_and_nul() {
        let mut buf = Vec::new();
        CdrWriter::new(&mut buf).string("");
        assert_eq!(buf, [0, 1, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn big_endian_input_is_read() {
        // u32 5, 4 bytes of padding, f64 1.5, all big endian.
        let bytes = [
            0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
        ];
        let mut r = CdrReader::new(&bytes).unwrap();
        assert_eq!(r.u32().unwrap(), 5);
        assert_eq!(r.f64().unwrap(), 1.5);
    }

    #[test]
    fn huge_count_is_rejected_before_allocating() {
        let bytes = [0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff];
        let mut r = CdrReader::new(&bytes).unwrap();
        assert!(matches!(r.bytes(), Err(CdrError::BadLength { .. })));
        let mut r = CdrReader::new(&bytes).unwrap();
        assert!(matches!(r.f64s(), Err(CdrError::BadLength { .. })));
        let mut r = CdrReader::new(&bytes).unwrap();
        assert!(matches!(r.strings(), Err(CdrError::BadLength { .. })));
    }
}
