//! The scripted motion of emulated joints: a known function of host time, so
//! a test can tell from a recorded position when it was really sampled.

use std::f64::consts::TAU;

use crate::rig::{Arm, Joint};

/// A sine around the middle of a joint's range, on the absolute host clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointMotion {
    /// Centre, ticks.
    pub center: f64,
    /// Amplitude, ticks.
    pub amplitude: f64,
    /// Period, ns.
    pub period_nanos: u64,
    /// Phase at Unix time 0, fraction of a period.
    pub phase: f64,
}

impl JointMotion {
    /// The motion reel's emulators give joint `index` of arm number `arm_index`:
    /// a different period and phase per joint so every joint moves.
    pub fn for_joint(joint: &Joint, index: usize, arm_index: usize) -> Self {
        let [lo, hi] = joint.range_ticks;
        let span = f64::from(hi - lo);
        Self {
            center: f64::from(lo) + span / 2.0,
            amplitude: (span * 0.35).min(1000.0),
            period_nanos: 2_000_000_000
                + 370_000_000 * index as u64
                + 110_000_000 * arm_index as u64,
            phase: 0.17 * index as f64 + 0.05 * arm_index as f64,
        }
    }

    /// One motion per joint of `arm`.
    pub fn for_arm(arm: &Arm, arm_index: usize) -> Vec<Self> {
        arm.joints
            .iter()
            .enumerate()
            .map(|(i, j)| Self::for_joint(j, i, arm_index))
            .collect()
    }

    fn angle(&self, host_nanos: u64) -> f64 {
        // Integer modulo keeps full precision on a 1.7e18 ns clock.
        let into_period = (host_nanos % self.period_nanos) as f64 / self.period_nanos as f64;
        TAU * (into_period + self.phase)
    }

    /// Position, ticks (not rounded).
    pub fn ticks_at(&self, host_nanos: u64) -> f64 {
        self.center + self.amplitude * self.angle(host_nanos).sin()
    }

    /// Velocity, ticks/s.
    pub fn ticks_per_s_at(&self, host_nanos: u64) -> f64 {
        self.amplitude * TAU / (self.period_nanos as f64 * 1e-9) * self.angle(host_nanos).cos()
    }

    /// When near `around_nanos` (within a quarter period, on the same
    /// slope) the motion passed through `ticks`: the ground truth of a
    /// sample's time. `None` where the slope is too flat to tell.
    pub fn time_of(&self, ticks: f64, around_nanos: u64) -> Option<u64> {
        let slope = self.ticks_per_s_at(around_nanos);
        let max_slope = self.amplitude * TAU / (self.period_nanos as f64 * 1e-9);
        if slope.abs() < 0.5 * max_slope {
            return None;
        }
        // Newton steps from the given time.
        let mut t = around_nanos as f64;
        for _ in 0..4 {
            let tn = t.max(0.0) as u64;
            let err = self.ticks_at(tn) - ticks;
            let s = self.ticks_per_s_at(tn);
            if s.abs() < 1e-9 {
                return None;
            }
            t -= err / s * 1e9;
        }
        Some(t.max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_inverts_ticks_at() {
        let m = JointMotion {
            center: 2048.0,
            amplitude: 1000.0,
            period_nanos: 2_000_000_000,
            phase: 0.1,
        };
        let t0 = 1_700_000_000_123_456_789u64;
        for k in 0..200u64 {
            let t = t0 + k * 7_000_000;
            let x = m.ticks_at(t);
            if let Some(found) = m.time_of(x, t + 1_500_000) {
                assert!(found.abs_diff(t) < 1_000, "{found} vs {t}");
            }
        }
    }
}
