#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! Property-based fuzzing of the parsers of outside bytes that have no
//! codec round trip of their own (CDR, servo, LiDAR packets have theirs):
//! PointCloud2 layouts, whole MCAP episodes cut, flipped and padded (the
//! reader, scanner, metadata and recovery), and URDF text. Bounded case
//! counts, run in the suite; a failure is kept by proptest as a
//! regression case.

use proptest::prelude::*;
use reel_episode::cloud::{read_field, CloudLayout};
use reel_episode::robot::RobotModel;
use reel_episode::ros2::sensor_msgs::{PointCloud2, PointField};
use reel_episode::ros2::std_msgs::Header;
use reel_episode::{recover, EpisodeReader, RecoverOptions};
use reel_testkit::episodes::{fast_options, many_chunks_options, write_small_episode};
use reel_testkit::skip::workspace;

fn field() -> impl Strategy<Value = PointField> {
    (
        prop::sample::select(vec!["x", "y", "z", "intensity", "ring", "t"]),
        prop_oneof![0u32..64, any::<u32>()],
        0u8..10,
        prop_oneof![0u32..4, any::<u32>()],
    )
        .prop_map(|(name, offset, datatype, count)| PointField {
            name: name.into(),
            offset,
            datatype,
            count,
        })
}

fn cloud() -> impl Strategy<Value = PointCloud2> {
    (
        prop_oneof![0u32..4, any::<u32>()],
        prop_oneof![0u32..64, any::<u32>()],
        prop::collection::vec(field(), 0..6),
        prop_oneof![0u32..48, any::<u32>()],
        prop_oneof![0u32..512, any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..600),
        any::<bool>(),
    )
        .prop_map(
            |(height, width, fields, point_step, row_step, data, big)| PointCloud2 {
                header: Header::default(),
                height,
                width,
                fields,
                is_bigendian: big,
                point_step,
                row_step,
                data,
                is_dense: true,
            },
        )
}

/// A small finished episode with many chunks, once per test binary.
fn episode_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = write_small_episode(&dir.path().join("e.mcap"), 0.5, many_chunks_options());
        std::fs::read(path).unwrap()
    })
}

/// Everything a reader does with an opened file, to the end.
fn read_everything(path: &std::path::Path) {
    let Ok(reader) = EpisodeReader::open(path) else {
        return;
    };
    let _ = reader.state();
    let _ = reader.metadata();
    let _ = reader.episode_meta();
    let _ = reader.attachments();
    for m in reader.messages().take(100_000) {
        if m.is_err() {
            break;
        }
    }
    for event in reader.scan().take(100_000) {
        let _ = event;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A layout that is accepted never points outside the data, however
    /// large the header's claims; every field of every point reads.
    #[test]
    fn point_cloud_layouts_stay_inside_their_bytes(c in cloud()) {
        if let Ok(layout) = CloudLayout::of(&c) {
            prop_assert!(layout.len() <= c.data.len().max(1) || layout.point_step() == 0);
            prop_assert!(layout.len().saturating_mul(layout.point_step()) <= c.data.len());
            for point in layout.points(&c) {
                prop_assert_eq!(point.len(), layout.point_step());
                for f in &c.fields {
                    let _ = read_field(point, f, c.is_bigendian);
                }
            }
            if let Ok(xyz) = c.xyz() {
                prop_assert!(xyz.len() <= layout.len());
            }
        }
    }

    /// URDF text cut anywhere or with bytes replaced: an error or a model,
    /// never a panic.
    #[test]
    fn damaged_urdf_never_panics(cut in any::<prop::sample::Index>(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        static TEXT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let text = TEXT.get_or_init(|| {
            std::fs::read(workspace().join("samples/robots/so101/so101_new_calib.urdf")).unwrap()
        });
        let mut bytes = text[..cut.index(text.len() + 1)].to_vec();
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
        }
        let _ = RobotModel::parse(&String::from_utf8_lossy(&bytes));
    }
}

proptest! {
    // File I/O per case: fewer.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// An episode cut, with bytes flipped or garbage appended: opening,
    /// reading, scanning and recovering never panic, and recovery never
    /// changes its input.
    #[test]
    fn damaged_episodes_never_panic_and_recovery_keeps_its_input(
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let original = episode_bytes();
        let mut bytes = original[..cut.index(original.len() + 1)].to_vec();
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] ^= b | 1;
            }
        }
        bytes.extend_from_slice(&tail);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.mcap.partial");
        std::fs::write(&path, &bytes).unwrap();
        read_everything(&path);
        let out = dir.path().join("recovered.mcap");
        if recover(&path, &RecoverOptions { output: Some(out.clone()) }).is_ok() {
            read_everything(&out);
        }
        prop_assert_eq!(std::fs::read(&path).unwrap(), bytes, "recovery changed its input");
    }
}

#[test]
fn an_intact_episode_reads_whole() {
    // The fuzzed file is a real episode: it opens clean and has messages.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.mcap");
    std::fs::write(&path, episode_bytes()).unwrap();
    let reader = EpisodeReader::open(&path).unwrap();
    assert!(reader.state().is_clean());
    assert!(reader.messages().count() > 100);
    let _ = fast_options();
}
