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

/// Acquisition times of a camera that exposes on its own fixed frame clock
/// but sends no timestamp (MJPEG over HTTP, most IP cameras at a fixed
/// exposure): the frame clock is the device clock. Each frame gets an index
/// on that clock (frames the camera or network lost leave gaps), and
/// [`ClockFit`] maps indices to host time through the lower envelope of the
/// arrivals, so scheduling and network delays drop out and only the
/// smallest delivery delay remains (subtract it as the rig's `latency_ms`).
///
/// A frame is held until the next one arrives: a frame delayed by more than
/// half a period first takes the next frame's index, and the next arrival
/// shows it (both would claim one index) and moves it back.
#[derive(Debug, Clone)]
pub struct FrameCadence {
    period_nanos: u64,
    fit: ClockFit,
    /// (arrival, index) of the frame waiting for its successor.
    held: Option<(u64, u64)>,
    last_index: Option<u64>,
    last_stamp: u64,
    /// Frames in the fit so far.
    fitted: u64,
    /// Consecutive frames that arrived well before the fit allows.
    early_run: u32,
}

/// Index of the first frame: corrections below it stay positive.
const FIRST_FRAME: u64 = 1 << 20;
/// Frames that teach a new fit before it may call a frame an outlier.
const FIT_WARM_UP: u32 = 30;

impl FrameCadence {
    /// A camera that exposes `fps` frames per second.
    pub fn new(fps: u32) -> Self {
        let period_nanos = 1_000_000_000 / u64::from(fps.max(1));
        Self {
            period_nanos,
            // Buckets of ~8 frames over a 16 s window.
            fit: ClockFit::new(period_nanos * 8, 60),
            held: None,
            last_index: None,
            last_stamp: 0,
            fitted: 0,
            early_run: 0,
        }
    }

    /// Takes the host arrival time of the next frame; returns the
    /// acquisition time of the frame before it, which is now settled.
    pub fn push(&mut self, arrival: u64) -> Option<u64> {
        let mut index = self.index_at(arrival);
        let settled = self.held.take().map(|(held_arrival, mut held_index)| {
            if index <= held_index {
                // Two frames claim one index: the held one was late.
                held_index = index.saturating_sub(1);
            }
            if let Some(last) = self.last_index {
                held_index = held_index.max(last + 1);
            }
            index = index.max(held_index + 1);
            self.settle(held_arrival, held_index)
        });
        self.held = Some((arrival, index));
        settled
    }

    /// The acquisition time of the held frame (at the end of a stream).
    pub fn flush(&mut self) -> Option<u64> {
        let (arrival, index) = self.held.take()?;
        Some(self.settle(arrival, index))
    }

    /// The nearest index on the frame clock to `arrival`.
    fn index_at(&self, arrival: u64) -> u64 {
        let anchor = |(a, i): (u64, u64)| {
            let periods = (arrival as f64 - a as f64) / self.period_nanos as f64;
            (i as f64 + periods.round()).max(0.0) as u64
        };
        match (
            self.fit.to_host(FIRST_FRAME * self.period_nanos),
            self.fit.to_host((FIRST_FRAME + 1) * self.period_nanos),
        ) {
            (Some(h0), Some(h1)) if h1 > h0 => {
                let periods = (arrival as f64 - h0 as f64) / (h1 - h0) as f64;
                (FIRST_FRAME as f64 + periods.round()).max(0.0) as u64
            }
            _ => self.held.map_or(FIRST_FRAME, anchor),
        }
    }

    fn settle(&mut self, arrival: u64, mut index: u64) -> u64 {
        // No frame arrives before its exposure: one that arrives well
        // before the fit's time for its index took the next index and was
        // never moved back (its successor was lost), so it goes back one.
        // Left in the fit, it would pull the whole envelope down. A run of
        // such frames means the camera's clock jumped: the fit starts over.
        // The first second only teaches the fit (its first frames may have
        // come late, so the others look early).
        let guard = (self.period_nanos / 4).min(2_000_000);
        let is_early = |fit: &ClockFit, index: u64| {
            fit.to_host(index * self.period_nanos)
                .is_some_and(|expected| arrival + guard < expected)
        };
        if self.fitted > u64::from(FIT_WARM_UP) && is_early(&self.fit, index) {
            self.early_run += 1;
            if self.early_run > FIT_WARM_UP {
                self.fit = ClockFit::new(self.period_nanos * 8, 60);
                self.fitted = 0;
                self.early_run = 0;
            } else if self.last_index.is_none_or(|last| index > last + 1) {
                index -= 1;
            }
        } else {
            self.early_run = 0;
        }
        let device = index * self.period_nanos;
        if !is_early(&self.fit, index) || self.fitted <= u64::from(FIT_WARM_UP) {
            self.fitted += 1;
            self.fit.push(device, arrival);
        }
        self.last_index = Some(index);
        // Never after its arrival, never before the previous frame.
        let stamp = self.fit.to_host(device).unwrap_or(arrival).min(arrival);
        let stamp = stamp.max(self.last_stamp + 1);
        self.last_stamp = stamp;
        stamp
    }
}

/// Bounds the sample times of a polled device by its coarse device clock
/// (Dynamixel's Realtime Tick: milliseconds, wrapping at 32768). The
/// round-trip midpoint is precise when the two legs take equal time, but
/// a stalled leg moves it by half the stall; the tick is coarse but says
/// when the device latched to within its resolution. Over a sliding window,
/// the midpoints' offsets from the tick (robust quantiles, so bad midpoints
/// do not count) give the span a sample must fall in; a midpoint outside it
/// is moved to its edge. A device clock that jumps (reboot) shows as a run
/// of samples far outside: the window then starts over.
#[derive(Debug, Clone)]
pub struct TickBound {
    wrap_ms: i64,
    /// (unwrapped device ms, host estimate) of the previous sample.
    last: Option<(i64, u64)>,
    /// Recent `estimate − device time`, ns.
    offsets: VecDeque<i64>,
    /// (low, high) offset quantiles with margin, ns.
    span: Option<(i64, i64)>,
    since_update: usize,
    outside_run: u32,
}

/// Offsets kept for the quantiles, and how many samples a new span waits for.
const TICK_WINDOW: usize = 256;
const TICK_MIN_SAMPLES: usize = 64;
/// Margin beyond the quantiles, ns.
const TICK_MARGIN: i64 = 300_000;
/// Farther outside than this, a midpoint is not corrected but counted
/// towards a clock jump (no stalled leg moves a midpoint this far), ns.
const TICK_JUMP: i64 = 20_000_000;

impl TickBound {
    /// A device clock in milliseconds that wraps at `wrap_ms`.
    pub fn new(wrap_ms: u32) -> Self {
        Self {
            wrap_ms: i64::from(wrap_ms.max(1)),
            last: None,
            offsets: VecDeque::with_capacity(TICK_WINDOW),
            span: None,
            since_update: 0,
            outside_run: 0,
        }
    }

    /// The sample time of a reading that carried `tick`, given the host's
    /// estimate (the round-trip midpoint).
    pub fn refine(&mut self, tick: u16, estimate: u64) -> u64 {
        let device_ms = self.unwrap(i64::from(tick), estimate);
        let device = device_ms * 1_000_000;
        let offset = estimate as i64 - device;
        if self.offsets.len() == TICK_WINDOW {
            self.offsets.pop_front();
        }
        self.offsets.push_back(offset);
        self.since_update += 1;
        if self.offsets.len() >= TICK_MIN_SAMPLES
            && (self.span.is_none() || self.since_update >= 32)
        {
            self.since_update = 0;
            let mut sorted: Vec<i64> = self.offsets.iter().copied().collect();
            sorted.sort_unstable();
            let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
            self.span = Some((at(0.05) - TICK_MARGIN, at(0.95) + TICK_MARGIN));
        }
        let Some((low, high)) = self.span else {
            return estimate;
        };
        let clamped = offset.clamp(low, high);
        if (offset - clamped).abs() > TICK_JUMP {
            self.outside_run += 1;
            if self.outside_run >= 5 {
                self.offsets.clear();
                self.span = None;
                self.outside_run = 0;
            }
            return estimate;
        }
        self.outside_run = 0;
        u64::try_from(device + clamped).unwrap_or(estimate)
    }

    /// The tick count without wraps: the value of `tick` modulo the wrap
    /// nearest to where the host's elapsed time puts it.
    fn unwrap(&mut self, tick: i64, estimate: u64) -> i64 {
        let unwrapped = match self.last {
            None => tick,
            Some((last_ms, last_host)) => {
                let expected = last_ms + (estimate as i64 - last_host as i64) / 1_000_000;
                let wraps = ((expected - tick) as f64 / self.wrap_ms as f64).round() as i64;
                tick + wraps * self.wrap_ms
            }
        };
        self.last = Some((unwrapped, estimate));
        unwrapped
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

    /// Frames of a camera whose clock runs `ppm` slow, exposed at
    /// `start + k·period·(1 + ppm)`, some lost at the source, delivered
    /// with one-sided delays: mostly under 2 ms, 3 % between 10 and 30 ms
    /// (a loaded machine), 0.5 % over a whole period.
    fn cadence_errors(ppm: f64, seed: u64) -> Vec<f64> {
        let period = 1_000_000_000 / 30;
        let mut clock = FrameCadence::new(30);
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % 1_000_000
        };
        let mut frames = Vec::new();
        for k in 0..3000u64 {
            let exposed = 7_000_000_000 + (k as f64 * period as f64 * (1.0 + ppm * 1e-6)) as u64;
            let r = next();
            if r < 20_000 {
                continue; // lost
            }
            let delay = match next() {
                d if d < 5_000 => 35_000_000 + d * 1000,
                d if d < 35_000 => 10_000_000 + d * 500,
                d => 300_000 + d * 2,
            };
            frames.push((exposed, exposed + delay));
        }
        // Delivery keeps order.
        for i in 1..frames.len() {
            frames[i].1 = frames[i].1.max(frames[i - 1].1 + 1);
        }
        let mut stamps = Vec::new();
        for &(_, arrival) in &frames {
            stamps.extend(clock.push(arrival));
        }
        stamps.extend(clock.flush());
        assert_eq!(stamps.len(), frames.len());
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
        frames
            .iter()
            .zip(&stamps)
            .skip(60)
            .map(|(&(exposed, _), &s)| s.abs_diff(exposed) as f64 / 1e6)
            .collect()
    }

    fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * q) as usize]
    }

    #[test]
    fn frame_cadence_removes_delivery_jitter() {
        for (ppm, seed) in [(0.0, 1), (40.0, 2), (-1000.0, 3)] {
            let errors = cadence_errors(ppm, seed);
            let (p50, p99) = (
                quantile(errors.clone(), 0.5),
                quantile(errors.clone(), 0.99),
            );
            let late = errors.iter().filter(|&&e| e > 1.0).count();
            // The smallest delay (0.3 ms) stays in the stamps, as a latency.
            assert!(p50 < 0.8 && p99 < 1.0, "{ppm} ppm: p50 {p50} p99 {p99} ms");
            // Only frames later than 1.5 periods whose successor came
            // on time may keep an error, and of at most one period.
            assert!(late * 200 < errors.len(), "{ppm} ppm: {late} late");
            assert!(errors.iter().all(|&e| e < 34.0), "{ppm} ppm");
        }
    }

    #[test]
    fn frame_cadence_holds_one_frame() {
        let mut clock = FrameCadence::new(30);
        assert_eq!(clock.push(1_000_000_000), None);
        assert_eq!(clock.push(1_033_333_333), Some(1_000_000_000));
        assert_eq!(clock.flush(), Some(1_033_333_333));
        assert_eq!(clock.flush(), None);
    }

    /// A 200 Hz poll of a device latching at `t` with a 1 ms tick that
    /// started at `boot` and drifts 30 ppm; midpoints are within 0.1 ms,
    /// except 3 % off by 1–5 ms (a stalled leg).
    #[test]
    fn tick_bound_corrects_stalled_midpoints() {
        let mut bound = TickBound::new(32_768);
        let mut state = 99u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % 1_000_000
        };
        let (mut before, mut after) = (Vec::new(), Vec::new());
        for k in 0..40_000u64 {
            let truth = 1_000_000_000_000 + k * 5_000_000 + next() / 10;
            let device_ms = ((truth as f64 * (1.0 + 30e-6)) as u64 / 1_000_000 + 12_345) % 32_768;
            let noise = match next() {
                r if r < 30_000 => 1_000_000 + r * 133,
                r => r / 10,
            };
            let estimate = if k % 2 == 0 {
                truth + noise
            } else {
                truth - noise.min(truth)
            };
            let refined = bound.refine(device_ms as u16, estimate);
            if k > 1000 {
                before.push(estimate.abs_diff(truth) as f64 / 1e6);
                after.push(refined.abs_diff(truth) as f64 / 1e6);
            }
        }
        let (p99_before, p99_after) = (
            quantile(before.clone(), 0.99),
            quantile(after.clone(), 0.99),
        );
        let (p50_before, p50_after) = (quantile(before, 0.5), quantile(after.clone(), 0.5));
        assert!(p99_before > 2.0, "{p99_before}");
        assert!(p99_after < 1.5, "p99 {p99_before} -> {p99_after} ms");
        // Good midpoints stay as they were.
        assert!(
            (p50_after - p50_before).abs() < 0.01,
            "p50 {p50_before} -> {p50_after}"
        );
        assert!(after.iter().all(|&e| e < 1.6), "{}", quantile(after, 1.0));
    }

    #[test]
    fn tick_bound_starts_over_after_a_clock_jump() {
        let mut bound = TickBound::new(32_768);
        let mut worst_late = 0u64;
        for k in 0..2_000u64 {
            let truth = 5_000_000_000 + k * 5_000_000;
            // The device reboots at sample 1000: its tick restarts at 0.
            let device_ms = if k < 1000 {
                truth / 1_000_000 + 777
            } else {
                (k - 1000) * 5
            } % 32_768;
            let refined = bound.refine(device_ms as u16, truth + 50_000);
            if k > 1100 {
                worst_late = worst_late.max(refined.abs_diff(truth));
            }
        }
        assert!(worst_late < 1_000_000, "{worst_late} ns");
    }
}
