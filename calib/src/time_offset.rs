//! Time offset between two streams from correlated motion: each stream is
//! turned into an activity signal (joint speed; image motion between
//! successive frames), both are resampled on one 1 kHz grid, and the lag
//! that maximises their rank correlation (Spearman's: image motion grows
//! with speed but saturates, so their values are not proportional while
//! their orders agree; plain correlation put the peak 3-13 ms late), refined
//! by a parabola through the peak, is the offset.
//!
//! For a fixed camera whose arm's links are on `/tf`, [`refine`] then
//! searches near that lag with a model of the camera's image motion instead
//! of an activity: each frame pair's motion fit to the motion of each link
//! over the same interval ([`fit_curve`]). The activities are sampled
//! differently (a camera's motion covers 33 ms, a joint stream's 10 ms) and
//! weigh links as their few points do, not as the camera sees them; on 48
//! sim episodes they put the fixed camera 1.2 ms late on average (2.6 ms at
//! worst), the fit 0.5 ms early (1.3 ms at worst).

use std::path::Path;

use reel_episode::ros2::sensor_msgs::{CompressedImage, JointState};
use reel_episode::{schema_name, EpisodeReader};

use crate::error::CalibError;
use crate::projected_motion::pixel_distance;

/// A signal sampled at (irregular) times.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// Seconds since the Unix epoch on the episode's host clock (the same
    /// origin for every stream; f64 keeps a quarter of a microsecond).
    pub t: Vec<f64>,
    /// Activity at each time.
    pub value: Vec<f64>,
}

/// The estimated offset.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Offset {
    /// How much later stream B shows the same motion than stream A, seconds
    /// (subtract it from B's stamps to align B with A).
    pub b_lags_a_s: f64,
    /// Normalised cross-correlation at the peak (1 = identical shapes).
    pub correlation: f64,
    /// The peak's margin over the best lag more than 100 ms away (0..1):
    /// low when the motion is periodic and another lag fits almost as well.
    pub distinctness: f64,
    /// Seconds of overlap the estimate used.
    pub overlap_s: f64,
}

/// Step of the common grid, seconds.
const GRID_S: f64 = 0.001;

/// Estimates the lag of `b` behind `a`, searching ±`max_lag_s`.
pub fn estimate(a: &Activity, b: &Activity, max_lag_s: f64) -> Result<Offset, CalibError> {
    Ok(lag_curve(a, b, max_lag_s)?.offset())
}

/// The correlation of two streams at every searched lag: one recording's
/// evidence, which [`pool`] sums with other recordings' before the peak
/// is taken.
#[derive(Debug, Clone)]
pub struct LagCurve {
    /// Correlation at each lag from `first_lag`, 1 ms apart.
    values: Vec<f64>,
    /// The first lag, grid steps (−max for a search of ±max).
    first_lag: i64,
    /// Seconds of overlap of the two streams.
    overlap_s: f64,
}

impl LagCurve {
    /// The lag at the curve's peak (refined by a parabola through it and
    /// its neighbours), with its correlation and distinctness.
    pub fn offset(&self) -> Offset {
        let values = &self.values;
        let Some((best, &peak)) = values.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1))
        else {
            return Offset {
                b_lags_a_s: 0.0,
                correlation: 0.0,
                distinctness: 0.0,
                overlap_s: self.overlap_s,
            };
        };
        let shift = if best > 0 && best + 1 < values.len() {
            let (l, c, r) = (values[best - 1], values[best], values[best + 1]);
            let den = l - 2.0 * c + r;
            if den.abs() > 1e-15 {
                (0.5 * (l - r) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            }
        } else {
            0.0
        };
        let lag = (self.first_lag + best as i64) as f64 + shift;
        let away = (0.1 / GRID_S) as usize;
        let runner_up = values
            .iter()
            .enumerate()
            .filter(|(k, _)| k.abs_diff(best) > away)
            .map(|(_, v)| *v)
            .fold(f64::MIN, f64::max);
        Offset {
            b_lags_a_s: lag * GRID_S,
            correlation: peak,
            distinctness: if peak > 0.0 {
                ((peak - runner_up) / peak).clamp(0.0, 1.0)
            } else {
                0.0
            },
            overlap_s: self.overlap_s,
        }
    }
}

/// One lag shared by several recordings (the same rig's episodes): their
/// curves, each weighted by its overlap, summed before the peak is taken,
/// so motion in every episode counts and one episode's quirks weigh less.
pub fn pool(curves: &[LagCurve]) -> Result<Offset, CalibError> {
    let Some(first) = curves.first() else {
        return Err(CalibError::NotEnoughData("no recordings to compare".into()));
    };
    if curves
        .iter()
        .any(|c| c.values.len() != first.values.len() || c.first_lag != first.first_lag)
    {
        return Err(CalibError::NotEnoughData(
            "the recordings were searched over different lags".into(),
        ));
    }
    let overlap_s: f64 = curves.iter().map(|c| c.overlap_s).sum();
    if overlap_s <= 0.0 {
        return Err(CalibError::NotEnoughData("no recordings to compare".into()));
    }
    let values = (0..first.values.len())
        .map(|k| {
            curves
                .iter()
                .map(|c| c.values[k] * c.overlap_s)
                .sum::<f64>()
                / overlap_s
        })
        .collect();
    Ok(LagCurve {
        values,
        first_lag: first.first_lag,
        overlap_s,
    }
    .offset())
}

/// The rank correlation of `b` with `a` at every lag in ±`max_lag_s`, on
/// a 1 ms grid.
pub fn lag_curve(a: &Activity, b: &Activity, max_lag_s: f64) -> Result<LagCurve, CalibError> {
    for (name, s) in [("A", a), ("B", b)] {
        if s.t.len() < 8 {
            return Err(CalibError::NotEnoughData(format!(
                "stream {name} has {} samples; the offset needs seconds of motion in both streams",
                s.t.len()
            )));
        }
    }
    let start = a.t[0].max(b.t[0]);
    let end = a.t[a.t.len() - 1].min(b.t[b.t.len() - 1]);
    if end - start < 4.0 * max_lag_s {
        return Err(CalibError::NotEnoughData(format!(
            "the streams overlap for {:.2} s; at least {:.1} s (four times the searched lag) is needed",
            (end - start).max(0.0),
            4.0 * max_lag_s
        )));
    }
    let n = ((end - start) / GRID_S) as usize;
    let ra = resample(a, start, n);
    let rb = resample(b, start, n);
    let (za, zb) = (normalise(&ranks(&ra)), normalise(&ranks(&rb)));
    let (Some(za), Some(zb)) = (za, zb) else {
        return Err(CalibError::NotEnoughData(
            "one stream shows no motion; record the robot moving in view of the camera (e.g. waving the arm) for the offset".into(),
        ));
    };
    let max_lag = (max_lag_s / GRID_S) as i64;
    // Prefix sums of B and B² give each lag's segment mean and spread.
    let mut sums = vec![(0.0f64, 0.0f64); zb.len() + 1];
    for (i, v) in zb.iter().enumerate() {
        sums[i + 1] = (sums[i].0 + v, sums[i].1 + v * v);
    }
    let (lo, hi) = (max_lag as usize, n - max_lag as usize);
    let count = (hi - lo) as f64;
    let a_mean = za[lo..hi].iter().sum::<f64>() / count;
    let a_sd = (za[lo..hi].iter().map(|v| (v - a_mean).powi(2)).sum::<f64>() / count).sqrt();
    let correlation = |lag: i64| {
        // b(t) ≈ a(t − lag): pair a[i] with b[i + lag]. Every lag is judged
        // on the same samples of A (those every searched lag can pair), so
        // shifting B moves the peak by exactly the shift; letting the
        // overlap grow and shrink with the lag biased the peak by ~2 ms.
        // Each lag's segment of B is normalised on its own: a plain sum of
        // products favours the lags whose segment holds more of B's energy
        // (a stream compared with itself peaked 1 ms off zero).
        let (b_lo, b_hi) = ((lo as i64 + lag) as usize, (hi as i64 + lag) as usize);
        let b_mean = (sums[b_hi].0 - sums[b_lo].0) / count;
        let b_var = (sums[b_hi].1 - sums[b_lo].1) / count - b_mean * b_mean;
        let dot: f64 = za[lo..hi]
            .iter()
            .zip(&zb[b_lo..b_hi])
            .map(|(x, y)| x * y)
            .sum();
        let covariance = dot / count - a_mean * b_mean;
        covariance / (a_sd * b_var.max(0.0).sqrt()).max(1e-12)
    };
    Ok(LagCurve {
        values: (-max_lag..=max_lag).map(correlation).collect(),
        first_lag: -max_lag,
        overlap_s: end - start,
    })
}

fn resample(s: &Activity, start: f64, n: usize) -> Vec<f64> {
    let mut k = 0;
    (0..n)
        .map(|i| {
            let t = start + i as f64 * GRID_S;
            while k + 2 < s.t.len() && s.t[k + 1] < t {
                k += 1;
            }
            let (t0, t1) = (s.t[k], s.t[k + 1]);
            let f = if t1 > t0 {
                ((t - t0) / (t1 - t0)).clamp(0.0, 1.0)
            } else {
                0.0
            };
            s.value[k] * (1.0 - f) + s.value[k + 1] * f
        })
        .collect()
}

/// Each value's rank (ties share their mean rank).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            out[k] = mean;
        }
        i = j + 1;
    }
    out
}

fn normalise(v: &[f64]) -> Option<Vec<f64>> {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    (sd > 1e-9 * mean.abs().max(1e-9)).then(|| v.iter().map(|x| (x - mean) / sd).collect())
}

/// How far two grey thumbnails `width` pixels wide differ, as a motion in
/// pixels: their mean absolute change over their mean gradient. The change
/// alone weighs a textured view more than a plain one for the same motion,
/// so a wrist camera turning towards texture looked late (+2.5 ms on
/// average over 26 sim episodes; +0.8 ms with the ratio).
fn image_motion(before: &[f64], after: &[f64], width: usize) -> f64 {
    let height = before.len() / width.max(1);
    let (mut change, mut gradient) = (0.0, 0.0);
    for y in 0..height.saturating_sub(1) {
        for x in 0..width.saturating_sub(1) {
            let i = y * width + x;
            let slope = |v: &[f64]| (v[i + 1] - v[i]).abs() + (v[i + width] - v[i]).abs();
            change += (after[i] - before[i]).abs();
            gradient += 0.5 * (slope(before) + slope(after));
        }
    }
    if gradient > 1e-9 {
        change / gradient
    } else {
        0.0
    }
}

/// The change between each pair of successive samples of a stream, and
/// when each pair was taken.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Stamps of the earlier sample of each pair, seconds.
    pub from: Vec<f64>,
    /// Stamps of the later sample, seconds.
    pub to: Vec<f64>,
    /// The change between the two: for a camera, the image motion in
    /// pixels of an 80-pixel-wide thumbnail (change over gradient); for a
    /// `JointState` stream, the distance between the positions.
    pub change: Vec<f64>,
}

impl Changes {
    /// Each change per second, placed midway between its two samples.
    pub fn per_second(&self) -> Activity {
        let mut out = Activity::default();
        for ((from, to), change) in self.from.iter().zip(&self.to).zip(&self.change) {
            out.t.push((from + to) / 2.0);
            out.value.push(change / (to - from));
        }
        out
    }
}

/// The activity of one topic of an episode, as a change per second between
/// successive samples placed midway between them: joint speed from the
/// positions for `JointState`; for `CompressedImage`, the image motion
/// between 80-pixel-wide grey thumbnails (change over gradient). Both
/// streams are differenced the same way, so neither is shifted against the
/// other (a driver's velocity field may be a backward difference, half a
/// sample late).
pub fn activity(path: &Path, topic: &str) -> Result<Activity, CalibError> {
    Ok(changes(path, topic)?.1.per_second())
}

/// The image motion between successive frames of a camera topic
/// (`CompressedImage`); its [`Changes::per_second`] is the camera's
/// [`activity`].
pub fn frame_motion(path: &Path, topic: &str) -> Result<Changes, CalibError> {
    let (kind, motion) = changes(path, topic)?;
    if kind != "sensor_msgs/msg/CompressedImage" {
        return Err(CalibError::input(
            path,
            format!("{topic} is {kind}, not a camera's CompressedImage stream"),
        ));
    }
    Ok(motion)
}

/// The schema of `topic` and the change between each pair of its
/// successive samples.
fn changes(path: &Path, topic: &str) -> Result<(String, Changes), CalibError> {
    let reader = EpisodeReader::open(path).map_err(|e| CalibError::input(path, e.to_string()))?;
    let mut out = Changes::default();
    let mut previous: Option<(f64, Vec<f64>)> = None;
    let mut kind = None;
    let mut thumb_width = 0;
    for (index, message) in reader.messages().enumerate() {
        let message = message.map_err(|e| CalibError::input(path, e.to_string()))?;
        if message.channel.topic != topic {
            continue;
        }
        let schema = schema_name(&message.channel).to_string();
        let (t, sample) = match schema.as_str() {
            "sensor_msgs/msg/JointState" => {
                let js: JointState = reader
                    .decode(&message, index as u64)
                    .map_err(|e| CalibError::input(path, e.to_string()))?;
                (js.header.stamp.as_secs_f64(), js.position)
            }
            "sensor_msgs/msg/CompressedImage" => {
                let img: CompressedImage = reader
                    .decode(&message, index as u64)
                    .map_err(|e| CalibError::input(path, e.to_string()))?;
                let t = img.header.stamp.as_secs_f64();
                let decoded = image::load_from_memory(&img.data)
                    .map_err(|e| CalibError::input(path, format!("{topic}: frame at {t:.3} s: cannot decode ({e})")))?
                    .to_luma8();
                let w = 80;
                let h = (decoded.height() * w / decoded.width().max(1)).max(1);
                let thumb = image::imageops::thumbnail(&decoded, w, h);
                thumb_width = w as usize;
                (t, thumb.as_raw().iter().map(|&p| p as f64).collect())
            }
            other => {
                return Err(CalibError::input(
                    path,
                    format!("{topic} is {other}; time offsets are estimated from JointState or CompressedImage streams"),
                ))
            }
        };
        kind = Some(schema);
        if let Some((t0, s0)) = &previous {
            if t > *t0 && s0.len() == sample.len() {
                let change = if kind.as_deref() == Some("sensor_msgs/msg/JointState") {
                    s0.iter()
                        .zip(&sample)
                        .map(|(a, b)| (a - b).powi(2))
                        .sum::<f64>()
                        .sqrt()
                } else {
                    image_motion(s0, &sample, thumb_width)
                };
                out.from.push(*t0);
                out.to.push(t);
                out.change.push(change);
            }
        }
        previous = Some((t, sample));
    }
    let Some(kind) = kind else {
        return Err(CalibError::input(
            path,
            format!("no messages on {topic}; list the topics with `reel info`"),
        ));
    };
    Ok((kind, out))
}

/// Half-width of the lags [`refine`] searches around the activities'
/// estimate, seconds: several times their error.
const REFINE_HALF_WIDTH_S: f64 = 0.04;

/// A fixed camera's lag behind its arm refined near `coarse_s` (the
/// activities' estimate, camera lagging joints) by [`fit_curve`] on each
/// recording's frame pairs and link tracks: the pooled lag and each
/// recording's own. `Ok(None)` when the pooled peak is at the edge of the
/// lags searched (no peak there: the activities' estimate stands).
pub fn refine(
    coarse_s: f64,
    recordings: &[(&Changes, &crate::projected_motion::Tracks)],
) -> Result<Option<(f64, Vec<f64>)>, CalibError> {
    let curves = recordings
        .iter()
        .map(|(frames, tracks)| fit_curve(frames, tracks, coarse_s, REFINE_HALF_WIDTH_S))
        .collect::<Result<Vec<_>, _>>()?;
    let pooled = pool(&curves)?.b_lags_a_s;
    Ok(
        ((pooled - coarse_s).abs() < 0.9 * REFINE_HALF_WIDTH_S).then(|| {
            (
                pooled,
                curves.iter().map(|c| c.offset().b_lags_a_s).collect(),
            )
        }),
    )
}

/// How a link's image motion grows with the motion of its points: the
/// pixels its edges sweep grow ever more slowly as it moves farther within
/// one frame pair (the sweep covers the link's own width, thumbnail pixels
/// blend). Measured on 48 sim episodes (fixed camera, true offset 0): 1
/// left the image motion looking 1.7 ms late on average (and never early),
/// 0.5 gives a mean absolute error of 0.45 ms, 1.3 ms at worst.
const LINK_POWER: f64 = 0.5;
/// The image motion's noise grows with it: its spread is taken to grow as
/// its value to the power 1 − this, so a few large motions do not outweigh
/// many small ones (the fit is weighted accordingly, and judged on the
/// image motion to this power).
const NOISE_POWER: f64 = 0.3;
/// Reweighting rounds of the fit.
const FIT_ROUNDS: usize = 4;

/// Lags around `centre_s` (± `half_width_s`) judged by how well a fixed
/// camera's image motion is explained by the links' motion it sees: at each
/// lag, the motion of each link's points over every frame pair's interval
/// (shifted by the lag) is predicted from `tracks`, the image motion is fit
/// to their sum by weighted least squares (one weight per link, as the
/// camera sees some links large and others small, plus a constant; see
/// `LINK_POWER` and `NOISE_POWER`), and the curve holds how much of the
/// image motion's spread the fit explains, as a correlation. Unlike the rank correlation of two activities
/// sampled differently ([`lag_curve`]), the prediction covers exactly the
/// interval each image pair covers, and a link the camera sees larger than
/// its few points weigh does not pull the peak towards when that link
/// moves. Every lag is judged on the same frame pairs (those whose shifted
/// intervals stay within the tracks at every lag).
pub fn fit_curve(
    frames: &Changes,
    tracks: &crate::projected_motion::Tracks,
    centre_s: f64,
    half_width_s: f64,
) -> Result<LagCurve, CalibError> {
    let (Some(&first), Some(&last)) = (tracks.t.first(), tracks.t.last()) else {
        return Err(CalibError::NotEnoughData(
            "no link positions to predict the image motion from".into(),
        ));
    };
    let centre = (centre_s / GRID_S).round() as i64;
    let half = (half_width_s / GRID_S).round() as i64;
    let (lo, hi) = (centre - half, centre + half);
    let pairs: Vec<usize> = (0..frames.change.len())
        .filter(|&i| {
            frames.from[i] - hi as f64 * GRID_S > first && frames.to[i] - lo as f64 * GRID_S < last
        })
        .collect();
    let parts = tracks.part.iter().max().map_or(0, |m| m + 1);
    let columns = parts + 1;
    if parts == 0 || pairs.len() < 4 * columns {
        return Err(CalibError::NotEnoughData(format!(
            "{} frame pairs overlap the link positions; at least {} are needed",
            pairs.len(),
            4 * columns
        )));
    }
    let y: Vec<f64> = pairs.iter().map(|&i| frames.change[i].max(0.0)).collect();
    let n = y.len() as f64;
    let mean = y.iter().sum::<f64>() / n;
    let judged: Vec<f64> = y.iter().map(|v| v.powf(NOISE_POWER)).collect();
    let judged_mean = judged.iter().sum::<f64>() / n;
    let total: f64 = judged.iter().map(|v| (v - judged_mean).powi(2)).sum();
    if total <= 1e-12 || mean <= 0.0 {
        return Err(CalibError::NotEnoughData(
            "the camera shows no motion; record the robot moving in view of the camera".into(),
        ));
    }
    // A still view still shows some image motion (sensor noise, JPEG):
    // frame pairs are trusted no more than the stillest twentieth of them.
    let least_spread = {
        let mut sorted = y.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 20].max(1e-3 * mean)
    };
    let y = nalgebra::DVector::from_column_slice(&y);
    let fit = |lag: i64| -> f64 {
        let shift = lag as f64 * GRID_S;
        let mut x = nalgebra::DMatrix::<f64>::zeros(pairs.len(), columns);
        for (row, &i) in pairs.iter().enumerate() {
            x[(row, parts)] = 1.0;
            let (Some(a), Some(b)) = (
                tracks.at(frames.from[i] - shift),
                tracks.at(frames.to[i] - shift),
            ) else {
                continue;
            };
            let mut moved = vec![0.0; parts];
            for ((p, q), &part) in a.iter().zip(&b).zip(&tracks.part) {
                if let (Some(p), Some(q)) = (p, q) {
                    moved[part] += pixel_distance(p, q);
                }
            }
            for (column, m) in moved.iter().enumerate() {
                x[(row, column)] = m.powf(LINK_POWER);
            }
        }
        // Weighted least squares, reweighted by the fitted values (the
        // spread each frame pair's image motion is expected to have).
        let floor = 1e-3 * mean;
        let mut weight = nalgebra::DVector::<f64>::from_element(pairs.len(), 1.0);
        let mut fitted = y.clone();
        for _ in 0..FIT_ROUNDS {
            let weighted =
                nalgebra::DMatrix::from_fn(pairs.len(), columns, |r, c| x[(r, c)] * weight[r]);
            let mut normal = weighted.transpose() * &x;
            // A link never seen leaves its column zero; a small ridge keeps
            // the system solvable and gives it no weight.
            let ridge = 1e-9 * normal.diagonal().max().max(1e-12);
            for k in 0..columns {
                normal[(k, k)] += ridge;
            }
            let Some(cholesky) = normal.cholesky() else {
                return 0.0;
            };
            let coefficients = cholesky.solve(&(weighted.transpose() * &y));
            fitted = (&x * coefficients).map(|v| v.max(floor));
            weight = fitted.map(|v| v.max(least_spread).powf(-2.0 * (1.0 - NOISE_POWER)));
        }
        let residual: f64 = judged
            .iter()
            .zip(fitted.iter())
            .map(|(j, f)| (j - f.powf(NOISE_POWER)).powi(2))
            .sum();
        (1.0 - residual / total).clamp(0.0, 1.0).sqrt()
    };
    let from = frames.from[pairs[0]];
    let to = frames.to[pairs[pairs.len() - 1]];
    Ok(LagCurve {
        values: (lo..=hi).map(fit).collect(),
        first_lag: lo,
        overlap_s: to - from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bursts of motion whose strength grows through the recording, at
    /// 100 Hz (as a joint stream) or 30 Hz (as a camera), seen `delay_s` late.
    fn bursts(rate_hz: f64, delay_s: f64) -> Activity {
        let mut out = Activity::default();
        let n = (12.0 * rate_hz) as usize;
        for k in 0..n {
            let t = k as f64 / rate_hz;
            let u = t - delay_s;
            // Irregular bursts (no period), amplitude rising with time.
            let burst = (2.0 * (1.3 * u).sin()).exp() + (3.0 * (0.71 * u + 1.0).sin()).exp();
            out.t.push(1.7e9 + t);
            out.value.push((0.2 + u / 6.0) * burst);
        }
        out
    }

    #[test]
    fn pooled_recordings_share_one_lag() {
        // Two recordings of different motion, both seen 21 ms late, and a
        // third whose camera is 9 ms late: the pooled lag sits between,
        // nearer the two that agree.
        let shifted = |delay: f64, phase: f64| {
            let mut a = bursts(100.0, phase);
            let mut b = bursts(30.0, phase + delay);
            for s in [&mut a, &mut b] {
                s.t.iter_mut().for_each(|t| *t += 100.0 * phase);
            }
            (a, b)
        };
        let (a1, b1) = shifted(0.021, 0.0);
        let (a2, b2) = shifted(0.021, 3.3);
        let (a3, b3) = shifted(0.009, 7.1);
        let curve = |a: &Activity, b: &Activity| lag_curve(a, b, 0.5).unwrap();
        let two = pool(&[curve(&a1, &b1), curve(&a2, &b2)]).unwrap();
        assert!(
            (two.b_lags_a_s - 0.021).abs() < 1.5e-3,
            "{}",
            two.b_lags_a_s
        );
        assert!((two.overlap_s - 2.0 * estimate(&a1, &b1, 0.5).unwrap().overlap_s).abs() < 0.1);
        let three = pool(&[curve(&a1, &b1), curve(&a2, &b2), curve(&a3, &b3)]).unwrap();
        assert!(
            three.b_lags_a_s > 0.009 && three.b_lags_a_s < 0.021,
            "{}",
            three.b_lags_a_s
        );
        assert!(pool(&[]).is_err());
    }

    #[test]
    fn link_fit_finds_the_lag_whatever_each_link_weighs() {
        use crate::projected_motion::Tracks;
        // Two links sampled at 100 Hz, each stepping between poses at
        // times of its own (as servos driven to scripted targets); the
        // camera (30 Hz, 12 ms late) sees the second four times as large
        // as its points say, and each link's image motion saturates (its
        // edges sweep over its own width).
        let mut tracks = Tracks {
            part: vec![0, 1],
            ..Tracks::default()
        };
        let steps = |u: f64, at: &[f64], width: f64| -> f64 {
            at.iter()
                .enumerate()
                .map(|(k, c)| if k % 2 == 0 { 1.0 } else { -0.6 } * ((u - c) / width).tanh())
                .sum()
        };
        let position = |u: f64| {
            [
                [
                    40.0 * steps(u, &[0.9, 1.7, 2.2, 3.9, 5.1, 6.6, 7.0, 8.8, 10.1], 0.08),
                    20.0,
                ],
                [
                    60.0,
                    30.0 * steps(u, &[1.2, 2.9, 4.4, 4.8, 6.1, 7.9, 9.3, 10.6], 0.12),
                ],
            ]
        };
        for k in 0..1200 {
            let t = 1.7e9 + k as f64 * 0.01;
            let [p, q] = position(t - 1.7e9);
            tracks.t.push(t);
            tracks.pixels.push(vec![Some(p), Some(q)]);
        }
        let delay = 0.012;
        let mut frames = Changes::default();
        for i in 1..330 {
            let (from, to) = (
                1.7e9 + 0.3 + (i - 1) as f64 / 30.0,
                1.7e9 + 0.3 + i as f64 / 30.0,
            );
            let ([p0, q0], [p1, q1]) =
                (position(from - delay - 1.7e9), position(to - delay - 1.7e9));
            let swept = |d: f64| d.abs() / (1.0 + d.abs() / 30.0);
            frames.from.push(from);
            frames.to.push(to);
            // Sensor noise: a still view shows 0.1-0.3 pixels of motion.
            let noise = 0.2 + 0.1 * (i as f64 * 12.9898).sin();
            frames
                .change
                .push(swept(p1[0] - p0[0]) + 4.0 * swept(q1[1] - q0[1]) + noise);
        }
        let ranked = estimate(&tracks.speed(), &frames.per_second(), 0.5)
            .unwrap()
            .b_lags_a_s;
        eprintln!("rank correlation of the activities: {:.2} ms", ranked * 1e3);
        for coarse in [0.0, 0.02] {
            let (lag, own) = refine(coarse, &[(&frames, &tracks)]).unwrap().unwrap();
            eprintln!("refined from {coarse}: {:.2} ms", lag * 1e3);
            // The fit takes a link's image motion to grow as the square
            // root of its points' motion, not as this saturation: 2 ms off
            // here (the sims' renders: within 1.3 ms on 48 episodes).
            assert!((lag - delay).abs() < 2.5e-3, "from {coarse}: {lag}");
            assert_eq!(own.len(), 1);
        }
        // Far from the peak, the fit finds only the edge of its lags.
        assert!(refine(-0.2, &[(&frames, &tracks)]).unwrap().is_none());
    }

    #[test]
    fn image_motion_is_pixels_whatever_the_texture() {
        // A vertical-edge pattern shifted right by one pixel changes as much
        // as its gradient: one pixel of motion, at any contrast.
        let width = 40;
        let pattern = |contrast: f64, shift: usize| -> Vec<f64> {
            (0..30 * width)
                .map(|i| {
                    let x = (i % width + width - shift) % width;
                    if (x / 4).is_multiple_of(2) {
                        100.0
                    } else {
                        100.0 + contrast
                    }
                })
                .collect()
        };
        for contrast in [10.0, 80.0] {
            let m = image_motion(&pattern(contrast, 0), &pattern(contrast, 1), width);
            assert!((m - 1.0).abs() < 0.1, "contrast {contrast}: {m}");
        }
        assert_eq!(image_motion(&[5.0; 100], &[5.0; 100], 10), 0.0);
    }

    #[test]
    fn a_stream_against_itself_or_shifted_gives_the_shift() {
        let a = bursts(100.0, 0.0);
        let same = estimate(&a, &a, 0.5).unwrap();
        assert!(same.b_lags_a_s.abs() < 1e-6, "{}", same.b_lags_a_s);
        // Shifted copies: found within 0.6 ms (the grid is 1 ms); sampled
        // at a camera's 30 Hz, within 1.5 ms (linear interpolation between
        // samples 33 ms apart changes the bursts' shapes a little).
        for delay in [0.0137, -0.0412, 0.2] {
            for (rate, tolerance) in [(100.0, 6e-4), (30.0, 1.5e-3)] {
                let b = bursts(rate, delay);
                let r = estimate(&a, &b, 0.5).unwrap();
                assert!(
                    (r.b_lags_a_s - delay).abs() < tolerance,
                    "shift {delay} at {rate} Hz: found {}",
                    r.b_lags_a_s
                );
            }
        }
    }
}
