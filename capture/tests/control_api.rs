#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! The daemon's control API under hostile and heavy use, on loopback: a
//! DNS-rebinding request (a foreign `Host`), a cross-origin request, a
//! missing or wrong token, a body that never arrives, and 1,000 requests
//! from 50 clients while an episode records; the same over TLS, with curl
//! and a certificate made by openssl.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reel_capture::control::{serve, ControlError, ControlOptions};
use reel_capture::control_tls::server_config;
use reel_capture::emulators::rig::EmulatedRig;
use reel_capture::recorder::{Recorder, RecorderOptions};
use reel_episode::{EpisodeReader, Outcome};
use reel_testkit::tls::openssl_certificate;

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
    let mut answer = Vec::new();
    // A TLS port answers plain HTTP with an alert, not text.
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
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
        load_while_recording(recorder, "plain HTTP", |_| {
            move || get(addr, "127.0.0.1", "").0
        });
    });
}

#[test]
fn a_thousand_tls_requests_from_fifty_clients_while_recording() {
    const TEST: &str = "a_thousand_tls_requests_from_fifty_clients_while_recording";
    let Some((_dir, cert, key)) = certificate(TEST) else {
        return;
    };
    let client = client_config(&cert);
    with_daemon(tls_options(&cert, &key), |addr, recorder| {
        let url = format!("https://localhost:{}/status", addr.port());
        load_while_recording(recorder, "TLS", |_| {
            // Each client keeps its connection (one handshake, 20 requests).
            let agent = ureq::AgentBuilder::new()
                .tls_config(Arc::clone(&client))
                .timeout(Duration::from_secs(20))
                .build();
            let url = url.clone();
            move || {
                agent
                    .get(&url)
                    .set("Authorization", &format!("Bearer {TOKEN}"))
                    .call()
                    .map_or_else(
                        |e| match e {
                            ureq::Error::Status(code, _) => code,
                            ureq::Error::Transport(t) => panic!("{t}"),
                        },
                        |r| r.status(),
                    )
            }
        });
    });
}

/// 50 clients, each made by `client(k)`, send 20 requests each over 2 s of
/// recording: every one is answered 200 and the joint states have no gap.
fn load_while_recording<C, R>(recorder: &Recorder, what: &str, client: C)
where
    C: Fn(usize) -> R + Sync,
    R: FnMut() -> u16 + Send,
{
    recorder.start_episode(Some("load")).unwrap();
    let t = Instant::now();
    let answered: Vec<Vec<u16>> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..50)
            .map(|k| {
                let mut request = client(k);
                s.spawn(move || {
                    // Spread over 2 s of recording.
                    (0..20)
                        .map(|_| {
                            std::thread::sleep(Duration::from_millis(100));
                            request()
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
        "1000 {what} requests from 50 clients in {:.2} s while recording",
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
}

/// An openssl certificate and key in a temporary folder (kept while the
/// folder lives); None, with the skip recorded, without openssl.
fn certificate(test: &str) -> Option<(tempfile::TempDir, std::path::PathBuf, std::path::PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_certificate(dir.path(), test)?;
    Some((dir, cert, key))
}

/// One request by curl (a TLS client reel did not write); its exit code,
/// HTTP status and body.
fn curl(args: &[&str]) -> (i32, u16, String) {
    let o = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        o.status.code().unwrap_or(-1),
        code.parse().unwrap_or(0),
        body.to_string(),
    )
}

fn curl_present(test: &str) -> bool {
    let present = Command::new("curl").arg("--version").output().is_ok();
    if !present {
        reel_testkit::skip::skip(
            test,
            "the curl tool is needed (scripts/setup.sh installs it)",
        );
    }
    present
}

/// Trusts `cert` only.
fn client_config(cert: &std::path::Path) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

fn tls_options(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> impl FnOnce(SocketAddr) -> ControlOptions {
    let config = server_config(cert, key).unwrap();
    move |addr| ControlOptions {
        token: Some(TOKEN.into()),
        tls: Some(config),
        ..ControlOptions::local(addr)
    }
}

#[test]
fn https_serves_curl_and_refuses_plain_http_untrusted_clients_and_wrong_tokens() {
    const TEST: &str =
        "https_serves_curl_and_refuses_plain_http_untrusted_clients_and_wrong_tokens";
    let Some((_dir, cert, key)) = certificate(TEST) else {
        return;
    };
    if !curl_present(TEST) {
        return;
    }
    with_daemon(tls_options(&cert, &key), |addr, recorder| {
        let port = addr.port();
        let cacert = cert.to_str().unwrap();
        let auth = format!("Authorization: Bearer {TOKEN}");
        let url = |path: &str| format!("https://localhost:{port}{path}");
        let status = curl(&["--cacert", cacert, "-H", &auth, &url("/status")]);
        assert_eq!((status.0, status.1), (0, 200), "{status:?}");
        let parsed: serde_json::Value = serde_json::from_str(&status.2).unwrap();
        assert_eq!(parsed["recording"], false, "{status:?}");
        // A POST with a body goes through the relay both ways.
        let started = curl(&[
            "--cacert",
            cacert,
            "-H",
            &auth,
            "-X",
            "POST",
            "-d",
            r#"{"task":"over tls"}"#,
            &url("/start"),
        ]);
        assert_eq!(started.1, 200, "{started:?}");
        assert!(recorder.status().recording);
        let stopped = curl(&[
            "--cacert",
            cacert,
            "-H",
            &auth,
            "-X",
            "POST",
            "-d",
            r#"{"outcome":"success"}"#,
            &url("/stop"),
        ]);
        assert_eq!(stopped.1, 200, "{stopped:?}");
        assert!(!recorder.status().recording);
        // The checks behind TLS are the same ones.
        assert_eq!(curl(&["--cacert", cacert, &url("/status")]).1, 401);
        let rebound = curl(&[
            "--cacert",
            cacert,
            "-H",
            &auth,
            "--connect-to",
            &format!("evil.example:{port}:localhost:{port}"),
            "-k",
            &format!("https://evil.example:{port}/status"),
        ]);
        assert_eq!(rebound.1, 403, "{rebound:?}");
        // Plain HTTP on the TLS port gets no HTTP answer.
        let plain = get(addr, "localhost", &auth);
        assert_eq!(plain.0, 0, "{plain:?}");
        // A client that does not trust the certificate stops at the handshake
        // (curl exit 60: peer certificate cannot be authenticated).
        let untrusted = curl(&["-H", &auth, &url("/status")]);
        assert_eq!(untrusted.0, 60, "{untrusted:?}");
    });
}

#[test]
fn over_tls_a_stalled_body_holds_nothing_and_connections_are_bounded() {
    const TEST: &str = "over_tls_a_stalled_body_holds_nothing_and_connections_are_bounded";
    let Some((_dir, cert, key)) = certificate(TEST) else {
        return;
    };
    let client = client_config(&cert);
    let options = tls_options(&cert, &key);
    with_daemon(
        |addr| ControlOptions {
            workers: 2,
            body_timeout: Duration::from_millis(500),
            max_tls_connections: 3,
            ..options(addr)
        },
        |addr, _| {
            let connect = || {
                let session = rustls::ClientConnection::new(
                    Arc::clone(&client),
                    "localhost".try_into().unwrap(),
                )
                .unwrap();
                let tcp = TcpStream::connect(addr).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                rustls::StreamOwned::new(session, tcp)
            };
            let ask = |stream: &mut rustls::StreamOwned<_, TcpStream>, head: &str, body: &str| {
                let request =
                    format!("{head}\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n{body}");
                stream.write_all(request.as_bytes()).unwrap();
                stream.flush().unwrap();
            };
            // A new connection gets its status.
            let status_is_served = || {
                let mut fresh = connect();
                ask(
                    &mut fresh,
                    "GET /status HTTP/1.1",
                    "Connection: close\r\n\r\n",
                );
                let mut answer = String::new();
                let _ = fresh.read_to_string(&mut answer);
                assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            };
            // Two POSTs whose bodies never finish, as many as there are workers.
            let mut stalled: Vec<_> = (0..2).map(|_| connect()).collect();
            for s in &mut stalled {
                ask(s, "POST /start HTTP/1.1", "Content-Length: 100\r\n\r\n{");
            }
            std::thread::sleep(Duration::from_millis(200));
            let t = Instant::now();
            status_is_served();
            assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
            drop(stalled);
            std::thread::sleep(Duration::from_millis(300));
            // Over the limit a connection is closed at once, never queued.
            let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
            std::thread::sleep(Duration::from_millis(300));
            let mut over = TcpStream::connect(addr).unwrap();
            over.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut byte = [0u8; 1];
            let asked = Instant::now();
            let closed = over.read(&mut byte);
            assert!(
                matches!(&closed, Ok(0))
                    || matches!(&closed, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
                "a connection over the limit was kept open: {closed:?} after {:?}",
                asked.elapsed()
            );
            drop(held);
            std::thread::sleep(Duration::from_millis(300));
            status_is_served();
        },
    );
}
