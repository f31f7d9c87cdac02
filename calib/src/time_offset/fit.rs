//! A fixed camera's lag refined link by link: each frame pair's image
//! motion fit to the motion of each link's points over the same interval.

use super::activity::Changes;
use super::lag::{pool, LagCurve, GRID_S};
use crate::error::CalibError;
use crate::projected_motion::{pixel_distance, Tracks};

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
    recordings: &[(&Changes, &Tracks)],
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
/// sampled differently ([`lag_curve`](super::lag::lag_curve)), the prediction covers exactly the
/// interval each image pair covers, and a link the camera sees larger than
/// its few points weigh does not pull the peak towards when that link
/// moves. Every lag is judged on the same frame pairs (those whose shifted
/// intervals stay within the tracks at every lag).
pub fn fit_curve(
    frames: &Changes,
    tracks: &Tracks,
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
    use crate::time_offset::lag::estimate;

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
}
