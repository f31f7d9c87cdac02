//! The `reel.episode` metadata of a synthesized episode: `source = sim`
//! with every generator parameter and draw, so the episode says how it was
//! made and can be made again.

use reel_episode::topics;
use reel_episode::{EpisodeMeta, SourceKind};

use super::{episode_id, SimOptions};
use crate::randomize::Draws;
use crate::scenario::Scenario;

/// The metadata of episode `index` of `seed`.
pub(super) fn episode_meta(
    scenario: &Scenario,
    draws: &Draws,
    seed: u64,
    index: u64,
    options: &SimOptions,
) -> EpisodeMeta {
    let spec = &scenario.spec;
    let mut meta = EpisodeMeta::new(spec.scenario.task.clone(), spec.scenario.robot_type.clone());
    meta.episode_id = episode_id(scenario, seed, index);
    meta.source = SourceKind::Sim;
    meta.seed = Some(seed);
    let scenario_sha256 = reel_episode::sha256_hex(scenario.text.as_bytes());
    meta.rig_config_hash = Some(scenario_sha256.clone());
    let mut params = draws.to_params();
    params.insert("scenario".into(), spec.scenario.name.clone());
    params.insert(
        "scenario_file".into(),
        scenario
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    params.insert("scenario_sha256".into(), scenario_sha256);
    params.insert("seed".into(), seed.to_string());
    params.insert("episode_index".into(), index.to_string());
    params.insert(
        "policy".into(),
        if options.replay.is_some() {
            "replay".into()
        } else {
            spec.scenario.policy.clone()
        },
    );
    params.insert(
        "physics".into(),
        format!(
            "rapier3d 0.36 multibody, {} Hz, enhanced-determinism",
            spec.scenario.physics_hz
        ),
    );
    params.insert(
        "renderer".into(),
        "reel CPU rasterizer (pinhole, Lambert + ambient)".into(),
    );
    if let Some((w, h)) = options.camera_size {
        params.insert("camera_size".into(), format!("{w}x{h}"));
    }
    if let Some(r) = &options.replay {
        params.insert("replay_of".into(), r.display().to_string());
    }
    meta.source_params = params;
    let r = &spec.robot;
    meta.nominal_rates_hz = [
        (topics::joint_states(&r.arm), r.joint_rate_hz),
        (topics::joint_commands(&r.command_arm), r.joint_rate_hz),
    ]
    .into_iter()
    .chain(spec.camera.iter().flat_map(|c| {
        let depth = c.depth.then(|| (topics::camera_depth(&c.name), c.rate_hz));
        std::iter::once((topics::camera_image(&c.name), c.rate_hz)).chain(depth)
    }))
    .chain(
        spec.lidar
            .iter()
            .map(|l| (topics::lidar_points(&l.name), l.rate_hz)),
    )
    .collect();

    meta
}
