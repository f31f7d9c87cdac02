//! Assembles the points of consecutive packets into one cloud per revolution.
//!
//! A revolution ends when the azimuth crosses `cut_azimuth` (default 0°,
//! straight ahead). Per-point time is kept relative to the revolution's first
//! firing, so lossless re-processing needs nothing but the cloud.

use reel_episode::ros2::sensor_msgs::PointCloud2;
use reel_episode::ros2::std_msgs::Header;

use super::protocol::{DataPacket, Point};

/// One full turn of the sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Revolution {
    /// Firing time of the first point, µs past the hour (sensor clock, unwrapped).
    pub start_us: f64,
    /// Points in firing order.
    pub points: Vec<Point>,
    /// Packets that contributed.
    pub packets: usize,
}

/// Packet-by-packet assembler.
#[derive(Debug)]
pub struct RevolutionAssembler {
    cut_azimuth: f32,
    current: Vec<Point>,
    packets: usize,
    last_azimuth: Option<f32>,
    hour_offset_us: f64,
    last_timestamp: Option<u32>,
}

/// Microseconds in an hour: the sensor's timestamp wraps there.
const HOUR_US: f64 = 3_600_000_000.0;

impl RevolutionAssembler {
    /// Cuts revolutions where the azimuth crosses `cut_azimuth_deg`.
    pub fn new(cut_azimuth_deg: f64) -> Self {
        Self {
            cut_azimuth: (cut_azimuth_deg.rem_euclid(360.0) * 100.0) as f32,
            current: Vec::new(),
            packets: 0,
            last_azimuth: None,
            hour_offset_us: 0.0,
            last_timestamp: None,
        }
    }

    /// Adds a packet; returns the revolutions it completed (usually none or one).
    pub fn push(&mut self, packet: &DataPacket) -> Vec<Revolution> {
        // Unwrap the µs-past-the-hour clock.
        if let Some(prev) = self.last_timestamp {
            if packet.timestamp_us < prev && prev - packet.timestamp_us > 1_800_000_000 {
                self.hour_offset_us += HOUR_US;
            }
        }
        self.last_timestamp = Some(packet.timestamp_us);
        let mut done = Vec::new();
        self.packets += 1;
        for mut p in packet.points() {
            p.time_us += self.hour_offset_us;
            if let Some(prev) = self.last_azimuth {
                let crossed = if prev <= p.azimuth {
                    prev < self.cut_azimuth && p.azimuth >= self.cut_azimuth
                } else {
                    // Wrapped through 360°.
                    p.azimuth >= self.cut_azimuth || prev < self.cut_azimuth
                };
                if crossed && !self.current.is_empty() {
                    done.push(self.take());
                }
            }
            self.last_azimuth = Some(p.azimuth);
            self.current.push(p);
        }
        done
    }

    fn take(&mut self) -> Revolution {
        let points = std::mem::take(&mut self.current);
        let start_us = points
            .iter()
            .map(|p| p.time_us)
            .fold(f64::INFINITY, f64::min);
        let packets = std::mem::replace(&mut self.packets, 1);
        Revolution {
            start_us,
            points,
            packets,
        }
    }

    /// First-firing time of the last packet pushed, µs on the sensor clock
    /// with the hour wrap unwrapped (the same time base as [`Revolution::start_us`]).
    pub fn last_packet_start_us(&self) -> Option<f64> {
        self.last_timestamp
            .map(|t| f64::from(t) + self.hour_offset_us)
    }

    /// The partial revolution collected so far (e.g. at the end of a recording).
    pub fn flush(&mut self) -> Option<Revolution> {
        (!self.current.is_empty()).then(|| {
            let r = self.take();
            self.packets = 0;
            r
        })
    }
}

impl Revolution {
    /// The cloud as the episode stores it: x, y, z, intensity (f32), ring
    /// (u16) and per-point time since `header.stamp` (f32 seconds), 24 bytes a
    /// point. `stamp_nanos` is the host-clock time of the first firing.
    pub fn to_point_cloud2(&self, stamp_nanos: u64, frame_id: &str) -> PointCloud2 {
        let mut data =
            Vec::with_capacity(self.points.len() * PointCloud2::LIDAR_POINT_STEP as usize);
        for p in &self.points {
            let t = ((p.time_us - self.start_us) * 1e-6) as f32;
            PointCloud2::push_lidar_point(&mut data, [p.x, p.y, p.z], p.intensity, p.ring, t);
        }
        PointCloud2::lidar(Header::new(stamp_nanos, frame_id), data)
    }
}
