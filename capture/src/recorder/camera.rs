//! A camera's session loop: reads frames from the driver
//! ([`CameraSource`]), stamps them on the host clock, and hands them to the
//! writer. Frames are stamped with the V4L2 kernel time, or their arrival,
//! or (rig `stamps = "cadence"`) on the camera's frame clock fitted to the
//! arrivals, or (`stamps = "device"`) by the stream's own presentation
//! times mapped to the host clock; the rig's `latency_ms` is then
//! subtracted, in one place (`Stamper::acquired`). A source that fails is
//! reported, reopened every second, and the gap is recorded as events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::sensor_msgs::CompressedImage;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::time::host_now_nanos;
use reel_media::camera::Codec;

use super::sink::{Payload, Sink};
use super::sleep_unless_stopped;
use crate::clock::{ClockFit, FrameCadence};
use crate::drivers::camera::{frame_id, CameraSource, RawFrame};
use crate::rig::{Camera, CameraStamps};

/// Where a camera's output goes.
#[derive(Debug, Clone)]
pub struct CameraTopics {
    /// `/camera/<name>/image/compressed` or `/camera/<name>/video`.
    pub frames: usize,
    /// `/episode/events`.
    pub events: usize,
}

/// Offset from CLOCK_MONOTONIC to the host clock, for V4L2 buffer stamps.
fn monotonic_to_host_offset() -> i128 {
    let mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let mono_nanos = i128::from(mono.tv_sec) * 1_000_000_000 + i128::from(mono.tv_nsec);
    i128::from(host_now_nanos()) - mono_nanos
}

/// How one session with a source stamps its frames.
enum FrameTiming {
    /// V4L2: the kernel's CLOCK_MONOTONIC buffer stamp, moved to the host
    /// clock by this offset.
    Kernel { monotonic_to_host: i128 },
    /// On the camera's own frame clock fitted to the arrivals (rig
    /// `stamps = "cadence"`): each frame waits for its successor, see
    /// `FrameCadence`; `held` is the waiting frame (arrival, payloads).
    Cadence {
        cadence: FrameCadence,
        held: Option<(u64, Vec<Vec<u8>>)>,
    },
    /// The stream's presentation times (RTP timestamps of RTSP, MPEG-TS
    /// PTS) mapped to the host clock (rig `stamps = "device"`).
    StreamClock(ClockFit),
    /// Arrival.
    Arrival,
}

/// A frame ready to store: arrival, acquisition before latency, payloads.
type Stamped = (u64, u64, Vec<Vec<u8>>);

/// Stamps a camera's frames for one session with its source.
struct Stamper {
    timing: FrameTiming,
    /// The rig's `latency_ms`, ns: subtracted from every acquisition time.
    latency_nanos: u64,
}

impl Stamper {
    fn new(camera: &Camera, source: &CameraSource) -> Self {
        let timing = if source.is_v4l2() {
            FrameTiming::Kernel {
                monotonic_to_host: monotonic_to_host_offset(),
            }
        } else {
            match camera.stamps {
                CameraStamps::Cadence => FrameTiming::Cadence {
                    cadence: FrameCadence::new(camera.fps),
                    held: None,
                },
                CameraStamps::Device => FrameTiming::StreamClock(ClockFit::default()),
                CameraStamps::Arrival => FrameTiming::Arrival,
            }
        };
        Self {
            timing,
            latency_nanos: (camera.latency_ms * 1e6) as u64,
        }
    }

    /// The frame to store now, if any (a cadence-timed frame waits for its
    /// successor, so this may be the previous frame).
    fn stamp(&mut self, frame: RawFrame) -> Option<Stamped> {
        let received = frame.received_nanos;
        let acquired = match &mut self.timing {
            FrameTiming::Cadence { cadence, held } => {
                let settled = cadence.push(received);
                return match (held.replace((received, frame.payloads)), settled) {
                    (Some((r, payloads)), Some(t)) => Some((r, self.acquired(t), payloads)),
                    _ => None,
                };
            }
            // V4L2 buffers carry the kernel's CLOCK_MONOTONIC stamp (µs).
            FrameTiming::Kernel { monotonic_to_host } => frame
                .pts_nanos
                .and_then(|ns| u64::try_from(ns + *monotonic_to_host).ok())
                .unwrap_or(received),
            FrameTiming::StreamClock(clock) => {
                match frame.pts_nanos.and_then(|ns| u64::try_from(ns).ok()) {
                    Some(ns) => {
                        clock.push(ns, received);
                        clock.to_host(ns).unwrap_or(received).min(received)
                    }
                    None => received,
                }
            }
            FrameTiming::Arrival => received,
        };
        Some((received, self.acquired(acquired), frame.payloads))
    }

    /// The frame still held when the session ends, complete.
    fn flush(&mut self) -> Option<Stamped> {
        let FrameTiming::Cadence {
            cadence,
            held: Some((received, payloads)),
        } = &mut self.timing
        else {
            return None;
        };
        let t = cadence.flush()?;
        let (received, payloads) = (*received, std::mem::take(payloads));
        Some((received, self.acquired(t), payloads))
    }

    /// Acquisition on the host clock: the stamp less the camera's latency.
    fn acquired(&self, stamp: u64) -> u64 {
        stamp.saturating_sub(self.latency_nanos)
    }
}

/// Runs until `stop`, reopening the source after failures.
pub fn run(camera: &Camera, topics: &CameraTopics, sink: &Sink, stop: &Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let result = session(camera, topics, sink, stop);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let reason = match result {
            Ok(()) => "stream ended".to_string(),
            Err(e) => e.to_string(),
        };
        let reason = format!("{}: {reason}", camera.source);
        sink.device_lost(topics.events, &reason, host_now_nanos());
        sleep_unless_stopped(Duration::from_secs(1), stop);
    }
}

/// One session with the source: open, read until failure or stop.
fn session(
    camera: &Camera,
    topics: &CameraTopics,
    sink: &Sink,
    stop: &Arc<AtomicBool>,
) -> Result<(), reel_media::MediaError> {
    let mut source = CameraSource::open(camera, stop)?;
    let codec = CameraSource::codec(camera);
    let frame_id = frame_id(&camera.name);
    let mut stamper = Stamper::new(camera, &source);
    let emit = |(received, acquired, payloads): Stamped| -> bool {
        payloads.into_iter().all(|data| {
            let payload = match codec {
                Codec::Jpeg => Payload::Image(CompressedImage {
                    header: Header::new(acquired, frame_id.clone()),
                    format: "jpeg".into(),
                    data,
                }),
                Codec::H264 => Payload::Video(CompressedVideo {
                    timestamp: Time::from_nanos(acquired),
                    frame_id: frame_id.clone(),
                    data,
                    format: "h264".into(),
                }),
            };
            sink.send(topics.frames, received, acquired, payload)
        })
    };
    sink.device_up(topics.events, host_now_nanos());
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let frame = match source.next_frame() {
            Ok(f) => f,
            Err(e) => break Err(e),
        };
        if let Some(stamped) = stamper.stamp(frame) {
            if !emit(stamped) {
                return Ok(());
            }
        }
    };
    // The held frame is complete: store it before reporting how the stream ended.
    if let Some(stamped) = stamper.flush() {
        emit(stamped);
    }
    result
}
