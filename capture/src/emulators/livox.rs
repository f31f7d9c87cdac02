//! An emulated Livox (Mid-360, HAP): SDK2 point cloud packets of 96
//! Cartesian high-precision points at the model's point rate, over its
//! field of view in a non-repetitive pattern (a low-discrepancy sequence,
//! so the room fills in over time as a real Livox scan does), and IMU
//! packets at 200 Hz on their own port, from the room every emulated LiDAR
//! sees ([`Scene`]). The sensor clock counts ns from an emulated power-on
//! (time type 0, unsynchronised).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_episode::time::host_now_nanos;

pub use super::lidar_scene::Scene;
use super::threads::DeviceThreads;
use crate::drivers::livox::protocol::{DataType, ImuRaw, Model, Packet, RawPoint};

/// Points per packet.
pub const POINTS_PER_PACKET: usize = 96;

/// Settings of an emulated Livox.
#[derive(Debug, Clone)]
pub struct LivoxEmulatorConfig {
    /// Which sensor.
    pub model: Model,
    /// Where point packets go (the rig's `address`).
    pub target: SocketAddr,
    /// Where IMU packets go (the rig's `imu_address`), if anywhere.
    pub imu_target: Option<SocketAddr>,
    /// Sensor clock at the emulator's start, ns.
    pub clock_start_nanos: u64,
    /// Send from this address and the model's own data ports, as the
    /// sensor does (Livox-SDK2 takes a lidar's data only from there);
    /// `None`: from any free port.
    pub source_ip: Option<IpAddr>,
}

/// Counters of an emulated Livox.
#[derive(Debug, Default)]
pub struct LivoxEmulatorStats {
    /// Point packets sent.
    pub packets: AtomicU64,
    /// IMU packets sent.
    pub imu_packets: AtomicU64,
}

/// A running emulated Livox; stops when dropped.
#[derive(Debug)]
pub struct LivoxEmulator {
    /// Held for its drop, which stops and joins the threads.
    _threads: DeviceThreads,
    stats: Arc<LivoxEmulatorStats>,
}

impl LivoxEmulator {
    /// Starts sending.
    pub fn start(config: LivoxEmulatorConfig) -> std::io::Result<Self> {
        let (point_port, imu_port) = config.model.data_ports();
        let bind = |port: u16| match config.source_ip {
            Some(ip) => UdpSocket::bind(SocketAddr::new(ip, port)),
            None if config.target.is_ipv4() => UdpSocket::bind("0.0.0.0:0"),
            None => UdpSocket::bind("[::]:0"),
        };
        let socket = bind(point_port)?;
        let imu_socket = match config.imu_target {
            Some(_) => Some(bind(imu_port)?),
            None => None,
        };
        let stats = Arc::new(LivoxEmulatorStats::default());
        let start = host_now_nanos();
        let mut threads = DeviceThreads::default();
        {
            let (stats, config) = (stats.clone(), config.clone());
            threads.spawn("emu-livox".into(), move |stop| {
                points_loop(&socket, &config, start, stop, &stats);
            })?;
        }
        if let (Some(target), Some(socket)) = (config.imu_target, imu_socket) {
            let (stats, clock) = (stats.clone(), config.clock_start_nanos);
            threads.spawn("emu-livox-imu".into(), move |stop| {
                imu_loop(&socket, target, start, clock, stop, &stats);
            })?;
        }
        Ok(Self {
            _threads: threads,
            stats,
        })
    }

    /// Counters.
    pub fn stats(&self) -> &LivoxEmulatorStats {
        &self.stats
    }

    /// Stops sending (threads joined); the final counters.
    pub fn stop(self) -> Arc<LivoxEmulatorStats> {
        let Self { _threads, stats } = self;
        drop(_threads);
        stats
    }
}

/// The direction of point `j` of the pattern: azimuth and elevation, rad.
fn direction(model: Model, j: u64) -> (f64, f64) {
    // R2 sequence (plastic number): evenly spread, never repeating.
    let (a1, a2) = (0.754_877_666_246_692_7, 0.569_840_290_998_053_2);
    let (u, v) = ((j as f64 * a1).fract(), (j as f64 * a2).fract());
    let (azimuth, elevation) = match model {
        Model::Mid360 => (u * 360.0, -7.0 + 59.0 * v),
        Model::Hap => (-60.0 + 120.0 * u, -12.5 + 25.0 * v),
    };
    (azimuth.to_radians(), elevation.to_radians())
}

/// Packet `k` of the stream, its first point at sensor time `t`.
pub fn packet_at(model: Model, k: u64, t: u64, point_nanos: u64) -> Packet {
    let scene = Scene::default();
    let points = (0..POINTS_PER_PACKET as u64)
        .map(|i| {
            let (az, el) = direction(model, k * POINTS_PER_PACKET as u64 + i);
            let ray = [el.cos() * az.cos(), el.cos() * az.sin(), el.sin()];
            let (range, reflectivity) = scene.hit(ray);
            if range.is_finite() && range < 100.0 {
                RawPoint {
                    xyz: ray.map(|d| d * range),
                    reflectivity,
                    tag: 0,
                }
            } else {
                RawPoint {
                    xyz: [0.0; 3],
                    reflectivity: 0,
                    tag: 0,
                }
            }
        })
        .collect();
    Packet {
        // From the first point to the last, as the sensor counts it.
        time_interval: ((POINTS_PER_PACKET as u64 - 1) * point_nanos / 100) as u16,
        udp_cnt: k as u16,
        frame_cnt: 0,
        data_type: DataType::CartesianHigh,
        time_type: 0,
        timestamp_nanos: t,
        points,
        imu: None,
    }
}

fn points_loop(
    socket: &UdpSocket,
    config: &LivoxEmulatorConfig,
    start: u64,
    stop: &AtomicBool,
    stats: &LivoxEmulatorStats,
) {
    let point_nanos = 1_000_000_000 / u64::from(config.model.points_per_second());
    let packet_nanos = point_nanos * POINTS_PER_PACKET as u64;
    let mut k: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        // A packet leaves after its last point.
        let due = start + (k + 1) * packet_nanos;
        let now = host_now_nanos();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now));
        } else if now - due > 100_000_000 {
            k += (now - due) / packet_nanos;
            continue;
        }
        let packet = packet_at(
            config.model,
            k,
            config.clock_start_nanos + k * packet_nanos,
            point_nanos,
        );
        if socket.send_to(&packet.encode(), config.target).is_ok() {
            stats.packets.fetch_add(1, Ordering::Relaxed);
        }
        k += 1;
    }
}

fn imu_loop(
    socket: &UdpSocket,
    target: SocketAddr,
    start: u64,
    clock_start: u64,
    stop: &AtomicBool,
    stats: &LivoxEmulatorStats,
) {
    let period: u64 = 5_000_000; // 200 Hz
    let mut k: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let due = start + k * period;
        let now = host_now_nanos();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now));
        } else if now - due > 100_000_000 {
            k += (now - due) / period;
            continue;
        }
        // At rest, level: gravity along z, no rotation.
        let packet = Packet {
            time_interval: 0,
            udp_cnt: k as u16,
            frame_cnt: 0,
            data_type: DataType::Imu,
            time_type: 0,
            timestamp_nanos: clock_start + k * period,
            points: Vec::new(),
            imu: Some(ImuRaw {
                gyro: [0.0; 3],
                accel_g: [0.0, 0.0, 1.0],
            }),
        };
        if socket.send_to(&packet.encode(), target).is_ok() {
            stats.imu_packets.fetch_add(1, Ordering::Relaxed);
        }
        k += 1;
    }
}
