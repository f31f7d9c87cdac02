//! The Velodyne VLP-16's beam geometry and firing timing (VLP-16 user
//! manual): shared by the capture driver and emulator, which decode and
//! encode its packets, and by the simulator, which ray-casts its pattern, so
//! real and synthetic clouds number rings and time points the same way.

/// Lasers.
pub const LASERS: usize = 16;
/// Time between two lasers of one sequence, µs.
pub const LASER_PERIOD_US: f64 = 2.304;
/// Time of one firing sequence (16 lasers + recharge), µs.
pub const SEQUENCE_PERIOD_US: f64 = 55.296;
/// Elevation of each laser, degrees, by laser id (firing order).
pub const ELEVATION_DEG: [f64; LASERS] = [
    -15.0, 1.0, -13.0, 3.0, -11.0, 5.0, -9.0, 7.0, -7.0, 9.0, -5.0, 11.0, -3.0, 13.0, -1.0, 15.0,
];
/// Vertical offset of each laser's origin, millimetres (added to z).
pub const VERTICAL_CORRECTION_MM: [f64; LASERS] = [
    11.2, -0.7, 9.7, -2.2, 8.1, -3.7, 6.6, -5.1, 5.1, -6.6, 3.7, -8.1, 2.2, -9.7, 0.7, -11.2,
];

/// Ring index (0 = lowest beam) of laser `laser`, as the Velodyne ROS driver numbers them.
pub fn ring_of_laser(laser: usize) -> u16 {
    (if laser.is_multiple_of(2) {
        laser / 2
    } else {
        laser / 2 + 8
    }) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_climb_with_elevation() {
        let mut by_ring = [f64::NAN; LASERS];
        for (laser, el) in ELEVATION_DEG.iter().enumerate() {
            by_ring[ring_of_laser(laser) as usize] = *el;
        }
        assert!(by_ring.windows(2).all(|w| w[0] < w[1]), "{by_ring:?}");
    }
}
