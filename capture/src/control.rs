//! The daemon's control API: HTTP/JSON on a local port.
//!
//! - `GET /status` → the recorder status.
//! - `POST /start` `{"task": "..."}` → `{"episode": PATH}`.
//! - `POST /stop` `{"outcome": "success"|"failure"|"unknown"}` → the episode summary.
//! - `POST /discard` → `{}`.
//!
//! It binds to 127.0.0.1 by default. Requests from other hosts are refused
//! unless the daemon was started with `allow_remote`, and so are requests
//! that carry a browser `Origin` other than localhost, so a web page cannot
//! start or discard recordings behind the operator's back.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reel_episode::Outcome;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::recorder::Recorder;

/// Control API settings.
#[derive(Debug, Clone)]
pub struct ControlOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Accept requests from other hosts.
    pub allow_remote: bool,
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
    let server = Server::http(options.listen).map_err(|e| ControlError::Listen {
        listen: options.listen,
        reason: e.to_string(),
    })?;
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => handle(recorder, options, request),
            Ok(None) => {}
            Err(e) => return Err(ControlError::Receive(e)),
        }
    }
    Ok(())
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
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Origin"))
        .is_none_or(|h| {
            let o = h.value.as_str();
            ["http://localhost", "http://127.0.0.1", "http://[::1]"]
                .iter()
                .any(|allowed| o == *allowed || o.starts_with(&format!("{allowed}:")))
        })
}

fn handle(recorder: &Recorder, options: &ControlOptions, mut request: Request) {
    let remote_ok = options.allow_remote
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
    let mut body = String::new();
    let _ = request
        .as_reader()
        .take(64 * 1024)
        .read_to_string(&mut body);
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
