//! Quality flags found while streaming an episode: samples missing against a
//! stream's own nominal rate, time going backwards, and samples that reached
//! the host late. Each flag is logged at its time so it shows as a marker on
//! the timeline and as a line in the quality log.

/// Intervals used to learn a stream's nominal period before flagging.
const LEARN_INTERVALS: usize = 16;
/// An interval longer than this many nominal periods means samples are missing.
const MISSING_FACTOR: f64 = 1.75;
/// Missing samples from which a hole is called a gap rather than a drop.
const GAP_SAMPLES: u64 = 5;
/// Host receive time later than sensor time by more than this is flagged.
const LATE_NS: i64 = 250_000_000;

/// What went wrong at one point of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Flag {
    /// Samples missing between two received ones.
    Missing {
        /// Estimated number of samples missing.
        samples: u64,
        /// The interval (s).
        interval_s: f64,
        /// The nominal period (s).
        period_s: f64,
    },
    /// Sensor time went backwards.
    NotMonotonic {
        /// By how much (s).
        back_s: f64,
    },
    /// Received long after acquisition.
    Late {
        /// Host receive time minus sensor time (s).
        latency_s: f64,
    },
}

impl Flag {
    /// True for flags a reviewer must look at (gaps, time going backwards).
    pub fn is_warning(&self) -> bool {
        match self {
            Flag::Missing { samples, .. } => *samples >= GAP_SAMPLES,
            Flag::NotMonotonic { .. } => true,
            Flag::Late { .. } => false,
        }
    }

    /// One line for the log.
    pub fn describe(&self, stream: &str) -> String {
        match self {
            Flag::Missing {
                samples,
                interval_s,
                period_s,
            } => {
                let what = if *samples >= GAP_SAMPLES {
                    "gap"
                } else {
                    "drop"
                };
                format!(
                    "{what}: {stream} missing ~{samples} sample(s), {:.0} ms without data (nominal {:.1} ms)",
                    interval_s * 1e3,
                    period_s * 1e3
                )
            }
            Flag::NotMonotonic { back_s } => {
                format!(
                    "out of order: {stream} sensor time went back {:.1} ms",
                    back_s * 1e3
                )
            }
            Flag::Late { latency_s } => {
                format!(
                    "late: {stream} sample reached the host {:.0} ms after acquisition",
                    latency_s * 1e3
                )
            }
        }
    }
}

/// Per-stream tracker.
#[derive(Debug, Default)]
pub struct StreamQuality {
    last: Option<i64>,
    learning: Vec<i64>,
    period: Option<i64>,
    /// Samples seen.
    pub samples: u64,
    /// Flags raised, by kind: missing-sample events, samples missing, out-of-order, late.
    pub counts: FlagCounts,
}

/// Totals of a stream's flags.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlagCounts {
    /// Holes in the stream.
    pub holes: u64,
    /// Samples missing in them.
    pub missing: u64,
    /// Times sensor time went backwards.
    pub not_monotonic: u64,
    /// Late samples.
    pub late: u64,
}

impl StreamQuality {
    /// Observes one sample (sensor time, host receive time; ns) and returns
    /// what is wrong with it, if anything.
    pub fn observe(&mut self, stamp: i64, received: i64) -> Vec<Flag> {
        self.samples += 1;
        let mut flags = Vec::new();
        if received - stamp > LATE_NS {
            self.counts.late += 1;
            flags.push(Flag::Late {
                latency_s: (received - stamp) as f64 * 1e-9,
            });
        }
        if let Some(last) = self.last {
            let interval = stamp - last;
            if interval < 0 {
                self.counts.not_monotonic += 1;
                flags.push(Flag::NotMonotonic {
                    back_s: -interval as f64 * 1e-9,
                });
                return flags; // keep `last`: the next good sample measures from it
            }
            match self.period {
                None => {
                    if interval > 0 {
                        self.learning.push(interval);
                    }
                    if self.learning.len() >= LEARN_INTERVALS {
                        self.learning.sort_unstable();
                        self.period = Some(self.learning[self.learning.len() / 2]);
                        self.learning = Vec::new();
                    }
                }
                Some(period) if period > 0 && interval as f64 > MISSING_FACTOR * period as f64 => {
                    let samples = ((interval as f64 / period as f64).round() as u64)
                        .saturating_sub(1)
                        .max(1);
                    self.counts.holes += 1;
                    self.counts.missing += samples;
                    flags.push(Flag::Missing {
                        samples,
                        interval_s: interval as f64 * 1e-9,
                        period_s: period as f64 * 1e-9,
                    });
                }
                Some(_) => {}
            }
        }
        self.last = Some(stamp);
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_rate_then_flags_holes() {
        let mut q = StreamQuality::default();
        let period = 33_333_333;
        let mut t = 0;
        for _ in 0..20 {
            assert!(q.observe(t, t + 1_000_000).is_empty());
            t += period;
        }
        // Two frames lost: a drop, not a gap.
        t += 2 * period;
        let flags = q.observe(t, t);
        assert!(
            matches!(flags[..], [Flag::Missing { samples: 2, .. }]),
            "{flags:?}"
        );
        assert!(!flags[0].is_warning());
        // A second without data: a gap.
        t += 1_000_000_000;
        let flags = q.observe(t, t);
        assert!(
            matches!(flags[..], [Flag::Missing { samples: 29, .. }]),
            "{flags:?}"
        );
        assert!(flags[0].is_warning());
        assert!(flags[0]
            .describe("/camera/front")
            .starts_with("gap: /camera/front missing ~29"));
        // Time going back.
        let flags = q.observe(t - 5_000_000, t);
        assert!(matches!(flags[..], [Flag::NotMonotonic { .. }]));
        assert_eq!(
            q.counts,
            FlagCounts {
                holes: 2,
                missing: 31,
                not_monotonic: 1,
                late: 0
            }
        );
    }

    #[test]
    fn jitter_is_not_a_drop() {
        let mut q = StreamQuality::default();
        let mut t = 0i64;
        for i in 0..200 {
            // ±40 % jitter around 10 ms.
            t += if i % 2 == 0 { 14_000_000 } else { 6_000_000 };
            assert!(q.observe(t, t).is_empty(), "sample {i}");
        }
    }

    #[test]
    fn late_samples_are_flagged() {
        let mut q = StreamQuality::default();
        let flags = q.observe(0, 400_000_000);
        assert!(matches!(flags[..], [Flag::Late { .. }]));
    }
}
