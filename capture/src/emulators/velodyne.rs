//! An emulated Velodyne (VLP-16, Puck Hi-Res, VLP-32C, HDL-32E): real
//! 1206-byte data packets in strongest, last or dual-return mode, sent over
//! UDP at the model's packet rate with its firing timing and beam geometry,
//! from a known scene ([`Scene`]), with a device clock that is offset from
//! and drifts against the host clock, as a free-running sensor's does.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_episode::time::host_now_nanos;

pub use super::lidar_scene::Scene;
use super::threads::DeviceThreads;
use crate::drivers::velodyne::protocol::{
    Block, DataPacket, Model, ReturnMode, BLOCKS, CHANNELS_PER_BLOCK,
};

/// Settings of an emulated sensor.
#[derive(Debug, Clone)]
pub struct VelodyneEmulatorConfig {
    /// Where to send data packets (the rig's lidar `address`).
    pub target: SocketAddr,
    /// Which sensor.
    pub model: Model,
    /// How it reports returns.
    pub return_mode: ReturnMode,
    /// Rotation speed.
    pub rpm: u32,
    /// Device clock ahead of the host clock, µs (before the hour wrap).
    pub clock_offset_us: i64,
    /// Device clock rate error, ppm.
    pub drift_ppm: f64,
}

impl VelodyneEmulatorConfig {
    /// A VLP-16 in strongest-return mode sending to `target` at `rpm`,
    /// with a 7.3 s offset and 25 ppm drift so the driver's clock mapping
    /// is exercised.
    pub fn new(target: SocketAddr, rpm: u32) -> Self {
        Self {
            target,
            model: Model::Vlp16,
            return_mode: ReturnMode::Strongest,
            rpm,
            clock_offset_us: 7_300_000,
            drift_ppm: 25.0,
        }
    }
}

/// Counters of an emulated sensor.
#[derive(Debug, Default)]
pub struct VelodyneEmulatorStats {
    /// Packets sent.
    pub packets: AtomicU64,
    /// Packets skipped because the sender fell behind (a stalled machine).
    pub skipped: AtomicU64,
}

/// A running emulated sensor; stops when dropped.
#[derive(Debug)]
pub struct VelodyneEmulator {
    /// Held for its drop, which stops and joins the device's threads.
    _threads: DeviceThreads,
    stats: Arc<VelodyneEmulatorStats>,
    start_nanos: u64,
    config: VelodyneEmulatorConfig,
}

impl VelodyneEmulator {
    /// Starts sending.
    pub fn start(config: VelodyneEmulatorConfig) -> std::io::Result<Self> {
        let bind: SocketAddr = if config.target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(std::io::Error::other)?;
        let socket = UdpSocket::bind(bind)?;
        let stats = Arc::new(VelodyneEmulatorStats::default());
        let start_nanos = host_now_nanos();
        let mut threads = DeviceThreads::default();
        {
            let (stats, config) = (stats.clone(), config.clone());
            threads.spawn("emu-velodyne".into(), move |stop| {
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
    pub fn stats(&self) -> &VelodyneEmulatorStats {
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
    config: &VelodyneEmulatorConfig,
    start_nanos: u64,
    stop: &AtomicBool,
    stats: &VelodyneEmulatorStats,
) {
    let dual = config.return_mode == ReturnMode::Dual;
    let packet_nanos = config.model.packet_period_us(dual) * 1000.0;
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
        let packet = packet_at(config, start_nanos, first_firing);
        if socket.send_to(&packet.encode(), config.target).is_ok() {
            stats.packets.fetch_add(1, Ordering::Relaxed);
        }
        k += 1;
    }
}

/// The packet whose first firing is at host time `first_firing` (ns).
pub fn packet_at(
    config: &VelodyneEmulatorConfig,
    start_nanos: u64,
    first_firing: f64,
) -> DataPacket {
    let scene = Scene::default();
    let model = config.model;
    let dual = config.return_mode == ReturnMode::Dual;
    let centideg_per_ns = f64::from(config.rpm) / 60.0 * 36_000.0 / 1e9;
    let azimuth_at = |t: f64| ((t - start_nanos as f64) * centideg_per_ns).rem_euclid(36_000.0);
    let device_us = |t: f64| -> u32 {
        let us = t / 1000.0 * (1.0 + config.drift_ppm * 1e-6) + config.clock_offset_us as f64;
        us.rem_euclid(HOUR_US) as u32
    };
    let unit = model.distance_unit_m();
    let mut blocks = Vec::with_capacity(BLOCKS);
    for b in 0..BLOCKS {
        // In dual-return mode block pair k fires as single block k: even
        // blocks carry the last return, odd ones the strongest.
        let (fired, last_of_pair) = if dual {
            (b / 2, b % 2 == 0)
        } else {
            (b, false)
        };
        let block_time = first_firing + model.firing_offset_us(fired, 0) * 1000.0;
        let mut distance = [0u16; CHANNELS_PER_BLOCK];
        let mut reflectivity = [0u8; CHANNELS_PER_BLOCK];
        for (c, (d, r)) in distance.iter_mut().zip(&mut reflectivity).enumerate() {
            let laser = c % model.lasers();
            let t = first_firing + model.firing_offset_us(fired, c) * 1000.0;
            // The decoder subtracts the laser's rotation correction from
            // the firing azimuth; the beam points there.
            let az = (azimuth_at(t) / 100.0 - model.rotation_correction_deg(laser)).to_radians();
            let el = model.elevation_deg(laser).to_radians();
            let ray = [el.cos() * az.cos(), -el.cos() * az.sin(), el.sin()];
            let returns = scene.returns([0.0, 0.0, model.vertical_offset_m(laser)], ray);
            let (range, refl) = match config.return_mode {
                ReturnMode::Last => returns.last,
                ReturnMode::Dual if last_of_pair => returns.last,
                _ => returns.strongest,
            };
            if range.is_finite() && range < 100.0 {
                *d = (range / unit).round() as u16;
                *r = refl;
            }
        }
        blocks.push(Block {
            azimuth: azimuth_at(block_time).round().rem_euclid(36_000.0) as u16,
            distance,
            reflectivity,
        });
    }
    DataPacket {
        blocks,
        timestamp_us: device_us(first_firing),
        return_mode: config.return_mode,
        product_id: model.product_id(),
    }
}
