//! A time stamp drawn into a picture: 64 bits of host-clock nanoseconds and
//! a 16-bit CRC as black/white 16×16 luma blocks along the top rows. Blocks
//! align with JPEG's 8×8 DCT grid and 4:2:0 chroma, so the code survives
//! JPEG and H.264 at ordinary quality. The emulated cameras stamp each frame
//! with its acquisition time; a test decodes it to measure sync error.

/// Block edge, pixels.
pub const BLOCK: usize = 16;
const BITS: usize = 80;
const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_UMTS);

fn bits_of(nanos: u64) -> [bool; BITS] {
    let crc = CRC.checksum(&nanos.to_le_bytes());
    let mut bits = [false; BITS];
    for (i, b) in bits.iter_mut().enumerate() {
        *b = if i < 64 {
            (nanos >> i) & 1 == 1
        } else {
            (crc >> (i - 64)) & 1 == 1
        };
    }
    bits
}

/// Rows of blocks the code needs at `width`.
pub fn rows_needed(width: usize) -> usize {
    BITS.div_ceil((width / BLOCK).max(1))
}

/// Draws `nanos` into a luma plane (`stride` bytes per row).
pub fn stamp(luma: &mut [u8], stride: usize, width: usize, nanos: u64) {
    let cols = width / BLOCK;
    if cols == 0 {
        return;
    }
    for (i, bit) in bits_of(nanos).iter().enumerate() {
        let (bx, by) = ((i % cols) * BLOCK, (i / cols) * BLOCK);
        let value = if *bit { 235 } else { 16 };
        for y in by..by + BLOCK {
            if let Some(row) = luma.get_mut(y * stride + bx..y * stride + bx + BLOCK) {
                row.fill(value);
            }
        }
    }
}

/// Makes the chroma of the code's blocks neutral (one 4:2:0 chroma plane).
pub fn neutral_chroma(chroma: &mut [u8], stride: usize, width: usize) {
    let rows = rows_needed(width) * BLOCK / 2;
    for y in 0..rows {
        if let Some(row) = chroma.get_mut(y * stride..y * stride + width / 2) {
            row.fill(128);
        }
    }
}

/// Reads the code back; `None` if it is absent or damaged (CRC mismatch).
pub fn read(luma: &[u8], stride: usize, width: usize) -> Option<u64> {
    let cols = width / BLOCK;
    if cols == 0 {
        return None;
    }
    let mut nanos = 0u64;
    let mut crc = 0u16;
    for i in 0..BITS {
        let (bx, by) = ((i % cols) * BLOCK, (i / cols) * BLOCK);
        // Mean of the block's inner 8×8, away from edge ringing.
        let mut sum = 0u32;
        for y in by + 4..by + 12 {
            let row = luma.get(y * stride + bx + 4..y * stride + bx + 12)?;
            sum += row.iter().map(|&v| u32::from(v)).sum::<u32>();
        }
        let bit = sum / 64 > 125;
        if i < 64 {
            nanos |= u64::from(bit) << i;
        } else {
            crc |= u16::from(bit) << (i - 64);
        }
    }
    (CRC.checksum(&nanos.to_le_bytes()) == crc).then_some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_detected() {
        let (w, h) = (320, 240);
        let mut luma = vec![90u8; w * h];
        let t = 1_763_900_000_123_456_789;
        stamp(&mut luma, w, w, t);
        assert_eq!(read(&luma, w, w), Some(t));
        luma[5 * w + 5] = 0; // inside block 0's ignored border: still fine
        assert_eq!(read(&luma, w, w), Some(t));
        for y in 4..12 {
            for x in 4..12 {
                luma[y * w + x] ^= 0xFF;
            }
        }
        assert_eq!(read(&luma, w, w), None);
        assert_eq!(rows_needed(640), 2);
        assert_eq!(rows_needed(320), 4);
    }
}
