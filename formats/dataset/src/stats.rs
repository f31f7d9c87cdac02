//! Per-feature statistics as LeRobot computes them (`compute_stats.py`):
//! min, max, mean, population std, count and the q01/q10/q50/q90/q99
//! quantiles read off a 5000-bin histogram per episode; dataset stats are the
//! count-weighted aggregate of the episode stats. Written by hand: it is
//! LeRobot's own definition (quantiles and all), which no crate reproduces.
//!
//! One deliberate difference: LeRobot squares uint8 pixels in uint8 (numpy
//! wraps at 256), which corrupts its image `std`; here squares are taken in
//! f64, so image std is the true value.

use serde_json::{json, Value};

/// Quantile levels and their keys (`q{int(q*100):02d}`).
pub const QUANTILES: [(f64, &str); 5] = [
    (0.01, "q01"),
    (0.10, "q10"),
    (0.50, "q50"),
    (0.90, "q90"),
    (0.99, "q99"),
];

const HISTOGRAM_BINS: usize = 5000;

/// How a feature's stats are shaped on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsShape {
    /// A vector of n values (scalars are vectors of 1).
    Vector,
    /// Per-channel image stats, shape (3,1,1), in \[0,1\].
    Image,
}

/// Statistics of one feature (one value per dimension or channel).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStats {
    /// On-disk shape.
    pub shape: StatsShape,
    /// Elementwise minimum.
    pub min: Vec<f64>,
    /// Elementwise maximum.
    pub max: Vec<f64>,
    /// Mean.
    pub mean: Vec<f64>,
    /// Population standard deviation.
    pub std: Vec<f64>,
    /// Samples (frames) the stats cover.
    pub count: u64,
    /// Quantiles in [`QUANTILES`] order.
    pub quantiles: [Vec<f64>; 5],
}

impl FeatureStats {
    /// Stats of `rows` (each row one sample of `dim` values).
    /// Returns None for no rows.
    pub fn of_rows(rows: &[Vec<f64>], dim: usize) -> Option<Self> {
        if rows.is_empty() {
            return None;
        }
        let columns: Vec<Vec<f64>> = (0..dim)
            .map(|d| rows.iter().map(|r| r[d]).collect())
            .collect();
        Some(Self::of_columns(
            &columns,
            rows.len() as u64,
            StatsShape::Vector,
        ))
    }

    /// Stats of per-dimension `columns` of samples; `count` is what LeRobot
    /// calls the sample count (frames, for images).
    pub fn of_columns(columns: &[Vec<f64>], count: u64, shape: StatsShape) -> Self {
        let mut s = Self {
            shape,
            min: Vec::new(),
            max: Vec::new(),
            mean: Vec::new(),
            std: Vec::new(),
            count,
            quantiles: Default::default(),
        };
        for col in columns {
            let (min, max, mean, std) = moments(col);
            s.min.push(min);
            s.max.push(max);
            s.mean.push(mean);
            s.std.push(std);
            let qs = if col.len() < 2 {
                [mean; 5]
            } else {
                histogram_quantiles(col, min, max)
            };
            for (i, q) in qs.into_iter().enumerate() {
                s.quantiles[i].push(q);
            }
        }
        s
    }

    /// Per-channel stats of RGB pixels (`u8`, interleaved) of `frames`
    /// sampled frames, scaled to \[0,1\].
    pub fn of_pixels(rgb: &[u8], frames: u64) -> Self {
        let mut columns: Vec<Vec<f64>> =
            (0..3).map(|_| Vec::with_capacity(rgb.len() / 3)).collect();
        for px in rgb.chunks_exact(3) {
            for c in 0..3 {
                columns[c].push(f64::from(px[c]));
            }
        }
        let mut s = Self::of_columns(&columns, frames, StatsShape::Image);
        for v in [&mut s.min, &mut s.max, &mut s.mean, &mut s.std]
            .into_iter()
            .chain(s.quantiles.iter_mut())
        {
            v.iter_mut().for_each(|x| *x /= 255.0);
        }
        s
    }

    /// The count-weighted aggregate of episode stats (LeRobot's
    /// `aggregate_feature_stats`: parallel variance, weighted quantiles).
    pub fn aggregate(parts: &[&FeatureStats]) -> Option<Self> {
        let first = parts.first()?;
        let dim = first.mean.len();
        let total: f64 = parts.iter().map(|p| p.count as f64).sum();
        let mut out = Self {
            shape: first.shape,
            min: vec![f64::INFINITY; dim],
            max: vec![f64::NEG_INFINITY; dim],
            mean: vec![0.0; dim],
            std: vec![0.0; dim],
            count: parts.iter().map(|p| p.count).sum(),
            quantiles: std::array::from_fn(|_| vec![0.0; dim]),
        };
        for p in parts {
            let w = p.count as f64 / total;
            for d in 0..dim {
                out.min[d] = out.min[d].min(p.min[d]);
                out.max[d] = out.max[d].max(p.max[d]);
                out.mean[d] += p.mean[d] * w;
                for (q, pq) in out.quantiles.iter_mut().zip(&p.quantiles) {
                    q[d] += pq[d] * w;
                }
            }
        }
        for d in 0..dim {
            let var: f64 = parts
                .iter()
                .map(|p| {
                    (p.std[d].powi(2) + (p.mean[d] - out.mean[d]).powi(2)) * p.count as f64 / total
                })
                .sum();
            out.std[d] = var.sqrt();
        }
        Some(out)
    }

    /// The stat arrays by LeRobot key, in the order it writes them.
    pub fn named(&self) -> Vec<(&'static str, &[f64])> {
        let mut v: Vec<(&'static str, &[f64])> = vec![
            ("min", &self.min),
            ("max", &self.max),
            ("mean", &self.mean),
            ("std", &self.std),
        ];
        for (i, (_, key)) in QUANTILES.iter().enumerate() {
            v.push((key, &self.quantiles[i]));
        }
        v
    }

    /// As `meta/stats.json` holds it: lists, `[[[r]],[[g]],[[b]]]` for
    /// images, `count` as `[n]`.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (key, values) in self.named() {
            let v = match self.shape {
                StatsShape::Vector => json!(values),
                StatsShape::Image => {
                    json!(values.iter().map(|x| vec![vec![*x]]).collect::<Vec<_>>())
                }
            };
            m.insert(key.to_string(), v);
        }
        m.insert("count".into(), json!([self.count]));
        Value::Object(m)
    }

    /// Reads [`Self::to_json`]'s form back (for appending to a dataset).
    pub fn from_json(v: &Value) -> Option<Self> {
        let list = |key: &str| -> Option<(Vec<f64>, StatsShape)> {
            let arr = v.get(key)?.as_array()?;
            let mut shape = StatsShape::Vector;
            let mut out = Vec::new();
            for x in arr {
                if let Some(f) = x.as_f64() {
                    out.push(f);
                } else {
                    shape = StatsShape::Image;
                    out.push(x.get(0)?.get(0)?.as_f64()?);
                }
            }
            Some((out, shape))
        };
        let (min, shape) = list("min")?;
        let count = v.get("count")?.get(0)?.as_f64()? as u64;
        let mut quantiles: [Vec<f64>; 5] = Default::default();
        for (i, (_, key)) in QUANTILES.iter().enumerate() {
            quantiles[i] = list(key)?.0;
        }
        Some(Self {
            shape,
            min,
            max: list("max")?.0,
            mean: list("mean")?.0,
            std: list("std")?.0,
            count,
            quantiles,
        })
    }
}

fn moments(col: &[f64]) -> (f64, f64, f64, f64) {
    if col.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let n = col.len() as f64;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    let mut sum = 0.0;
    for &x in col {
        min = min.min(x);
        max = max.max(x);
        sum += x;
    }
    let mean = sum / n;
    let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (min, max, mean, var.sqrt())
}

/// LeRobot's `RunningQuantileStats` on a single batch: edges
/// `linspace(min-1e-10, max+1e-10, 5001)`, numpy histogram counts, then
/// linear interpolation inside the bin where the cumulative count reaches
/// `q·n`.
fn histogram_quantiles(col: &[f64], min: f64, max: f64) -> [f64; 5] {
    let lo = min - 1e-10;
    let hi = max + 1e-10;
    let step = (hi - lo) / HISTOGRAM_BINS as f64;
    let edge = |i: usize| {
        if i == HISTOGRAM_BINS {
            hi
        } else {
            lo + i as f64 * step
        }
    };
    let mut hist = vec![0u64; HISTOGRAM_BINS];
    for &x in col {
        let mut b = ((x - lo) / (hi - lo) * HISTOGRAM_BINS as f64) as usize;
        b = b.min(HISTOGRAM_BINS - 1);
        // numpy corrects the computed bin against the actual edges.
        if x < edge(b) && b > 0 {
            b -= 1;
        } else if b + 1 < HISTOGRAM_BINS && x >= edge(b + 1) {
            b += 1;
        }
        hist[b] += 1;
    }
    let mut cumsum = Vec::with_capacity(HISTOGRAM_BINS);
    let mut acc = 0u64;
    for h in &hist {
        acc += h;
        cumsum.push(acc as f64);
    }
    let n = col.len() as f64;
    QUANTILES.map(|(q, _)| {
        let target = q * n;
        let idx = cumsum.partition_point(|&c| c < target);
        if idx == 0 {
            return edge(0);
        }
        if idx >= cumsum.len() {
            return edge(HISTOGRAM_BINS);
        }
        let before = cumsum[idx - 1];
        let in_bin = cumsum[idx] - before;
        if in_bin == 0.0 {
            return edge(idx);
        }
        edge(idx) + (target - before) / in_bin * (edge(idx + 1) - edge(idx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by lerobot 0.4.4's `get_feature_stats`
    /// on the same input (numpy 2.2).
    #[test]
    fn quantiles_equal_lerobots_own() {
        let col: Vec<f64> = (0..1000).map(f64::from).collect();
        let s = FeatureStats::of_columns(&[col], 1000, StatsShape::Vector);
        assert_eq!((s.min[0], s.max[0], s.mean[0]), (0.0, 999.0, 499.5));
        assert!((s.std[0] - 288.6749902572095).abs() < 1e-9);
        let want = [
            9.190799999901841,
            99.10079999991986,
            499.1004,
            899.1000000000801,
            989.0100000000981,
        ];
        for (q, w) in s.quantiles.iter().zip(want) {
            assert!((q[0] - w).abs() < 1e-9, "{} vs {w}", q[0]);
        }
        let col = vec![0.3, 0.1, 0.7, 0.7, 0.2, 0.9, 0.4];
        let s = FeatureStats::of_columns(&[col], 7, StatsShape::Vector);
        let want = [
            0.09999999990000001,
            0.09999999990000001,
            0.40007999997502003,
            0.899888000099972,
            0.8999888000999973,
        ];
        for (q, w) in s.quantiles.iter().zip(want) {
            assert!((q[0] - w).abs() < 1e-12, "{} vs {w}", q[0]);
        }
        assert!((s.std[0] - 0.2762725657973388).abs() < 1e-12);
    }

    #[test]
    fn one_sample_gives_quantiles_equal_to_the_mean() {
        let s = FeatureStats::of_rows(&[vec![3.0, -1.0]], 2).unwrap();
        assert_eq!(s.quantiles[0], [3.0, -1.0]);
        assert_eq!(s.std, [0.0, 0.0]);
        assert_eq!(s.count, 1);
    }

    #[test]
    fn constant_column_quantiles_are_histogram_edges_like_lerobot() {
        // lerobot: q01 3.9999999999994176e-16, q99 3.9599999999994235e-14.
        let s = FeatureStats::of_columns(&[vec![0.0; 10]], 10, StatsShape::Vector);
        assert!(
            (s.quantiles[0][0] - 3.9999999999994176e-16).abs() < 1e-20,
            "{}",
            s.quantiles[0][0]
        );
        assert!(
            (s.quantiles[4][0] - 3.9599999999994235e-14).abs() < 1e-18,
            "{}",
            s.quantiles[4][0]
        );
    }

    #[test]
    fn aggregate_equals_stats_of_the_union_for_moments() {
        let a: Vec<f64> = (0..50).map(|i| f64::from(i) * 0.5).collect();
        let b: Vec<f64> = (0..80).map(|i| 10.0 - f64::from(i) * 0.1).collect();
        let sa = FeatureStats::of_columns(std::slice::from_ref(&a), 50, StatsShape::Vector);
        let sb = FeatureStats::of_columns(std::slice::from_ref(&b), 80, StatsShape::Vector);
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let su = FeatureStats::of_columns(&[all], 130, StatsShape::Vector);
        let agg = FeatureStats::aggregate(&[&sa, &sb]).unwrap();
        assert_eq!(agg.count, 130);
        assert_eq!(agg.min, su.min);
        assert_eq!(agg.max, su.max);
        assert!((agg.mean[0] - su.mean[0]).abs() < 1e-12);
        assert!((agg.std[0] - su.std[0]).abs() < 1e-12);
        let w = (sa.quantiles[2][0] * 50.0 + sb.quantiles[2][0] * 80.0) / 130.0;
        assert!((agg.quantiles[2][0] - w).abs() < 1e-12);
    }

    #[test]
    fn image_stats_are_per_channel_in_unit_range_and_round_trip_json() {
        let rgb: Vec<u8> = (0..300u32)
            .flat_map(|i| [255u8, (i % 256) as u8, 0])
            .collect();
        let s = FeatureStats::of_pixels(&rgb, 4);
        assert_eq!(s.count, 4);
        assert_eq!(s.min, [1.0, 0.0, 0.0]);
        assert_eq!(s.max[0], 1.0);
        assert_eq!(s.std[0], 0.0);
        let j = s.to_json();
        assert_eq!(j["mean"][0], json!([[1.0]]));
        assert_eq!(j["count"], json!([4]));
        assert_eq!(FeatureStats::from_json(&j).unwrap(), s);
    }
}
