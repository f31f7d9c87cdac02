//! Duplicate and near-duplicate episodes: the same episode id or the same
//! rounded trajectory is an exact duplicate; trajectories within an RMS
//! tolerance whose sampled frames hash alike (difference hashes) are near
//! duplicates (a re-encoded or re-stamped copy).

use serde::Serialize;

use super::scan::EpisodeScan;
use super::UniquenessLimits;

/// How alike the members of a group are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicateKind {
    /// Same episode id, or the same trajectory and frames.
    Exact,
    /// Within the tolerances.
    Near,
}

impl DuplicateKind {
    /// `exact` / `near`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Near => "near",
        }
    }
}

/// Episodes that duplicate each other; the first is kept as the original.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateGroup {
    /// Exact when every copy is exact, else near.
    pub kind: DuplicateKind,
    /// File names, the original first.
    pub members: Vec<String>,
    /// Every member but the original, with what matched.
    pub copies: Vec<DuplicateCopy>,
}

/// One episode found to duplicate an earlier one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateCopy {
    /// Its file name.
    pub file: String,
    /// The earlier episode it matches.
    pub of: String,
    /// Exact or near.
    pub kind: DuplicateKind,
    /// Why (id, trajectory hash, RMS, frame-hash distance).
    pub evidence: String,
}

/// Samples needed on both sides before images or trajectories count as alike.
const MIN_SAMPLES: usize = 3;

/// Pairs are compared all against all: a dataset of a few thousand
/// episodes stays well under a second (trajectories are 10 Hz).
pub fn find_duplicates(episodes: &[EpisodeScan], limits: &UniquenessLimits) -> Vec<DuplicateGroup> {
    let n = episodes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut evidence: Vec<Option<(usize, DuplicateKind, String)>> = vec![None; n];
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for j in 0..n {
        for i in 0..j {
            let (a, b) = (&episodes[i], &episodes[j]);
            let Some(found) = compare(a, b, limits) else {
                continue;
            };
            let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
            if ri != rj {
                parent[rj.max(ri)] = ri.min(rj);
            }
            let better = matches!(
                (&evidence[j], found.0),
                (None, _) | (Some((_, DuplicateKind::Near, _)), DuplicateKind::Exact)
            );
            if better {
                evidence[j] = Some((i, found.0, found.1));
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|g| {
            let copies: Vec<DuplicateCopy> = g[1..]
                .iter()
                .filter_map(|&j| {
                    evidence[j].as_ref().map(|(i, kind, why)| DuplicateCopy {
                        file: episodes[j].file_name.clone(),
                        of: episodes[*i].file_name.clone(),
                        kind: *kind,
                        evidence: why.clone(),
                    })
                })
                .collect();
            let kind = if copies.iter().all(|c| c.kind == DuplicateKind::Exact) {
                DuplicateKind::Exact
            } else {
                DuplicateKind::Near
            };
            DuplicateGroup {
                kind,
                members: g.iter().map(|&i| episodes[i].file_name.clone()).collect(),
                copies,
            }
        })
        .collect()
}

fn compare(
    a: &EpisodeScan,
    b: &EpisodeScan,
    limits: &UniquenessLimits,
) -> Option<(DuplicateKind, String)> {
    if let (Some(x), Some(y)) = (&a.episode_id, &b.episode_id) {
        if x == y {
            return Some((DuplicateKind::Exact, format!("same episode id {x}")));
        }
    }
    let images = image_distance(a, b);
    let images_alike = images.is_none_or(|d| d <= limits.image_hash_bits);
    let long_enough = a.trajectory.len() >= MIN_SAMPLES && b.trajectory.len() >= MIN_SAMPLES;
    if long_enough && a.trajectory_hash == b.trajectory_hash && images_alike {
        return Some((
            DuplicateKind::Exact,
            format!("same trajectory (hash {})", a.trajectory_hash),
        ));
    }
    let rms = trajectory_rms(a, b);
    match (rms, images) {
        (Some(r), images) if r <= limits.trajectory_rms && images_alike => Some((
            DuplicateKind::Near,
            match images {
                Some(d) => format!("trajectory RMS {r:.4}, frame hashes {d:.1} bits apart"),
                None => format!("trajectory RMS {r:.4}"),
            },
        )),
        // No joints on either side: the images alone decide.
        (None, Some(d))
            if a.trajectory.is_empty()
                && b.trajectory.is_empty()
                && d <= limits.image_hash_bits =>
        {
            Some((
                DuplicateKind::Near,
                format!("frame hashes {d:.1} bits apart"),
            ))
        }
        _ => None,
    }
}

/// RMS difference of two trajectories of the same joints and about the
/// same length (within 5 %), over their common part.
fn trajectory_rms(a: &EpisodeScan, b: &EpisodeScan) -> Option<f64> {
    let (x, y) = (&a.trajectory, &b.trajectory);
    let (n, m) = (x.len(), y.len());
    if n < MIN_SAMPLES || m < MIN_SAMPLES || (n.max(m) - n.min(m)) * 20 > n.max(m) {
        return None;
    }
    if x[0].len() != y[0].len() || x[0].is_empty() {
        return None;
    }
    let mut sum = 0.0;
    let mut count = 0usize;
    for (r, s) in x.iter().zip(y) {
        for (p, q) in r.iter().zip(s) {
            let d = f64::from(p - q);
            sum += d * d;
            count += 1;
        }
    }
    Some((sum / count.max(1) as f64).sqrt())
}

/// Mean Hamming distance between the sampled frames' hashes of the cameras
/// both episodes have; None when they share no camera with enough samples.
fn image_distance(a: &EpisodeScan, b: &EpisodeScan) -> Option<f64> {
    let mut bits = 0u64;
    let mut pairs = 0u64;
    for ca in &a.cameras {
        let Some(cb) = b.cameras.iter().find(|c| c.topic == ca.topic) else {
            continue;
        };
        if ca.hashes.len() < MIN_SAMPLES || cb.hashes.len() < MIN_SAMPLES {
            continue;
        }
        for (x, y) in ca.hashes.iter().zip(&cb.hashes) {
            bits += u64::from((x ^ y).count_ones());
            pairs += 1;
        }
    }
    (pairs > 0).then(|| bits as f64 / pairs as f64)
}
