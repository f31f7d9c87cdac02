//! Automatic pre-labels for a person to confirm or edit:
//!
//! - `gripper close` / `gripper open`: the gripper joint moving through at
//!   least a fifth of its range, from where it leaves its plateau to where
//!   it settles;
//! - `grasp` / `release`: a close that the gripper stays closed after until
//!   an open, and that open (the hold between them is `holding`);
//! - `idle`: the start and end of the episode while nothing moves (to trim);
//! - `motion`: the spans in between where any joint moves, split at pauses.
//!
//! The commanded stream (`joint_commands`) is used when there is one: it
//! shows the operator's intent without the lag and stall of the measured
//! joint. Larger gripper values are taken as more open (SO-100/101, ALOHA,
//! Koch).

use std::path::Path;

use crate::scan::{header_stamp, StreamKind};
use reel_episode::annotations::{Origin, Segment};
use reel_episode::ros2::sensor_msgs::JointState;
use reel_episode::Result;
use reel_episode::{schema_name, EpisodeReader};

/// Joint speed (rad/s or m/s) above which a joint moves.
const MOVING_SPEED: f64 = 0.05;
/// Pauses shorter than this do not split a motion (s).
const MIN_PAUSE_S: f64 = 0.3;
/// Shortest idle span worth trimming (s).
const MIN_IDLE_S: f64 = 0.3;
/// A gripper movement covers at least this share of the gripper's range.
const GRIPPER_MIN_SHARE: f64 = 0.2;
/// A gripper has settled once within this share of its range of the plateau.
const GRIPPER_SETTLED_SHARE: f64 = 0.005;
/// Longest slow start (s) counted as part of a gripper movement.
const MAX_CREEP_S: f64 = 0.15;
/// Half-width of the window the speed is measured over (s).
const SPEED_HALF_WINDOW_S: f64 = 0.025;

/// One joint stream.
#[derive(Debug, Clone, Default)]
struct Stream {
    topic: String,
    names: Vec<String>,
    times: Vec<f64>,
    positions: Vec<Vec<f64>>,
}

/// Log time (s) read past the first message to find the smallest sensor
/// stamp: stamps trail arrival by the sensor latency (a LiDAR turn, 0.1 s).
const START_SEARCH_NS: u64 = 2_000_000_000;

/// The episode's first sensor stamp over its data streams (ns): where
/// annotation times count from. Reads only the first seconds.
pub fn first_sample_nanos(reader: &EpisodeReader) -> Result<u64> {
    let mut first_log: Option<u64> = None;
    let mut start: Option<u64> = None;
    for m in reader.messages() {
        let m = m?;
        let from = *first_log.get_or_insert(m.log_time);
        if m.log_time > from + START_SEARCH_NS {
            break;
        }
        if StreamKind::of(schema_name(&m.channel)).is_data() {
            let stamp = header_stamp(&m.data).unwrap_or(m.publish_time);
            start = Some(start.map_or(stamp, |s| s.min(stamp)));
        }
    }
    Ok(start.or(first_log).unwrap_or(0))
}

/// Pre-labels of the episode at `path`, times in s from `start_nanos`.
pub fn prelabel(path: &Path, start_nanos: u64) -> Result<Vec<Segment>> {
    let reader = EpisodeReader::open(path)?;
    let mut start: Option<u64> = None;
    let mut end = 0u64;
    let mut streams: Vec<Stream> = Vec::new();
    let mut raw: Vec<(usize, u64, Vec<f64>)> = Vec::new();
    for (index, m) in reader.messages().enumerate() {
        let m = m?;
        let kind = StreamKind::of(schema_name(&m.channel));
        if !kind.is_data() {
            continue;
        }
        let stamp = header_stamp(&m.data).unwrap_or(m.publish_time);
        start = Some(start.map_or(stamp, |s| s.min(stamp)));
        end = end.max(stamp);
        if kind == StreamKind::Joints {
            let js: JointState = reader.decode(&m, index as u64)?;
            let i = match streams.iter().position(|s| s.topic == m.channel.topic) {
                Some(i) => i,
                None => {
                    streams.push(Stream {
                        topic: m.channel.topic.clone(),
                        names: js.name.clone(),
                        ..Default::default()
                    });
                    streams.len() - 1
                }
            };
            raw.push((i, stamp, js.position));
        }
    }
    if start.is_none() {
        return Ok(Vec::new());
    }
    let start = start_nanos;
    for (i, stamp, position) in raw {
        let s = &mut streams[i];
        if position.len() == s.names.len() {
            s.times.push(stamp.saturating_sub(start) as f64 / 1e9);
            s.positions.push(position);
        }
    }
    for s in &mut streams {
        sort_by_time(s);
    }
    let duration = end.saturating_sub(start) as f64 / 1e9;
    Ok(label_streams(&streams, duration))
}

fn sort_by_time(s: &mut Stream) {
    let mut order: Vec<usize> = (0..s.times.len()).collect();
    order.sort_by(|&a, &b| s.times[a].total_cmp(&s.times[b]));
    s.times = order.iter().map(|&i| s.times[i]).collect();
    s.positions = order.iter().map(|&i| s.positions[i].clone()).collect();
}

fn auto(start_s: f64, end_s: f64, label: &str) -> Segment {
    Segment {
        start_s,
        end_s,
        label: label.into(),
        origin: Origin::Auto,
        confirmed: false,
    }
}

fn label_streams(streams: &[Stream], duration: f64) -> Vec<Segment> {
    let commanded: Vec<&Stream> = streams
        .iter()
        .filter(|s| s.topic.ends_with("/joint_commands"))
        .collect();
    let chosen: Vec<&Stream> = if commanded.is_empty() {
        streams.iter().collect()
    } else {
        commanded
    };
    let mut out = Vec::new();
    for s in &chosen {
        for (j, name) in s.names.iter().enumerate() {
            if name.contains("gripper") {
                let values: Vec<f64> = s.positions.iter().map(|p| p[j]).collect();
                out.extend(gripper_segments(&s.times, &values));
            }
        }
    }
    out.extend(motion_segments(&chosen, duration));
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

/// Speed of `values` at each sample over ± [`SPEED_HALF_WINDOW_S`].
fn speeds(times: &[f64], values: &[f64]) -> Vec<f64> {
    let n = times.len();
    let (mut lo, mut hi) = (0usize, 0usize);
    (0..n)
        .map(|i| {
            while times[i] - times[lo] > SPEED_HALF_WINDOW_S {
                lo += 1;
            }
            while hi + 1 < n && times[hi + 1] - times[i] <= SPEED_HALF_WINDOW_S {
                hi += 1;
            }
            let dt = times[hi] - times[lo];
            if dt > 0.0 {
                (values[hi] - values[lo]) / dt
            } else {
                0.0
            }
        })
        .collect()
}

fn gripper_segments(times: &[f64], values: &[f64]) -> Vec<Segment> {
    if times.len() < 3 {
        return Vec::new();
    }
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    let range = hi - lo;
    if range < 0.05 {
        return Vec::new();
    }
    let v = speeds(times, values);
    // Moving at a tenth of the range per second or faster, by direction.
    let threshold = (0.1 * range).max(MOVING_SPEED);
    let mut moves: Vec<(usize, usize, f64)> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if v[i].abs() <= threshold {
            i += 1;
            continue;
        }
        let sign = v[i].signum();
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] * sign > threshold {
            j += 1;
        }
        match moves.last_mut() {
            Some(last) if last.2 == sign && times[i] - times[last.1] < 0.1 => last.1 = j,
            _ => moves.push((i, j, sign)),
        }
        i = j + 1;
    }
    let settled = GRIPPER_SETTLED_SHARE * range;
    // (start, end, direction) of each movement, in time.
    let mut segments: Vec<(f64, f64, f64)> = Vec::new();
    for (a, b, sign) in moves {
        // The whole monotonic run around the fast part.
        let mut s = a;
        while s > 0 && (values[s] - values[s - 1]) * sign > 0.0 {
            s -= 1;
        }
        let mut e = b;
        while e + 1 < values.len() && (values[e + 1] - values[e]) * sign > 0.0 {
            e += 1;
        }
        let (before, after) = (values[s], values[e]);
        if (after - before).abs() < GRIPPER_MIN_SHARE * range {
            continue;
        }
        // From where the run leaves the first plateau (a smooth start
        // creeps: its first sample of motion, unless the creep is long, as
        // noise makes it) to the first sample settled on the second.
        let departed = (s..=e)
            .find(|&i| (values[i] - before).abs() > settled)
            .unwrap_or(s);
        let first = if times[departed] - times[s] <= MAX_CREEP_S {
            s
        } else {
            departed.saturating_sub(1).max(s)
        };
        let last = (s..=e)
            .find(|&i| (values[i] - after).abs() <= settled)
            .unwrap_or(e);
        if segments
            .last()
            .is_some_and(|l| l.2 == sign && times[first] <= l.1)
        {
            continue;
        }
        segments.push((times[first], times[last], sign));
    }
    let mut out = Vec::new();
    for (k, &(start, end, sign)) in segments.iter().enumerate() {
        out.push(auto(
            start,
            end,
            if sign < 0.0 {
                "gripper close"
            } else {
                "gripper open"
            },
        ));
        // A close followed by an open, with nothing in between: a grasp
        // held until its release.
        if sign < 0.0 {
            if let Some(&(o_start, o_end, o_sign)) = segments.get(k + 1) {
                if o_sign > 0.0 && o_start > end {
                    out.push(auto(start, end, "grasp"));
                    out.push(auto(end, o_start, "holding"));
                    out.push(auto(o_start, o_end, "release"));
                }
            }
        }
    }
    out
}

/// `idle` at the ends, `motion` between pauses, from every joint of `streams`.
fn motion_segments(streams: &[&Stream], duration: f64) -> Vec<Segment> {
    // Moving intervals of every joint, merged.
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for s in streams {
        for j in 0..s.names.len() {
            let values: Vec<f64> = s.positions.iter().map(|p| p[j]).collect();
            let v = speeds(&s.times, &values);
            let mut run: Option<f64> = None;
            for (i, &speed) in v.iter().enumerate() {
                match (speed.abs() > MOVING_SPEED, run) {
                    (true, None) => run = Some(s.times[i]),
                    (false, Some(a)) => {
                        spans.push((a, s.times[i]));
                        run = None;
                    }
                    _ => {}
                }
            }
            if let (Some(a), Some(&b)) = (run, s.times.last()) {
                spans.push((a, b));
            }
        }
    }
    if spans.is_empty() {
        return if duration >= MIN_IDLE_S {
            vec![auto(0.0, duration, "idle")]
        } else {
            Vec::new()
        };
    }
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a - last.1 < MIN_PAUSE_S => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut out = Vec::new();
    if merged[0].0 >= MIN_IDLE_S {
        out.push(auto(0.0, merged[0].0, "idle"));
    }
    out.extend(merged.iter().map(|&(a, b)| auto(a, b, "motion")));
    let last = merged[merged.len() - 1].1;
    if duration - last >= MIN_IDLE_S {
        out.push(auto(last, duration, "idle"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gripper that opens at 1 s, closes at 3 s (a grasp), opens at 6 s
    /// (the release), over 0.5 s smooth ramps sampled at 100 Hz.
    #[test]
    fn a_close_then_open_is_a_grasp_and_its_release() {
        let ramp = |t: f64, at: f64, from: f64, to: f64| {
            let x = ((t - at) / 0.5).clamp(0.0, 1.0);
            from + (to - from) * (0.5 - 0.5 * (std::f64::consts::PI * x).cos())
        };
        let times: Vec<f64> = (0..900).map(|i| f64::from(i) * 0.01).collect();
        let values: Vec<f64> = times
            .iter()
            .map(|&t| {
                if t < 3.0 {
                    ramp(t, 1.0, 0.0, 1.0)
                } else if t < 6.0 {
                    ramp(t, 3.0, 1.0, -0.1)
                } else {
                    ramp(t, 6.0, -0.1, 1.0)
                }
            })
            .collect();
        let s = gripper_segments(&times, &values);
        let find = |label: &str| s.iter().find(|x| x.label == label).unwrap();
        assert!((find("grasp").start_s - 3.0).abs() < 0.05, "{s:?}");
        assert!((find("release").start_s - 6.0).abs() < 0.05, "{s:?}");
        assert!((find("holding").end_s - 6.0).abs() < 0.05, "{s:?}");
        assert_eq!(s.iter().filter(|x| x.label == "gripper open").count(), 2);
    }

    #[test]
    fn still_ends_are_idle() {
        let times: Vec<f64> = (0..500).map(|i| f64::from(i) * 0.01).collect();
        let stream = Stream {
            topic: "/robot/a/joint_commands".into(),
            names: vec!["shoulder".into()],
            positions: times
                .iter()
                .map(|&t| {
                    vec![if (1.0..3.0).contains(&t) {
                        (t - 1.0) * 0.5
                    } else if t >= 3.0 {
                        1.0
                    } else {
                        0.0
                    }]
                })
                .collect(),
            times,
        };
        let s = motion_segments(&[&stream], 4.99);
        let labels: Vec<(&str, f64, f64)> = s
            .iter()
            .map(|x| (x.label.as_str(), x.start_s, x.end_s))
            .collect();
        assert_eq!(labels.len(), 3, "{labels:?}");
        assert_eq!(labels[0].0, "idle");
        assert!(
            (labels[0].2 - 1.0).abs() < 0.05 && (labels[1].2 - 3.0).abs() < 0.05,
            "{labels:?}"
        );
        assert_eq!(labels[2].0, "idle");
    }
}
