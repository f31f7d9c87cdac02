//! A LiDAR's session loop, for every family: receives data packets on UDP,
//! hands them to the family's [`LidarDecoder`], maps the sensor clock onto
//! the host clock ([`ClockFit`]) and sends one `PointCloud2` per scan to
//! the writer. Packets that give no points are counted by reason (the
//! writer records them as events); the sensor's identity, once the first
//! packets show it, goes back to the recorder's start, which refuses a
//! sensor that is not the rig's model. A silent sensor is reported as a
//! gap; the socket stays bound, so the sensor is back as soon as packets
//! arrive.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;
use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::velodyne_msgs::{VelodynePacket, VelodyneScan};
use reel_episode::time::host_now_nanos;

use super::sink::{Payload, Sink, LOST};
use crate::clock::ClockFit;
use crate::drivers::lidar::{Identity, LidarDecoder, Scan};

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

/// One LiDAR's loop state.
pub struct LidarSession<'a> {
    /// `lidar top`.
    pub device: String,
    /// Its clouds' frame.
    pub frame_id: String,
    /// Where its messages go.
    pub topics: LidarTopics,
    /// The writer queue.
    pub sink: &'a Sink,
    /// Told the sensor's identity once the first packets show it.
    pub identified: Sender<Identity>,
}

/// Runs until `stop`: receive, decode, stamp, send.
pub fn run(
    session: &LidarSession<'_>,
    socket: &UdpSocket,
    decoder: &mut dyn LidarDecoder,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let status = session.sink.status().clone();
    let mut stamper = Stamper::default();
    let mut buf = vec![0u8; 65_536];
    let mut last_packet_host: Option<u64> = None;
    let mut lost = false;
    let mut told = false;
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
                        let reason = format!(
                            "no packets on {} for {} ms",
                            socket
                                .local_addr()
                                .map(|a| a.to_string())
                                .unwrap_or_default(),
                            LOST_AFTER.as_millis()
                        );
                        session
                            .sink
                            .device_lost(session.topics.events, &reason, last);
                        // The scan so far is kept, as the vendors' decoders
                        // keep a capture's last partial scan.
                        for scan in decoder.finish() {
                            stamper.send(session, &scan, now);
                        }
                    }
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let host = host_now_nanos();
        status.packets_received.fetch_add(1, Ordering::Relaxed);
        lost = false;
        session.sink.device_up(session.topics.events, host);
        last_packet_host = Some(host);
        let result = decoder.push(&buf[..n], host);
        if !told && *decoder.identity() != Identity::Pending {
            told = true;
            tell_identity(session, decoder.identity());
        }
        let decoded = match result {
            Ok(d) => d,
            Err(rejection) => {
                status.lose(
                    rejection.reason,
                    rejection.packets,
                    rejection.detail.clone(),
                );
                status.error(format!("{}: {rejection}", session.device));
                continue;
            }
        };
        status.lose(
            LOST,
            decoded.lost_before,
            "a gap in the sensor's packet timestamps or sequence",
        );
        if let Some(device_nanos) = decoded.sent_device_nanos {
            stamper.clock.push(device_nanos, host);
            stamper.last = Some((device_nanos, host));
        }
        for scan in &decoded.scans {
            stamper.send(session, scan, host);
        }
    }
    for scan in decoder.finish() {
        stamper.send(session, &scan, host_now_nanos());
    }
    Ok(())
}

/// Passes the identity to the recorder's start; a refused sensor is also
/// an event.
fn tell_identity(session: &LidarSession<'_>, identity: &Identity) {
    let _ = session.identified.try_send(identity.clone());
    if let Identity::Mismatch(why) = identity {
        tracing::error!(device = %session.device, "{why}");
        let event = serde_json::json!({"event": "device_refused", "device": session.device,
            "reason": why});
        session.sink.event(session.topics.events, event.to_string());
    }
}

/// Sensor clock → host clock, and the messages of a scan.
#[derive(Default)]
struct Stamper {
    clock: ClockFit,
    /// The last packet's send time on the sensor clock and its arrival.
    last: Option<(u64, u64)>,
}

impl Stamper {
    /// The host time of `device_nanos`: the fitted clock, or before the fit
    /// has two buckets the last packet's arrival less the time between.
    fn to_host(&self, device_nanos: u64) -> Option<u64> {
        self.clock.to_host(device_nanos).or_else(|| {
            let (sent, arrived) = self.last?;
            Some(arrived.saturating_sub(sent.saturating_sub(device_nanos)))
        })
    }

    fn send(&self, session: &LidarSession<'_>, scan: &Scan, host: u64) {
        let stamp = self.to_host(scan.start_nanos).unwrap_or(host);
        let cloud = scan.to_point_cloud2(stamp, &session.frame_id);
        session
            .sink
            .send(session.topics.points, host, stamp, Payload::Cloud(cloud));
        if let Some(topic) = session.topics.packets {
            // Every packet is stored once, with the scan it belongs to;
            // not a sample of its own, so the device's rate counts clouds.
            let packets = scan
                .raw
                .iter()
                .map(|p| VelodynePacket {
                    stamp: Time::from_nanos(p.host_nanos),
                    data: p.data.clone(),
                })
                .collect();
            let msg = VelodyneScan {
                header: Header::new(stamp, &session.frame_id),
                packets,
            };
            session
                .sink
                .send_derived(topic, host, stamp, Payload::Scan(msg));
        }
    }
}
