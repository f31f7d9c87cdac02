//! A serial link to a servo bus: open by path, write a request, read until a
//! reply is complete or a deadline passes. The same code opens a USB-serial
//! adapter and the pty an emulator creates.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serialport::SerialPort;

use crate::error::BusError;

/// Wire time of `bytes` at `baud` with 8N1 framing (10 bits per byte).
pub fn wire_time(bytes: usize, baud: u32) -> Duration {
    Duration::from_nanos((bytes as u64 * 10 * 1_000_000_000) / u64::from(baud.max(1)))
}

/// An open serial port.
pub struct SerialLink {
    port: serialport::TTYPort,
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
            .open_native()
            .map_err(|e| BusError::Open {
                port: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let _ = port.clear(serialport::ClearBuffer::All);
        // First the driver's low-latency flag (any user may set it; ftdi_sio
        // then sets its timer to 1 ms), then the timer itself through sysfs
        // for drivers that ignore the flag.
        if let Err(reason) = request_low_latency(&port) {
            tracing::debug!(port = %path.display(), "ASYNC_LOW_LATENCY not set: {reason}");
        }
        match lower_latency_timer(path, Path::new(USB_SERIAL_SYSFS)) {
            LatencyTimer::CannotLower { ms, reason } => tracing::warn!(
                port = %path.display(),
                "the USB serial adapter holds replies up to {ms} ms (its latency timer) and it cannot be set to 1 ms: {reason}; a udev rule can set it: ATTR{{latency_timer}}=\"1\""
            ),
            LatencyTimer::Lowered { from } => {
                tracing::info!(port = %path.display(), "USB serial latency timer lowered from {from} ms to 1 ms");
            }
            LatencyTimer::NotUsbSerial | LatencyTimer::Already(_) => {}
        }
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

/// `struct serial_struct` of `<linux/serial.h>` (x86-64 and aarch64
/// layout), with spare room after it in case a kernel's is longer.
#[repr(C)]
#[derive(Clone, Copy)]
struct SerialStruct {
    kind: i32,
    line: i32,
    port: u32,
    irq: i32,
    flags: i32,
    xmit_fifo_size: i32,
    custom_divisor: i32,
    baud_base: i32,
    close_delay: u16,
    io_type: u8,
    reserved_char: u8,
    hub6: i32,
    closing_wait: u16,
    closing_wait2: u16,
    iomem_base: usize,
    iomem_reg_shift: u16,
    port_high: u32,
    iomap_base: usize,
    spare: [u8; 64],
}

const TIOCGSERIAL: rustix::ioctl::Opcode = 0x541E;
const TIOCSSERIAL: rustix::ioctl::Opcode = 0x541F;
const ASYNC_LOW_LATENCY: i32 = 1 << 13;

/// Sets the tty's `ASYNC_LOW_LATENCY` flag, as pyserial's
/// `set_low_latency_mode` does; no crate offers it, hence this ioctl. True
/// when it was set already; an error for ports without the serial ioctls
/// (ptys) or drivers that refuse.
#[allow(unsafe_code)]
fn request_low_latency(port: &serialport::TTYPort) -> Result<bool, String> {
    use std::os::fd::{AsRawFd, BorrowedFd};
    // SAFETY: the descriptor belongs to `port`, open for this whole call;
    // both ioctls take a `struct serial_struct`, which `SerialStruct`
    // reproduces field for field with spare room after it.
    unsafe {
        let fd = BorrowedFd::borrow_raw(port.as_raw_fd());
        let mut info: SerialStruct = std::mem::zeroed();
        rustix::ioctl::ioctl(
            fd,
            rustix::ioctl::Updater::<TIOCGSERIAL, SerialStruct>::new(&mut info),
        )
        .map_err(|e| e.to_string())?;
        if info.flags & ASYNC_LOW_LATENCY != 0 {
            return Ok(true);
        }
        info.flags |= ASYNC_LOW_LATENCY;
        rustix::ioctl::ioctl(
            fd,
            rustix::ioctl::Updater::<TIOCSSERIAL, SerialStruct>::new(&mut info),
        )
        .map(|()| false)
        .map_err(|e| e.to_string())
    }
}

/// Where Linux lists USB serial adapters (FTDI and others with a latency
/// timer).
pub const USB_SERIAL_SYSFS: &str = "/sys/bus/usb-serial/devices";

/// What [`lower_latency_timer`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatencyTimer {
    /// The port is no USB serial adapter with a latency timer.
    NotUsbSerial,
    /// Already this many milliseconds (1 or less).
    Already(u32),
    /// Lowered to 1 ms from this.
    Lowered {
        /// Milliseconds before.
        from: u32,
    },
    /// Still this many milliseconds: it could not be written.
    CannotLower {
        /// Milliseconds.
        ms: u32,
        /// What the OS said.
        reason: String,
    },
}

/// An FTDI adapter sends what it received only when its buffer fills or
/// its latency timer (16 ms by default) runs out, which adds up to 16 ms to
/// every servo reply; this sets the timer to 1 ms (`sysfs` is
/// [`USB_SERIAL_SYSFS`], another folder in tests). The port may be a
/// symlink (`/dev/serial/by-id/...`).
pub fn lower_latency_timer(port: &Path, sysfs: &Path) -> LatencyTimer {
    let device = std::fs::canonicalize(port).unwrap_or_else(|_| port.to_path_buf());
    let Some(name) = device.file_name() else {
        return LatencyTimer::NotUsbSerial;
    };
    let timer = sysfs.join(name).join("latency_timer");
    let Ok(text) = std::fs::read_to_string(&timer) else {
        return LatencyTimer::NotUsbSerial;
    };
    let Ok(ms) = text.trim().parse::<u32>() else {
        return LatencyTimer::NotUsbSerial;
    };
    if ms <= 1 {
        return LatencyTimer::Already(ms);
    }
    match std::fs::write(&timer, "1") {
        Ok(()) => LatencyTimer::Lowered { from: ms },
        Err(e) => LatencyTimer::CannotLower {
            ms,
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ftdi_latency_timer_is_lowered_to_one_millisecond() {
        let sys = tempfile::tempdir().unwrap();
        let dev = tempfile::tempdir().unwrap();
        let port = dev.path().join("ttyUSB0");
        std::fs::write(&port, "").unwrap();
        assert_eq!(
            lower_latency_timer(&port, sys.path()),
            LatencyTimer::NotUsbSerial
        );
        let timer = sys.path().join("ttyUSB0/latency_timer");
        std::fs::create_dir_all(timer.parent().unwrap()).unwrap();
        std::fs::write(&timer, "16\n").unwrap();
        // Through a by-id symlink, as rigs name ports.
        let by_id = dev.path().join("usb-FTDI_FT232R-if00-port0");
        std::os::unix::fs::symlink(&port, &by_id).unwrap();
        assert_eq!(
            lower_latency_timer(&by_id, sys.path()),
            LatencyTimer::Lowered { from: 16 }
        );
        assert_eq!(std::fs::read_to_string(&timer).unwrap(), "1");
        assert_eq!(
            lower_latency_timer(&port, sys.path()),
            LatencyTimer::Already(1)
        );
    }
}

#[cfg(test)]
mod low_latency_tests {
    use super::*;

    #[test]
    fn the_low_latency_flag_is_set_on_a_uart_and_refused_by_a_pty() {
        let (_master, slave) = serialport::TTYPort::pair().unwrap();
        let refused = request_low_latency(&slave).unwrap_err();
        assert!(refused.contains("ioctl"), "{refused}");
        // A UART driver (8250) takes the flag: where one is open to us, it
        // is set and reads back set.
        let Ok(uart) = serialport::new("/dev/ttyS0", 115_200).open_native() else {
            println!("no /dev/ttyS0 to open here: checked the pty only");
            return;
        };
        request_low_latency(&uart).unwrap();
        assert!(
            request_low_latency(&uart).unwrap(),
            "the flag did not stay set"
        );
    }
}
