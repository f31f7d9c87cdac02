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
use reel_episode::geometry::Iso;
use reel_episode::ros2::sensor_msgs::PointCloud2;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::velodyne::{
    ring_of_laser, ELEVATION_DEG, LASERS, LASER_PERIOD_US, SEQUENCE_PERIOD_US,
    VERTICAL_CORRECTION_MM,
};

use crate::scenario::LidarSpec;
use crate::world::{StaticBox, World};

// Nanoseconds on the simulated clock (the manual's µs values are exact in ns).
const SEQUENCE_NS: u64 = (SEQUENCE_PERIOD_US * 1000.0 + 0.5) as u64;
const LASER_NS: u64 = (LASER_PERIOD_US * 1000.0 + 0.5) as u64;

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
    epoch_nanos: u64,
    next_sequence: u64,
    revolution: Option<(u64, u64, Vec<u8>)>,
    /// Per laser: cos and sin of its elevation, and its origin (sensor frame).
    beams: [(f64, f64, [f64; 3]); LASERS],
}

impl Lidar {
    /// The scenario's LiDAR; stamps are `epoch_nanos` plus simulated time.
    pub fn new(spec: &LidarSpec, epoch_nanos: u64) -> Self {
        Self {
            frame_id: format!("lidar_{}", spec.name),
            rate_hz: spec.rate_hz,
            pose: Iso::from_xyz_rpy(spec.pose.xyz, spec.pose.rpy),
            noise: Normal::new(0.0, spec.range_noise_m.max(0.0))
                .unwrap_or(Normal::new(0.0, 0.0).expect("zero sigma")),
            dropout: spec.dropout,
            max_range: spec.max_range_m,
            epoch_nanos,
            next_sequence: 0,
            revolution: None,
            beams: std::array::from_fn(|laser| {
                let el = ELEVATION_DEG[laser].to_radians();
                (
                    el.cos(),
                    el.sin(),
                    [0.0, 0.0, VERTICAL_CORRECTION_MM[laser] * 1e-3],
                )
            }),
        }
    }

    fn revolution_of(&self, t_nanos: u64) -> u64 {
        (t_nanos as f64 * self.rate_hz / 1e9).floor() as u64
    }

    /// Fires every sequence due by `t_nanos` against the world as it is now;
    /// returns each revolution completed, as (stamp of its first firing, cloud).
    pub fn advance(
        &mut self,
        world: &World,
        t_nanos: u64,
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
            if t_seq > t_nanos {
                break;
            }
            let rev = self.revolution_of(t_seq);
            if self.revolution.as_ref().is_some_and(|r| r.0 != rev) {
                if let Some((_, start, data)) = self.revolution.take() {
                    done.push((self.epoch_nanos + start, self.cloud(start, data)));
                }
            }
            let (_, start, data) = self.revolution.get_or_insert_with(|| {
                (
                    rev,
                    t_seq,
                    Vec::with_capacity(30_000 * PointCloud2::LIDAR_POINT_STEP as usize),
                )
            });
            let start = *start;
            for laser in 0..LASERS {
                let t = t_seq + laser as u64 * LASER_NS;
                let turns = t as f64 * self.rate_hz / 1e9;
                let az = (turns - turns.floor()) * std::f64::consts::TAU;
                let (cos_el, sin_el, from) = self.beams[laser];
                // Velodyne azimuth turns clockwise seen from above, from +x (forward).
                let (sin_az, cos_az) = az.sin_cos();
                let dir = [cos_el * cos_az, -cos_el * sin_az, sin_el];
                let wo = origin.apply(from);
                let wd = origin.rotate(dir);
                let inv_dir = wd.map(|v| {
                    if v.abs() < 1e-15 {
                        f64::INFINITY
                    } else {
                        1.0 / v
                    }
                });
                let mut best: Option<(f64, [f64; 3], f32)> = None;
                for b in &world.static_boxes {
                    if let Some((t, n)) = b.ray(wo, inv_dir) {
                        if t <= self.max_range && best.is_none_or(|x| t < x.0) {
                            best = Some((t, n, b.albedo));
                        }
                    }
                }
                let inside = |b: &StaticBox| (0..3).all(|a| wo[a] >= b.min[a] && wo[a] <= b.max[a]);
                let enters_moving = moving.as_ref().is_some_and(|m| {
                    inside(m)
                        || m.ray(wo, inv_dir)
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
                PointCloud2::push_lidar_point(
                    data,
                    [p[0] as f32, p[1] as f32, p[2] as f32],
                    intensity,
                    ring_of_laser(laser),
                    // One return per firing, the strongest.
                    1,
                    ((t - start) as f64 * 1e-9) as f32,
                );
            }
            self.next_sequence += 1;
        }
        done
    }

    fn cloud(&self, start_nanos: u64, data: Vec<u8>) -> PointCloud2 {
        PointCloud2::lidar(
            Header::new(self.epoch_nanos + start_nanos, self.frame_id.clone()),
            data,
        )
    }
}
