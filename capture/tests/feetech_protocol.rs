//! Feetech SCS/STS codec on the Protocol 1.0 example packets of the ROBOTIS
//! e-Manual (the framing Feetech uses, `shared/testdata/serial`), plus
//! properties: encode/decode are inverses, no byte stream makes it panic.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::hex;
use proptest::prelude::*;
use reel_capture::drivers::feetech::protocol::{
    Instruction, InstructionPacket, PacketDecoder, StatusError, StatusPacket,
};

/// (example, kind, bytes) of the Protocol 1.0 examples (Feetech's framing).
fn protocol1_packets() -> Option<Vec<(String, String, Vec<u8>)>> {
    Some(
        common::emanual_packets("protocol1")?
            .into_iter()
            .map(|p| (p.example, p.kind, p.bytes))
            .collect(),
    )
}

#[test]
fn every_protocol1_example_decodes_and_reencodes_identically() {
    let Some(packets) = protocol1_packets() else {
        return;
    };
    assert!(packets.len() >= 15);
    for (name, kind, bytes) in &packets {
        let again = if kind == "instruction" {
            InstructionPacket::decode(bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .encode()
        } else {
            StatusPacket::decode(bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .encode()
        };
        assert_eq!(&again, bytes, "{name}");
    }
    let error = StatusPacket::decode(&hex("FF FF 01 02 24 D8")).unwrap();
    assert_eq!(error.error.describe(), ["overheat", "overload"]);
}

#[test]
fn stream_decoder_finds_every_frame_among_noise() {
    let Some(packets) = protocol1_packets() else {
        return;
    };
    let mut stream = vec![0x12, 0xFF, 0x00];
    for (_, _, p) in &packets {
        stream.extend_from_slice(p);
        stream.push(0x77);
    }
    for split in [1usize, 2, 5, 64, stream.len()] {
        let mut decoder = PacketDecoder::default();
        let mut found = Vec::new();
        for piece in stream.chunks(split) {
            decoder.push(piece);
            while let Some(p) = decoder.next_raw() {
                if let Ok(p) = p {
                    found.push(p);
                }
            }
        }
        let want: Vec<Vec<u8>> = packets.iter().map(|(_, _, p)| p.clone()).collect();
        assert_eq!(found, want, "split {split}");
    }
}

proptest! {
    #[test]
    fn round_trip(id in 0u8..=0xFE, address in any::<u8>(), data in prop::collection::vec(any::<u8>(), 1..20),
                  ids in prop::collection::vec(0u8..=0xFD, 1..10), error in 0u8..0x80) {
        for instruction in [
            Instruction::Ping,
            Instruction::Read { address, length: data.len() as u8 },
            Instruction::Write { address, data: data.clone() },
            Instruction::SyncRead { address, length: 2, ids: ids.clone() },
            Instruction::SyncWrite {
                address,
                length: 2,
                writes: ids.iter().map(|&i| (i, vec![i, data[0]])).collect(),
            },
        ] {
            let packet = InstructionPacket { id, instruction };
            prop_assert_eq!(InstructionPacket::decode(&packet.encode()).unwrap(), packet);
        }
        let status = StatusPacket { id, error: StatusError(error), params: data };
        prop_assert_eq!(StatusPacket::decode(&status.encode()).unwrap(), status);
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), split in 1usize..40) {
        let _ = InstructionPacket::decode(&bytes);
        let _ = StatusPacket::decode(&bytes);
        let mut decoder = PacketDecoder::default();
        for piece in bytes.chunks(split) {
            decoder.push(piece);
            while let Some(frame) = decoder.next_raw() {
                if let Ok(frame) = frame {
                    let _ = InstructionPacket::decode(&frame);
                    let _ = StatusPacket::decode(&frame);
                }
            }
        }
    }
}
