//! An emulated VLP-16: real 1206-byte data packets (single return, strongest)
//! sent over UDP at the sensor's packet rate, from a known scene (a box room
//! with a pillar), with a device clock that is offset from and drifts
//! against the host clock, as a free-running sensor's does.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_episode::time::host_now_nanos;

use super::threads::DeviceThreads;
use crate::drivers::velodyne::protocol::{
    Block, DataPacket, ReturnMode, BLOCKS, CHANNELS_PER_BLOCK, DISTANCE_UNIT_M, ELEVATION_DEG,
    LASERS, LASER_PERIOD_US, PACKET_PERIOD_US, PRODUCT_VLP16, SEQUENCE_PERIOD_US,
};

/// Settings of an emulated sensor.
#[derive(Debug, Clone)]
pub struct Vlp16EmulatorConfig {
    /// Where to send data packets (the rig's lidar `address`).
    pub target: SocketAddr,
    /// Rotation speed.
    pub rpm: u32,
    /// Device clock ahead of the host clock, µs (before the hour wrap).
    pub clock_offset_us: i64,
    /// Device clock rate error, ppm.
    pub drift_ppm: f64,
}

impl Vlp16EmulatorConfig {
    /// Sends to `target` at `rpm`, with a 7.3 s offset and 25 ppm drift so
    /// the driver's clock mapping is exercised.
    pub fn new(target: SocketAddr, rpm: u32) -> Self {
        Self {
            target,
            rpm,
            clock_offset_us: 7_300_000,
            drift_ppm: 25.0,
        }
    }
}

/// Counters of an emulated sensor.
#[derive(Debug, Default)]
pub struct Vlp16EmulatorStats {
    /// Packets sent.
    pub packets: AtomicU64,
    /// Packets skipped because the sender fell behind (a stalled machine).
    pub skipped: AtomicU64,
}

/// The room the sensor sees, in the ROS sensor frame (x forward, y left).
#[derive(Debug, Clone, Copy)]
pub struct Scene {
    /// Room bounds: x min/max, y min/max, z min/max, metres.
    pub room: [f64; 6],
    /// Pillar centre (x, y) and radius.
    pub pillar: (f64, f64, f64),
}

impl Default for Scene {
    fn default() -> Self {
        Self {
            room: [-6.0, 4.0, -3.0, 5.0, -1.5, 2.5],
            pillar: (2.0, 1.0, 0.3),
        }
    }
}

impl Scene {
    /// Range and reflectivity along the unit ray `d` from the origin.
    pub fn hit(&self, d: [f64; 3]) -> (f64, u8) {
        let mut best = (f64::INFINITY, 0u8);
        for (axis, &component) in d.iter().enumerate() {
            if component.abs() < 1e-12 {
                continue;
            }
            let bound = if component > 0.0 {
                self.room[axis * 2 + 1]
            } else {
                self.room[axis * 2]
            };
            let t = bound / component;
            if t > 0.0 && t < best.0 {
                best = (t, if axis == 2 { 20 } else { 60 });
            }
        }
        // Vertical cylinder: |(t·dx − px, t·dy − py)| = r.
        let (px, py, r) = self.pillar;
        let a = d[0] * d[0] + d[1] * d[1];
        if a > 1e-12 {
            let b = -2.0 * (d[0] * px + d[1] * py);
            let c = px * px + py * py - r * r;
            let disc = b * b - 4.0 * a * c;
            if disc >= 0.0 {
                let t = (-b - disc.sqrt()) / (2.0 * a);
                if t > 0.0 && t < best.0 {
                    best = (t, 200);
                }
            }
        }
        best
    }
}

/// A running emulated sensor; stops when dropped.
#[derive(Debug)]
pub struct Vlp16Emulator {
    /// Held for its drop, which stops and joins the device's threads.
    _threads: DeviceThreads,
    stats: Arc<Vlp16EmulatorStats>,
    start_nanos: u64,
    config: Vlp16EmulatorConfig,
}

impl Vlp16Emulator {
    /// Starts sending.
    pub fn start(config: Vlp16EmulatorConfig) -> std::io::Result<Self> {
        let bind: SocketAddr = if config.target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(std::io::Error::other)?;
        let socket = UdpSocket::bind(bind)?;
        let stats = Arc::new(Vlp16EmulatorStats::default());
        let start_nanos = host_now_nanos();
        let mut threads = DeviceThreads::default();
        {
            let (stats, config) = (stats.clone(), config.clone());
            threads.spawn("emu-vlp16".into(), move |stop| {
                send_loop(&socket, &config, start_nanos, stop, &stats);
            })?;
        }
        Ok(Self {
            _threads: threads,
            stats,
            start_nanos,
            config,
        })
    }

    /// Counters.
    pub fn stats(&self) -> &Vlp16EmulatorStats {
        &self.stats
    }

    /// Host time at which the beam points at `azimuth_centideg` nearest to
    /// `near_nanos`: the ground truth of a revolution's start.
    pub fn true_time_of_azimuth(&self, azimuth_centideg: f64, near_nanos: u64) -> u64 {
        let period = 60e9 / f64::from(self.config.rpm);
        let base = self.start_nanos as f64 + azimuth_centideg / 36_000.0 * period;
        let k = ((near_nanos as f64 - base) / period).round();
        (base + k * period) as u64
    }

    /// Stops sending.
    pub fn stop(self) {
        drop(self);
    }
}

const HOUR_US: f64 = 3_600_000_000.0;

fn send_loop(
    socket: &UdpSocket,
    config: &Vlp16EmulatorConfig,
    start_nanos: u64,
    stop: &AtomicBool,
    stats: &Vlp16EmulatorStats,
) {
    let scene = Scene::default();
    let centideg_per_ns = f64::from(config.rpm) / 60.0 * 36_000.0 / 1e9;
    let azimuth_at = |t: f64| ((t - start_nanos as f64) * centideg_per_ns).rem_euclid(36_000.0);
    let device_us = |t: f64| -> u32 {
        let us = t / 1000.0 * (1.0 + config.drift_ppm * 1e-6) + config.clock_offset_us as f64;
        us.rem_euclid(HOUR_US) as u32
    };
    let packet_nanos = PACKET_PERIOD_US * 1000.0;
    // Unit ray per laser and azimuth (ROS frame), computed per firing.
    let ray = |laser: usize, az_centideg: f64| {
        let el = ELEVATION_DEG[laser].to_radians();
        let az = (az_centideg / 100.0).to_radians();
        [el.cos() * az.cos(), -el.cos() * az.sin(), el.sin()]
    };
    let mut k: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let first_firing = start_nanos as f64 + k as f64 * packet_nanos;
        // A packet leaves after its last firing.
        let due = (first_firing + packet_nanos) as u64;
        let now = host_now_nanos();
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now));
        } else if now - due > 100_000_000 {
            // Far behind (the machine stalled): skip to now, as a sensor
            // whose packets were lost would.
            let behind = ((now - due) as f64 / packet_nanos) as u64;
            stats.skipped.fetch_add(behind, Ordering::Relaxed);
            k += behind;
            continue;
        }
        let mut blocks = Vec::with_capacity(BLOCKS);
        for b in 0..BLOCKS {
            let block_time = first_firing + b as f64 * 2.0 * SEQUENCE_PERIOD_US * 1000.0;
            let mut distance = [0u16; CHANNELS_PER_BLOCK];
            let mut reflectivity = [0u8; CHANNELS_PER_BLOCK];
            for c in 0..CHANNELS_PER_BLOCK {
                let laser = c % LASERS;
                let t = block_time
                    + ((c / LASERS) as f64 * SEQUENCE_PERIOD_US + laser as f64 * LASER_PERIOD_US)
                        * 1000.0;
                let (range, refl) = scene.hit(ray(laser, azimuth_at(t)));
                if range.is_finite() && range < 100.0 {
                    distance[c] = (range / DISTANCE_UNIT_M).round() as u16;
                    reflectivity[c] = refl;
                }
            }
            blocks.push(Block {
                azimuth: azimuth_at(block_time).round().rem_euclid(36_000.0) as u16,
                distance,
                reflectivity,
            });
        }
        let packet = DataPacket {
            blocks,
            timestamp_us: device_us(first_firing),
            return_mode: ReturnMode::Strongest,
            product_id: PRODUCT_VLP16,
        };
        if socket.send_to(&packet.encode(), config.target).is_ok() {
            stats.packets.fetch_add(1, Ordering::Relaxed);
        }
        k += 1;
    }
}
