//! Maps a device clock onto the host clock: `host = device + offset + drift`
//! fitted online, as `spec/hardware.md` §6 describes. Delivery latency only
//! ever adds, so the fit runs through the *lower envelope*: the smallest
//! host−device difference of each bucket, then least squares over the
//! buckets for offset and drift.

use std::collections::VecDeque;

/// Online offset + drift fit of one device clock.
#[derive(Debug, Clone)]
pub struct ClockFit {
    bucket_nanos: u64,
    max_buckets: usize,
    /// Device time of the first sample: fits use times relative to it.
    device_origin: Option<u64>,
    offset_origin: i64,
    /// (bucket index, device ns since origin at the minimum, min offset - offset_origin)
    buckets: VecDeque<(u64, f64, f64)>,
    /// Fitted (offset at origin, drift) in ns and ns/ns.
    fit: Option<(f64, f64)>,
}

impl Default for ClockFit {
    fn default() -> Self {
        Self::new(250_000_000, 120)
    }
}

impl ClockFit {
    /// Buckets of `bucket_nanos` device time, at most `max_buckets` kept
    /// (the window the fit covers).
    pub fn new(bucket_nanos: u64, max_buckets: usize) -> Self {
        Self {
            bucket_nanos,
            max_buckets: max_buckets.max(2),
            device_origin: None,
            offset_origin: 0,
            buckets: VecDeque::new(),
            fit: None,
        }
    }

    /// Adds one observation: the device said `device_nanos` and the host
    /// saw it at `host_nanos` (minus any latency known in advance).
    pub fn push(&mut self, device_nanos: u64, host_nanos: u64) {
        let origin = *self.device_origin.get_or_insert_with(|| {
            self.offset_origin = host_nanos as i64 - device_nanos as i64;
            device_nanos
        });
        let Some(rel_device) = device_nanos.checked_sub(origin) else {
            // The device clock went backwards past its origin: start over.
            *self = Self::new(self.bucket_nanos, self.max_buckets);
            return self.push(device_nanos, host_nanos);
        };
        let offset = (host_nanos as i64 - device_nanos as i64 - self.offset_origin) as f64;
        let bucket = rel_device / self.bucket_nanos;
        match self.buckets.back_mut() {
            Some(b) if b.0 == bucket => {
                if offset < b.2 {
                    *b = (bucket, rel_device as f64, offset);
                }
            }
            Some(b) if b.0 > bucket => {}
            _ => {
                self.buckets.push_back((bucket, rel_device as f64, offset));
                if self.buckets.len() > self.max_buckets {
                    self.buckets.pop_front();
                }
                self.refit();
            }
        }
        if self.buckets.len() < 3 {
            // Too few buckets for a slope: the lowest offset seen.
            let min = self
                .buckets
                .iter()
                .map(|b| b.2)
                .fold(f64::INFINITY, f64::min);
            self.fit = Some((min, 0.0));
        }
    }

    fn refit(&mut self) {
        // Least squares over the closed buckets (the newest is still filling).
        let closed: Vec<(f64, f64)> = self
            .buckets
            .iter()
            .take(self.buckets.len().saturating_sub(1))
            .map(|b| (b.1, b.2))
            .collect();
        if closed.len() < 3 {
            return;
        }
        let n = closed.len() as f64;
        let mx = closed.iter().map(|p| p.0).sum::<f64>() / n;
        let my = closed.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = closed.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = closed.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let intercept = my - slope * mx;
        // Lower envelope: shift the line down to the lowest residual so it
        // stays a bound rather than a mean of the bucket minima.
        let low = closed
            .iter()
            .map(|p| p.1 - (intercept + slope * p.0))
            .fold(f64::INFINITY, f64::min);
        self.fit = Some((intercept + low.min(0.0), slope));
    }

    /// Host time of `device_nanos`; `None` before the first observation.
    pub fn to_host(&self, device_nanos: u64) -> Option<u64> {
        let origin = self.device_origin?;
        let (offset, drift) = self.fit?;
        let rel = device_nanos as f64 - origin as f64;
        let host = device_nanos as f64 + self.offset_origin as f64 + offset + drift * rel;
        Some(host.max(0.0) as u64)
    }

    /// Fitted drift, parts per million (device slower than host is positive).
    pub fn drift_ppm(&self) -> f64 {
        self.fit.map_or(0.0, |f| f.1 * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_offset_and_drift_under_one_sided_jitter() {
        let mut fit = ClockFit::default();
        let offset = 123_456_789_000i64;
        let drift = 40e-6;
        let mut worst = 0u64;
        let mut state = 12345u64;
        for k in 0..20_000u64 {
            let device = 5_000_000_000 + k * 1_327_104;
            let truth = (device as f64 * (1.0 + drift)) as i64 + offset;
            // Latency 0..3 ms, mostly small (xorshift noise).
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let jitter = (state % 1000).pow(2) * 3;
            fit.push(device, (truth as u64) + jitter);
            if k > 2000 {
                let est = fit.to_host(device).unwrap();
                worst = worst.max(est.abs_diff(truth as u64));
            }
        }
        assert!(worst < 200_000, "worst error {worst} ns");
        assert!((fit.drift_ppm() - 40.0).abs() < 5.0, "{}", fit.drift_ppm());
    }
}
