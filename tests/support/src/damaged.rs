//! Damaged copies of real files for the fuzz tests of reel's decoders.

/// Damaged copies of a real JPEG: cut, bytes flipped, and its frame header
/// (SOF0-2) claiming up to 65,535 × 65,535 pixels over the same few bytes.
pub fn damaged_jpegs(original: &[u8], cases: usize) -> Vec<Vec<u8>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let sof = original
        .windows(2)
        .position(|w| w[0] == 0xff && matches!(w[1], 0xc0..=0xc2));
    assert!(sof.is_some(), "the sample has a frame header");
    (0..cases)
        .map(|case| {
            let mut b = original.to_vec();
            match case % 3 {
                0 => b.truncate((next() as usize) % (b.len() + 1)),
                1 => {
                    for _ in 0..1 + next() % 8 {
                        let i = (next() as usize) % b.len();
                        b[i] ^= (next() as u8) | 1;
                    }
                }
                _ => {
                    if let Some(at) = sof {
                        // Height and width follow the length and precision.
                        let (h, w) = ((next() as u16) | 0x8000, (next() as u16) | 0x8000);
                        b[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
                        b[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
                        b.truncate(at + 200 + (next() as usize) % 2000);
                    }
                }
            }
            b
        })
        .collect()
}
