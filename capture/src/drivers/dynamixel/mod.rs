//! Dynamixel Protocol 2.0: packet codec and bus driver.

pub mod bus;
pub mod protocol;
