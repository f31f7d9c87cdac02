//! Thresholds applied to the measurements: one pass/fail check per episode,
//! stream, joint or camera and dimension, and a score per dimension.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scan::{EpisodeScan, StreamKind, StreamStats};
use super::unique::DuplicateGroup;
use super::Thresholds;
use reel_dataset::manifest::CheckReport;
use reel_episode::topics;

/// The quality dimensions `reel check` scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// Expected topics present, rates met, no gaps, not cut off.
    Completeness,
    /// Values within limits, time monotonic, calibration plausible, images alive.
    Accuracy,
    /// Stable rates, streams aligned, same features across episodes.
    Consistency,
    /// Sensor-to-host latency.
    Timeliness,
    /// No duplicate or near-duplicate episodes.
    Uniqueness,
    /// Files readable and closed; exports match their manifest.
    Integrity,
}

impl Dimension {
    /// All, in report order.
    pub const ALL: [Dimension; 6] = [
        Self::Completeness,
        Self::Accuracy,
        Self::Consistency,
        Self::Timeliness,
        Self::Uniqueness,
        Self::Integrity,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Completeness => "completeness",
            Self::Accuracy => "accuracy",
            Self::Consistency => "consistency",
            Self::Timeliness => "timeliness",
            Self::Uniqueness => "uniqueness",
            Self::Integrity => "integrity",
        }
    }
}

/// One check of one thing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Dimension it counts for.
    pub dimension: Dimension,
    /// Short name (`rate`, `gaps`, `joint-limits`, ...).
    pub check: String,
    /// The episode file (or dataset file) it is about.
    pub subject: String,
    /// The topic, joint or camera, when it is about one.
    pub item: Option<String>,
    /// Passed.
    pub passed: bool,
    /// One line: what was measured against what limit.
    pub message: String,
    /// Where in the episode (s from its start), when it is about a moment.
    pub at_s: Option<f64>,
}

/// A dimension's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionScore {
    /// Which.
    pub dimension: Dimension,
    /// Percentage of its checks that passed (100 when it has none).
    pub score: f64,
    /// Checks run.
    pub checks: usize,
    /// Checks failed.
    pub failed: usize,
    /// Lowest passing score.
    pub min_score: f64,
    /// `score >= min_score`.
    pub passed: bool,
}

struct Out<'a> {
    checks: Vec<CheckResult>,
    subject: &'a str,
}

impl Out<'_> {
    fn push(
        &mut self,
        dimension: Dimension,
        check: &str,
        item: Option<&str>,
        passed: bool,
        message: String,
    ) -> &mut CheckResult {
        self.checks.push(CheckResult {
            dimension,
            check: check.to_string(),
            subject: self.subject.to_string(),
            item: item.map(str::to_string),
            passed,
            message,
            at_s: None,
        });
        let last = self.checks.len() - 1;
        &mut self.checks[last]
    }
}

/// Every check of every episode, and the cross-episode ones.
pub fn evaluate(
    episodes: &[EpisodeScan],
    duplicates: &[DuplicateGroup],
    t: &Thresholds,
) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    let common = common_features(episodes);
    for e in episodes {
        let mut out = Out {
            checks: Vec::new(),
            subject: &e.file_name,
        };
        integrity(&mut out, e);
        if e.episode_id.is_some() || !e.streams.is_empty() {
            completeness(&mut out, e, t);
            accuracy(&mut out, e, t);
            consistency(&mut out, e, t, common.as_ref());
            timeliness(&mut out, e, t);
            uniqueness(&mut out, e, duplicates);
        }
        checks.extend(out.checks);
    }
    checks
}

fn integrity(out: &mut Out<'_>, e: &EpisodeScan) {
    use Dimension::Integrity as D;
    match &e.read_error {
        Some(reason) => {
            out.push(
                D,
                "readable",
                None,
                false,
                format!("cannot be read to its end: {reason}"),
            );
        }
        None => {
            out.push(
                D,
                "readable",
                None,
                true,
                "every chunk read and verified".into(),
            );
        }
    }
    if e.file_state != "unreadable" {
        out.push(
            D,
            "closed",
            None,
            e.cleanly_closed,
            if e.cleanly_closed {
                "closed cleanly, with its summary".into()
            } else {
                format!("not closed cleanly ({}); run `reel recover`", e.file_state)
            },
        );
    }
    // Only reel's recorder writes a stop event; an imported episode's
    // events are its import losses, judged under completeness.
    if e.topics.contains_key(topics::EVENTS) && e.source != "import" {
        out.push(
            D,
            "ended",
            None,
            e.stopped,
            if e.stopped {
                "the recording ended with its stop event".into()
            } else {
                "no stop event: the recording was cut off (a crash, perhaps recovered)".into()
            },
        );
    }
}

fn completeness(out: &mut Out<'_>, e: &EpisodeScan, t: &Thresholds) {
    use Dimension::Completeness as D;
    let limits = &t.completeness;
    for topic in &limits.required_topics {
        let present = e.streams.iter().any(|s| &s.topic == topic && s.count > 0)
            || e.topics.contains_key(topic);
        out.push(
            D,
            "present",
            Some(topic),
            present,
            if present {
                "present".into()
            } else {
                "required topic is missing".into()
            },
        );
    }
    for s in &e.streams {
        if s.nominal_declared {
            out.push(
                D,
                "present",
                Some(&s.topic),
                s.count > 0,
                if s.count > 0 {
                    format!("{} messages", s.count)
                } else {
                    format!(
                        "declared at {:.1} Hz but holds no message",
                        s.nominal_hz.unwrap_or(0.0)
                    )
                },
            );
        }
        if s.count == 0 {
            continue;
        }
        if let (Some(ratio), Some(hz)) = (s.rate_ratio, s.nominal_hz) {
            let ok = ratio >= limits.min_rate_ratio;
            out.push(
                D,
                "rate",
                Some(&s.topic),
                ok,
                format!(
                    "{} messages = {:.2} % of ⌊{:.1} Hz × {:.2} s⌋ - 1{} (limit {:.2} %)",
                    s.count,
                    ratio * 100.0,
                    hz,
                    e.duration_s,
                    if s.nominal_declared {
                        ""
                    } else {
                        " (rate estimated)"
                    },
                    limits.min_rate_ratio * 100.0
                ),
            );
        }
        let ok = s.gaps.len() as u64 <= limits.max_gaps;
        let r = out.push(
            D,
            "gaps",
            Some(&s.topic),
            ok,
            match s
                .gaps
                .iter()
                .max_by(|a, b| a.length_s.total_cmp(&b.length_s))
            {
                None => format!(
                    "no interval above {} periods (longest {:.3} s)",
                    limits.gap_periods, s.max_interval_s
                ),
                Some(g) => format!(
                    "{} gap(s) above {} periods; longest {:.3} s at {:.2} s ({} samples missing)",
                    s.gaps.len(),
                    limits.gap_periods,
                    g.length_s,
                    g.at_s,
                    g.missing
                ),
            },
        );
        r.at_s = s.gaps.first().map(|g| g.at_s);
    }
    losses(out, e, limits.max_packet_loss);
}

/// What the recorder's events say never made it into the file: packets
/// refused (bad, or from the wrong sensor) and messages dropped fail at
/// once; packets lost on the way fail above `max_loss` of those sent.
fn losses(out: &mut Out<'_>, e: &EpisodeScan, max_loss: f64) {
    use Dimension::Completeness as D;
    if !e.topics.contains_key(topics::EVENTS) {
        return;
    }
    let mut any = false;
    for (device, l) in e.losses.losing() {
        any = true;
        let ratio = l.loss_ratio();
        let lost_ok = l.packets_lost == 0 || ratio.is_some_and(|r| r <= max_loss);
        let ok = lost_ok
            && l.rejected() == 0
            && l.dropped == 0
            && l.refused.is_none()
            && l.source_losses.is_empty();
        let limit = match ratio {
            Some(r) if l.packets_lost > 0 => {
                format!(
                    " ({:.3} % lost, limit {:.3} %)",
                    r * 100.0,
                    max_loss * 100.0
                )
            }
            _ => String::new(),
        };
        out.push(
            D,
            "nothing lost",
            Some(device),
            ok,
            format!("{}{limit}", l.describe()),
        );
    }
    if !any {
        out.push(
            D,
            "nothing lost",
            None,
            true,
            "the recorder dropped, lost and refused nothing".into(),
        );
    }
}

/// An IMU's samples are numbers, and its accelerometer sees gravity in
/// m/s² (a median magnitude far from 9.8 means g or another unit, or a
/// broken sensor).
fn imus(out: &mut Out<'_>, e: &EpisodeScan) {
    use Dimension::Accuracy as D;
    for imu in &e.imus {
        out.push(
            D,
            "finite",
            Some(&imu.topic),
            imu.non_finite == 0,
            format!(
                "{} of {} samples are not finite numbers",
                imu.non_finite, imu.samples
            ),
        );
        if let Some(a) = imu.median_accel_mps2 {
            let ok = (7.0..=12.5).contains(&a);
            out.push(
                D,
                "gravity",
                Some(&imu.topic),
                ok,
                format!("median |acceleration| {a:.2} m/s² (gravity 9.81; limits 7.0..12.5)"),
            );
        }
    }
}

fn accuracy(out: &mut Out<'_>, e: &EpisodeScan, t: &Thresholds) {
    use Dimension::Accuracy as D;
    imus(out, e);
    let limits = &t.accuracy;
    for j in &e.joints {
        let item = format!("{} {}", j.topic, j.name);
        if j.non_finite > 0 {
            out.push(
                D,
                "finite",
                Some(&item),
                false,
                format!("{} NaN or infinite positions", j.non_finite),
            );
        }
        if let Some((lo, hi)) = j.limits {
            let r = out.push(
                D,
                "joint-limits",
                Some(&item),
                j.outside == 0,
                format!(
                    "range [{:.4}, {:.4}] vs URDF [{lo:.4}, {hi:.4}] ± {}{}",
                    j.min,
                    j.max,
                    limits.joint_limit_margin,
                    if j.outside > 0 {
                        format!("; {} samples outside", j.outside)
                    } else {
                        String::new()
                    }
                ),
            );
            r.at_s = j.first_outside_s;
        }
    }
    for s in e.streams.iter().filter(|s| s.count > 0) {
        out.push(
            D,
            "monotonic",
            Some(&s.topic),
            s.stamp_backwards == 0,
            if s.stamp_backwards == 0 {
                "sensor stamps never go backwards".into()
            } else {
                format!("sensor stamp went backwards {} times", s.stamp_backwards)
            },
        );
    }
    for c in &e.calibration {
        if !limits.require_camera_info && !c.present {
            continue;
        }
        let (ok, message) = match (&c.problem, c.present) {
            (_, false) => (
                false,
                format!(
                    "no {} in the episode; run `reel calib intrinsics`",
                    c.info_topic
                ),
            ),
            (Some(p), true) => (false, format!("implausible calibration: {p}")),
            (None, true) => (
                true,
                format!("{}×{} calibration present", c.width, c.height),
            ),
        };
        out.push(D, "calibration", Some(&c.topic), ok, message);
    }
    for c in &e.cameras {
        if c.decode_errors > 0 {
            out.push(
                D,
                "decodable",
                Some(&c.topic),
                false,
                format!(
                    "{} sampled frames do not decode: {}",
                    c.decode_errors,
                    c.first_decode_error.clone().unwrap_or_default()
                ),
            );
        }
        let black: Vec<usize> = c
            .mean_luma
            .iter()
            .enumerate()
            .filter(|(_, &l)| f64::from(l) < limits.black_luma)
            .map(|(i, _)| i)
            .collect();
        let fraction = black.len() as f64 / c.mean_luma.len().max(1) as f64;
        let r = out.push(
            D,
            "not-black",
            Some(&c.topic),
            fraction <= limits.max_black_fraction,
            format!(
                "{} of {} sampled frames black (mean luma < {}), limit {:.1} %",
                black.len(),
                c.mean_luma.len(),
                limits.black_luma,
                limits.max_black_fraction * 100.0
            ),
        );
        r.at_s = black.first().map(|&i| f64::from(c.sample_s[i]));
        let r = out.push(
            D,
            "not-frozen",
            Some(&c.topic),
            c.longest_identical_s <= limits.max_frozen_s,
            format!(
                "longest run of identical frames {:.2} s (limit {} s); {} repeated frames",
                c.longest_identical_s, limits.max_frozen_s, c.repeated
            ),
        );
        if c.longest_identical_s > limits.max_frozen_s {
            r.at_s = Some(c.longest_identical_at_s);
        }
    }
}

/// Message counts of the whole seconds inside the stream's own span.
fn inner_seconds(s: &StreamStats) -> &[u32] {
    let first = s.first_s.ceil() as usize;
    let last = (s.last_s.floor() as usize).min(s.per_second.len());
    if first >= last {
        &[]
    } else {
        &s.per_second[first..last]
    }
}

fn consistency(out: &mut Out<'_>, e: &EpisodeScan, t: &Thresholds, common: Option<&Features>) {
    use Dimension::Consistency as D;
    let limits = &t.consistency;
    for s in e.streams.iter().filter(|s| s.count > 0) {
        let Some(hz) = s.nominal_hz else { continue };
        let seconds = inner_seconds(s);
        if seconds.is_empty() {
            continue;
        }
        let (worst_i, worst) = seconds
            .iter()
            .enumerate()
            .map(|(i, &n)| (i, (f64::from(n) - hz).abs() / hz))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        let r = out.push(
            D,
            "rate-stability",
            Some(&s.topic),
            worst <= limits.max_rate_deviation,
            format!(
                "worst second {:+.1} % from {:.1} Hz (limit ±{:.0} %)",
                worst
                    * 100.0
                    * if f64::from(seconds[worst_i]) < hz {
                        -1.0
                    } else {
                        1.0
                    },
                hz,
                limits.max_rate_deviation * 100.0
            ),
        );
        if worst > limits.max_rate_deviation {
            r.at_s = Some((s.first_s.ceil() as usize + worst_i) as f64);
        }
    }
    let live: Vec<&StreamStats> = e.streams.iter().filter(|s| s.count > 0).collect();
    if live.len() > 1 {
        let spread = |f: &dyn Fn(&StreamStats) -> f64| {
            let v: Vec<f64> = live.iter().map(|s| f(s)).collect();
            v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
        };
        let start = spread(&|s| s.first_s);
        let end = spread(&|s| s.last_s);
        out.push(
            D,
            "start-end-skew",
            None,
            start.max(end) <= limits.max_start_end_skew_s,
            format!(
                "streams start within {start:.3} s and end within {end:.3} s of each other (limit {} s)",
                limits.max_start_end_skew_s
            ),
        );
        // A LiDAR revolution is stamped at its first point and sent after
        // its last, one period later: that period is not clock error.
        let medians: Vec<(&str, f64)> = live
            .iter()
            .filter_map(|s| {
                let turn_ms = match (s.kind, s.nominal_hz) {
                    (StreamKind::Lidar, Some(hz)) => 1e3 / hz,
                    _ => 0.0,
                };
                s.latency_ms.map(|q| (s.topic.as_str(), q.p50 - turn_ms))
            })
            .collect();
        if medians.len() > 1 {
            let lo = medians.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied();
            let hi = medians.iter().max_by(|a, b| a.1.total_cmp(&b.1)).copied();
            if let (Some(lo), Some(hi)) = (lo, hi) {
                out.push(
                    D,
                    "clock-agreement",
                    None,
                    hi.1 - lo.1 <= limits.max_latency_spread_ms,
                    format!(
                        "median host latency (LiDAR: after its turn) from {:.1} ms ({}) to {:.1} ms ({}), spread limit {} ms",
                        lo.1, lo.0, hi.1, hi.0, limits.max_latency_spread_ms
                    ),
                );
            }
        }
    }
    if let Some(common) = common {
        let mine = Features::of(e);
        let differences = common.differences(&mine);
        out.push(
            D,
            "same-features",
            None,
            differences.is_empty(),
            if differences.is_empty() {
                "same topics, types, joint names and image sizes as the other episodes".into()
            } else {
                format!("differs from most episodes: {}", differences.join("; "))
            },
        );
    }
}

fn timeliness(out: &mut Out<'_>, e: &EpisodeScan, t: &Thresholds) {
    use Dimension::Timeliness as D;
    let limits = &t.timeliness;
    for s in &e.streams {
        let Some(q) = s.latency_ms else { continue };
        let limit = match s.kind {
            StreamKind::Joints => limits.joints_p99_ms,
            StreamKind::Camera | StreamKind::Image => limits.cameras_p99_ms,
            StreamKind::Lidar => limits.lidar_p99_ms,
            StreamKind::Imu => limits.imu_p99_ms,
            StreamKind::Other => continue,
        };
        out.push(
            D,
            "latency",
            Some(&s.topic),
            q.p99 <= limit,
            format!(
                "sensor to host p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (p99 limit {limit} ms)",
                q.p50, q.p99, q.max
            ),
        );
    }
}

fn uniqueness(out: &mut Out<'_>, e: &EpisodeScan, duplicates: &[DuplicateGroup]) {
    use Dimension::Uniqueness as D;
    let copy = duplicates
        .iter()
        .flat_map(|g| &g.copies)
        .find(|c| c.file == e.file_name);
    match copy {
        Some(c) => {
            out.push(
                D,
                "unique",
                None,
                false,
                format!(
                    "{} duplicate of {} ({})",
                    c.kind.describe(),
                    c.of,
                    c.evidence
                ),
            );
        }
        None => {
            out.push(
                D,
                "unique",
                None,
                true,
                "no earlier episode matches it".into(),
            );
        }
    }
}

/// What must be the same across the episodes of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Features {
    topics: BTreeMap<String, String>,
    joint_names: BTreeMap<String, Vec<String>>,
    image_sizes: BTreeMap<String, (u32, u32)>,
}

impl Features {
    fn of(e: &EpisodeScan) -> Self {
        Self {
            topics: e
                .streams
                .iter()
                .filter(|s| s.count > 0)
                .map(|s| (s.topic.clone(), s.type_name.clone()))
                .collect(),
            joint_names: e.joint_names.clone(),
            image_sizes: e
                .cameras
                .iter()
                .filter_map(|c| c.full_size.map(|s| (c.topic.clone(), s)))
                .collect(),
        }
    }

    fn differences(&self, other: &Self) -> Vec<String> {
        let mut out = Vec::new();
        for (topic, ty) in &self.topics {
            match other.topics.get(topic) {
                None => out.push(format!("no {topic}")),
                Some(t) if t != ty => out.push(format!("{topic} is {t}, not {ty}")),
                _ => {}
            }
        }
        for topic in other.topics.keys() {
            if !self.topics.contains_key(topic) {
                out.push(format!("extra {topic}"));
            }
        }
        for (topic, names) in &self.joint_names {
            if let Some(n) = other.joint_names.get(topic) {
                if n != names {
                    out.push(format!("{topic} joints {n:?}, not {names:?}"));
                }
            }
        }
        for (topic, size) in &self.image_sizes {
            if let Some(s) = other.image_sizes.get(topic) {
                if s != size {
                    out.push(format!(
                        "{topic} is {}×{}, not {}×{}",
                        s.0, s.1, size.0, size.1
                    ));
                }
            }
        }
        out
    }
}

/// The most common feature set, when there are several readable episodes.
fn common_features(episodes: &[EpisodeScan]) -> Option<Features> {
    let readable: Vec<Features> = episodes
        .iter()
        .filter(|e| !e.streams.is_empty())
        .map(Features::of)
        .collect();
    if readable.len() < 2 {
        return None;
    }
    let mut counts: BTreeMap<&Features, usize> = BTreeMap::new();
    for f in &readable {
        *counts.entry(f).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(f, _)| f.clone())
}

/// The manifest comparison of an exported dataset as integrity checks.
pub fn manifest_checks(report: &CheckReport) -> Vec<CheckResult> {
    let check = |passed: bool, item: &str, message: String| CheckResult {
        dimension: Dimension::Integrity,
        check: "manifest".into(),
        subject: reel_dataset::manifest::MANIFEST.into(),
        item: (!item.is_empty()).then(|| item.to_string()),
        passed,
        message,
        at_s: None,
    };
    let mut out = vec![check(
        report.changed.is_empty() && report.missing.is_empty() && report.added.is_empty(),
        "",
        format!(
            "{} files match their sha256, {} changed, {} missing, {} added",
            report.ok,
            report.changed.len(),
            report.missing.len(),
            report.added.len()
        ),
    )];
    out.extend(report.changed.iter().map(|p| {
        check(
            false,
            p,
            "size or sha256 differs from the manifest: changed or corrupted".into(),
        )
    }));
    out.extend(
        report
            .missing
            .iter()
            .map(|p| check(false, p, "listed in the manifest but missing".into())),
    );
    out.extend(report.added.iter().map(|p| {
        check(
            false,
            p,
            "not in the manifest: added after the export".into(),
        )
    }));
    if report.incomplete_append {
        out.push(check(
            false,
            reel_dataset::manifest::APPEND_MARKER,
            "an append did not finish; run the export again".into(),
        ));
    }
    out
}

/// Score per dimension: the share of its checks that passed.
pub fn score(checks: &[CheckResult], t: &Thresholds) -> Vec<DimensionScore> {
    Dimension::ALL
        .iter()
        .map(|&d| {
            let mine = checks.iter().filter(|c| c.dimension == d);
            let total = mine.clone().count();
            let failed = mine.filter(|c| !c.passed).count();
            let score = if total == 0 {
                100.0
            } else {
                100.0 * (total - failed) as f64 / total as f64
            };
            let min_score = t.min_score.get(&d).copied().unwrap_or(100.0);
            DimensionScore {
                dimension: d,
                score,
                checks: total,
                failed,
                min_score,
                passed: score + 1e-9 >= min_score,
            }
        })
        .collect()
}
