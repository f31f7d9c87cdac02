//! How much later one stream of a rig shows the same motion than another,
//! over one or several episodes: each episode's lag curve, pooled; for a
//! fixed camera whose arm's links are on `/tf`, refined link by link; and
//! whether the evidence is strong enough to store in the rig.

use std::path::{Path, PathBuf};

use reel_episode::topics::camera_of;
use serde::Serialize;

use super::RigUpdate;
use crate::error::CalibError;
use crate::projected_motion::{projected_tracks, Tracks};
use crate::time_offset::{
    activity, frame_motion, lag_curve, pool, refine, Activity, Changes, Offset,
};

/// Below this correlation, or this distinctness, the evidence is weak: no
/// offset is stored in a rig from it.
pub const WEAK_CORRELATION: f64 = 0.3;
/// See [`WEAK_CORRELATION`].
pub const WEAK_DISTINCTNESS: f64 = 0.05;
/// Episodes a camera on the arm should be estimated from: one episode was
/// within 2 ms on 43 of 48 sim episodes, four pooled on every group of four.
pub const RIDING_CAMERA_EPISODES: usize = 4;

/// What stands for a joint stream's motion when the other stream is a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JointMotion {
    /// The links on /tf seen through the camera's camera_info and
    /// /tf_static (joint speed where the episode lacks them).
    Projected,
    /// The joints' speed.
    JointSpeed,
}

/// What to estimate.
#[derive(Debug, Clone)]
pub struct TimeOffsetOptions {
    /// Reference stream (JointState or CompressedImage topic).
    pub a: String,
    /// Stream whose offset to A is estimated.
    pub b: String,
    /// Largest offset searched, seconds (either sign).
    pub max_lag_s: f64,
    /// A joint stream's motion against a camera.
    pub motion: JointMotion,
    /// The episodes, of one rig.
    pub episodes: Vec<PathBuf>,
}

/// One episode's own estimate.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeOffset {
    /// The episode.
    pub path: String,
    /// Its lag of B behind A, seconds.
    pub b_lags_a_s: f64,
    /// Its correlation at the peak.
    pub correlation: f64,
    /// What stood for the joints' motion in it.
    #[serde(skip)]
    pub motion: &'static str,
}

/// The estimate, as `reel calib time-offset --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct TimeOffsetReport {
    /// Stream A.
    #[serde(skip)]
    pub a: String,
    /// Stream B.
    #[serde(skip)]
    pub b: String,
    /// The pooled estimate.
    #[serde(flatten)]
    pub offset: Offset,
    /// What stood for the joints' motion.
    pub joint_motion: String,
    /// Each episode's own estimate.
    pub episodes: Vec<EpisodeOffset>,
    /// RMS scatter of the episodes' estimates about the pooled one, seconds
    /// (with several episodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode_spread_s: Option<f64>,
    /// The camera and which side it is on, if either stream is one.
    #[serde(skip)]
    pub camera: Option<CameraSide>,
    /// What the user should know about the estimate.
    #[serde(skip)]
    pub notes: Vec<String>,
    /// What makes the estimate less trustworthy.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Which side of the estimate is a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSide {
    /// The joint stream's topic.
    pub joints: String,
    /// The camera's topic.
    pub topic: String,
    /// The camera's name.
    pub name: String,
    /// The camera is stream A (B's camera is taken first).
    pub is_a: bool,
}

impl CameraSide {
    /// Which of A and B is a camera; B's is taken when both are.
    pub fn of(a: &str, b: &str) -> Option<Self> {
        match (camera_of(b), camera_of(a)) {
            (Some(name), _) => Some(Self {
                joints: a.into(),
                topic: b.into(),
                name: name.into(),
                is_a: false,
            }),
            (None, Some(name)) => Some(Self {
                joints: b.into(),
                topic: a.into(),
                name: name.into(),
                is_a: true,
            }),
            (None, None) => None,
        }
    }

    /// +1 when B is the camera, −1 when A is: turns B's lag behind A into
    /// the camera's lag behind the joints, and back.
    pub fn sign(&self) -> f64 {
        if self.is_a {
            -1.0
        } else {
            1.0
        }
    }
}

impl TimeOffsetReport {
    /// The pooled estimate is weak (see [`WEAK_CORRELATION`]).
    pub fn is_weak(&self) -> bool {
        self.offset.correlation < WEAK_CORRELATION || self.offset.distinctness < WEAK_DISTINCTNESS
    }

    /// The rig change that stores the estimate: the camera's `latency_ms`
    /// grows by its lag. Refused on weak evidence, or when neither stream
    /// is a camera.
    pub fn rig_update(&self) -> Result<RigUpdate, CalibError> {
        if self.is_weak() {
            return Err(CalibError::NotEnoughData(
                "not updated: the evidence is too weak to store an offset".into(),
            ));
        }
        let side = self.camera.as_ref().ok_or_else(|| {
            CalibError::Argument(
                "not updated: neither stream A nor B is a camera topic (/camera/NAME/...), and only cameras have a latency_ms".into(),
            )
        })?;
        // A camera whose frames come late had more delay than its
        // latency_ms says.
        Ok(RigUpdate::LatencyShiftMs {
            camera: side.name.clone(),
            ms: side.sign() * self.offset.b_lags_a_s * 1000.0,
        })
    }
}

/// What one episode gives: the two activities, what stood for the joints'
/// motion, and, for a fixed camera whose links are on /tf, its frame pairs
/// and the links' pixels, which the link-by-link fit refines the lag with.
struct Evidence {
    a: Activity,
    b: Activity,
    motion: &'static str,
    fit: Option<(Changes, Tracks)>,
    /// The camera rides on the arm's links (a wrist camera).
    camera_rides: bool,
}

/// An episode's evidence with the joints' motion as the camera sees it:
/// the links on /tf projected into it. `None` when the episode lacks what
/// the projection needs.
fn projected_evidence(episode: &Path, side: &CameraSide) -> Result<Option<Evidence>, CalibError> {
    let Some(tracks) = projected_tracks(episode, &side.joints, &side.topic)? else {
        return Ok(None);
    };
    let joint_motion = tracks.speed();
    if joint_motion.t.len() < 8 {
        return Ok(None);
    }
    // The frames are decoded once, for the activity and for the fit.
    let frames = frame_motion(episode, &side.topic)?;
    let camera_motion = frames.per_second();
    let (a, b) = if side.is_a {
        (camera_motion, joint_motion)
    } else {
        (joint_motion, camera_motion)
    };
    let camera_rides = tracks.rides;
    Ok(Some(Evidence {
        a,
        b,
        motion: "links projected into the camera",
        fit: (!camera_rides).then_some((frames, tracks)),
        camera_rides,
    }))
}

fn evidence(
    options: &TimeOffsetOptions,
    side: Option<&CameraSide>,
    episode: &Path,
) -> Result<Evidence, CalibError> {
    if let Some(side) = side.filter(|_| options.motion == JointMotion::Projected) {
        if let Some(e) = projected_evidence(episode, side)? {
            return Ok(e);
        }
    }
    Ok(Evidence {
        a: activity(episode, &options.a)?,
        b: activity(episode, &options.b)?,
        motion: "joint speed",
        fit: None,
        camera_rides: false,
    })
}

/// Estimates B's lag behind A over the episodes; `progress` is called after
/// each episode is read.
pub fn run(
    options: &TimeOffsetOptions,
    progress: &dyn Fn(usize),
) -> Result<TimeOffsetReport, CalibError> {
    let side = CameraSide::of(&options.a, &options.b);
    let sign = side.as_ref().map_or(1.0, CameraSide::sign);
    let mut curves = Vec::new();
    let mut each = Vec::new();
    let mut fits = Vec::new();
    let mut camera_rides = false;
    for (k, episode) in options.episodes.iter().enumerate() {
        let e = evidence(options, side.as_ref(), episode)?;
        let curve = lag_curve(&e.a, &e.b, options.max_lag_s)
            .map_err(|err| CalibError::input(episode, err.to_string()))?;
        let own = curve.offset();
        each.push(EpisodeOffset {
            path: episode.display().to_string(),
            b_lags_a_s: own.b_lags_a_s,
            correlation: own.correlation,
            motion: e.motion,
        });
        curves.push(curve);
        fits.push(e.fit);
        camera_rides |= e.camera_rides;
        progress(k + 1);
    }
    let mut offset = pool(&curves)?;
    let mut warnings = Vec::new();
    // A fixed camera: the lag is refined, near the activities' estimate,
    // by fitting the image motion to each link's predicted motion. The
    // correlation and distinctness stay those of the whole search.
    let recordings: Option<Vec<(&Changes, &Tracks)>> = fits
        .iter()
        .map(|f| f.as_ref().map(|(frames, tracks)| (frames, tracks)))
        .collect();
    if let Some(recordings) = recordings {
        match refine(sign * offset.b_lags_a_s, &recordings) {
            Ok(Some((pooled, own))) => {
                offset.b_lags_a_s = sign * pooled;
                for (e, lag) in each.iter_mut().zip(own) {
                    e.b_lags_a_s = sign * lag;
                    e.motion = "links projected into the camera, fitted link by link";
                }
            }
            Ok(None) => warnings.push(format!(
                "fitting the camera's motion link by link found no peak near {:.2} ms; the activities' estimate stands",
                offset.b_lags_a_s * 1000.0
            )),
            Err(e) => warnings.push(format!(
                "the camera's motion could not be fitted link by link ({e}); the activities' estimate stands"
            )),
        }
    }
    let mut motions: Vec<&str> = each.iter().map(|e| e.motion).collect();
    motions.dedup();
    // How far the episodes' own estimates scatter around the pooled one.
    let spread_s = (each
        .iter()
        .map(|e| (e.b_lags_a_s - offset.b_lags_a_s).powi(2))
        .sum::<f64>()
        / each.len() as f64)
        .sqrt();
    let mut report = TimeOffsetReport {
        a: options.a.clone(),
        b: options.b.clone(),
        offset,
        joint_motion: motions.join(", "),
        episode_spread_s: (each.len() > 1).then_some(spread_s),
        episodes: each,
        camera: side,
        notes: Vec::new(),
        warnings,
    };
    if camera_rides && options.episodes.len() < RIDING_CAMERA_EPISODES {
        report.notes.push(format!(
            "the camera rides on the arm; one episode's estimate can be a few ms off: give {RIDING_CAMERA_EPISODES} or more episodes of the rig to pool"
        ));
    }
    if report.is_weak() {
        report.warnings.push(format!(
            "weak evidence (correlation {:.2}, distinctness {:.2}): record varied, non-periodic motion that both streams see",
            report.offset.correlation, report.offset.distinctness
        ));
    }
    Ok(report)
}
