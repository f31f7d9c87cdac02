//! `velodyne_msgs/msg/VelodyneScan` topics of a bag decoded into point
//! clouds beside the packets (which are copied as they are): each scan's
//! packets go through the LiDAR decoder the caller provides (reel's own
//! driver), in order, and every revolution it completes becomes a
//! PointCloud2 on the matching `.../points` topic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reel_episode::ros2::sensor_msgs::PointCloud2;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::velodyne_msgs::VelodyneScan;
use reel_episode::ros2::RosMessage;
use reel_episode::{EpisodeWriter, Topic};

use crate::lidar::{DecoderFactory, Revolution, ScanDecoder};
use crate::source::Loss;
use crate::ImportError;

/// The points topic beside a packets topic.
pub(crate) fn points_topic_for(packets: &str) -> String {
    match packets.strip_suffix("/packets") {
        Some(base) => format!("{base}/points"),
        None => format!("{packets}/points"),
    }
}

/// One packets topic being decoded.
pub(crate) struct PacketTopic {
    /// The source's packets topic.
    pub source: String,
    /// The points topic's name.
    pub points_name: String,
    points: Topic<PointCloud2>,
    decoder: Option<Box<dyn ScanDecoder>>,
    refused: Option<String>,
    rejected: BTreeMap<String, (u64, String)>,
    frame: String,
    /// Revolutions written.
    pub revolutions: u64,
}

impl PacketTopic {
    /// Decodes `source`'s scans into `points`.
    pub(crate) fn new(source: &str, points_name: &str, points: Topic<PointCloud2>) -> Self {
        Self {
            source: source.to_string(),
            points_name: points_name.to_string(),
            points,
            decoder: None,
            refused: None,
            rejected: BTreeMap::new(),
            frame: String::new(),
            revolutions: 0,
        }
    }

    fn write(
        &mut self,
        writer: &mut EpisodeWriter,
        revs: Vec<Revolution>,
        log_time: u64,
    ) -> Result<(), ImportError> {
        for mut rev in revs {
            rev.cloud.header = Header::new(rev.stamp_nanos, self.frame.clone());
            writer.write(self.points, &rev.cloud, log_time, rev.stamp_nanos)?;
            self.revolutions += 1;
        }
        Ok(())
    }

    /// One VelodyneScan message (CDR).
    pub(crate) fn message(
        &mut self,
        writer: &mut EpisodeWriter,
        factory: DecoderFactory<'_>,
        data: &[u8],
        log_time: u64,
    ) -> Result<(), ImportError> {
        if self.refused.is_some() {
            return Ok(());
        }
        let Ok(scan) = VelodyneScan::from_cdr(data) else {
            let e = self.rejected.entry("undecodable".into()).or_default();
            e.0 += 1;
            e.1 = "a message that is not a VelodyneScan".into();
            return Ok(());
        };
        if self.frame.is_empty() {
            self.frame.clone_from(&scan.header.frame_id);
        }
        let packets: Vec<(u64, Vec<u8>)> = scan
            .packets
            .into_iter()
            .map(|p| (p.stamp.to_nanos(), p.data))
            .collect();
        if self.decoder.is_none() {
            match factory(&packets[..packets.len().min(16)]) {
                Ok(d) => self.decoder = Some(d),
                Err(why) => {
                    self.refused = Some(why);
                    return Ok(());
                }
            }
        }
        let mut done = Vec::new();
        if let Some(decoder) = self.decoder.as_mut() {
            for (t, payload) in &packets {
                match decoder.push(payload, *t) {
                    Ok(revs) => done.extend(revs),
                    Err((reason, detail)) => {
                        let e = self.rejected.entry(reason).or_default();
                        e.0 += 1;
                        e.1 = detail;
                    }
                }
            }
        }
        self.write(writer, done, log_time)
    }

    /// The revolution still open; what could not be decoded, as losses.
    pub(crate) fn finish(
        &mut self,
        writer: &mut EpisodeWriter,
        log_time: u64,
    ) -> Result<Vec<Loss>, ImportError> {
        if let Some(mut d) = self.decoder.take() {
            let rest = d.finish();
            self.write(writer, rest, log_time)?;
        }
        let mut losses: Vec<Loss> = self
            .rejected
            .iter()
            .map(|(reason, (n, detail))| Loss {
                file: PathBuf::new(),
                reason: "packets_rejected",
                detail: format!("{}: {n} packets not turned into points ({reason}: {detail}); they stay in the packets topic", self.source),
                messages: None,
            })
            .collect();
        if let Some(why) = &self.refused {
            losses.push(Loss {
                file: PathBuf::new(),
                reason: "lidar_not_decoded",
                detail: format!(
                    "{}: no points decoded ({why}); the packets stay in the episode",
                    self.source
                ),
                messages: None,
            });
        }
        Ok(losses)
    }
}
