//! An emulated network camera: FFmpeg's `testsrc2` pattern at the camera's
//! size and rate, each frame stamped with its exposure time
//! ([`crate::timecode`]), JPEG-encoded by libav and served as MJPEG over
//! HTTP (`multipart/x-mixed-replace`), the way most IP cameras stream. The
//! driver reads it through FFmpeg's http + mpjpeg demuxer like any camera.
//!
//! The HTTP side is a few lines over std's TcpListener: one response header,
//! then one part per frame; no crate is needed for that.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use reel_episode::time::host_now_nanos;

use super::threads::DeviceThreads;
use crate::timecode;
use reel_media::camera::{self as camera_io, Codec, Converter, Encoder, Source};
use reel_media::MediaError;

const BOUNDARY: &str = "reelframe";

/// Horizontal field of view of the emulated cameras' ideal lens, degrees.
pub const IDEAL_HFOV_DEG: f64 = 60.0;

/// The lens the emulated cameras declare: `testsrc2` draws no scene, so
/// the pixel grid is taken as a distortion-free pinhole with a 60°
/// horizontal field of view, square pixels and the principal point at the
/// image centre. The sample rigs carry it as their cameras' intrinsics, so
/// recordings from them have a `camera_info` as real calibrated rigs do.
pub fn ideal_lens(width: u32, height: u32) -> reel_episode::calibration::CameraModel {
    let f = f64::from(width) / 2.0 / (IDEAL_HFOV_DEG.to_radians() / 2.0).tan();
    reel_episode::calibration::CameraModel {
        lens: reel_episode::calibration::LensModel::PinholeRadtan,
        width,
        height,
        fx: f,
        fy: f,
        cx: (f64::from(width) - 1.0) / 2.0,
        cy: (f64::from(height) - 1.0) / 2.0,
        distortion: vec![0.0; 5],
    }
}

/// Counters of an emulated camera.
#[derive(Debug, Default)]
pub struct CameraEmulatorStats {
    /// Frames produced.
    pub frames: AtomicU64,
    /// Frames sent to clients (summed over clients).
    pub sent: AtomicU64,
    /// Clients that connected.
    pub clients: AtomicU64,
}

/// A running emulated camera; stops when dropped.
#[derive(Debug)]
pub struct CameraEmulator {
    address: SocketAddr,
    /// Held for its drop, which stops and joins the device's threads.
    _threads: DeviceThreads,
    stats: Arc<CameraEmulatorStats>,
}

type Clients = Arc<Mutex<Vec<TcpStream>>>;

impl CameraEmulator {
    /// Serves `width`×`height` at `fps` on `address` (any path).
    pub fn start(address: SocketAddr, width: u32, height: u32, fps: u32) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("emulated camera: cannot listen on {address}: {e}"),
            )
        })?;
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stats = Arc::new(CameraEmulatorStats::default());
        let clients: Clients = Arc::default();
        // Open the pattern source now so a bad FFmpeg fails here, not later.
        let input = camera_io::open_input(&Source::TestSrc2, width, height, fps, None, || false)
            .map_err(std::io::Error::other)?;
        let mut threads = DeviceThreads::default();
        {
            let (clients, stats) = (clients.clone(), stats.clone());
            threads.spawn(format!("emu-cam-accept {address}"), move |stop| {
                accept_loop(&listener, &clients, stop, &stats);
            })?;
        }
        {
            let stats = stats.clone();
            threads.spawn(format!("emu-cam {address}"), move |stop| {
                if let Err(e) = produce_loop(input, width, height, fps, &clients, stop, &stats) {
                    eprintln!("emulated camera {address}: {e}");
                }
            })?;
        }
        Ok(Self {
            address,
            _threads: threads,
            stats,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Counters.
    pub fn stats(&self) -> &CameraEmulatorStats {
        &self.stats
    }

    /// Stops serving; clients see the stream end.
    pub fn stop(self) {
        drop(self);
    }
}

fn accept_loop(
    listener: &TcpListener,
    clients: &Clients,
    stop: &AtomicBool,
    stats: &CameraEmulatorStats,
) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
                let _ = stream.set_nodelay(true);
                // Read the request head (any path is the stream).
                let mut head = Vec::new();
                let mut byte = [0u8; 512];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match stream.read(&mut byte) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&byte[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace;boundary={BOUNDARY}\r\n\
                     Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
                );
                if stream.write_all(response.as_bytes()).is_ok() {
                    stats.clients.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut c) = clients.lock() {
                        c.push(stream);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn produce_loop(
    mut input: ffmpeg::format::context::Input,
    width: u32,
    height: u32,
    fps: u32,
    clients: &Clients,
    stop: &AtomicBool,
    stats: &CameraEmulatorStats,
) -> Result<(), MediaError> {
    let (mut decoder, stream_index, _, _) = camera_io::video_decoder(&input)?;
    let mut converter = Converter::new(Encoder::pixel_format(Codec::Jpeg), width, height);
    let mut encoder = Encoder::new(Codec::Jpeg, width, height, fps)?;
    let period = 1_000_000_000 / u64::from(fps);
    let start = host_now_nanos();
    let mut n: u64 = 0;
    let mut decoded = ffmpeg::frame::Video::empty();
    while !stop.load(Ordering::Relaxed) {
        // Next pattern frame (lavfi produces them as fast as asked).
        // A fresh packet per read: av_read_frame does not release what a
        // reused packet still holds (ffmpeg-next's `read` does not either).
        let mut packet = ffmpeg::Packet::empty();
        packet
            .read(&mut input)
            .map_err(MediaError::libav("reading the test pattern"))?;
        if packet.stream() != stream_index {
            continue;
        }
        decoder
            .send_packet(&packet)
            .map_err(MediaError::libav("decoding the test pattern"))?;
        if decoder.receive_frame(&mut decoded).is_err() {
            continue;
        }
        // Frame n is exposed at start + n/fps. Encode it (with that time
        // drawn in) ahead, then deliver it at its exposure time: a camera
        // with a fixed, zero exposure-to-delivery latency.
        let now = host_now_nanos();
        if start + n * period + period < now {
            // Fell behind (a stalled machine): skip frames, as a real
            // camera's driver would lose them.
            n = (now - start) / period + 1;
        }
        let acquired = start + n * period;
        n += 1;
        let mut frame = converter.run(&decoded)?;
        let stride = frame.stride(0);
        timecode::stamp(frame.data_mut(0), stride, width as usize, acquired);
        for plane in 1..3 {
            let stride = frame.stride(plane);
            timecode::neutral_chroma(frame.data_mut(plane), stride, width as usize);
        }
        let jpeg = encoder
            .encode(&mut frame)?
            .into_iter()
            .next()
            .ok_or(MediaError::Stream("the JPEG encoder gave no packet"))?;
        let now = host_now_nanos();
        if acquired > now {
            std::thread::sleep(Duration::from_nanos(acquired - now));
        }
        stats.frames.fetch_add(1, Ordering::Relaxed);
        let part_head = format!(
            "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        );
        if let Ok(mut list) = clients.lock() {
            list.retain_mut(|c| {
                let ok = c
                    .write_all(part_head.as_bytes())
                    .and_then(|()| c.write_all(&jpeg))
                    .and_then(|()| c.write_all(b"\r\n"))
                    .is_ok();
                if ok {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                ok
            });
        }
    }
    Ok(())
}
