//! Feetech SCS/STS: packet codec and bus driver.

pub mod bus;
pub mod protocol;
