//! reel-sim: URDF robots, scenes, physics, rendered cameras, ray-cast LiDAR,
//! scripted policies and randomization, writing episodes in the capture
//! format through `reel-episode`.

mod error;
pub mod mesh;
pub mod scenario;
pub mod world;

pub use error::SimError;
pub mod episode;
pub mod ik;
pub mod lidar;
pub mod policy;
pub mod randomize;
pub mod render;

use std::sync::atomic::{AtomicUsize, Ordering};

use reel_episode::Outcome;

pub use episode::{synthesize, EpisodeResult, SimOptions};
pub use scenario::Scenario;
pub use world::{MeshCache, RobotSource};

/// Synthesizes episodes `indices` of `seed` on `jobs` threads. Each episode
/// depends only on (scenario, seed, index), so the split over threads does not
/// change any of them. `progress` is called as each one finishes.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    indices: &[u64],
    jobs: usize,
    options: &SimOptions,
    progress: &(dyn Fn(&EpisodeResult) + Sync),
) -> Result<Vec<EpisodeResult>, SimError> {
    let robot = RobotSource::load(scenario)?;
    parallel(scenario, indices, jobs, &|index, cache| {
        let r = synthesize(scenario, &robot, seed, index, options, cache)?;
        progress(&r);
        Ok(r)
    })
}

/// Outcome and simulated seconds of episodes `indices` of `seed`, physics and
/// policy only (see [`episode::evaluate`]).
pub fn evaluate(
    scenario: &Scenario,
    seed: u64,
    indices: &[u64],
    jobs: usize,
    replay: Option<&std::path::Path>,
) -> Result<Vec<(u64, Outcome, f64)>, SimError> {
    let robot = RobotSource::load(scenario)?;
    parallel(scenario, indices, jobs, &|index, cache| {
        let (outcome, secs) = episode::evaluate(scenario, &robot, seed, index, replay, cache)?;
        Ok((index, outcome, secs))
    })
}

fn parallel<T: Send>(
    scenario: &Scenario,
    indices: &[u64],
    jobs: usize,
    each: &(dyn Fn(u64, &mut MeshCache) -> Result<T, SimError> + Sync),
) -> Result<Vec<T>, SimError> {
    let next = AtomicUsize::new(0);
    let jobs = jobs.clamp(1, indices.len().max(1));
    let results: Vec<Result<Vec<(usize, T)>, SimError>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut cache = MeshCache::default();
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&index) = indices.get(k) else { break };
                        done.push((k, each(index, &mut cache)?));
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(SimError::input(
                        &scenario.path,
                        "a simulation thread panicked; please report it",
                    ))
                })
            })
            .collect()
    });
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(k, _)| *k);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}
