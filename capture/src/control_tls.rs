//! TLS for the control API.
//!
//! tiny_http's own TLS pins rustls 0.20, which is no longer maintained and
//! has open advisories, so TLS is terminated here with current rustls: each
//! connection is decrypted on its own pair of threads and its plaintext is
//! handed to the HTTP server over a Unix socket in a directory only this
//! user can enter. The HTTP server, its checks and its pool stay the same
//! for plain and TLS connections.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::ServerConnection;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file cannot be read or holds no certificate.
    #[error("{path}: cannot read a PEM certificate chain: {reason}; give the server certificate (and its chain) in PEM")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file cannot be read or holds no private key.
    #[error("{path}: cannot read a PEM private key: {reason}; give the certificate's key (PKCS#8, PKCS#1 or SEC1) in PEM")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The certificate and key do not make a usable TLS configuration.
    #[error("{certificate} with {key}: {reason}")]
    Config {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said (for example, the key does not match).
        reason: String,
    },
}

/// A TLS server configuration from a PEM certificate chain and key
/// (TLS 1.2 and 1.3, no client certificates).
pub fn server_config(
    certificate: &Path,
    key: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate {
        path: certificate.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no CERTIFICATE block".into()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let config_error = |reason: String| TlsError::Config {
        certificate: certificate.to_path_buf(),
        key: key.to_path_buf(),
        reason,
    };
    // The provider is named, not taken from the process default, so that
    // another crate's choice of provider cannot change or break this one.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| config_error(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, private_key)
    .map_err(|e| config_error(e.to_string()))?;
    Ok(Arc::new(config))
}

/// A private directory for the plaintext socket, removed on drop.
pub struct PrivateSocketDir {
    dir: PathBuf,
}

impl PrivateSocketDir {
    /// A new directory under the temporary directory, mode 0700.
    pub fn create() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("reel-control-{}-{nanos:09}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Self { dir })
    }

    /// The socket's path inside it.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("http.sock")
    }
}

impl Drop for PrivateSocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How often a waiting connection looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Limits of the terminator.
#[derive(Debug, Clone, Copy)]
pub struct TlsLimits {
    /// Connections open at once; more are closed at once and counted.
    pub max_connections: usize,
    /// How long a handshake, or a silent open connection, may last.
    pub idle_timeout: Duration,
}

/// Accepts TLS connections on `listener` until `stop`, and relays each
/// one's plaintext to the HTTP server at `backend`. Returns the number of
/// connections refused for being over the limit.
pub fn terminate(
    listener: &TcpListener,
    backend: &Path,
    config: &Arc<rustls::ServerConfig>,
    limits: TlsLimits,
    stop: &AtomicBool,
) -> std::io::Result<u64> {
    listener.set_nonblocking(true)?;
    let open = AtomicUsize::new(0);
    let mut refused = 0u64;
    std::thread::scope(|s| -> std::io::Result<()> {
        while !stop.load(Ordering::Relaxed) {
            let (tcp, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // accept() cannot wait with a timeout; polling keeps
                    // SIGTERM served within 50 ms.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if open.load(Ordering::Relaxed) >= limits.max_connections {
                refused += 1;
                tracing::warn!(
                    "control API: refused a TLS connection from {peer}: {} open already",
                    limits.max_connections
                );
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let open = &open;
            s.spawn(move || {
                if let Err(e) = relay(tcp, backend, config, limits.idle_timeout, stop) {
                    tracing::debug!("control API: TLS connection from {peer} ended: {e}");
                }
                open.fetch_sub(1, Ordering::Relaxed);
            });
        }
        Ok(())
    })?;
    Ok(refused)
}

/// One connection: TLS bytes from `tcp` are decrypted and written to the
/// backend, the backend's answers encrypted back, until either side closes.
fn relay(
    tcp: TcpStream,
    backend: &Path,
    config: &Arc<rustls::ServerConfig>,
    idle_timeout: Duration,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    tcp.set_nonblocking(false)?;
    // Reads wake up often to see `stop`; a write that cannot go out in 2 s
    // (a client that does not read its answers) ends the connection.
    tcp.set_read_timeout(Some(POLL))?;
    tcp.set_write_timeout(Some(Duration::from_secs(2)))?;
    tcp.set_nodelay(true)?;
    let session = ServerConnection::new(Arc::clone(config)).map_err(std::io::Error::other)?;
    // One session, two directions: each holds the lock only while it feeds
    // or drains rustls and writes TLS records, never while it waits to read.
    let session = Mutex::new(session);
    let plain = UnixStream::connect(backend)?;
    let (mut plain_in, mut plain_out) = (plain.try_clone()?, plain);
    let (mut tcp_in, tcp_out) = (tcp.try_clone()?, tcp);
    std::thread::scope(|s| {
        let answers = s.spawn(|| {
            let result = encrypt_answers(&mut plain_in, &session, &tcp_out);
            let _ = tcp_out.shutdown(Shutdown::Both);
            result
        });
        let requests = decrypt_requests(
            &mut tcp_in,
            &session,
            &tcp_out,
            &mut plain_out,
            (idle_timeout, stop),
        );
        // The client is gone (or broke the protocol): the server sees the
        // end of its requests and closes, which ends the answers.
        let _ = plain_out.shutdown(Shutdown::Both);
        let answers = answers
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("relay thread panicked")));
        requests.and(answers)
    })
}

fn decrypt_requests(
    tcp_in: &mut TcpStream,
    session: &Mutex<ServerConnection>,
    mut tcp_out: &TcpStream,
    plain_out: &mut UnixStream,
    (idle_timeout, stop): (Duration, &AtomicBool),
) -> std::io::Result<()> {
    let mut records = vec![0u8; 16 * 1024];
    let mut plaintext = Vec::new();
    let mut idle = Duration::ZERO;
    loop {
        let n = match tcp_in.read(&mut records) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                idle += POLL;
                if stop.load(Ordering::Relaxed) || idle >= idle_timeout {
                    return Ok(());
                }
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        idle = Duration::ZERO;
        let mut peer_closed = false;
        {
            let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
            let mut fed = &records[..n];
            while !fed.is_empty() {
                session.read_tls(&mut fed)?;
                if let Err(e) = session.process_new_packets() {
                    // Tell the client why (an alert) before closing.
                    let _ = session.write_tls(&mut tcp_out);
                    return Err(std::io::Error::other(e));
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match session.reader().read(&mut chunk) {
                    Ok(0) => {
                        peer_closed = true;
                        break;
                    }
                    Ok(k) => plaintext.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            while session.wants_write() {
                session.write_tls(&mut tcp_out)?;
            }
        }
        // Written outside the lock: the server may be answering meanwhile.
        plain_out.write_all(&plaintext)?;
        plaintext.clear();
        if peer_closed {
            return Ok(());
        }
    }
}

fn encrypt_answers(
    plain_in: &mut UnixStream,
    session: &Mutex<ServerConnection>,
    mut tcp_out: &TcpStream,
) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = plain_in.read(&mut chunk)?;
        let mut session = session.lock().unwrap_or_else(PoisonError::into_inner);
        if n == 0 {
            session.send_close_notify();
        } else {
            session.writer().write_all(&chunk[..n])?;
        }
        while session.wants_write() {
            session.write_tls(&mut tcp_out)?;
        }
        if n == 0 {
            return Ok(());
        }
    }
}
