//! Errors of reel-capture.

/// A packet that is not what the protocol allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Fewer bytes than the smallest packet.
    #[error("packet of {got} bytes, at least {need} needed")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// The packet does not start with the protocol's header.
    #[error("packet does not start with the protocol header")]
    BadHeader,
    /// The length field disagrees with the packet.
    #[error("length field {length_field} does not fit a packet of {packet_len} bytes")]
    BadLength {
        /// Length field.
        length_field: usize,
        /// Packet size.
        packet_len: usize,
    },
    /// CRC (Dynamixel) mismatch.
    #[error("CRC mismatch: computed {expected:#06x}, packet has {got:#06x}")]
    Crc {
        /// Computed.
        expected: u16,
        /// Received.
        got: u16,
    },
    /// Checksum (Feetech) mismatch.
    #[error("checksum mismatch: computed {expected:#04x}, packet has {got:#04x}")]
    Checksum {
        /// Computed.
        expected: u8,
        /// Received.
        got: u8,
    },
    /// Parameters that do not fit the instruction.
    #[error("instruction {instruction:#04x} with {got} parameter bytes; expected {expected}")]
    BadParams {
        /// Instruction byte.
        instruction: u8,
        /// What it takes.
        expected: &'static str,
        /// Bytes given.
        got: usize,
    },
}

/// A LiDAR packet that is not what the decoder accepts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LidarError {
    /// Wrong UDP payload size.
    #[error("packet of {got} bytes, expected {expected}")]
    PacketLength {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A block does not start with FF EE.
    #[error("block {block} starts with {flag:#06x}, not the 0xEEFF flag")]
    BlockFlag {
        /// Block index.
        block: usize,
        /// What was there.
        flag: u16,
    },
    /// Azimuth out of range.
    #[error("block {block} has azimuth {azimuth} (0.01°), beyond 35999")]
    Azimuth {
        /// Block index.
        block: usize,
        /// Value.
        azimuth: u16,
    },
    /// Unknown return mode byte.
    #[error("unknown return mode byte {byte:#04x}")]
    ReturnMode {
        /// Value.
        byte: u8,
    },
    /// A sensor's metadata file cannot be used.
    #[error("{}: {reason}; save the sensor's metadata (curl http://SENSOR/api/v1/sensor/metadata) and name it in the rig", path.display())]
    Metadata {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A model reel has no decoder for.
    #[error("model {model:?} has no decoder")]
    Unsupported {
        /// The rig's name for it.
        model: String,
    },
    /// The product id and the packet rate name no model reel knows, or
    /// name different models.
    #[error("{}", unidentified(*product_id, *median_gap_us, *claimed))]
    Unidentified {
        /// Byte 1205.
        product_id: u8,
        /// Median gap between packet timestamps, µs.
        median_gap_us: f64,
        /// The model the product id names, and its packet period (µs), if any.
        claimed: Option<(&'static str, f64)>,
    },
}

/// A rig config that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// The file cannot be read.
    #[error("{}: {source}; check the rig config's path", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a valid rig config.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// One sentence.
        reason: String,
    },
}

/// A servo bus that did not answer as it should.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The port cannot be opened.
    #[error("{}: cannot open: {reason}; check the cable and the rig's `port` (or start `reel emulate`)", port.display())]
    Open {
        /// Device path.
        port: std::path::PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// The device went away (USB unplugged, emulator stopped).
    #[error("{}: device disconnected", port.display())]
    Disconnected {
        /// Device path.
        port: std::path::PathBuf,
    },
    /// Another I/O error.
    #[error("{}: {reason}", port.display())]
    Io {
        /// Device path.
        port: std::path::PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// A servo did not answer in time.
    #[error("{}: servo {id} did not answer within {timeout_us} µs", port.display())]
    Timeout {
        /// Device path.
        port: std::path::PathBuf,
        /// Servo ID.
        id: u8,
        /// Deadline.
        timeout_us: u64,
    },
    /// A reply that failed its CRC/checksum or does not parse.
    #[error("{}: bad reply from servo {id}: {error}", port.display())]
    BadReply {
        /// Device path.
        port: std::path::PathBuf,
        /// Servo ID expected.
        id: u8,
        /// What was wrong.
        error: ProtocolError,
    },
}

impl BusError {
    /// Whether the link itself is gone (reopen) rather than one reply lost (retry).
    pub fn is_link_lost(&self) -> bool {
        matches!(
            self,
            Self::Disconnected { .. } | Self::Io { .. } | Self::Open { .. }
        )
    }
}

/// Why the recorder could not start, or open, write or close an episode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// The episode file failed (disk, permissions, a full disk mid-write).
    #[error(transparent)]
    Episode(#[from] reel_episode::Error),
    /// A file or folder the recorder needs.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Free space at the output ran below the recorder's reserve.
    #[error(
        "{}: only {:.2} MB free, below the {:.2} MB the recorder keeps in reserve; free some space or record elsewhere",
        path.display(), *free as f64 / 1e6, *reserve as f64 / 1e6
    )]
    DiskFull {
        /// The output folder.
        path: std::path::PathBuf,
        /// Bytes free.
        free: u64,
        /// Bytes kept in reserve.
        reserve: u64,
    },
    /// The rig's URDF cannot be read or parsed.
    #[error("{}: {reason}; check the rig's urdf path", path.display())]
    Urdf {
        /// The URDF file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A device's settings in the rig cannot be used.
    #[error("{device}: {reason}")]
    Device {
        /// `lidar top`, `camera front`, ...
        device: String,
        /// What is wrong.
        reason: String,
    },
    /// A device of the rig did not answer at start.
    #[error("{device} is absent: {reason}")]
    Absent {
        /// `arm follower`, `camera front`, `lidar top`, ...
        device: String,
        /// Its last error, or what it waited for.
        reason: String,
    },
    /// A recorder thread could not be started.
    #[error("cannot start thread {name}: {source}")]
    Thread {
        /// The thread's name.
        name: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The writer thread stopped or did not answer.
    #[error("the writer thread {0}")]
    Writer(&'static str),
    /// Start while recording, or stop/discard while not.
    #[error("{0}")]
    State(&'static str),
    /// The episode ended early and could not even be closed: its
    /// `.partial` file keeps every chunk written up to the last second.
    #[error("{error}; closing the episode failed too ({close}): {} keeps everything up to the last second, run `reel recover {}` once there is space", partial.display(), partial.display())]
    CloseFailed {
        /// Why the episode ended.
        error: String,
        /// Why closing failed.
        close: String,
        /// The file left behind.
        partial: std::path::PathBuf,
    },
    /// A message whose payload does not match its topic (a bug in reel).
    #[error("internal: message for topic {0} has the wrong type")]
    WrongPayload(usize),
}

/// Why an emulator could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A device of the rig could not be emulated.
    #[error("{device}: {reason}")]
    Device {
        /// `arm leader`, `lidar top`, `camera front`.
        device: String,
        /// What is wrong.
        reason: String,
    },
    /// No emulated device of that name.
    #[error("no emulated device {0:?}")]
    Unknown(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The rig config cannot be used.
    #[error(transparent)]
    Rig(#[from] RigError),
    /// An episode could not be read (ground-truth comparison).
    #[error(transparent)]
    Episode(#[from] reel_episode::Error),
    /// libav failed (the emulated cameras' test pattern).
    #[error(transparent)]
    Media(#[from] reel_media::MediaError),
}

fn unidentified(product_id: u8, gap_us: f64, claimed: Option<(&'static str, f64)>) -> String {
    match claimed {
        Some((model, period)) => format!(
            "product id {product_id:#04x} names a {model} but packets come {gap_us:.0} µs apart, not {period:.0}"
        ),
        None => format!("unknown product id {product_id:#04x} and packets {gap_us:.0} µs apart"),
    }
}
