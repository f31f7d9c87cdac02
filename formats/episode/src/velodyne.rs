//! The published geometry and firing timing of the Velodyne sensors reel
//! reads: VLP-16 (Puck), Puck Hi-Res, VLP-32C and HDL-32E. The capture
//! driver decodes packets with it, the emulator encodes them, and the
//! simulator ray-casts the VLP-16's pattern, so real and synthetic clouds
//! number rings and time points the same way.
//!
//! Sources: the user manuals (VLP-16 63-9243 Rev E §9, VLP-32C 63-9325,
//! HDL-32E 63-9277 Rev D), the envelope drawings' vertical offsets
//! (86-0101 VLP-16, 86-0129 Puck Hi-Res, 86-0106 HDL-32E), and the ROS
//! driver's and velodyne_decoder's calibration tables; see
//! `shared/spec/hardware.md` §3. The VLP-32C's vertical offsets are not
//! published: they are derived, as velodyne_decoder derives them, from its
//! 42.4 mm focal distance and each beam's elevation.

/// Lasers of a VLP-16.
pub const LASERS: usize = 16;
/// Time between two lasers of one VLP-16 / Puck Hi-Res / VLP-32C sequence, µs.
pub const LASER_PERIOD_US: f64 = 2.304;
/// Time of one VLP-16 firing sequence (16 lasers + recharge), µs.
pub const SEQUENCE_PERIOD_US: f64 = 55.296;
/// Elevation of each VLP-16 laser, degrees, by laser id (firing order).
pub const ELEVATION_DEG: [f64; LASERS] = [
    -15.0, 1.0, -13.0, 3.0, -11.0, 5.0, -9.0, 7.0, -7.0, 9.0, -5.0, 11.0, -3.0, 13.0, -1.0, 15.0,
];
/// Vertical offset of each VLP-16 laser's origin, millimetres (added to z).
pub const VERTICAL_CORRECTION_MM: [f64; LASERS] = [
    11.2, -0.7, 9.7, -2.2, 8.1, -3.7, 6.6, -5.1, 5.1, -6.6, 3.7, -8.1, 2.2, -9.7, 0.7, -11.2,
];

const PUCK_HIRES_ELEVATION_DEG: [f64; 16] = [
    -10.0, 0.667, -8.667, 2.0, -7.333, 3.333, -6.0, 4.667, -4.667, 6.0, -3.333, 7.333, -2.0, 8.667,
    -0.667, 10.0,
];
const PUCK_HIRES_VERTICAL_MM: [f64; 16] = [
    7.4, -0.9, 6.5, -1.8, 5.5, -2.7, 4.6, -3.7, 3.7, -4.6, 2.7, -5.5, 1.8, -6.5, 0.9, -7.4,
];
const HDL32E_ELEVATION_DEG: [f64; 32] = [
    -30.67, -9.33, -29.33, -8.0, -28.0, -6.67, -26.67, -5.33, -25.33, -4.0, -24.0, -2.67, -22.67,
    -1.33, -21.33, 0.0, -20.0, 1.33, -18.67, 2.67, -17.33, 4.0, -16.0, 5.33, -14.67, 6.67, -13.33,
    8.0, -12.0, 9.33, -10.67, 10.67,
];
const HDL32E_VERTICAL_MM: [f64; 32] = [
    17.17, 4.76, 16.27, 4.07, 15.4, 3.38, 14.54, 2.7, 13.71, 2.02, 12.89, 1.35, 12.09, 0.67, 11.31,
    0.0, 10.54, -0.67, 9.78, -1.35, 9.04, -2.02, 8.3, -2.7, 7.58, -3.38, 6.86, -4.07, 6.15, -4.76,
    5.45, -5.45,
];
/// VLP-32C (rotation correction, elevation), degrees, by laser id.
const VLP32C_LASERS_DEG: [(f64, f64); 32] = [
    (-1.4, -25.0),
    (4.2, -1.0),
    (-1.4, -1.667),
    (1.4, -15.639),
    (-1.4, -11.31),
    (1.4, 0.0),
    (-4.2, -0.667),
    (1.4, -8.843),
    (-1.4, -7.254),
    (4.2, 0.333),
    (-1.4, -0.333),
    (1.4, -6.148),
    (-4.2, -5.333),
    (1.4, 1.333),
    (-4.2, 0.667),
    (1.4, -4.0),
    (-1.4, -4.667),
    (4.2, 1.667),
    (-1.4, 1.0),
    (4.2, -3.667),
    (-4.2, -3.333),
    (1.4, 3.333),
    (-1.4, 2.333),
    (1.4, -2.667),
    (-1.4, -3.0),
    (1.4, 7.0),
    (-1.4, 4.667),
    (4.2, -2.333),
    (-4.2, -2.0),
    (1.4, 15.0),
    (-1.4, 10.333),
    (1.4, -1.333),
];
/// VLP-32C: distance from the sensor's centre to where its beams cross, m.
const VLP32C_FOCAL_DISTANCE_M: f64 = 42.4e-3;

/// A Velodyne model reel decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// VLP-16 (Puck, Puck LITE).
    Vlp16,
    /// VLP-16 Hi-Res (Puck Hi-Res): ±10°.
    PuckHiRes,
    /// VLP-32C (Ultra Puck).
    Vlp32c,
    /// HDL-32E.
    Hdl32e,
}

impl Model {
    /// Every model.
    pub const ALL: [Self; 4] = [Self::Vlp16, Self::PuckHiRes, Self::Vlp32c, Self::Hdl32e];

    /// From a rig's `model` (`vlp16`, `puck-hires`, `vlp32c`, `hdl32e`;
    /// dashes, case and the vendor's spelling are accepted).
    pub fn parse(name: &str) -> Option<Self> {
        let key: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match key.as_str() {
            "vlp16" | "puck" | "pucklite" => Some(Self::Vlp16),
            "puckhires" | "vlp16hires" | "puckhighres" => Some(Self::PuckHiRes),
            "vlp32c" | "ultrapuck" => Some(Self::Vlp32c),
            "hdl32e" | "hdl32" => Some(Self::Hdl32e),
            _ => None,
        }
    }

    /// The name a rig config uses.
    pub fn rig_name(self) -> &'static str {
        match self {
            Self::Vlp16 => "vlp16",
            Self::PuckHiRes => "puck-hires",
            Self::Vlp32c => "vlp32c",
            Self::Hdl32e => "hdl32e",
        }
    }

    /// The vendor's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Vlp16 => "VLP-16",
            Self::PuckHiRes => "Puck Hi-Res",
            Self::Vlp32c => "VLP-32C",
            Self::Hdl32e => "HDL-32E",
        }
    }

    /// Product id byte (packet byte 1205).
    pub fn product_id(self) -> u8 {
        match self {
            Self::Hdl32e => 0x21,
            Self::Vlp16 => 0x22,
            Self::PuckHiRes => 0x24,
            Self::Vlp32c => 0x28,
        }
    }

    /// The model a product id byte names.
    pub fn from_product_id(id: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.product_id() == id)
    }

    /// Lasers.
    pub fn lasers(self) -> usize {
        match self {
            Self::Vlp16 | Self::PuckHiRes => 16,
            Self::Vlp32c | Self::Hdl32e => 32,
        }
    }

    /// Elevation of laser `laser` (by id), degrees.
    pub fn elevation_deg(self, laser: usize) -> f64 {
        match self {
            Self::Vlp16 => ELEVATION_DEG[laser],
            Self::PuckHiRes => PUCK_HIRES_ELEVATION_DEG[laser],
            Self::Vlp32c => VLP32C_LASERS_DEG[laser].1,
            Self::Hdl32e => HDL32E_ELEVATION_DEG[laser],
        }
    }

    /// Rotation correction of laser `laser`, degrees: subtracted from the
    /// azimuth the packet gives, as the ROS driver's `rot_correction` (only
    /// the VLP-32C's lasers point off the block azimuth).
    pub fn rotation_correction_deg(self, laser: usize) -> f64 {
        match self {
            Self::Vlp32c => VLP32C_LASERS_DEG[laser].0,
            _ => 0.0,
        }
    }

    /// Vertical offset of laser `laser`'s origin, metres (added to z).
    pub fn vertical_offset_m(self, laser: usize) -> f64 {
        match self {
            Self::Vlp16 => VERTICAL_CORRECTION_MM[laser] * 1e-3,
            Self::PuckHiRes => PUCK_HIRES_VERTICAL_MM[laser] * 1e-3,
            Self::Hdl32e => HDL32E_VERTICAL_MM[laser] * 1e-3,
            Self::Vlp32c => {
                VLP32C_FOCAL_DISTANCE_M * (-self.elevation_deg(laser).to_radians()).tan()
            }
        }
    }

    /// The distance unit of a return, metres.
    pub fn distance_unit_m(self) -> f64 {
        match self {
            Self::Vlp32c => 0.004,
            _ => 0.002,
        }
    }

    /// Ring of laser `laser`: its rank by elevation, 0 = lowest (as the ROS
    /// driver numbers rings).
    pub fn ring(self, laser: usize) -> u16 {
        let el = self.elevation_deg(laser);
        (0..self.lasers())
            .filter(|&other| {
                let e = self.elevation_deg(other);
                e < el || (e == el && other < laser)
            })
            .count() as u16
    }

    /// Firing sequences per data block (the 16-laser models fire twice).
    pub fn sequences_per_block(self) -> usize {
        32 / self.lasers()
    }

    /// Time from one single-return block to the next, µs.
    pub fn block_period_us(self) -> f64 {
        match self {
            Self::Vlp16 | Self::PuckHiRes => 2.0 * SEQUENCE_PERIOD_US,
            Self::Vlp32c => SEQUENCE_PERIOD_US,
            Self::Hdl32e => 46.080,
        }
    }

    /// When channel `channel` of block `block` fires, µs after the packet's
    /// timestamp, in single-return mode (in dual-return mode, block pair
    /// k fires as single block k).
    pub fn firing_offset_us(self, block: usize, channel: usize) -> f64 {
        match self {
            Self::Vlp16 | Self::PuckHiRes => {
                SEQUENCE_PERIOD_US * (2 * block + channel / 16) as f64
                    + LASER_PERIOD_US * (channel % 16) as f64
            }
            // Lasers fire in pairs.
            Self::Vlp32c => {
                SEQUENCE_PERIOD_US * block as f64 + LASER_PERIOD_US * (channel / 2) as f64
            }
            Self::Hdl32e => 46.080 * block as f64 + 1.152 * channel as f64,
        }
    }

    /// Time from one data packet to the next, µs.
    pub fn packet_period_us(self, dual_return: bool) -> f64 {
        let single = 12.0 * self.block_period_us();
        if dual_return {
            single / 2.0
        } else {
            single
        }
    }
}

/// Ring index (0 = lowest beam) of VLP-16 laser `laser`, as the Velodyne ROS
/// driver numbers them.
pub fn ring_of_laser(laser: usize) -> u16 {
    Model::Vlp16.ring(laser)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_climb_with_elevation() {
        for model in Model::ALL {
            let mut by_ring = vec![f64::NAN; model.lasers()];
            for laser in 0..model.lasers() {
                by_ring[model.ring(laser) as usize] = model.elevation_deg(laser);
            }
            assert!(
                by_ring.windows(2).all(|w| w[0] <= w[1]),
                "{model:?}: {by_ring:?}"
            );
        }
        assert_eq!(ring_of_laser(1), 8);
        assert_eq!(ring_of_laser(0), 0);
    }

    #[test]
    fn packet_rates_follow_the_manuals() {
        // VLP-16: 754 packets/s single return, 1508 dual; HDL-32E 1808.
        assert!((Model::Vlp16.packet_period_us(false) - 1327.104).abs() < 1e-9);
        assert!((Model::Vlp16.packet_period_us(true) - 663.552).abs() < 1e-9);
        assert!((Model::Hdl32e.packet_period_us(false) - 552.96).abs() < 1e-9);
        assert!((Model::Vlp32c.packet_period_us(false) - 663.552).abs() < 1e-9);
        for m in Model::ALL {
            assert_eq!(Model::from_product_id(m.product_id()), Some(m));
            assert_eq!(Model::parse(m.rig_name()), Some(m));
            assert_eq!(Model::parse(m.name()), Some(m));
        }
    }
}
