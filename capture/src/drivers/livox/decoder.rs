//! The Livox family behind [`LidarDecoder`]: a non-repetitive scanner has
//! no revolution, so its stream is cut into scans by sensor time, one per
//! `1/rate` window aligned to whole multiples of the window (as
//! livox_ros_driver2 publishes synchronised frames). Lost packets are
//! counted from gaps in the packet timestamps; points with no return
//! (0, 0, 0) are not kept.

use super::protocol::{DataType, Model, Packet};
use crate::drivers::lidar::scan::{
    Decoded, Identity, ImuDecoder, ImuSample, LidarDecoder, LidarPoint, Rejection, Scan,
};

/// Decodes one Livox sensor's point cloud packets.
#[derive(Debug)]
pub struct LivoxDecoder {
    model: Model,
    window_nanos: u64,
    identity: Identity,
    /// The scan being collected: its window index, points, packets.
    current: Option<(u64, Vec<LidarPoint>, usize)>,
    /// The last packet's first-point time and length (ns).
    last: Option<(u64, u64)>,
}

impl LivoxDecoder {
    /// A decoder for `model` cutting `scans_per_second` scans a second.
    pub fn new(model: Model, scans_per_second: f64) -> Self {
        Self {
            model,
            window_nanos: (1e9 / scans_per_second.max(0.1)) as u64,
            identity: Identity::Pending,
            current: None,
            last: None,
        }
    }

    fn take(&mut self) -> Option<Scan> {
        let (_, points, packets) = self.current.take()?;
        Some(Scan::new(points, packets))
    }
}

impl LidarDecoder for LivoxDecoder {
    fn model_name(&self) -> String {
        self.model.name().to_string()
    }

    fn push(&mut self, payload: &[u8], _host_nanos: u64) -> Result<Decoded, Rejection> {
        let packet = Packet::parse(payload).map_err(|e| Rejection::new(e.reason, e.detail))?;
        if packet.data_type == DataType::Imu {
            return Err(Rejection::new(
                "imu_on_point_port",
                "an IMU packet on the point cloud port; give the IMU its own port (imu_address)",
            ));
        }
        // A data packet does not say which model sent it: its layout is
        // all there is to check.
        if self.identity == Identity::Pending {
            self.identity = Identity::Confirmed(self.model.name().to_string());
        }
        let t = packet.timestamp_nanos;
        let length = packet.period_nanos();
        let mut out = Decoded::default();
        if let Some((prev, prev_len)) = self.last {
            if t > prev && prev_len > 0 {
                let steps = ((t - prev) as f64 / prev_len as f64).round() as u64;
                // A jump of more than a second is a restart or a resync.
                if steps < 1_000_000_000 / prev_len.max(1) {
                    out.lost_before = steps.saturating_sub(1);
                }
            }
        }
        self.last = Some((t, length));
        let window = t / self.window_nanos;
        if self.current.as_ref().is_some_and(|c| c.0 != window) {
            out.scans.extend(self.take());
        }
        let lines = self.model.lines();
        let current = self.current.get_or_insert((window, Vec::new(), 0));
        current.2 += 1;
        for (i, p) in packet.points.iter().enumerate() {
            if p.xyz == [0.0; 3] {
                continue;
            }
            current.1.push(LidarPoint {
                x: p.xyz[0] as f32,
                y: p.xyz[1] as f32,
                z: p.xyz[2] as f32,
                intensity: f32::from(p.reflectivity),
                ring: (i % lines) as u16,
                time_nanos: packet.point_time(i),
                return_type: 0,
            });
        }
        out.sent_device_nanos = Some(t + length);
        Ok(out)
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn finish(&mut self) -> Vec<Scan> {
        self.take().into_iter().collect()
    }
}

/// Decodes a Livox's IMU packets: gyro in rad/s, acceleration in g
/// (made m/s²).
#[derive(Debug, Default)]
pub struct LivoxImuDecoder;

impl ImuDecoder for LivoxImuDecoder {
    fn push(&mut self, payload: &[u8]) -> Result<Vec<ImuSample>, Rejection> {
        let packet = Packet::parse(payload).map_err(|e| Rejection::new(e.reason, e.detail))?;
        let Some(imu) = packet.imu else {
            return Err(Rejection::new(
                "points_on_imu_port",
                "a point cloud packet on the IMU port",
            ));
        };
        Ok(vec![ImuSample {
            time_nanos: packet.timestamp_nanos,
            accel_mps2: imu.accel_g.map(|a| f64::from(a) * 9.806_65),
            gyro_radps: imu.gyro.map(f64::from),
        }])
    }
}
