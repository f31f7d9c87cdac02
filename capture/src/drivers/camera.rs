//! The camera driver: any FFmpeg source (V4L2, RTSP/HTTP stream, lavfi
//! `testsrc2`) to `CompressedImage` (JPEG) or `CompressedVideo` (H.264).
//! MJPEG sources stored as JPEG pass through without re-encoding; anything
//! else is decoded and encoded once. Frames are stamped with the V4L2
//! kernel time, or their arrival, or (rig `stamps = "cadence"`) on the
//! camera's frame clock fitted to the arrivals, or (`stamps = "device"`)
//! by the stream's own presentation times mapped to the host clock. A source that fails is reported,
//! reopened every second, and the gap is recorded as events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::sensor_msgs::CompressedImage;
use reel_episode::ros2::std_msgs::Header;
use reel_episode::time::host_now_nanos;

use crate::clock::{ClockFit, FrameCadence};
use crate::recorder::sink::{Payload, Sink};
use crate::recorder::sleep_unless_stopped;
use crate::rig::{Camera, CameraFormat, CameraStamps};
use reel_media::camera::{self as camera_io, Codec, Converter, Encoder, Source};

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
    let mono_ns = i128::from(mono.tv_sec) * 1_000_000_000 + i128::from(mono.tv_nsec);
    i128::from(host_now_nanos()) - mono_ns
}

/// The camera's optical frame id.
pub fn frame_id(camera: &str) -> String {
    format!("camera_{camera}_optical")
}

/// How one session with a source stamps its frames.
enum FrameTiming {
    /// V4L2: the kernel's CLOCK_MONOTONIC buffer stamp, moved to the host
    /// clock by this offset (less `latency_ms`, which a time-offset
    /// calibration measures).
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
    /// Arrival, less the rig's `latency_ms`.
    Arrival,
}

impl FrameTiming {
    fn for_camera(camera: &Camera, source: &Source) -> Self {
        match (source, camera.stamps) {
            (Source::V4l2(_), _) => Self::Kernel {
                monotonic_to_host: monotonic_to_host_offset(),
            },
            (_, CameraStamps::Cadence) => Self::Cadence {
                cadence: FrameCadence::new(camera.fps),
                held: None,
            },
            (_, CameraStamps::Device) => Self::StreamClock(ClockFit::default()),
            (_, CameraStamps::Arrival) => Self::Arrival,
        }
    }
}

/// Runs until `stop`, reopening the source after failures.
pub fn run(camera: &Camera, topics: &CameraTopics, sink: &Sink, stop: &Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let result = stream(camera, topics, sink, stop, &mut |now| {
            sink.device_up(topics.events, now);
        });
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let reason = match result {
            Ok(()) => "stream ended".to_string(),
            Err(e) => e,
        };
        let reason = format!("{}: {reason}", camera.source);
        sink.device_lost(topics.events, &reason, host_now_nanos());
        sleep_unless_stopped(Duration::from_secs(1), stop);
    }
}

/// One session with the source: open, read until failure or stop.
fn stream(
    camera: &Camera,
    topics: &CameraTopics,
    sink: &Sink,
    stop: &Arc<AtomicBool>,
    on_open: &mut dyn FnMut(u64),
) -> Result<(), String> {
    let source = Source::parse(&camera.source);
    let interrupt = {
        let stop = stop.clone();
        move || stop.load(Ordering::Relaxed)
    };
    let input_format = (camera.format == CameraFormat::Jpeg && matches!(source, Source::V4l2(_)))
        .then_some("mjpeg");
    let mut input = camera_io::open_input(
        &source,
        camera.width,
        camera.height,
        camera.fps,
        input_format,
        interrupt,
    )?;
    let (mut decoder, stream_index, codec_id, time_base) = camera_io::video_decoder(&input)?;
    let codec = match camera.format {
        CameraFormat::Jpeg => Codec::Jpeg,
        CameraFormat::H264 => Codec::H264,
    };
    let passthrough = codec == Codec::Jpeg && codec_id == ffmpeg::codec::Id::MJPEG;
    let mut encoder = if passthrough {
        None
    } else {
        Some(Encoder::new(
            codec,
            camera.width,
            camera.height,
            camera.fps,
        )?)
    };
    let mut converter = Converter::new(Encoder::pixel_format(codec), camera.width, camera.height);
    let frame_id = frame_id(&camera.name);
    let latency = (camera.latency_ms * 1e6) as u64;
    let period = 1_000_000_000 / u64::from(camera.fps.max(1));
    let paced_start = host_now_nanos();
    let mut n: u64 = 0;
    let mut decoded = ffmpeg::frame::Video::empty();
    let mut timing = FrameTiming::for_camera(camera, &source);
    let emit = |received: u64, acquired: u64, outputs: Vec<Vec<u8>>| -> bool {
        outputs.into_iter().all(|data| {
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
    on_open(host_now_nanos());
    let result = 'read: loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        if source == Source::TestSrc2 {
            // lavfi makes frames as fast as they are read: pace them like a
            // sensor that exposes one frame per period.
            let due = paced_start + n * period;
            let now = host_now_nanos();
            if due > now {
                std::thread::sleep(Duration::from_nanos(due - now));
            }
            n += 1;
        }
        // A fresh packet per read: av_read_frame does not release what a
        // reused packet still holds (ffmpeg-next's `read` does not either).
        let mut packet = ffmpeg::Packet::empty();
        if let Err(e) = packet.read(&mut input) {
            break Err(e.to_string());
        }
        if packet.stream() != stream_index {
            continue;
        }
        let received = host_now_nanos();
        let mut outputs = Vec::new();
        match encoder.as_mut() {
            None => {
                if let Some(data) = packet.data() {
                    outputs.push(data.to_vec());
                }
            }
            Some(enc) => {
                if let Err(e) = decoder.send_packet(&packet) {
                    break Err(e.to_string());
                }
                while decoder.receive_frame(&mut decoded).is_ok() {
                    match converter.run(&decoded).and_then(|mut f| enc.encode(&mut f)) {
                        Ok(packets) => outputs.extend(packets),
                        Err(e) => break 'read Err(e),
                    }
                }
            }
        }
        // The packet's presentation time on the stream's clock, ns.
        let pts_nanos = packet.pts().map(|pts| {
            i128::from(pts) * 1_000_000_000 * i128::from(time_base.numerator())
                / i128::from(time_base.denominator().max(1))
        });
        let arrival = received.saturating_sub(latency);
        let sent = match &mut timing {
            FrameTiming::Cadence { cadence, held } => {
                let settled = cadence.push(received);
                match (held.replace((received, outputs)), settled) {
                    (Some((r, o)), Some(t)) => emit(r, t.saturating_sub(latency), o),
                    _ => true,
                }
            }
            FrameTiming::Kernel { monotonic_to_host } => match pts_nanos {
                // V4L2 buffers carry the kernel's CLOCK_MONOTONIC stamp (µs).
                Some(ns) => emit(
                    received,
                    u64::try_from(ns + *monotonic_to_host)
                        .unwrap_or(received)
                        .saturating_sub(latency),
                    outputs,
                ),
                None => emit(received, arrival, outputs),
            },
            FrameTiming::StreamClock(clock) => {
                match pts_nanos.and_then(|ns| u64::try_from(ns).ok()) {
                    Some(ns) => {
                        clock.push(ns, received);
                        let acquired = clock.to_host(ns).unwrap_or(received).min(received);
                        emit(received, acquired.saturating_sub(latency), outputs)
                    }
                    None => emit(received, arrival, outputs),
                }
            }
            FrameTiming::Arrival => emit(received, arrival, outputs),
        };
        if !sent {
            return Ok(());
        }
    };
    // The held frame is complete: store it before reporting how the stream ended.
    if let FrameTiming::Cadence {
        cadence,
        held: Some((received, outputs)),
    } = &mut timing
    {
        if let Some(t) = cadence.flush() {
            emit(
                *received,
                t.saturating_sub(latency),
                std::mem::take(outputs),
            );
        }
    }
    result
}
