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
