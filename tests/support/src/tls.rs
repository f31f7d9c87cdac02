//! A TLS certificate made by the openssl command-line tool (not by reel),
//! for the control API's HTTPS tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A self-signed certificate for `localhost` and 127.0.0.1 (not a CA, as
/// webpki requires of a server certificate) and its P-256 key, in `dir`.
/// None, with the skip recorded for `test`, when openssl is absent (under
/// CI the test fails instead).
pub fn openssl_certificate(dir: &Path, test: &str) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext"])
        .args(["subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext"])
        .args(["basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(o) if o.status.success() => Some((cert, key)),
        Ok(o) => panic!("openssl failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            crate::skip::skip(
                test,
                &format!("the openssl tool is needed (scripts/setup.sh installs it): {e}"),
            );
            None
        }
    }
}
