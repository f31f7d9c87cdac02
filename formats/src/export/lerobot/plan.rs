//! One episode aligned to the dataset's frame grid: which joint values and
//! which camera frames make each output frame, and what had to be dropped.

use serde::Serialize;

use super::mapping::{FeatureSource, JointField, Mapping};
use crate::export::align::{interpolate, nearest, Grid};
use crate::export::source::SourceEpisode;
use crate::export::ExportError;

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
    pub start_ns: i64,
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
    /// Per joint feature (in mapping order): row-major f32 values.
    pub joints: Vec<(String, usize, Vec<f32>)>,
    /// Per camera feature (in mapping order): source frame ordinal per
    /// output frame.
    pub cameras: Vec<(String, Vec<usize>)>,
    /// What alignment did.
    pub report: AlignReport,
}

fn joint_rows(ep: &SourceEpisode, topic: &str, field: JointField) -> Vec<Vec<f64>> {
    let s = &ep.joints[topic];
    match field {
        JointField::Position => s.position.clone(),
        JointField::Velocity => s.velocity.clone(),
        JointField::Effort => s.effort.clone(),
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
    let frame_ns = 1_000_000_000 / i64::from(fps);
    // Per feature: a function from grid time to value/ordinal.
    enum Col {
        Joint {
            name: String,
            parts: Vec<(Vec<i64>, Vec<Vec<f64>>)>,
            dim: usize,
            tol: i64,
            out: Vec<f32>,
        },
        Camera {
            name: String,
            stamps: Vec<i64>,
            tol: i64,
            out: Vec<usize>,
        },
    }
    let mut cols: Vec<Col> = Vec::new();
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
                    parts.push((ep.joints[t].stamps.clone(), rows));
                }
                cols.push(Col::Joint {
                    name: f.name.clone(),
                    parts,
                    dim,
                    tol: f.tolerance_ns.unwrap_or(JOINT_TOLERANCE_NS),
                    out: Vec::new(),
                });
            }
            FeatureSource::Camera { topic } => cols.push(Col::Camera {
                name: f.name.clone(),
                stamps: ep.cameras[topic].stamps.clone(),
                tol: f.tolerance_ns.unwrap_or(frame_ns),
                out: Vec::new(),
            }),
        }
    }
    let mut dropped = Vec::new();
    let mut frames = 0;
    let mut row_joint: Vec<Option<Vec<f64>>> = Vec::new();
    let mut row_cam: Vec<Option<usize>> = Vec::new();
    for k in 0..grid.frames {
        let t = grid.time(k);
        row_joint.clear();
        row_cam.clear();
        let mut missing = Vec::new();
        for c in &cols {
            match c {
                Col::Joint {
                    name, parts, tol, ..
                } => {
                    let mut v = Vec::new();
                    let mut ok = true;
                    for (stamps, rows) in parts {
                        match interpolate(stamps, rows, t, *tol) {
                            Some(x) => v.extend(x),
                            None => ok = false,
                        }
                    }
                    if !ok {
                        missing.push(name.clone());
                    }
                    row_joint.push(ok.then_some(v));
                }
                Col::Camera {
                    name, stamps, tol, ..
                } => {
                    let i = nearest(stamps, t, *tol);
                    if i.is_none() {
                        missing.push(name.clone());
                    }
                    row_cam.push(i);
                }
            }
        }
        if !missing.is_empty() {
            let time_s = (t - grid.start_ns) as f64 / 1e9;
            if policy == GapPolicy::FailEpisode {
                return Err(ExportError::input(
                    &ep.path,
                    format!(
                        "grid frame {k} (t = {time_s:.3} s) has no {} within tolerance; the episode fails under --on-gap fail-episode (use drop-frame to leave such frames out)",
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
        let (mut ji, mut ci) = (0, 0);
        for c in &mut cols {
            match c {
                Col::Joint { out, .. } => {
                    if let Some(v) = row_joint[ji].take() {
                        out.extend(v.into_iter().map(|x| x as f32));
                    }
                    ji += 1;
                }
                Col::Camera { out, .. } => {
                    if let Some(i) = row_cam[ci] {
                        out.push(i);
                    }
                    ci += 1;
                }
            }
        }
        frames += 1;
    }
    let mut joints = Vec::new();
    let mut cameras = Vec::new();
    for c in cols {
        match c {
            Col::Joint { name, dim, out, .. } => joints.push((name, dim, out)),
            Col::Camera { name, out, .. } => cameras.push((name, out)),
        }
    }
    Ok(EpisodePlan {
        frames,
        joints,
        cameras,
        report: AlignReport {
            start_ns: grid.start_ns,
            grid_frames: grid.frames,
            trimmed_head_s: (start - first_any) as f64 / 1e9,
            trimmed_tail_s: (last_any - end) as f64 / 1e9,
            dropped,
        },
    })
}
