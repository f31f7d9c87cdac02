//! `builtin_interfaces` messages.

use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// `builtin_interfaces/msg/Time`: seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    /// Whole seconds.
    pub sec: i32,
    /// Nanoseconds within the second (0..1e9).
    pub nanosec: u32,
}

impl Time {
    /// Splits integer nanoseconds since the epoch into `sec`/`nanosec`.
    /// Times past 2038 saturate: `sec` is an `int32` in ROS 2.
    pub fn from_nanos(stamp_nanos: u64) -> Self {
        let sec = stamp_nanos / 1_000_000_000;
        Self {
            sec: i32::try_from(sec).unwrap_or(i32::MAX),
            nanosec: (stamp_nanos % 1_000_000_000) as u32,
        }
    }

    /// Integer nanoseconds since the epoch (negative times clamp to 0).
    pub fn to_nanos(self) -> u64 {
        u64::try_from(self.sec)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(self.nanosec))
    }

    /// Seconds since the epoch as `f64`, from `sec` and `nanosec` apart
    /// (keeps ~0.2 µs today; `to_nanos() as f64` would round to 256 ns).
    pub fn as_secs_f64(self) -> f64 {
        f64::from(self.sec) + f64::from(self.nanosec) * 1e-9
    }
}

pub(crate) const TIME_DEF: &str = "int32 sec\nuint32 nanosec\n";
pub(crate) const TIME_DEP: (&str, &str) = ("builtin_interfaces/Time", TIME_DEF);

impl RosMessage for Time {
    const TYPE_NAME: &'static str = "builtin_interfaces/msg/Time";
    const DEFINITION: &'static str = TIME_DEF;
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        w.i32(self.sec);
        w.u32(self.nanosec);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            sec: r.i32()?,
            nanosec: r.u32()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_trip() {
        let t = Time::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(t.sec, 1_700_000_000);
        assert_eq!(t.nanosec, 123_456_789);
        assert_eq!(t.to_nanos(), 1_700_000_000_123_456_789);
    }
}
