//! Dynamixel Protocol 2.0 (X-series: XL330, XL430, XM430; Koch, GELLO, ALOHA arms).

pub mod protocol;
