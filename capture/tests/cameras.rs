#![allow(clippy::unwrap_used)]
//! The camera driver through FFmpeg against the emulated MJPEG-over-HTTP
//! camera and lavfi's testsrc2: frame rate, JPEG pass-through, H.264, and the
//! acquisition time read back from the picture.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_capture::emulators::camera::CameraEmulator;
use reel_capture::recorder::camera::{self, CameraTopics};
use reel_capture::recorder::sink::{DeviceStatus, Envelope, Payload, Sink};
use reel_capture::rig::{Camera, CameraFormat, CameraStamps};
use reel_capture::timecode;
use reel_media::camera as video;

fn camera(source: &str, format: CameraFormat) -> Camera {
    Camera {
        name: "test".into(),
        source: source.into(),
        width: 320,
        height: 240,
        fps: 30,
        format,
        latency_ms: 0.0,
        stamps: CameraStamps::Arrival,
        emulated: false,
        intrinsics: None,
        mount: None,
    }
}

fn record(cam: &Camera, seconds: f64) -> Vec<Envelope> {
    let (tx, rx) = crossbeam_channel::bounded(1000);
    let sink = Sink::new(tx, DeviceStatus::new("camera test"));
    let stop = Arc::new(AtomicBool::new(false));
    let topics = CameraTopics {
        frames: 0,
        events: 1,
    };
    let handle = {
        let (cam, stop) = (cam.clone(), stop.clone());
        std::thread::spawn(move || camera::run(&cam, &topics, &sink, &stop))
    };
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
    rx.try_iter().collect()
}

/// Stamp errors (ns) against the time codes, sorted; checks the frames
/// on the way.
fn stamp_errors(got: &[Envelope]) -> Vec<u64> {
    let frames: Vec<_> = got
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Image(img) => Some((e.publish_nanos, e.log_nanos, img)),
            _ => None,
        })
        .collect();
    // ~3 s at 30 fps, minus the connection set-up.
    assert!(frames.len() > 70, "{} frames", frames.len());
    assert!(frames.windows(2).all(|w| w[0].0 < w[1].0), "stamps go back");
    let mut errors = Vec::new();
    // Errors after the first half second, in which a cadence fit is still
    // learning the camera's clock.
    for (i, (stamp, received, img)) in frames.iter().enumerate() {
        assert!(stamp <= received, "stamped after it arrived");
        assert_eq!(img.format, "jpeg");
        assert_eq!(&img.data[..2], &[0xFF, 0xD8]);
        let frame = video::decode_jpeg(&img.data).unwrap();
        let truth = timecode::read(frame.data(0), frame.stride(0), 320).expect("timecode");
        if i >= 15 {
            errors.push(stamp.abs_diff(truth));
        }
    }
    errors.sort_unstable();
    errors
}

#[test]
fn emulated_http_camera_passes_jpeg_through_with_true_times() {
    let emu = CameraEmulator::start("127.0.0.1:0".parse().unwrap(), 320, 240, 30).unwrap();
    let url = format!("http://{}/stream.mjpg", emu.address());
    // Both stamp models side by side, on one stream and under the same load.
    let arrival = camera(&url, CameraFormat::Jpeg);
    let cadence = Camera {
        stamps: CameraStamps::Cadence,
        ..arrival.clone()
    };
    let runs = [arrival, cadence].map(|cam| std::thread::spawn(move || record(&cam, 3.0)));
    let [arrival, cadence] = runs.map(|r| stamp_errors(&r.join().unwrap()));
    let ms = |e: &[u64], q: usize| e[e.len() * q / 100] as f64 / 1e6;
    for (name, e) in [("arrival", &arrival), ("cadence", &cadence)] {
        println!(
            "http camera, {name} stamps: {} frames, error p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
            e.len(),
            ms(e, 50),
            ms(e, 99),
            *e.last().unwrap() as f64 / 1e6
        );
    }
    assert!(ms(&arrival, 99) < 20.0);
    // The frame clock takes scheduling delays out: what stays is the
    // smallest delivery delay plus the fit's noise.
    assert!(ms(&cadence, 50) < 1.0 && ms(&cadence, 99) < 5.0);
}

#[test]
fn testsrc2_camera_encodes_h264_and_jpeg() {
    for format in [CameraFormat::H264, CameraFormat::Jpeg] {
        let got = record(&camera("testsrc2", format), 1.5);
        let n = got
            .iter()
            .filter(|e| match (&e.payload, format) {
                (Payload::Video(v), CameraFormat::H264) => {
                    v.format == "h264" && v.data.starts_with(&[0, 0, 0, 1])
                }
                (Payload::Image(i), CameraFormat::Jpeg) => i.data.starts_with(&[0xFF, 0xD8]),
                _ => false,
            })
            .count();
        assert!(
            (38..=47).contains(&n),
            "{format:?}: {n} frames in 1.5 s at 30 fps"
        );
    }
}

#[test]
fn device_stamps_follow_the_stream_clock() {
    // testsrc2's presentation times count frames at the set rate, and the
    // driver reads it one frame per period: a stream whose sender clock is
    // known, so the stamps must be evenly spaced whatever the arrivals did.
    let cam = Camera {
        stamps: CameraStamps::Device,
        ..camera("testsrc2", CameraFormat::Jpeg)
    };
    let got = record(&cam, 2.5);
    let frames: Vec<(u64, u64)> = got
        .iter()
        .filter(|e| matches!(e.payload, Payload::Image(_)))
        .map(|e| (e.publish_nanos, e.log_nanos))
        .collect();
    assert!(frames.len() > 50, "{} frames", frames.len());
    assert!(frames.iter().all(|(stamp, arrival)| stamp <= arrival));
    let period = 1e9 / 30.0;
    // After the first second, once the fit has its envelope; it still
    // moves a little as new buckets close.
    let worst = frames[30..]
        .windows(2)
        .map(|w| ((w[1].0 - w[0].0) as f64 - period).abs())
        .fold(0.0, f64::max);
    let arrival_worst = frames[30..]
        .windows(2)
        .map(|w| ((w[1].1 - w[0].1) as f64 - period).abs())
        .fold(0.0, f64::max);
    println!(
        "device stamps: spacing off by at most {:.3} ms (arrivals: {:.3} ms)",
        worst / 1e6,
        arrival_worst / 1e6
    );
    assert!(worst < 1_000_000.0, "{worst} ns");
}

#[test]
fn a_dead_camera_url_is_reported_not_fatal() {
    let got = record(
        &camera("http://127.0.0.1:9/none.mjpg", CameraFormat::Jpeg),
        1.0,
    );
    let events: Vec<_> = got
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Event(j) => Some(j.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].contains("device_lost"), "{}", events[0]);
}
