#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! The daemon's control API under hostile and heavy use, on loopback: a
//! DNS-rebinding request (a foreign `Host`), a cross-origin request, a
//! missing or wrong token, a body that never arrives, and 1,000 requests
//! from 50 clients while an episode records.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reel_capture::control::{serve, ControlError, ControlOptions};
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::{EpisodeReader, Outcome};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// One raw HTTP/1.1 exchange; the status code and body.
fn exchange(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn get(addr: SocketAddr, host: &str, extra: &str) -> (u16, String) {
    let mut head = format!("GET /status HTTP/1.1\r\nHost: {host}");
    if !extra.is_empty() {
        head.push_str("\r\n");
        head.push_str(extra);
    }
    exchange(addr, &head, "")
}

fn bearer() -> String {
    format!("Authorization: Bearer {TOKEN}")
}

/// Runs `body` against a daemon serving a recording emulated rig.
fn with_daemon(
    options: impl FnOnce(SocketAddr) -> ControlOptions,
    body: impl FnOnce(SocketAddr, &Recorder),
) {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let _emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder = Recorder::start(rig, RecorderOptions::new(dir.path().join("out"))).unwrap();
    common::wait_connected(&recorder);
    let addr = free_addr();
    let options = options(addr);
    let stop = AtomicBool::new(false);
    // A failed assertion still stops the server, or the scope never ends.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        let _stop_anyway = StopOnDrop(&stop);
        let server = s.spawn(|| serve(&recorder, &options, &stop));
        for _ in 0..100 {
            if TcpStream::connect(addr).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        body(addr, &recorder);
        let asked = Instant::now();
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap().unwrap();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "shutdown took {:?}",
            asked.elapsed()
        );
    });
    recorder.shutdown();
}

#[test]
fn foreign_hosts_origins_and_tokens_are_refused() {
    with_daemon(
        |addr| ControlOptions {
            token: Some(TOKEN.into()),
            ..ControlOptions::local(addr)
        },
        |addr, _| {
            let ok = get(addr, &addr.to_string(), &bearer());
            assert_eq!(ok.0, 200, "{ok:?}");
            assert_eq!(get(addr, "localhost", &bearer()).0, 200);
            // DNS rebinding: the page's own name arrives as Host.
            let rebound = get(addr, "evil.example:7878", &bearer());
            assert_eq!(rebound.0, 403, "{rebound:?}");
            assert!(rebound.1.contains("Host"), "{rebound:?}");
            let cross = get(
                addr,
                "localhost",
                &format!("{}\r\nOrigin: http://evil.example", bearer()),
            );
            assert_eq!(cross.0, 403, "{cross:?}");
            assert_eq!(get(addr, "localhost", "").0, 401);
            let wrong = format!("Authorization: Bearer {}x", &TOKEN[..TOKEN.len() - 1]);
            assert_eq!(get(addr, "localhost", &wrong).0, 401);
            assert_eq!(get(addr, "localhost", "Authorization: Bearer short").0, 401);
        },
    );
}

#[test]
fn remote_control_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let rig = common::sample_rig_in("so101-emulated", dir.path());
    let _emu = EmulatedRig::start(&rig.rig).unwrap();
    let recorder = Recorder::start(rig, RecorderOptions::new(dir.path().join("out"))).unwrap();
    let options = ControlOptions {
        allow_remote: true,
        ..ControlOptions::local(free_addr())
    };
    let err = serve(&recorder, &options, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, ControlError::TokenRequired { .. }), "{err}");
    recorder.shutdown();
}

#[test]
fn a_body_that_never_arrives_holds_nothing() {
    with_daemon(
        |addr| ControlOptions {
            workers: 2,
            body_timeout: Duration::from_millis(500),
            ..ControlOptions::local(addr)
        },
        |addr, _| {
            // Two stalled POSTs, as many as there are workers.
            let stalled: Vec<TcpStream> = (0..2)
                .map(|_| {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.write_all(
                        b"POST /start HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{",
                    )
                    .unwrap();
                    s
                })
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            let t = Instant::now();
            let status = get(addr, "localhost", "");
            assert_eq!(status.0, 200, "{status:?}");
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "status took {:?}",
                t.elapsed()
            );
            drop(stalled);
        },
    );
}

#[test]
fn a_thousand_requests_from_fifty_clients_while_recording() {
    with_daemon(ControlOptions::local, |addr, recorder| {
        recorder.start_episode(Some("load")).unwrap();
        let t = Instant::now();
        let answered: Vec<Vec<u16>> = std::thread::scope(|s| {
            let clients: Vec<_> = (0..50)
                .map(|_| {
                    s.spawn(move || {
                        // Spread over 2 s of recording.
                        (0..20)
                            .map(|_| {
                                std::thread::sleep(Duration::from_millis(100));
                                get(addr, "127.0.0.1", "").0
                            })
                            .collect()
                    })
                })
                .collect();
            clients.into_iter().map(|c| c.join().unwrap()).collect()
        });
        let elapsed = t.elapsed();
        let summary = recorder.stop_episode(Outcome::Success).unwrap();
        let all: Vec<u16> = answered.into_iter().flatten().collect();
        println!(
            "1000 requests from 50 clients in {:.2} s while recording",
            elapsed.as_secs_f64()
        );
        assert_eq!(all.len(), 1000);
        assert!(
            all.iter().all(|c| *c == 200),
            "{:?}",
            all.iter().filter(|c| **c != 200).collect::<Vec<_>>()
        );
        // The recording went on: no joint-state gap over 3 sample periods.
        let reader = EpisodeReader::open(&summary.path).unwrap();
        let mut by_topic: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
        for m in reader.messages().map(Result::unwrap) {
            if m.channel.topic.ends_with("/joint_states") {
                by_topic
                    .entry(m.channel.topic.clone())
                    .or_default()
                    .push(m.log_time);
            }
        }
        assert!(!by_topic.is_empty(), "no joint states recorded");
        for (topic, mut stamps) in by_topic {
            assert!(stamps.len() > 50, "{topic}: {} samples", stamps.len());
            stamps.sort_unstable();
            let mut gaps: Vec<u64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
            gaps.sort_unstable();
            let (period, worst) = (gaps[gaps.len() / 2], gaps[gaps.len() - 1]);
            println!(
                "{topic}: every {:.2} ms, longest gap {:.2} ms",
                period as f64 / 1e6,
                worst as f64 / 1e6
            );
            assert!(
                worst <= 3 * period + 2_000_000,
                "{topic}: a gap of {worst} ns (period {period} ns)"
            );
        }
    });
}
