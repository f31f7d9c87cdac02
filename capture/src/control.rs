//! The daemon's control API: HTTP/JSON on a local port.
//!
//! - `GET /status` → the recorder status.
//! - `POST /start` `{"task": "..."}` → `{"episode": PATH}`.
//! - `POST /stop` `{"outcome": "success"|"failure"|"unknown"}` → the episode summary.
//! - `POST /discard` → `{}`.
//!
//! It binds to 127.0.0.1 by default. Requests from other hosts are refused
//! unless the daemon was started with `allow_remote` (which needs a token),
//! and so are requests that carry a browser `Origin` other than localhost
//! or, on loopback, a `Host` that is not a loopback name (a DNS-rebinding
//! page), so a web page cannot start or discard recordings behind the
//! operator's back. With a token every request must carry
//! `Authorization: Bearer TOKEN`. Requests are served by a fixed pool of
//! threads; a body that does not arrive within the timeout is given up, so
//! a stalled client never holds the daemon (or its shutdown). With a TLS
//! configuration the port speaks only HTTPS (see [`crate::control_tls`]).

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use reel_episode::Outcome;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::control_tls::{self, PrivateSocketDir, TlsLimits};
use crate::recorder::Recorder;

/// Control API settings.
#[derive(Debug, Clone)]
pub struct ControlOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Accept requests from other hosts (needs `token`).
    pub allow_remote: bool,
    /// The secret every request must carry as `Authorization: Bearer …`.
    pub token: Option<String>,
    /// Requests served at once.
    pub workers: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Serve HTTPS with this configuration (see [`control_tls::server_config`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS connections open at once (plain HTTP is bounded by tiny_http).
    pub max_tls_connections: usize,
}

impl ControlOptions {
    /// Loopback only, no token, no TLS, 8 workers, 5 s for a body.
    pub fn local(listen: SocketAddr) -> Self {
        Self {
            listen,
            allow_remote: false,
            token: None,
            workers: 8,
            body_timeout: Duration::from_secs(5),
            tls: None,
            max_tls_connections: 128,
        }
    }
}

/// Why the control API could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A non-loopback address without remote control allowed.
    #[error("refusing to listen on {listen}: the control API starts and deletes recordings; allow remote control explicitly to expose it beyond this machine")]
    RemoteNotAllowed {
        /// The address asked for.
        listen: SocketAddr,
    },
    /// Remote control without a token.
    #[error("refusing remote control without a token: anyone who reaches {listen} could start and delete recordings; give a token file")]
    TokenRequired {
        /// The address asked for.
        listen: SocketAddr,
    },
    /// The address cannot be listened on.
    #[error("cannot listen on {listen}: {reason}; is another daemon running?")]
    Listen {
        /// The address.
        listen: SocketAddr,
        /// What the OS said.
        reason: String,
    },
    /// Receiving requests failed.
    #[error("control API: {0}")]
    Receive(std::io::Error),
}

/// Serves the API for `recorder` until `stop`.
pub fn serve(
    recorder: &Recorder,
    options: &ControlOptions,
    stop: &AtomicBool,
) -> Result<(), ControlError> {
    if !options.listen.ip().is_loopback() && !options.allow_remote {
        return Err(ControlError::RemoteNotAllowed {
            listen: options.listen,
        });
    }
    if options.allow_remote && options.token.as_deref().is_none_or(str::is_empty) {
        return Err(ControlError::TokenRequired {
            listen: options.listen,
        });
    }
    let listen_error = |reason: String| ControlError::Listen {
        listen: options.listen,
        reason,
    };
    // With TLS the public port is the terminator's, and the HTTP server
    // listens on a private Unix socket behind it.
    let (server, tls) = match &options.tls {
        None => (
            Server::http(options.listen).map_err(|e| listen_error(e.to_string()))?,
            None,
        ),
        Some(config) => {
            let public = std::net::TcpListener::bind(options.listen)
                .map_err(|e| listen_error(e.to_string()))?;
            let dir = PrivateSocketDir::create().map_err(|e| {
                listen_error(format!("cannot make the private socket's directory: {e}"))
            })?;
            let private = std::os::unix::net::UnixListener::bind(dir.socket())
                .map_err(|e| listen_error(format!("cannot bind the private socket: {e}")))?;
            let server =
                Server::from_listener(private, None).map_err(|e| listen_error(e.to_string()))?;
            (server, Some((public, dir, config)))
        }
    };
    let server = &server;
    std::thread::scope(|s| {
        let terminator = tls.as_ref().map(|(public, dir, config)| {
            s.spawn(move || {
                let limits = TlsLimits {
                    max_connections: options.max_tls_connections,
                    idle_timeout: Duration::from_secs(30),
                };
                control_tls::terminate(public, &dir.socket(), config, limits, stop)
                    .map_err(ControlError::Receive)
            })
        });
        let workers: Vec<_> = (0..options.workers.max(1))
            .map(|_| {
                s.spawn(move || -> Result<(), ControlError> {
                    while !stop.load(Ordering::Relaxed) {
                        match server.recv_timeout(Duration::from_millis(200)) {
                            Ok(Some(request)) => handle(recorder, options, request),
                            Ok(None) => {}
                            Err(e) => return Err(ControlError::Receive(e)),
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let refused = match terminator.map(|t| t.join().unwrap_or(Ok(0))) {
            Some(Ok(refused)) if refused > 0 => {
                tracing::warn!("control API: {refused} TLS connections refused over the limit");
                Ok(())
            }
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        };
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or(Ok(())))
            .collect::<Result<Vec<()>, ControlError>>()
            .and(refused)
            .map(|_| ())
    })
}

fn json_response(status: u16, body: &serde_json::Value) -> Response<std::io::Cursor<Vec<u8>>> {
    let header = Header::from_bytes("Content-Type", "application/json").unwrap_or_else(|()| {
        // A constant header always parses.
        unreachable!()
    });
    Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header(header)
}

fn origin_allowed(request: &Request) -> bool {
    header(request, "Origin").is_none_or(|o| {
        ["http://localhost", "http://127.0.0.1", "http://[::1]"]
            .iter()
            .any(|allowed| o == *allowed || o.starts_with(&format!("{allowed}:")))
    })
}

/// Whether the `Host` header names this machine (loopback names only):
/// a page whose domain was rebound to 127.0.0.1 still sends its own name.
fn host_allowed(request: &Request) -> bool {
    let Some(host) = header(request, "Host") else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// `Authorization: Bearer TOKEN`, compared in constant time (written here:
/// a dozen lines do not justify a crate).
fn token_matches(request: &Request, token: &str) -> bool {
    let given = header(request, "Authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes();
    let want = token.as_bytes();
    let mut diff = u8::from(given.len() != want.len());
    for (k, w) in want.iter().enumerate() {
        diff |= w ^ given.get(k).copied().unwrap_or(0);
    }
    diff == 0
}

/// The request's body (at most 64 KiB), read on its own thread so that a
/// body that never arrives holds no worker past `timeout`; `None` then
/// (the reading thread answers 408 when the client gives up).
fn body_within(request: Request, timeout: Duration) -> Option<(Request, String)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut request = request;
        let mut body = String::new();
        let read = request
            .as_reader()
            .take(64 * 1024)
            .read_to_string(&mut body);
        if let Err(mpsc::SendError((request, _))) = tx.send((request, body)) {
            let why = match read {
                Ok(_) => "the request body came too late".to_string(),
                Err(e) => format!("the request body did not arrive: {e}"),
            };
            let _ = request.respond(json_response(408, &serde_json::json!({ "error": why })));
        }
    });
    rx.recv_timeout(timeout).ok()
}

fn handle(recorder: &Recorder, options: &ControlOptions, request: Request) {
    // Behind TLS every request arrives on the private socket: the
    // terminator listens on `listen`, loopback unless remote is allowed.
    let remote_ok = options.allow_remote
        || options.tls.is_some()
        || request.remote_addr().is_some_and(|a| {
            matches!(a.ip(), IpAddr::V4(v4) if v4.is_loopback()) || a.ip().is_loopback()
        });
    let err =
        |status: u16, msg: String| json_response(status, &serde_json::json!({ "error": msg }));
    if !remote_ok {
        let _ = request.respond(err(
            403,
            "requests from other hosts are refused (the daemon does not allow remote control)"
                .into(),
        ));
        return;
    }
    if !origin_allowed(&request) {
        let _ = request.respond(err(403, "cross-origin requests are refused".into()));
        return;
    }
    if !options.allow_remote && !host_allowed(&request) {
        let _ = request.respond(err(
            403,
            "the Host header must name this machine (localhost, 127.0.0.1 or [::1]); other names are refused".into(),
        ));
        return;
    }
    if let Some(token) = &options.token {
        if !token_matches(&request, token) {
            let _ = request.respond(err(
                401,
                "a valid token is required (Authorization: Bearer TOKEN)".into(),
            ));
            return;
        }
    }
    let body_expected = *request.method() != Method::Get;
    let (request, body) = if body_expected {
        match body_within(request, options.body_timeout) {
            Some(read) => read,
            None => {
                tracing::warn!("control API: a request body did not arrive in time");
                return;
            }
        }
    } else {
        (request, String::new())
    };
    let args: serde_json::Value = if body.trim().is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => {
                let _ = request.respond(err(400, format!("body is not JSON: {e}")));
                return;
            }
        }
    };
    let response = match (request.method(), request.url()) {
        (Method::Get, "/status") => json_response(
            200,
            &serde_json::to_value(recorder.status()).unwrap_or_default(),
        ),
        (Method::Post, "/start") => match recorder.start_episode(args["task"].as_str()) {
            Ok(path) => json_response(200, &serde_json::json!({ "episode": path })),
            Err(e) => err(409, e.to_string()),
        },
        (Method::Post, "/stop") => {
            let outcome = match args["outcome"].as_str().unwrap_or("unknown") {
                "success" => Outcome::Success,
                "failure" => Outcome::Failure,
                _ => Outcome::Unknown,
            };
            match recorder.stop_episode(outcome) {
                Ok(summary) => {
                    json_response(200, &serde_json::to_value(summary).unwrap_or_default())
                }
                Err(e) => err(409, e.to_string()),
            }
        }
        (Method::Post, "/discard") => match recorder.discard_episode() {
            Ok(()) => json_response(200, &serde_json::json!({})),
            Err(e) => err(409, e.to_string()),
        },
        (_, "/status" | "/start" | "/stop" | "/discard") => {
            err(405, "wrong method: GET /status, POST the others".into())
        }
        (_, url) => err(
            404,
            format!("no endpoint {url}: GET /status, POST /start, /stop, /discard"),
        ),
    };
    let _ = request.respond(response);
}
