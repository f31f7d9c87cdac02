//! Domain randomization: every per-episode draw, from a generator seeded by
//! (scenario text, seed, episode index) alone, so any episode can be made
//! anywhere, alone or in a batch, and comes out the same.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::scenario::Scenario;
use crate::world::ObjectDraw;

/// Everything drawn for one episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    /// Objects.
    pub objects: Vec<ObjectDraw>,
    /// Target centre (x, y).
    pub target: Option<[f64; 2]>,
    /// Ambient fraction.
    pub ambient: f64,
    /// Directional intensity.
    pub intensity: f64,
    /// Direction the light travels.
    pub light_direction: [f64; 3],
    /// Per camera: translation jitter (m) and rotation jitter (axis·angle, rad).
    pub camera_jitter: BTreeMap<String, ([f64; 3], [f64; 3])>,
    /// Joint position noise, rad.
    pub position_noise_rad: f64,
    /// Seed of the sensor-noise generator used while the episode runs.
    pub noise_seed: u64,
}

/// The generator for episode `index` of `seed` in `scenario`.
pub fn episode_rng(scenario: &Scenario, seed: u64, index: u64) -> ChaCha20Rng {
    ChaCha20Rng::from_seed(scenario.episode_digest(b"reel-sim/1\0", seed, index))
}

fn uniform(rng: &mut ChaCha20Rng, r: [f64; 2]) -> f64 {
    if r[1] > r[0] {
        rng.random_range(r[0]..r[1])
    } else {
        r[0]
    }
}

fn jitter_direction(rng: &mut ChaCha20Rng, max_rad: f64) -> [f64; 3] {
    // A random axis (uniform on the sphere) scaled by a uniform angle.
    let z: f64 = rng.random_range(-1.0..1.0);
    let a: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let s = (1.0 - z * z).sqrt();
    let angle = if max_rad > 0.0 {
        rng.random_range(0.0..max_rad)
    } else {
        0.0
    };
    [s * a.cos() * angle, s * a.sin() * angle, z * angle]
}

/// Draws episode `index` of `seed`.
pub fn draw(scenario: &Scenario, seed: u64, index: u64) -> Draws {
    let spec = &scenario.spec;
    let mut rng = episode_rng(scenario, seed, index);
    let target = spec
        .target
        .as_ref()
        .map(|t| [uniform(&mut rng, t.x), uniform(&mut rng, t.y)]);
    let clearance = spec.target.as_ref().map(|t| t.clearance).unwrap_or(0.0);
    let mut objects: Vec<ObjectDraw> = Vec::new();
    for o in &spec.object {
        let r = &o.randomize;
        let scale = r.scale.map(|s| uniform(&mut rng, s)).unwrap_or(1.0);
        let size = o.size.map(|v| v * scale);
        let mass = r.mass.map(|m| uniform(&mut rng, m)).unwrap_or(o.mass);
        let friction = r
            .friction
            .map(|f| uniform(&mut rng, f))
            .unwrap_or(o.friction);
        let colour = o
            .colour
            .map(|c| (c + uniform(&mut rng, [-r.colour_jitter, r.colour_jitter])).clamp(0.0, 1.0));
        let yaw = r.yaw.map(|y| uniform(&mut rng, y)).unwrap_or(o.yaw);
        // Rejection sampling keeps objects apart and off the target; after
        // 100 tries the last draw stands (the scenario's ranges are too tight).
        let mut xy = o.xy;
        for _ in 0..100 {
            xy = [
                r.x.map(|x| uniform(&mut rng, x)).unwrap_or(o.xy[0]),
                r.y.map(|y| uniform(&mut rng, y)).unwrap_or(o.xy[1]),
            ];
            let clear_of_target = target.is_none_or(|t| {
                ((xy[0] - t[0]).powi(2) + (xy[1] - t[1]).powi(2)).sqrt() >= clearance
            });
            let clear_of_others = objects.iter().all(|p| {
                let d = ((xy[0] - p.xy[0]).powi(2) + (xy[1] - p.xy[1]).powi(2)).sqrt();
                d > 0.75 * (size[0].max(size[1]) + p.size[0].max(p.size[1]))
            });
            if clear_of_target && clear_of_others {
                break;
            }
        }
        objects.push(ObjectDraw {
            name: o.name.clone(),
            xy,
            yaw,
            size,
            mass,
            friction,
            colour,
        });
    }
    let l = &spec.lighting;
    let ambient = uniform(&mut rng, l.ambient);
    let intensity = uniform(&mut rng, l.intensity);
    let tilt = jitter_direction(&mut rng, l.direction_jitter_deg.to_radians());
    let light_direction = reel_episode::geometry::Iso::axis_angle(
        tilt,
        (tilt[0] * tilt[0] + tilt[1] * tilt[1] + tilt[2] * tilt[2]).sqrt(),
    )
    .rotate(l.direction);
    let mut camera_jitter = BTreeMap::new();
    for c in &spec.camera {
        let t = jitter_direction(&mut rng, 1.0);
        let n = (t[0] * t[0] + t[1] * t[1] + t[2] * t[2]).sqrt().max(1e-12);
        let shift = uniform(&mut rng, [0.0, c.jitter[0]]);
        let translation = t.map(|v| v / n * shift);
        let rotation = jitter_direction(&mut rng, c.jitter[1].to_radians());
        camera_jitter.insert(c.name.clone(), (translation, rotation));
    }
    let position_noise_rad = uniform(&mut rng, spec.robot.position_noise_rad);
    let noise_seed = rng.random();
    Draws {
        objects,
        target,
        ambient,
        intensity,
        light_direction,
        camera_jitter,
        position_noise_rad,
        noise_seed,
    }
}

impl Draws {
    /// Every drawn value as metadata (`source_params`), with full precision.
    pub fn to_params(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let v3 = |v: &[f64]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|x| format!("{x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        for o in &self.objects {
            let p = format!("draw.object.{}", o.name);
            m.insert(format!("{p}.xy"), v3(&o.xy));
            m.insert(format!("{p}.yaw"), format!("{}", o.yaw));
            m.insert(format!("{p}.size"), v3(&o.size));
            m.insert(format!("{p}.mass"), format!("{}", o.mass));
            m.insert(format!("{p}.friction"), format!("{}", o.friction));
            m.insert(format!("{p}.colour"), v3(&o.colour));
        }
        if let Some(t) = self.target {
            m.insert("draw.target.xy".into(), v3(&t));
        }
        m.insert("draw.light.ambient".into(), format!("{}", self.ambient));
        m.insert("draw.light.intensity".into(), format!("{}", self.intensity));
        m.insert("draw.light.direction".into(), v3(&self.light_direction));
        for (name, (t, r)) in &self.camera_jitter {
            m.insert(format!("draw.camera.{name}.translation"), v3(t));
            m.insert(format!("draw.camera.{name}.rotation"), v3(r));
        }
        m.insert(
            "draw.joint_position_noise_rad".into(),
            format!("{}", self.position_noise_rad),
        );
        m.insert("draw.noise_seed".into(), format!("{}", self.noise_seed));
        m
    }
}
