#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! Scenario TOML cut anywhere, with lines dropped or digits changed: an
//! error naming the file and line, or a scenario, never a panic.

use std::path::Path;

#[test]
fn damaged_scenarios_never_panic() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/sim/so101-pick-place.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut refused = 0;
    for case in 0..600 {
        let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
        edited.truncate((next() as usize) % (lines.len() + 1));
        for _ in 0..(case % 5) {
            if edited.is_empty() {
                break;
            }
            let i = (next() as usize) % edited.len();
            match next() % 3 {
                0 => {
                    edited.remove(i);
                }
                1 => {
                    let digit = char::from(b'0' + (next() % 10) as u8);
                    edited[i] = edited[i].replace(
                        |c: char| c.is_ascii_digit(),
                        &digit.to_string().repeat(1 + (next() % 12) as usize),
                    );
                }
                _ => edited[i] = edited[i].replace('.', "-"),
            }
        }
        if let Err(e) = reel_sim::scenario::Scenario::parse(&path, edited.join("\n")) {
            refused += 1;
            assert!(e.to_string().contains("so101-pick-place.toml"), "{e}");
        }
    }
    println!("{refused} of 600 damaged scenarios refused, the rest parsed");
    assert!(refused > 100);
}
