//! A LiDAR's session loop: receives VLP-16 data packets on UDP, decodes
//! and assembles them into revolutions (`drivers::velodyne`), maps the
//! sensor clock onto the host clock ([`ClockFit`]) and hands one
//! `PointCloud2` per revolution to the writer. A silent sensor is reported as a gap; the
//! socket stays bound, so the sensor is back as soon as packets arrive.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::velodyne_msgs::{VelodynePacket, VelodyneScan};
use reel_episode::time::host_now_nanos;

use super::sink::{Payload, Sink};
use crate::clock::ClockFit;
use crate::drivers::velodyne::protocol::{DataPacket, PACKET_PERIOD_US};
use crate::drivers::velodyne::revolution::RevolutionAssembler;

/// Silence after which the sensor counts as lost.
const LOST_AFTER: Duration = Duration::from_millis(500);

/// Where a LiDAR's output goes.
#[derive(Debug, Clone)]
pub struct LidarTopics {
    /// `/lidar/<name>/points`.
    pub points: usize,
    /// `/lidar/<name>/packets` when raw packets are stored.
    pub packets: Option<usize>,
    /// `/episode/events`.
    pub events: usize,
}

/// Runs until `stop`: receive, assemble, stamp, send.
pub fn run(
    name: &str,
    address: SocketAddr,
    frame_id: &str,
    topics: &LidarTopics,
    sink: &Sink,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let socket = UdpSocket::bind(address).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("lidar {name}: cannot listen on {address}: {e}; is another recorder running?"),
        )
    })?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let status = sink.status().clone();
    let mut assembler = RevolutionAssembler::new(0.0);
    let mut clock = ClockFit::default();
    let mut buf = [0u8; 2048];
    let mut last_packet_host: Option<u64> = None;
    let mut last_device_us: Option<f64> = None;
    let mut lost = false;
    // Raw packets of the revolution being assembled (when stored).
    let mut raw: Vec<VelodynePacket> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                let now = host_now_nanos();
                if let Some(last) = last_packet_host {
                    if !lost && now - last > LOST_AFTER.as_nanos() as u64 {
                        lost = true;
                        let reason =
                            format!("no packets on {address} for {} ms", LOST_AFTER.as_millis());
                        sink.device_lost(topics.events, &reason, last);
                        // The partial revolution is not a full turn: drop it.
                        let _ = assembler.flush();
                        raw.clear();
                    }
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let host = host_now_nanos();
        let packet = match DataPacket::parse(&buf[..n]) {
            Ok(p) => p,
            Err(e) => {
                status.error(format!("lidar {name}: {e}"));
                continue;
            }
        };
        lost = false;
        sink.device_up(topics.events, host);
        last_packet_host = Some(host);
        if topics.packets.is_some() {
            raw.push(VelodynePacket {
                stamp: Time::from_nanos(host),
                data: buf[..n].to_vec(),
            });
        }
        let revolutions = assembler.push(&packet);
        let Some(device_us) = assembler.last_packet_start_us() else {
            continue;
        };
        if let Some(prev) = last_device_us {
            // Packets are 1327 µs apart; a longer step means packets were lost.
            let missing = ((device_us - prev) / PACKET_PERIOD_US).round() as i64 - 1;
            if missing > 0 {
                status.errors.fetch_add(missing as u64, Ordering::Relaxed);
            }
        }
        last_device_us = Some(device_us);
        // The packet leaves the sensor after its last firing: one packet
        // period after its timestamp.
        let device_nanos = (device_us * 1000.0) as u64;
        clock.push(
            device_nanos,
            host.saturating_sub((PACKET_PERIOD_US * 1000.0) as u64),
        );
        for rev in revolutions {
            let Some(stamp) = clock.to_host((rev.start_us * 1000.0) as u64) else {
                continue;
            };
            let cloud = rev.to_point_cloud2(stamp, frame_id);
            sink.send(topics.points, host, stamp, Payload::Cloud(cloud));
            if let Some(topic) = topics.packets {
                // Every packet is stored once: a scan ends with the packet
                // that completed its revolution.
                let scan = VelodyneScan {
                    header: Header::new(stamp, frame_id),
                    packets: std::mem::take(&mut raw),
                };
                sink.send(topic, host, stamp, Payload::Scan(scan));
            }
        }
    }
    Ok(())
}
