//! Feetech SCS/STS serial servos (STS3215: SO-100/SO-101 arms).

pub mod protocol;
