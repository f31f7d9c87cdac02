//! An emulated Ouster: lidar packets in the metadata's profile (LEGACY,
//! RNG19 single or dual return) sent over UDP column by column at the
//! sensor's rate (columns_per_frame × frames per second), with LEGACY IMU
//! packets at 100 Hz on their own port, from the room every emulated LiDAR
//! sees ([`Scene`]). Each beam's ray is the one ouster-sdk's XYZ table
//! gives, so the driver recovers the scene's surfaces exactly. The sensor
//! clock counts ns from an emulated power-on.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_episode::time::host_now_nanos;

pub use super::lidar_scene::Scene;
use super::threads::DeviceThreads;
use crate::drivers::ouster::metadata::{Profile, SensorInfo};
use crate::drivers::ouster::packet::{Column, ImuPacket, Layout, LidarPacket, Return};
use crate::drivers::ouster::xyz::XyzLut;

/// Settings of an emulated Ouster.
#[derive(Debug, Clone)]
pub struct OusterEmulatorConfig {
    /// Where lidar packets go (the rig's `address`).
    pub target: SocketAddr,
    /// Where IMU packets go (the rig's `imu_address`), if anywhere.
    pub imu_target: Option<SocketAddr>,
    /// The sensor, as its metadata describes it.
    pub info: SensorInfo,
    /// Sensor clock at the emulator's start (time since power-on), ns.
    pub clock_start_nanos: u64,
}

/// Counters of an emulated Ouster.
#[derive(Debug, Default)]
pub struct OusterEmulatorStats {
    /// Lidar packets sent.
    pub packets: AtomicU64,
    /// IMU packets sent.
    pub imu_packets: AtomicU64,
    /// Packets skipped because the sender fell behind.
    pub skipped: AtomicU64,
}

/// A running emulated Ouster; stops when dropped.
#[derive(Debug)]
pub struct OusterEmulator {
    /// Held for its drop, which stops and joins the threads.
    _threads: DeviceThreads,
    stats: Arc<OusterEmulatorStats>,
}

/// IMU packets per second.
const IMU_RATE_HZ: u64 = 100;

impl OusterEmulator {
    /// Starts sending.
    pub fn start(config: OusterEmulatorConfig) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(if config.target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        })?;
        let stats = Arc::new(OusterEmulatorStats::default());
        let start = host_now_nanos();
        let mut threads = DeviceThreads::default();
        {
            let (stats, config) = (stats.clone(), config.clone());
            let socket = socket.try_clone()?;
            threads.spawn("emu-ouster".into(), move |stop| {
                lidar_loop(&socket, &config, start, stop, &stats);
            })?;
        }
        if let Some(target) = config.imu_target {
            let stats = stats.clone();
            let clock = config.clock_start_nanos;
            threads.spawn("emu-ouster-imu".into(), move |stop| {
                imu_loop(&socket, target, start, clock, stop, &stats);
            })?;
        }
        Ok(Self {
            _threads: threads,
            stats,
        })
    }

    /// Counters.
    pub fn stats(&self) -> &OusterEmulatorStats {
        &self.stats
    }
}

/// Sleeps until host time `due`; false (and the packets to skip counted)
/// when far behind.
fn wait_until(due: u64) -> bool {
    let now = host_now_nanos();
    if due > now {
        std::thread::sleep(Duration::from_nanos(due - now));
        true
    } else {
        now - due < 100_000_000
    }
}

fn lidar_loop(
    socket: &UdpSocket,
    config: &OusterEmulatorConfig,
    start: u64,
    stop: &AtomicBool,
    stats: &OusterEmulatorStats,
) {
    let info = &config.info;
    let lut = XyzLut::new(info);
    let layout = Layout::of(info);
    let w = u64::from(info.columns_per_frame);
    let column_nanos = 1e9 / (w as f64 * f64::from(info.frames_per_second));
    let (first, last) = info.column_window;
    let window = (u64::from(last) + w - u64::from(first)) % w + 1;
    let per_frame = window.div_ceil(u64::from(info.columns_per_packet));
    let mut k: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let (frame, slot) = (k / per_frame, k % per_frame);
        let first_mid = (u64::from(first) + slot * u64::from(info.columns_per_packet)) % w;
        let first_column = (frame * w + (first_mid + w - u64::from(first)) % w) as f64;
        let sent =
            start + ((first_column + f64::from(info.columns_per_packet)) * column_nanos) as u64;
        if !wait_until(sent) {
            let behind = ((host_now_nanos() - sent) as f64 / column_nanos) as u64
                / u64::from(info.columns_per_packet);
            stats.skipped.fetch_add(behind, Ordering::Relaxed);
            k += behind.max(1);
            continue;
        }
        let packet = packet_at(config, &lut, frame as u16, first_mid as u16, |c| {
            config.clock_start_nanos + ((first_column + c as f64) * column_nanos) as u64
        });
        if socket
            .send_to(&packet.encode(&layout), config.target)
            .is_ok()
        {
            stats.packets.fetch_add(1, Ordering::Relaxed);
        }
        k += 1;
    }
}

/// The packet of frame `frame` whose first column is `first_mid`; column
/// `c` of it is measured at `time(c)` on the sensor clock.
pub fn packet_at(
    config: &OusterEmulatorConfig,
    lut: &XyzLut,
    frame: u16,
    first_mid: u16,
    time: impl Fn(usize) -> u64,
) -> LidarPacket {
    let info = &config.info;
    let scene = Scene::default();
    let dual = info.profile == Profile::Dual;
    // Longest range each profile carries, mm (20 or 19 bits).
    let max_mm = if info.profile == Profile::Legacy {
        0x000F_FFFF
    } else {
        0x0007_FFFF
    };
    let columns = (0..usize::from(info.columns_per_packet))
        .map(|c| {
            let mid = (usize::from(first_mid) + c) % usize::from(info.columns_per_frame);
            let pixels = (0..usize::from(info.pixels_per_column))
                .map(|row| {
                    let (origin, direction) = lut.ray(row, mid);
                    let hit = scene.returns(origin, direction);
                    let ret = |(range, reflectivity): (f64, u8)| {
                        let mm = (range * 1e3).round();
                        if range.is_finite() && mm >= 1.0 && mm <= f64::from(max_mm) {
                            Return {
                                range_mm: mm as u32,
                                reflectivity,
                            }
                        } else {
                            Return::default()
                        }
                    };
                    let first = ret(hit.strongest);
                    let second = if dual && hit.last != hit.strongest {
                        ret(hit.last)
                    } else {
                        Return::default()
                    };
                    [first, second]
                })
                .collect();
            Column {
                timestamp_nanos: time(c),
                measurement_id: mid as u16,
                valid: true,
                pixels,
            }
        })
        .collect();
    LidarPacket {
        frame_id: frame,
        init_id: info.init_id,
        prod_sn: info.prod_sn,
        columns,
    }
}

fn imu_loop(
    socket: &UdpSocket,
    target: SocketAddr,
    start: u64,
    clock_start: u64,
    stop: &AtomicBool,
    stats: &OusterEmulatorStats,
) {
    let period = 1_000_000_000 / IMU_RATE_HZ;
    let mut k: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let at = start + k * period;
        if !wait_until(at) {
            k += (host_now_nanos() - at) / period;
            continue;
        }
        // At rest, level: gravity along the IMU's z, no rotation.
        let t = clock_start + k * period;
        let packet = ImuPacket {
            sys_nanos: t,
            accel_nanos: t,
            gyro_nanos: t,
            accel_g: [0.0, 0.0, 1.0],
            gyro_dps: [0.0; 3],
        };
        if socket.send_to(&packet.encode(), target).is_ok() {
            stats.imu_packets.fetch_add(1, Ordering::Relaxed);
        }
        k += 1;
    }
}
