//! The Ouster family behind [`LidarDecoder`]: checks each packet against
//! the sensor's metadata (layout, serial number), groups packets into
//! frames by frame id as ouster-sdk's batcher does, counts packets that
//! never arrived from gaps in the frame and measurement ids, and turns
//! every valid column's returns into points.

use super::metadata::SensorInfo;
use super::packet::{ImuPacket, Layout, LidarPacket};
use super::xyz::XyzLut;
use crate::drivers::lidar::scan::{
    Decoded, Identity, ImuDecoder, ImuSample, LidarDecoder, LidarPoint, Rejection, Scan,
};

/// Decodes one Ouster sensor's lidar packets.
#[derive(Debug)]
pub struct OusterDecoder {
    info: SensorInfo,
    layout: Layout,
    lut: XyzLut,
    identity: Identity,
    /// The frame being collected: its id, points and packets.
    frame: Option<(u16, Vec<LidarPoint>, usize)>,
    /// Where the last packet ended: (frame id, measurement id of its last
    /// column).
    last: Option<(u16, u16)>,
    /// A sensor restart (another init id) has been logged.
    restart_noted: bool,
}

impl OusterDecoder {
    /// A decoder for the sensor `info` describes.
    pub fn new(info: SensorInfo) -> Self {
        Self {
            layout: Layout::of(&info),
            lut: XyzLut::new(&info),
            identity: Identity::Pending,
            frame: None,
            last: None,
            restart_noted: false,
            info,
        }
    }

    /// Packets of one frame that fall in the column window.
    fn packets_per_frame(&self) -> u64 {
        let (a, b) = self.info.column_window;
        let w = u32::from(self.info.columns_per_frame);
        let window = (u32::from(b) + w - u32::from(a)) % w + 1;
        u64::from(window.div_ceil(u32::from(self.info.columns_per_packet)))
    }

    /// Packets missing between the last packet and `packet`.
    fn lost_before(&self, packet: &LidarPacket) -> u64 {
        let Some((frame, last_mid)) = self.last else {
            return 0;
        };
        let cpp = u64::from(self.info.columns_per_packet);
        let per_frame = self.packets_per_frame();
        let first_mid = packet.columns.first().map_or(0, |c| c.measurement_id);
        // Packet index within its frame, counted from the window's start.
        let start = u64::from(self.info.column_window.0);
        let w = u64::from(self.info.columns_per_frame);
        let index = |mid: u16| ((u64::from(mid) + w - start) % w) / cpp;
        let frames = u64::from(packet.frame_id.wrapping_sub(frame));
        // A jump back or of more than a few seconds is a restart, not a loss.
        if frames > 100 {
            return 0;
        }
        let expected = frames * per_frame + index(first_mid);
        let got = index(last_mid) + 1;
        expected.saturating_sub(got)
    }

    fn points(&self, packet: &LidarPacket) -> Vec<LidarPoint> {
        let h = self.layout.pixels;
        let dual = self.info.profile == super::metadata::Profile::Dual;
        let mut out = Vec::new();
        for column in packet.columns.iter().filter(|c| c.valid) {
            let col = usize::from(column.measurement_id);
            for (row, returns) in column.pixels.iter().enumerate() {
                for (k, r) in returns.iter().enumerate().take(if dual { 2 } else { 1 }) {
                    if r.range_mm == 0 {
                        continue;
                    }
                    let p = self.lut.point(row, col, r.range_mm);
                    out.push(LidarPoint {
                        x: p[0] as f32,
                        y: p[1] as f32,
                        z: p[2] as f32,
                        intensity: f32::from(r.reflectivity),
                        // Ouster numbers beams from the top; reel's rings
                        // count from the lowest.
                        ring: (h - 1 - row) as u16,
                        time_nanos: column.timestamp_nanos,
                        return_type: k as u8 + 1,
                    });
                }
            }
        }
        out
    }

    fn take_frame(&mut self) -> Option<Scan> {
        let (_, points, packets) = self.frame.take()?;
        Some(Scan::new(points, packets))
    }
}

impl LidarDecoder for OusterDecoder {
    fn model_name(&self) -> String {
        self.info.prod_line.clone()
    }

    fn push(&mut self, payload: &[u8], _host_nanos: u64) -> Result<Decoded, Rejection> {
        if let Identity::Mismatch(why) = &self.identity {
            return Err(Rejection::new("wrong_sensor", why.clone()));
        }
        let packet = LidarPacket::parse(payload, &self.layout, self.info.columns_per_frame)
            .map_err(|e| Rejection::new(e.reason, e.detail))?;
        if self.info.prod_sn != 0 && packet.prod_sn != 0 && packet.prod_sn != self.info.prod_sn {
            self.identity = Identity::Mismatch(format!(
                "packets are from the Ouster with serial number {}, the metadata is {}'s; fetch this sensor's metadata",
                packet.prod_sn, self.info.prod_sn
            ));
            let Identity::Mismatch(why) = &self.identity else {
                unreachable!()
            };
            return Err(Rejection::new("wrong_sensor", why.clone()));
        }
        if self.identity == Identity::Pending {
            self.identity = Identity::Confirmed(self.info.prod_line.clone());
        }
        if self.info.init_id != 0 && packet.init_id != self.info.init_id && !self.restart_noted {
            self.restart_noted = true;
            tracing::warn!(
                "Ouster {}: packets carry init id {}, the metadata {}: the sensor restarted since its metadata was saved",
                self.info.prod_sn,
                packet.init_id,
                self.info.init_id
            );
        }
        let mut out = Decoded {
            lost_before: self.lost_before(&packet),
            ..Decoded::default()
        };
        if self.frame.as_ref().is_some_and(|f| f.0 != packet.frame_id) {
            out.scans.extend(self.take_frame());
        }
        let points = self.points(&packet);
        let frame = self.frame.get_or_insert((packet.frame_id, Vec::new(), 0));
        frame.1.extend(points);
        frame.2 += 1;
        let last_mid = packet.columns.last().map_or(0, |c| c.measurement_id);
        self.last = Some((packet.frame_id, last_mid));
        out.sent_device_nanos = packet
            .columns
            .iter()
            .filter(|c| c.valid)
            .map(|c| c.timestamp_nanos)
            .max();
        // The window's last column ends the frame: no need to wait for the
        // next frame's first packet.
        if last_mid == self.info.column_window.1 {
            out.scans.extend(self.take_frame());
        }
        Ok(out)
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn finish(&mut self) -> Vec<Scan> {
        self.take_frame().into_iter().collect()
    }
}

/// Decodes an Ouster's LEGACY IMU packets: one sample each, stamped when
/// the accelerometer was read; g and °/s become m/s² and rad/s.
#[derive(Debug, Default)]
pub struct OusterImuDecoder;

/// Standard gravity, m/s² per g.
const G: f64 = 9.806_65;

impl ImuDecoder for OusterImuDecoder {
    fn push(&mut self, payload: &[u8]) -> Result<Vec<ImuSample>, Rejection> {
        let p = ImuPacket::parse(payload).map_err(|e| Rejection::new(e.reason, e.detail))?;
        Ok(vec![ImuSample {
            time_nanos: p.accel_nanos,
            accel_mps2: p.accel_g.map(|a| f64::from(a) * G),
            gyro_radps: p.gyro_dps.map(|w| f64::from(w).to_radians()),
        }])
    }
}
