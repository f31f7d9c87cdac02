//! A LiDAR's IMU loop: receives IMU packets on their own UDP port, decodes
//! them ([`ImuDecoder`]), maps the sensor clock onto the host clock
//! ([`ClockFit`]) and sends one `sensor_msgs/Imu` per sample. Refused
//! packets are counted by reason, as the LiDAR loop counts its own.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reel_episode::ros2::geometry_msgs::Vector3;
use reel_episode::ros2::sensor_msgs::Imu;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::time::host_now_nanos;

use super::sink::{Payload, Sink};
use crate::clock::ClockFit;
use crate::drivers::lidar::ImuDecoder;

/// Silence after which the IMU counts as lost.
const LOST_AFTER: Duration = Duration::from_millis(500);

/// One IMU's loop state.
pub struct ImuSession<'a> {
    /// `imu top`.
    pub device: String,
    /// The IMU's frame.
    pub frame_id: String,
    /// `/lidar/<name>/imu`.
    pub topic: usize,
    /// `/episode/events`.
    pub events: usize,
    /// The writer queue.
    pub sink: &'a Sink,
}

/// Runs until `stop`.
pub fn run(
    session: &ImuSession<'_>,
    socket: &UdpSocket,
    decoder: &mut dyn ImuDecoder,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let status = session.sink.status().clone();
    let mut clock = ClockFit::default();
    let mut buf = vec![0u8; 65_536];
    let mut last_host: Option<u64> = None;
    let mut lost = false;
    while !stop.load(Ordering::Relaxed) {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(last) = last_host {
                    if !lost && host_now_nanos() - last > LOST_AFTER.as_nanos() as u64 {
                        lost = true;
                        let reason = format!("no IMU packets for {} ms", LOST_AFTER.as_millis());
                        session.sink.device_lost(session.events, &reason, last);
                    }
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let host = host_now_nanos();
        status.packets_received.fetch_add(1, Ordering::Relaxed);
        lost = false;
        last_host = Some(host);
        session.sink.device_up(session.events, host);
        let samples = match decoder.push(&buf[..n]) {
            Ok(s) => s,
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
        for s in samples {
            // A sample leaves the sensor as soon as it is read.
            clock.push(s.time_nanos, host);
            let stamp = clock.to_host(s.time_nanos).unwrap_or(host);
            let v = |a: [f64; 3]| Vector3 {
                x: a[0],
                y: a[1],
                z: a[2],
            };
            let msg = Imu::new(
                Header::new(stamp, &session.frame_id),
                v(s.gyro_radps),
                v(s.accel_mps2),
            );
            session
                .sink
                .send(session.topic, host, stamp, Payload::Imu(Box::new(msg)));
        }
    }
    Ok(())
}
