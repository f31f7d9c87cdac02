#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! Rig TOML cut anywhere, with lines dropped, duplicated or bytes replaced:
//! a one-line error or a rig, never a panic (bounded property test).

use proptest::prelude::*;
use reel_capture::rig::Rig;

fn samples() -> &'static [String] {
    static TEXTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TEXTS.get_or_init(|| {
        ["so101-emulated", "bimanual-emulated"]
            .iter()
            .map(|n| {
                let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("../samples/rigs/{n}.toml"));
                std::fs::read_to_string(p).unwrap()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn damaged_rig_toml_never_panics(
        which in 0usize..2,
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 0..6),
    ) {
        let text = &samples()[which];
        let mut lines: Vec<String> = text[..text.floor_char_boundary(cut.index(text.len() + 1))]
            .lines()
            .map(str::to_string)
            .collect();
        for (at, kind, byte) in edits {
            if lines.is_empty() {
                break;
            }
            let i = at.index(lines.len());
            match kind {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let l = lines[i].clone();
                    lines.insert(i, l);
                }
                2 => {
                    // A digit changed: numbers out of range, negative, huge.
                    let l = lines[i].replace(|c: char| c.is_ascii_digit(), &((byte % 10).to_string().repeat(usize::from(byte % 3) + 1)));
                    lines[i] = l;
                }
                _ => {
                    let mut b = lines[i].clone().into_bytes();
                    if !b.is_empty() {
                        let j = usize::from(byte) % b.len();
                        b[j] = byte;
                    }
                    lines[i] = String::from_utf8_lossy(&b).into_owned();
                }
            }
        }
        if let Err(e) = Rig::parse(&lines.join("\n")) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
    }
}
