//! Alignment of native-rate streams to one frame grid (design.md, Time):
//! images take the nearest frame, joints are interpolated linearly, each
//! within a tolerance. What falls outside is reported, never filled.

/// A frame grid: frame k is at `start_nanos + k/fps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Time of frame 0 (host clock, ns).
    pub start_nanos: i64,
    /// Frames per second.
    pub fps: u32,
    /// Number of frames.
    pub frames: usize,
}

impl Grid {
    /// The grid from `start_nanos` to `end_nanos` (both included when on the grid).
    pub fn spanning(start_nanos: i64, end_nanos: i64, fps: u32) -> Self {
        let frames = if end_nanos < start_nanos {
            0
        } else {
            // The frames k with time(k) <= end: floor(k·1e9/fps) <= d
            // holds exactly for k < (d + 1)·fps / 1e9. (Counting
            // floor(d·fps/1e9) + 1 lost a last frame that lies on the
            // grid's own rounded-down time.)
            let d = (end_nanos - start_nanos) as i128;
            (((d + 1) * i128::from(fps) + 999_999_999) / 1_000_000_000) as usize
        };
        Self {
            start_nanos,
            fps,
            frames,
        }
    }

    /// Time of frame `k` (ns).
    pub fn time(&self, k: usize) -> i64 {
        self.start_nanos + (k as i128 * 1_000_000_000 / i128::from(self.fps)) as i64
    }
}

/// Index of the sample in `stamps` (sorted) nearest to `t`, if it is
/// within `tolerance_nanos`. Ties go to the earlier sample.
pub fn nearest(stamps: &[i64], t: i64, tolerance_nanos: i64) -> Option<usize> {
    let i = stamps.partition_point(|&s| s < t);
    let candidates = [i.checked_sub(1), (i < stamps.len()).then_some(i)];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|&j| (stamps[j] - t).abs())
        .filter(|&j| (stamps[j] - t).abs() <= tolerance_nanos)
}

/// Linear interpolation of `values` (rows at `stamps`, sorted) at `t`.
/// Valid only when `t` lies between two samples that are each within
/// `tolerance_nanos` of it (or on a sample exactly).
pub fn interpolate(
    stamps: &[i64],
    values: &[Vec<f64>],
    t: i64,
    tolerance_nanos: i64,
) -> Option<Vec<f64>> {
    let i = stamps.partition_point(|&s| s < t);
    if i < stamps.len() && stamps[i] == t {
        return Some(values[i].clone());
    }
    if i == 0 || i == stamps.len() {
        return None;
    }
    let (t0, t1) = (stamps[i - 1], stamps[i]);
    if t - t0 > tolerance_nanos || t1 - t > tolerance_nanos {
        return None;
    }
    let w = (t - t0) as f64 / (t1 - t0) as f64;
    Some(
        values[i - 1]
            .iter()
            .zip(&values[i])
            .map(|(a, b)| a + (b - a) * w)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_counts_frames_including_both_ends() {
        let g = Grid::spanning(1_000, 1_000 + 1_000_000_000, 30);
        assert_eq!(g.frames, 31);
        assert_eq!(g.time(30), 1_000 + 1_000_000_000);
        assert_eq!(g.time(1), 1_000 + 33_333_333);
        assert_eq!(Grid::spanning(10, 5, 30).frames, 0);
        // A last sample on the grid's own rounded-down time is a frame.
        for k in [1usize, 19, 29, 1000] {
            let g = Grid::spanning(0, Grid::spanning(0, 0, 30).time(k), 30);
            assert_eq!(g.frames, k + 1, "end on frame {k}");
            let g = Grid::spanning(0, g.time(k) - 1, 30);
            assert_eq!(g.frames, k, "end 1 ns before frame {k}");
        }
    }

    #[test]
    fn nearest_respects_tolerance_and_prefers_earlier_on_ties() {
        let s = [0, 100, 200];
        assert_eq!(nearest(&s, 149, 60), Some(1));
        assert_eq!(nearest(&s, 150, 60), Some(1));
        assert_eq!(nearest(&s, 151, 60), Some(2));
        assert_eq!(nearest(&s, 300, 60), None);
        assert_eq!(nearest(&s, -50, 60), Some(0));
        assert_eq!(nearest(&[], 0, 60), None);
    }

    #[test]
    fn interpolation_is_linear_and_refuses_gaps_and_ends() {
        let s = [0, 10, 100];
        let v = vec![vec![0.0, 1.0], vec![1.0, 3.0], vec![10.0, 3.0]];
        assert_eq!(interpolate(&s, &v, 5, 6), Some(vec![0.5, 2.0]));
        assert_eq!(interpolate(&s, &v, 10, 0), Some(vec![1.0, 3.0]));
        assert_eq!(interpolate(&s, &v, 50, 45), None, "gap of 90 ns > 2×45");
        assert_eq!(interpolate(&s, &v, 55, 45), Some(vec![5.5, 3.0]));
        assert_eq!(interpolate(&s, &v, -1, 1000), None);
        assert_eq!(interpolate(&s, &v, 101, 1000), None);
    }
}
