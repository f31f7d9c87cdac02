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
    /// Packets arrive at a rate no VLP-16 sends.
    #[error(
        "packets are {median_gap_us:.0} µs apart, a VLP-16 sends one every {expected_gap_us:.0} µs: this looks like {likely}; check the sensor model in the rig config"
    )]
    NotVlp16 {
        /// Median gap measured.
        median_gap_us: f64,
        /// What a VLP-16 would give.
        expected_gap_us: f64,
        /// Best guess of the sensor.
        likely: &'static str,
    },
}

/// A rig config that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// The file cannot be read.
    #[error("{}: {source}; check the --rig path", path.display())]
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
