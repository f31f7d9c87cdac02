//! A ray-cast LiDAR with the VLP-16's beam pattern and timing: 16 lasers at
//! −15°..+15° (2° apart, interleaved firing order), one firing sequence every
//! 55.296 µs with the lasers 2.304 µs apart, the head turning at the set rate,
//! one cloud per revolution cut at azimuth 0 — the same layout, rings, frame
//! convention and per-point times as the capture driver's decoded clouds.
//! Ranges carry Gaussian noise and returns drop out at random.

use rand::Rng;
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, Normal};
use rapier3d::math::Vector;
use rapier3d::prelude::{QueryFilter, Ray};
use reel_formats::geometry::Iso;
use reel_formats::ros2::sensor_msgs::PointCloud2;
use reel_formats::ros2::std_msgs::Header;

use crate::world::{StaticBox, World};

/// Elevation of each laser by firing order, degrees (VLP-16 manual).
pub const ELEVATION_DEG: [f64; 16] = [
    -15.0, 1.0, -13.0, 3.0, -11.0, 5.0, -9.0, 7.0, -7.0, 9.0, -5.0, 11.0, -3.0, 13.0, -1.0, 15.0,
];
/// Vertical offset of each laser's origin, millimetres (VLP-16 manual).
pub const VERTICAL_CORRECTION_MM: [f64; 16] = [
    11.2, -0.7, 9.7, -2.2, 8.1, -3.7, 6.6, -5.1, 5.1, -6.6, 3.7, -8.1, 2.2, -9.7, 0.7, -11.2,
];
const SEQUENCE_NS: u64 = 55_296;
const LASER_NS: u64 = 2_304;
const STEP: usize = PointCloud2::LIDAR_POINT_STEP as usize;

/// Ring (0 = lowest beam) of a laser, as the Velodyne driver numbers them.
pub fn ring_of_laser(laser: usize) -> u16 {
    (if laser.is_multiple_of(2) {
        laser / 2
    } else {
        laser / 2 + 8
    }) as u16
}

/// A simulated VLP-16.
#[derive(Debug)]
pub struct Lidar {
    /// `lidar_<name>`.
    pub frame_id: String,
    rate_hz: f64,
    /// World ← sensor (x forward, y left, z up).
    pub pose: Iso,
    noise: Normal<f64>,
    dropout: f64,
    max_range: f64,
    next_sequence: u64,
    revolution: Option<(u64, u64, Vec<u8>)>,
}

impl Lidar {
    /// A LiDAR at `pose`.
    pub fn new(
        name: &str,
        rate_hz: f64,
        pose: Iso,
        range_noise_m: f64,
        dropout: f64,
        max_range: f64,
    ) -> Self {
        Self {
            frame_id: format!("lidar_{name}"),
            rate_hz,
            pose,
            noise: Normal::new(0.0, range_noise_m.max(0.0))
                .unwrap_or(Normal::new(0.0, 0.0).expect("zero sigma")),
            dropout,
            max_range,
            next_sequence: 0,
            revolution: None,
        }
    }

    fn revolution_of(&self, t_ns: u64) -> u64 {
        (t_ns as f64 * self.rate_hz / 1e9).floor() as u64
    }

    /// Fires every sequence due by `t_ns` against the world as it is now;
    /// returns each revolution completed, as (first firing time, cloud).
    pub fn advance(
        &mut self,
        world: &World,
        t_ns: u64,
        rng: &mut ChaCha20Rng,
    ) -> Vec<(u64, PointCloud2)> {
        let mut done = Vec::new();
        // The room and table are boxes: exact slab tests. Only rays that enter
        // the bounds of the moving bodies go through rapier's query pipeline.
        let query = world
            .physics
            .query_pipeline_with_filter(QueryFilter::exclude_fixed());
        let moving = world.moving_bounds().map(|(lo, hi)| StaticBox {
            min: lo.map(|v| v - 0.01),
            max: hi.map(|v| v + 0.01),
            albedo: 0.0,
        });
        let origin = self.pose;
        loop {
            let t_seq = self.next_sequence * SEQUENCE_NS;
            if t_seq > t_ns {
                break;
            }
            let rev = self.revolution_of(t_seq);
            if self.revolution.as_ref().is_some_and(|r| r.0 != rev) {
                if let Some((_, start, data)) = self.revolution.take() {
                    done.push((start, self.cloud(start, data)));
                }
            }
            let (_, start, data) = self
                .revolution
                .get_or_insert_with(|| (rev, t_seq, Vec::with_capacity(30_000 * STEP)));
            let start = *start;
            for laser in 0..16 {
                let t = t_seq + laser as u64 * LASER_NS;
                let turns = t as f64 * self.rate_hz / 1e9;
                let az = (turns - turns.floor()) * std::f64::consts::TAU;
                let el = ELEVATION_DEG[laser].to_radians();
                // Velodyne azimuth turns clockwise seen from above, from +x (forward).
                let dir = [el.cos() * az.cos(), -el.cos() * az.sin(), el.sin()];
                let from = [0.0, 0.0, VERTICAL_CORRECTION_MM[laser] * 1e-3];
                let wo = origin.apply(from);
                let wd = origin.rotate(dir);
                let mut best: Option<(f64, [f64; 3], f32)> = None;
                for b in &world.static_boxes {
                    if let Some((t, n)) = b.ray(wo, wd) {
                        if t <= self.max_range && best.is_none_or(|x| t < x.0) {
                            best = Some((t, n, b.albedo));
                        }
                    }
                }
                let inside = |b: &StaticBox| (0..3).all(|a| wo[a] >= b.min[a] && wo[a] <= b.max[a]);
                let enters_moving = moving.as_ref().is_some_and(|m| {
                    inside(m)
                        || m.ray(wo, wd)
                            .is_some_and(|(t, _)| best.is_none_or(|x| t < x.0))
                });
                if enters_moving {
                    let ray = Ray::new(
                        Vector::new(wo[0] as f32, wo[1] as f32, wo[2] as f32),
                        Vector::new(wd[0] as f32, wd[1] as f32, wd[2] as f32),
                    );
                    let limit = best.map(|b| b.0).unwrap_or(self.max_range) as f32;
                    if let Some((collider, hit)) = query.cast_ray_and_get_normal(&ray, limit, true)
                    {
                        let n = [
                            hit.normal.x as f64,
                            hit.normal.y as f64,
                            hit.normal.z as f64,
                        ];
                        let albedo = world.albedo.get(&collider).copied().unwrap_or(0.5);
                        best = Some((hit.time_of_impact as f64, n, albedo));
                    }
                }
                let Some((range, normal, albedo)) = best else {
                    continue;
                };
                let dropped = self.dropout > 0.0 && rng.random::<f64>() < self.dropout;
                let noise = self.noise.sample(rng);
                if dropped {
                    continue;
                }
                let r = (range + noise).max(0.0);
                // VLP-16 calibrated reflectivity: 0–100 for diffuse surfaces,
                // scaled by the incidence angle.
                let cos = (normal[0] * wd[0] + normal[1] * wd[1] + normal[2] * wd[2]).abs();
                let intensity = (100.0 * albedo as f64 * cos).round().clamp(0.0, 255.0) as f32;
                let p = [
                    from[0] + r * dir[0],
                    from[1] + r * dir[1],
                    from[2] + r * dir[2],
                ];
                for v in [p[0] as f32, p[1] as f32, p[2] as f32, intensity] {
                    data.extend_from_slice(&v.to_le_bytes());
                }
                data.extend_from_slice(&ring_of_laser(laser).to_le_bytes());
                data.extend_from_slice(&[0, 0]);
                data.extend_from_slice(&((((t - start) as f64) * 1e-9) as f32).to_le_bytes());
            }
            self.next_sequence += 1;
        }
        done
    }

    /// The cloud of the revolution in progress, if any (at the episode's end).
    pub fn finish(&mut self) -> Option<(u64, PointCloud2)> {
        let (_, start, data) = self.revolution.take()?;
        Some((start, self.cloud(start, data)))
    }

    fn cloud(&self, start_ns: u64, data: Vec<u8>) -> PointCloud2 {
        let n = data.len() / STEP;
        PointCloud2 {
            header: Header::new(start_ns, self.frame_id.clone()),
            height: 1,
            width: n as u32,
            fields: PointCloud2::lidar_fields(),
            is_bigendian: false,
            point_step: STEP as u32,
            row_step: data.len() as u32,
            data,
            is_dense: true,
        }
    }
}
