//! Raw Velodyne packets in a pcap (libpcap format, Ethernet / Linux cooked /
//! raw IP link types): each UDP datagram to the data port (2368, 1206 bytes)
//! goes to a LiDAR decoder the caller provides (reel's own driver, so an
//! import decodes exactly as `reel record` does) and becomes PointCloud2
//! revolutions on `/lidar/<name>/points`; the packets of each revolution are
//! kept too, as a `velodyne_msgs/VelodyneScan` on `/lidar/<name>/packets`.
//! Packets the decoder refuses, and datagrams of other ports, are counted
//! and written down.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::sensor_msgs::PointCloud2;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::velodyne_msgs::{VelodynePacket, VelodyneScan};
use reel_episode::{topics, EpisodeWriter};

pub use crate::lidar::{DecoderFactory, Revolution, ScanDecoder};
use crate::source::Loss;
use crate::{output, Format, ImportError, ImportOptions, ImportReport, Outcome, TopicReport};

/// Velodyne's data port.
pub const VELODYNE_DATA_PORT: u16 = 2368;
/// Velodyne's position (GPS) port; its packets are counted, not decoded.
pub const VELODYNE_POSITION_PORT: u16 = 8308;

/// A UDP datagram of a capture: (arrival ns, destination port, payload).
type Datagram = (u64, u16, Vec<u8>);

/// The UDP datagrams of a pcap, and how many frames were something else.
fn datagrams(path: &Path) -> Result<(Vec<Datagram>, u64), ImportError> {
    let file = std::fs::File::open(path).map_err(ImportError::io(path))?;
    let mut reader = pcap_file::pcap::PcapReader::new(std::io::BufReader::new(file))
        .map_err(|e| ImportError::corrupt(path, "pcap", e.to_string()))?;
    let link = reader.header().datalink;
    let mut out = Vec::new();
    let mut skipped = 0u64;
    while let Some(packet) = reader.next_packet() {
        let Ok(packet) = packet else {
            // A cut-off last record: what came before stands.
            break;
        };
        let t = packet.timestamp.as_nanos() as u64;
        let data: &[u8] = &packet.data;
        let ip = match link {
            pcap_file::DataLink::ETHERNET => {
                let mut at = 12;
                let mut ethertype = data
                    .get(at..at + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]));
                if ethertype == Some(0x8100) {
                    at += 4;
                    ethertype = data
                        .get(at..at + 2)
                        .map(|b| u16::from_be_bytes([b[0], b[1]]));
                }
                (ethertype == Some(0x0800))
                    .then(|| data.get(at + 2..))
                    .flatten()
            }
            pcap_file::DataLink::LINUX_SLL => (data.get(14..16) == Some(&[0x08, 0x00]))
                .then(|| data.get(16..))
                .flatten(),
            pcap_file::DataLink::RAW | pcap_file::DataLink::IPV4 => Some(data),
            _ => None,
        };
        // IPv4, UDP, not a fragment.
        let Some(ip) = ip.filter(|ip| {
            ip.len() >= 20
                && ip[0] >> 4 == 4
                && ip[9] == 17
                && u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff == 0
        }) else {
            skipped += 1;
            continue;
        };
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let Some(udp) = ip.get(ihl..).filter(|u| u.len() >= 8) else {
            skipped += 1;
            continue;
        };
        let port = u16::from_be_bytes([udp[2], udp[3]]);
        let len = usize::from(u16::from_be_bytes([udp[4], udp[5]])).saturating_sub(8);
        let Some(payload) = udp.get(8..8 + len) else {
            skipped += 1;
            continue;
        };
        out.push((t, port, payload.to_vec()));
    }
    Ok((out, skipped))
}

/// The LiDAR's name in the episode: the capture's file name.
fn lidar_name(path: &Path) -> String {
    let stem = output::episode_name(path);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "lidar".into()
    } else {
        clean
    }
}

/// Imports the Velodyne capture at `path` into one episode.
pub(crate) fn import_pcap(
    path: &Path,
    options: &ImportOptions<'_>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let Some(factory) = options.lidar_decoder else {
        return Err(ImportError::NotYetSupported {
            path: path.to_path_buf(),
            format: "pcap",
        });
    };
    let (datagrams, not_udp) = datagrams(path)?;
    let data: Vec<(u64, Vec<u8>)> = datagrams
        .iter()
        .filter(|d| d.1 == VELODYNE_DATA_PORT && d.2.len() == 1206)
        .map(|d| (d.0, d.2.clone()))
        .collect();
    if data.is_empty() {
        return Err(ImportError::Unrecognized {
            path: path.to_path_buf(),
            reason: format!("a pcap without Velodyne data packets (1206-byte UDP payloads to port {VELODYNE_DATA_PORT})"),
        });
    }
    let mut decoder = factory(&data[..data.len().min(16)])
        .map_err(|reason| ImportError::corrupt(path, "Velodyne pcap", reason))?;
    let sha256 = crate::source_sha256(&[path.to_path_buf()])?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let format = Format::Pcap;
    let target = match crate::episode::place_or_skip(
        options,
        &output::Imported::scan(&options.out)?,
        &output::episode_name(path),
        path,
        format,
        (&sha256, bytes),
        started,
    )? {
        Ok(target) => target,
        Err(skipped) => return Ok(skipped),
    };
    let name = lidar_name(path);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut meta = output::lineage_meta(
        options.task.as_deref().unwrap_or(""),
        options.robot_type.as_deref().unwrap_or("unknown"),
        "pcap-velodyne",
        path,
        &[file_name],
        &sha256,
    );
    meta.source_params
        .insert("lidar_model".into(), decoder.model());
    meta.source_params.insert(
        "time".into(),
        "log_time = the packet's capture time; publish_time = header.stamp = the revolution's first point, from the sensor's own clock as reel's driver maps it".into(),
    );
    let mut writer = EpisodeWriter::create(&target.write_path, meta, options.writer.clone())?;
    let partial = writer.partial_path().to_path_buf();
    let result = (|| -> Result<(Vec<TopicReport>, Vec<Loss>, u64), ImportError> {
        let frame = format!("{name}_link");
        let points_topic = topics::lidar_points(&name);
        let packets_topic = topics::lidar_packets(&name);
        let points = writer.add_topic::<PointCloud2>(&points_topic)?;
        let scans = writer.add_topic::<VelodyneScan>(&packets_topic)?;
        let mut rejected: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let (mut revolutions, mut messages, mut last) = (0u64, 0u64, 0u64);
        let write = |writer: &mut EpisodeWriter,
                     revs: Vec<Revolution>,
                     messages: &mut u64,
                     revolutions: &mut u64,
                     last: &mut u64|
         -> Result<(), ImportError> {
            for mut rev in revs {
                let arrival = rev.packets.last().map_or(rev.stamp_nanos, |p| p.0);
                *last = (*last).max(arrival);
                rev.cloud.header = Header::new(rev.stamp_nanos, frame.clone());
                writer.write(points, &rev.cloud, arrival, rev.stamp_nanos)?;
                let scan = VelodyneScan {
                    header: Header::new(rev.stamp_nanos, frame.clone()),
                    packets: rev
                        .packets
                        .into_iter()
                        .map(|(t, data)| VelodynePacket {
                            stamp: Time::from_nanos(t),
                            data,
                        })
                        .collect(),
                };
                writer.write(scans, &scan, arrival, rev.stamp_nanos)?;
                *messages += 2;
                *revolutions += 1;
            }
            Ok(())
        };
        for (t, payload) in &data {
            match decoder.push(payload, *t) {
                Ok(revs) => write(
                    &mut writer,
                    revs,
                    &mut messages,
                    &mut revolutions,
                    &mut last,
                )?,
                Err((reason, detail)) => {
                    let e = rejected.entry(reason).or_default();
                    e.0 += 1;
                    e.1 = detail;
                }
            }
        }
        let rest = decoder.finish();
        write(
            &mut writer,
            rest,
            &mut messages,
            &mut revolutions,
            &mut last,
        )?;
        let mut losses: Vec<Loss> = rejected
            .into_iter()
            .map(|(reason, (n, detail))| Loss {
                file: path.to_path_buf(),
                reason: "packets_rejected",
                detail: format!("{n} data packets refused by the decoder ({reason}: {detail})"),
                messages: Some(n),
            })
            .collect();
        let other = datagrams.len() - data.len();
        let position = datagrams
            .iter()
            .filter(|d| d.1 == VELODYNE_POSITION_PORT)
            .count();
        if other > position || not_udp > 0 {
            losses.push(Loss {
                file: path.to_path_buf(),
                reason: "not_lidar_data",
                detail: format!(
                    "{} UDP datagrams to other ports and {not_udp} frames that are not IPv4 UDP were left out ({position} position packets to port {VELODYNE_POSITION_PORT} are not decoded either)",
                    other - position
                ),
                messages: None,
            });
        }
        output::write_losses(&mut writer, &losses, last)?;
        let topics = vec![
            TopicReport {
                from: format!("UDP :{VELODYNE_DATA_PORT}"),
                to: Some(points_topic),
                type_name: <PointCloud2 as reel_episode::ros2::RosMessage>::TYPE_NAME.into(),
                messages: revolutions,
                known_type: true,
                rewritten: false,
            },
            TopicReport {
                from: format!("UDP :{VELODYNE_DATA_PORT}"),
                to: Some(packets_topic),
                type_name: <VelodyneScan as reel_episode::ros2::RosMessage>::TYPE_NAME.into(),
                messages: revolutions,
                known_type: true,
                rewritten: false,
            },
        ];
        Ok((topics, losses, messages))
    })();
    match result {
        Ok((topics, losses, messages)) => {
            let episode = target.finish(writer)?;
            Ok(ImportReport {
                source: path.to_path_buf(),
                format,
                outcome: Outcome::Imported { episode },
                sha256,
                bytes,
                messages,
                topics,
                losses,
                unmatched_rules: Vec::new(),
                mapping_text: String::new(),
                seconds: started.elapsed().as_secs_f64(),
            })
        }
        Err(e) => {
            drop(writer);
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}
