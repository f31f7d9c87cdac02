//! A serial link to a servo bus: open by path, write a request, read until a
//! reply is complete or a deadline passes. The same code opens a USB-serial
//! adapter and the pty an emulator creates.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::BusError;

/// Wire time of `bytes` at `baud` with 8N1 framing (10 bits per byte).
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_nanos((bytes as u64 * 10 * 1_000_000_000) / u64::from(baud.max(1)))
}

/// An open serial port.
pub struct SerialLink {
    port: Box<dyn serialport::SerialPort>,
    path: PathBuf,
    baud: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SerialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialLink")
            .field("path", &self.path)
            .field("baud", &self.baud)
            .finish()
    }
}

impl SerialLink {
    /// Opens `path` at `baud`, 8N1, no flow control.
    pub fn open(path: &Path, baud: u32) -> Result<Self, BusError> {
        let name = path.to_string_lossy().into_owned();
        let port = serialport::new(&name, baud)
            .timeout(Duration::from_millis(5))
            .open()
            .map_err(|e| BusError::Open {
                port: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let _ = port.clear(serialport::ClearBuffer::All);
        Ok(Self {
            port,
            path: path.to_path_buf(),
            baud,
            buf: vec![0; 4096],
        })
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Baud rate.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// Drops whatever is waiting in the input buffer (stale replies).
    pub fn discard_input(&mut self) {
        let _ = self.port.clear(serialport::ClearBuffer::Input);
    }

    /// Writes all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), BusError> {
        self.port
            .write_all(bytes)
            .and_then(|()| self.port.flush())
            .map_err(|e| self.io_error(e))
    }

    /// Reads what arrives before `deadline` and hands it to `sink` until it
    /// returns true (the reply is complete). Returns false on timeout.
    pub fn receive_until(
        &mut self,
        deadline: Instant,
        mut sink: impl FnMut(&[u8]) -> bool,
    ) -> Result<bool, BusError> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let wait = (deadline - now).max(Duration::from_micros(200));
            let _ = self.port.set_timeout(wait);
            match self.port.read(&mut self.buf) {
                Ok(0) => {
                    return Err(BusError::Disconnected {
                        port: self.path.clone(),
                    })
                }
                Ok(n) => {
                    if sink(&self.buf[..n]) {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    fn io_error(&self, e: std::io::Error) -> BusError {
        // EIO is what a vanished USB adapter or a closed pty master gives.
        if e.raw_os_error() == Some(5) || e.kind() == std::io::ErrorKind::BrokenPipe {
            BusError::Disconnected {
                port: self.path.clone(),
            }
        } else {
            BusError::Io {
                port: self.path.clone(),
                reason: e.to_string(),
            }
        }
    }
}
