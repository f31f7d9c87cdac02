//! Ouster OS0/OS1/OS2 over UDP: lidar packets in the LEGACY and RNG19
//! profiles, LEGACY IMU packets, and the sensor's metadata JSON for beam
//! angles and layout (its HTTP configuration is left to the user).

pub mod decoder;
pub mod metadata;
pub mod packet;
pub mod xyz;
