//! Dynamixel Protocol 2.0 codec against the ROBOTIS e-Manual's example
//! packets (`shared/testdata/serial`), plus properties: encode/decode are
//! inverses, and no byte stream makes the decoder panic.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use common::hex;
use proptest::prelude::*;
use reel_capture::drivers::dynamixel::protocol::{
    decode, Instruction, InstructionPacket, Packet, PacketDecoder, StatusError, StatusPacket,
};

/// (example and kind, bytes) of the Protocol 2.0 examples.
fn emanual_packets() -> Option<Vec<(String, Vec<u8>)>> {
    Some(
        common::emanual_packets("protocol2")?
            .into_iter()
            .map(|p| (format!("{} {}", p.example, p.kind), p.bytes))
            .collect(),
    )
}

#[test]
fn every_emanual_packet_decodes_and_reencodes_identically() {
    let Some(packets) = emanual_packets() else {
        return;
    };
    assert!(packets.len() >= 25);
    for (name, bytes) in &packets {
        let packet = decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = match &packet {
            Packet::Instruction(p) => {
                assert!(name.ends_with("instruction"), "{name}");
                p.encode()
            }
            Packet::Status(p) => {
                assert!(name.ends_with("status"), "{name}");
                p.encode()
            }
        };
        assert_eq!(&again, bytes, "{name}");
    }
}

#[test]
fn emanual_values_read_back() {
    let read = hex("FF FF FD 00 01 08 00 55 00 A6 00 00 00 8C C0");
    let Packet::Status(s) = decode(&read).unwrap() else {
        panic!()
    };
    assert_eq!(i32::from_le_bytes(s.params.try_into().unwrap()), 166);
    let sync_write = hex("FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00 82 87");
    let Packet::Instruction(p) = decode(&sync_write).unwrap() else {
        panic!()
    };
    let Instruction::SyncWrite {
        address, writes, ..
    } = p.instruction
    else {
        panic!()
    };
    assert_eq!(address, 116);
    assert_eq!(writes[0], (1, 150i32.to_le_bytes().to_vec()));
    assert_eq!(writes[1], (2, 170i32.to_le_bytes().to_vec()));
}

#[test]
fn stream_decoder_finds_every_packet_among_noise_and_split_reads() {
    let Some(packets) = emanual_packets() else {
        return;
    };
    let mut stream = vec![0x00, 0xFF, 0x13, 0xFF, 0xFF];
    for (_, p) in &packets {
        stream.extend_from_slice(p);
        stream.extend_from_slice(&[0xAA, 0xFF]);
    }
    for split in [1usize, 2, 3, 7, 64, stream.len()] {
        let mut decoder = PacketDecoder::default();
        let mut found = Vec::new();
        for piece in stream.chunks(split) {
            decoder.push(piece);
            while let Some(p) = decoder.next_raw() {
                found.push(p.unwrap());
            }
        }
        let want: Vec<Vec<u8>> = packets.iter().map(|(_, p)| p.clone()).collect();
        assert_eq!(found, want, "split {split}");
        assert!(decoder.skipped() > 0);
    }
}

#[test]
fn corrupted_crc_is_reported_and_the_stream_resyncs() {
    let mut bad = hex("FF FF FD 00 01 03 00 01 19 4E");
    bad[8] ^= 1;
    let good = hex("FF FF FD 00 01 04 00 55 00 A1 0C");
    let mut decoder = PacketDecoder::default();
    decoder.push(&bad);
    decoder.push(&good);
    assert!(decoder.next_raw().unwrap().is_err());
    assert_eq!(decoder.next_raw().unwrap().unwrap(), good);
}

fn instruction() -> impl Strategy<Value = Instruction> {
    let data = prop::collection::vec(any::<u8>(), 1..16);
    let ids = prop::collection::vec(0u8..=252, 1..8);
    prop_oneof![
        Just(Instruction::Ping),
        Just(Instruction::Action),
        Just(Instruction::Reboot),
        any::<u8>().prop_map(Instruction::FactoryReset),
        (any::<u16>(), any::<u16>())
            .prop_map(|(address, length)| Instruction::Read { address, length }),
        (any::<u16>(), data.clone())
            .prop_map(|(address, data)| Instruction::Write { address, data }),
        (any::<u16>(), data).prop_map(|(address, data)| Instruction::RegWrite { address, data }),
        (any::<u16>(), any::<u16>(), ids.clone()).prop_map(|(address, length, ids)| {
            Instruction::SyncRead {
                address,
                length,
                ids,
            }
        }),
        (
            any::<u16>(),
            1u16..6,
            prop::collection::vec((0u8..=252, any::<[u8; 8]>()), 1..6)
        )
            .prop_map(|(address, length, w)| Instruction::SyncWrite {
                address,
                length,
                writes: w
                    .into_iter()
                    .map(|(id, d)| (id, d[..length as usize].to_vec()))
                    .collect(),
            }),
    ]
}

proptest! {
    #[test]
    fn instruction_round_trip(id in 0u8..=254, instruction in instruction()) {
        let packet = InstructionPacket { id, instruction };
        let bytes = packet.encode();
        prop_assert_eq!(decode(&bytes).unwrap(), Packet::Instruction(packet.clone()));
        // Through the stream decoder too (stuffing keeps headers out of the body).
        let mut decoder = PacketDecoder::default();
        decoder.push(&bytes);
        prop_assert_eq!(decoder.next_packet().unwrap().unwrap(), Packet::Instruction(packet));
    }

    #[test]
    fn status_round_trip(id in 0u8..=252, error in any::<u8>(), params in prop::collection::vec(any::<u8>(), 0..40)) {
        let packet = StatusPacket { id, error: StatusError(error), params };
        prop_assert_eq!(decode(&packet.encode()).unwrap(), Packet::Status(packet));
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), split in 1usize..50) {
        let _ = decode(&bytes);
        let mut with_header = vec![0xFF, 0xFF, 0xFD, 0x00];
        with_header.extend_from_slice(&bytes);
        let _ = decode(&with_header);
        let mut decoder = PacketDecoder::default();
        for piece in with_header.chunks(split) {
            decoder.push(piece);
            while decoder.next_packet().is_some() {}
        }
    }
}

proptest! {
    #[test]
    fn truncated_fast_sync_status_is_an_error(n in 1usize..8, cut in 0usize..200) {
        let entries: Vec<reel_capture::drivers::dynamixel::protocol::FastSyncEntry> = (1..=n as u8)
            .map(|id| reel_capture::drivers::dynamixel::protocol::FastSyncEntry { error: StatusError(0), id, data: vec![id; 4] })
            .collect();
        let bytes = reel_capture::drivers::dynamixel::protocol::encode_fast_sync_status(&entries);
        prop_assert_eq!(reel_capture::drivers::dynamixel::protocol::parse_fast_sync_status(&bytes, 4).unwrap(), entries);
        let cut = cut.min(bytes.len() - 1);
        prop_assert!(reel_capture::drivers::dynamixel::protocol::parse_fast_sync_status(&bytes[..cut], 4).is_err());
    }
}
