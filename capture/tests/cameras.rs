#![allow(clippy::unwrap_used)]
//! The camera driver through FFmpeg against the emulated MJPEG-over-HTTP
//! camera and lavfi's testsrc2: frame rate, JPEG pass-through, H.264, and the
//! acquisition time read back from the picture.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reel_capture::drivers::camera::{self, CameraTopics};
use reel_capture::emulators::camera::CameraEmulator;
use reel_capture::recorder::sink::{DeviceStatus, Envelope, Payload, Sink};
use reel_capture::rig::{Camera, CameraFormat};
use reel_capture::{timecode, video};

fn camera(source: &str, format: CameraFormat) -> Camera {
    Camera {
        name: "test".into(),
        source: source.into(),
        width: 320,
        height: 240,
        fps: 30,
        format,
        latency_ms: 0.0,
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

#[test]
fn emulated_http_camera_passes_jpeg_through_with_true_times() {
    let emu = CameraEmulator::start("127.0.0.1:0".parse().unwrap(), 320, 240, 30).unwrap();
    let url = format!("http://{}/stream.mjpg", emu.address());
    let got = record(&camera(&url, CameraFormat::Jpeg), 3.0);
    let frames: Vec<_> = got
        .iter()
        .filter_map(|e| match &e.payload {
            Payload::Image(img) => Some((e.publish_nanos, img)),
            _ => None,
        })
        .collect();
    // ~3 s at 30 fps, minus the connection set-up.
    assert!(frames.len() > 70, "{} frames", frames.len());
    let mut errors = Vec::new();
    for (stamp, img) in &frames {
        assert_eq!(img.format, "jpeg");
        assert_eq!(&img.data[..2], &[0xFF, 0xD8]);
        let frame = video::decode_jpeg(&img.data).unwrap();
        let truth = timecode::read(frame.data(0), frame.stride(0), 320).expect("timecode");
        errors.push(stamp.abs_diff(truth));
    }
    errors.sort_unstable();
    let p99 = errors[errors.len() * 99 / 100];
    println!(
        "http camera: {} frames, stamp error p50 {:.2} ms p99 {:.2} ms",
        frames.len(),
        errors[errors.len() / 2] as f64 / 1e6,
        p99 as f64 / 1e6
    );
    assert!(p99 < 20_000_000, "p99 {p99} ns");
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
