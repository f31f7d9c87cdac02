//! Where each Ouster pixel's return is, as ouster-sdk's `XYZLut` computes
//! it (`ouster_core/src/xyzlut.cpp`): a unit direction and an offset per
//! (beam, column) from the beam angles, the beam origin and the lidar to
//! sensor transform, so that a return of range r mm is at
//! `r·direction + offset` metres in the sensor frame (x forward, y left,
//! z up). Computed once per sensor.

use super::metadata::SensorInfo;

/// Direction and offset per pixel, row-major (beam, column).
#[derive(Debug, Clone)]
pub struct XyzLut {
    columns: usize,
    /// Metres per millimetre of range, per pixel.
    direction: Vec<[f64; 3]>,
    /// Metres, per pixel.
    offset: Vec<[f64; 3]>,
}

impl XyzLut {
    /// The table of `info`'s sensor.
    pub fn new(info: &SensorInfo) -> Self {
        let w = usize::from(info.columns_per_frame);
        let h = usize::from(info.pixels_per_column);
        let b = &info.beam_to_lidar;
        let beam_offset_mm = if b[2][3] != 0.0 {
            b[0][3].hypot(b[2][3])
        } else {
            b[0][3]
        };
        let t = &info.lidar_to_sensor;
        let rotate =
            |v: [f64; 3]| [0, 1, 2].map(|i| t[i][0] * v[0] + t[i][1] * v[1] + t[i][2] * v[2]);
        let mut direction = Vec::with_capacity(w * h);
        let mut offset = Vec::with_capacity(w * h);
        for row in 0..h {
            let azimuth = -info.beam_azimuth_deg[row].to_radians();
            let altitude = info.beam_altitude_deg[row].to_radians();
            for col in 0..w {
                let encoder = std::f64::consts::TAU - col as f64 * std::f64::consts::TAU / w as f64;
                let d = [
                    (encoder + azimuth).cos() * altitude.cos(),
                    (encoder + azimuth).sin() * altitude.cos(),
                    altitude.sin(),
                ];
                let o = [
                    encoder.cos() * b[0][3] - d[0] * beam_offset_mm,
                    encoder.sin() * b[0][3] - d[1] * beam_offset_mm,
                    -d[2] * beam_offset_mm + b[2][3],
                ];
                let (d, o) = (rotate(d), rotate(o));
                direction.push(d.map(|x| x * 1e-3));
                offset.push([0, 1, 2].map(|i| (o[i] + t[i][3]) * 1e-3));
            }
        }
        Self {
            columns: w,
            direction,
            offset,
        }
    }

    /// Where beam `row` of column `col` starts (metres) and its unit
    /// direction, in the sensor frame: a return of range r mm is at
    /// `origin + r/1000 · direction` (the emulator casts these rays).
    pub fn ray(&self, row: usize, col: usize) -> ([f64; 3], [f64; 3]) {
        let i = row * self.columns + col;
        (self.offset[i], self.direction[i].map(|x| x * 1e3))
    }

    /// The point of a `range_mm` return of beam `row` in column `col`,
    /// metres.
    pub fn point(&self, row: usize, col: usize, range_mm: u32) -> [f64; 3] {
        let i = row * self.columns + col;
        let (d, o) = (self.direction[i], self.offset[i]);
        let r = f64::from(range_mm);
        [r * d[0] + o[0], r * d[1] + o[1], r * d[2] + o[2]]
    }
}
