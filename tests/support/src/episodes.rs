//! Small episodes of the synthetic rig, written fast, and their messages.

use std::path::{Path, PathBuf};

use reel_episode::ros2::RosMessage;
use reel_episode::{EpisodeMeta, EpisodeReader, EpisodeWriter, EpisodeWriterOptions};

use crate::synthetic_rig;

/// Options for fast tests: no fsync.
pub fn fast_options() -> EpisodeWriterOptions {
    EpisodeWriterOptions {
        sync_on_flush: false,
        ..Default::default()
    }
}

/// Fast options with 32 KiB chunks, so a few seconds of the small mix make
/// many chunks (for recovery tests).
pub fn many_chunks_options() -> EpisodeWriterOptions {
    EpisodeWriterOptions {
        chunk_size_bytes: 32 * 1024,
        ..fast_options()
    }
}

/// Writes `secs` of the small rig mix to `path` and finishes it.
pub fn write_small_episode(path: &Path, secs: f64, options: EpisodeWriterOptions) -> PathBuf {
    let mut w =
        EpisodeWriter::create(path, EpisodeMeta::new("test task", "test_arm"), options).unwrap();
    synthetic_rig::write_mix(
        &mut w,
        &synthetic_rig::RigMix::small(),
        1_700_000_000_000_000_000,
        secs,
    )
    .unwrap();
    w.finish().unwrap()
}

/// (topic, sequence, log_time, publish_time, data) of every message, file order.
pub fn all_messages(path: &Path) -> Vec<(String, u32, u64, u64, Vec<u8>)> {
    let r = EpisodeReader::open(path).unwrap();
    r.messages()
        .map(|m| {
            let m = m.unwrap();
            (
                m.channel.topic.clone(),
                m.sequence,
                m.log_time,
                m.publish_time,
                m.data.into_owned(),
            )
        })
        .collect()
}

/// Every message on `topic`, decoded as `M`, in file order.
pub fn decoded_on<M: RosMessage>(path: &Path, topic: &str) -> Vec<M> {
    let r = EpisodeReader::open(path).unwrap();
    r.messages()
        .enumerate()
        .filter_map(|(i, m)| {
            let m = m.unwrap();
            (m.channel.topic == topic).then(|| r.decode(&m, i as u64).unwrap())
        })
        .collect()
}
