//! The lag between two activities: both resampled on one 1 kHz grid, the
//! lag that maximises their rank correlation (Spearman's), refined by a
//! parabola through the peak; several recordings' curves pooled.

use super::activity::Activity;
use crate::error::CalibError;

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
pub(crate) const GRID_S: f64 = 0.001;

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
    pub(crate) values: Vec<f64>,
    /// The first lag, grid steps (−max for a search of ±max).
    pub(crate) first_lag: i64,
    /// Seconds of overlap of the two streams.
    pub(crate) overlap_s: f64,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Bursts of motion whose strength grows through the recording, at
    /// 100 Hz (as a joint stream) or 30 Hz (as a camera), seen `delay_s` late.
    pub(crate) fn bursts(rate_hz: f64, delay_s: f64) -> Activity {
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
