//! One episode aligned to the dataset's frame grid: which joint values and
//! which camera frames make each output frame, and what had to be dropped.

use serde::Serialize;

use super::mapping::{FeatureSource, JointField, Mapping};
use crate::align::{interpolate, nearest, Grid};
use crate::source::SourceEpisode;
use crate::ExportError;

/// What to do with a grid frame that a stream cannot supply within its
/// tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapPolicy {
    /// Leave the frame out (the episode gets shorter; reported).
    #[default]
    DropFrame,
    /// Refuse the whole episode (the export fails, naming the frame).
    FailEpisode,
}

/// Default tolerance for joint interpolation: both neighbouring samples
/// within 25 ms (bridges a few lost samples at 100–200 Hz, not a stall).
pub const JOINT_TOLERANCE_NS: i64 = 25_000_000;

/// A grid frame left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedFrame {
    /// Grid index.
    pub grid_index: usize,
    /// Seconds from the episode's first grid frame.
    pub time_s: f64,
    /// Features that had no sample within tolerance.
    pub features: Vec<String>,
}

/// What alignment did to one episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlignReport {
    /// Host-clock time of the first grid frame (ns).
    #[serde(rename = "start_ns")]
    pub start_nanos: i64,
    /// Grid frames before dropping.
    pub grid_frames: usize,
    /// Seconds cut at the start because some stream started later.
    pub trimmed_head_s: f64,
    /// Seconds cut at the end because some stream stopped earlier.
    pub trimmed_tail_s: f64,
    /// Frames left out.
    pub dropped: Vec<DroppedFrame>,
}

/// One episode's frames.
#[derive(Debug, Clone)]
pub struct EpisodePlan {
    /// Output frames.
    pub frames: usize,
    /// Each output frame's time on the episode's clock (ns).
    pub frame_nanos: Vec<i64>,
    /// Per joint feature (in mapping order): row-major f32 values.
    pub joints: Vec<(String, usize, Vec<f32>)>,
    /// Per camera feature (in mapping order): source frame ordinal per
    /// output frame.
    pub cameras: Vec<(String, Vec<usize>)>,
    /// What alignment did.
    pub report: AlignReport,
}

fn joint_rows<'a>(ep: &'a SourceEpisode, topic: &str, field: JointField) -> &'a [Vec<f64>] {
    let s = &ep.joints[topic];
    match field {
        JointField::Position => &s.position,
        JointField::Velocity => &s.velocity,
        JointField::Effort => &s.effort,
    }
}

/// One mapped feature, borrowing its streams from the episode.
enum Column<'a> {
    Joint {
        name: &'a str,
        /// (stamps, rows) per concatenated topic.
        parts: Vec<(&'a [i64], &'a [Vec<f64>])>,
        dim: usize,
        tol: i64,
        out: Vec<f32>,
    },
    Camera {
        name: &'a str,
        stamps: &'a [i64],
        tol: i64,
        out: Vec<usize>,
    },
}

/// What a column gives at one grid time.
enum Sample {
    Joint(Vec<f64>),
    Camera(usize),
}

impl Column<'_> {
    fn name(&self) -> &str {
        match self {
            Self::Joint { name, .. } | Self::Camera { name, .. } => name,
        }
    }

    fn sample(&self, t: i64) -> Option<Sample> {
        match self {
            Self::Joint { parts, tol, .. } => {
                let mut v = Vec::new();
                for (stamps, rows) in parts {
                    v.extend(interpolate(stamps, rows, t, *tol)?);
                }
                Some(Sample::Joint(v))
            }
            Self::Camera { stamps, tol, .. } => nearest(stamps, t, *tol).map(Sample::Camera),
        }
    }

    fn push(&mut self, sample: Sample) {
        match (self, sample) {
            (Self::Joint { out, .. }, Sample::Joint(v)) => {
                out.extend(v.into_iter().map(|x| x as f32))
            }
            (Self::Camera { out, .. }, Sample::Camera(i)) => out.push(i),
            _ => {}
        }
    }
}

/// Aligns `ep` to `fps` under `mapping`.
pub fn plan_episode(
    ep: &SourceEpisode,
    mapping: &Mapping,
    fps: u32,
    policy: GapPolicy,
) -> Result<EpisodePlan, ExportError> {
    mapping.check(ep)?;
    let topics = mapping.topics();
    let (start, end, first_any, last_any) = ep
        .span_of(&topics)
        .ok_or_else(|| ExportError::input(&ep.path, "a mapped topic has no messages"))?;
    let grid = Grid::spanning(start, end, fps);
    if grid.frames < 2 {
        return Err(ExportError::input(
            &ep.path,
            format!(
                "the mapped streams overlap for {:.3} s only; nothing to export (check that every mapped topic was recorded)",
                (end - start) as f64 / 1e9
            ),
        ));
    }
    let frame_nanos = 1_000_000_000 / i64::from(fps);
    let mut cols: Vec<Column> = Vec::new();
    for f in &mapping.features {
        match &f.source {
            FeatureSource::Joints { topics, field } => {
                let mut parts = Vec::new();
                let mut dim = 0;
                for t in topics {
                    let rows = joint_rows(ep, t, *field);
                    let width = ep.joints[t].names.len();
                    if rows.iter().any(|r| r.len() != width) {
                        return Err(ExportError::input(
                            &ep.path,
                            format!(
                                "{t}: some messages have no {field:?} values; map another field"
                            ),
                        ));
                    }
                    dim += width;
                    parts.push((ep.joints[t].stamps.as_slice(), rows));
                }
                cols.push(Column::Joint {
                    name: &f.name,
                    parts,
                    dim,
                    tol: f.tolerance_nanos.unwrap_or(JOINT_TOLERANCE_NS),
                    out: Vec::new(),
                });
            }
            FeatureSource::Camera { topic } => cols.push(Column::Camera {
                name: &f.name,
                stamps: &ep.cameras[topic].stamps,
                tol: f.tolerance_nanos.unwrap_or(frame_nanos),
                out: Vec::new(),
            }),
        }
    }
    let mut dropped = Vec::new();
    let mut frames = 0;
    let mut frame_nanos = Vec::with_capacity(grid.frames);
    for k in 0..grid.frames {
        let t = grid.time(k);
        let row: Vec<Option<Sample>> = cols.iter().map(|c| c.sample(t)).collect();
        let missing: Vec<String> = cols
            .iter()
            .zip(&row)
            .filter(|(_, s)| s.is_none())
            .map(|(c, _)| c.name().to_string())
            .collect();
        if !missing.is_empty() {
            let time_s = (t - grid.start_nanos) as f64 / 1e9;
            if policy == GapPolicy::FailEpisode {
                return Err(ExportError::input(
                    &ep.path,
                    format!(
                        "grid frame {k} (t = {time_s:.3} s) has no {} within tolerance; the episode fails under the fail-episode gap policy (drop-frame leaves such frames out)",
                        missing.join(", ")
                    ),
                ));
            }
            dropped.push(DroppedFrame {
                grid_index: k,
                time_s,
                features: missing,
            });
            continue;
        }
        for (c, sample) in cols.iter_mut().zip(row.into_iter().flatten()) {
            c.push(sample);
        }
        frame_nanos.push(t);
        frames += 1;
    }
    let mut joints = Vec::new();
    let mut cameras = Vec::new();
    for c in cols {
        match c {
            Column::Joint { name, dim, out, .. } => joints.push((name.to_string(), dim, out)),
            Column::Camera { name, out, .. } => cameras.push((name.to_string(), out)),
        }
    }
    Ok(EpisodePlan {
        frames,
        frame_nanos,
        joints,
        cameras,
        report: AlignReport {
            start_nanos: grid.start_nanos,
            grid_frames: grid.frames,
            trimmed_head_s: (start - first_any) as f64 / 1e9,
            trimmed_tail_s: (last_any - end) as f64 / 1e9,
            dropped,
        },
    })
}
