//! The room every emulated LiDAR sees: a box room with a pillar, in the
//! sensor frame (x forward, y left, z up). The pillar is glass-like: a beam
//! that meets it returns from it (the strongest return) and from the wall
//! behind (the last), so dual-return sensors report two returns there.

/// A box room with a vertical pillar.
#[derive(Debug, Clone, Copy)]
pub struct Scene {
    /// Room bounds: x min/max, y min/max, z min/max, metres.
    pub room: [f64; 6],
    /// Pillar centre (x, y) and radius.
    pub pillar: (f64, f64, f64),
}

/// What a beam meets: the nearest surface, and the wall behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Returns {
    /// Range (m) and reflectivity of the strongest return.
    pub strongest: (f64, u8),
    /// Range and reflectivity of the last return (the room's wall).
    pub last: (f64, u8),
}

impl Default for Scene {
    fn default() -> Self {
        Self {
            room: [-6.0, 4.0, -3.0, 5.0, -1.5, 2.5],
            pillar: (2.0, 1.0, 0.3),
        }
    }
}

impl Scene {
    /// Range and reflectivity along the unit ray `d` from the origin (the
    /// strongest return).
    pub fn hit(&self, d: [f64; 3]) -> (f64, u8) {
        self.returns([0.0; 3], d).strongest
    }

    /// Both returns along the unit ray `d` from `origin`.
    pub fn returns(&self, origin: [f64; 3], d: [f64; 3]) -> Returns {
        let mut wall = (f64::INFINITY, 0u8);
        for (axis, &component) in d.iter().enumerate() {
            if component.abs() < 1e-12 {
                continue;
            }
            let bound = if component > 0.0 {
                self.room[axis * 2 + 1]
            } else {
                self.room[axis * 2]
            };
            let t = (bound - origin[axis]) / component;
            if t > 0.0 && t < wall.0 {
                wall = (t, if axis == 2 { 20 } else { 60 });
            }
        }
        // Vertical cylinder: |(o + t·d − p)_xy| = r.
        let (px, py, r) = self.pillar;
        let (ox, oy) = (origin[0] - px, origin[1] - py);
        let a = d[0] * d[0] + d[1] * d[1];
        let mut strongest = wall;
        if a > 1e-12 {
            let b = 2.0 * (d[0] * ox + d[1] * oy);
            let c = ox * ox + oy * oy - r * r;
            let disc = b * b - 4.0 * a * c;
            if disc >= 0.0 {
                let t = (-b - disc.sqrt()) / (2.0 * a);
                if t > 0.0 && t < wall.0 {
                    strongest = (t, 200);
                }
            }
        }
        Returns {
            strongest,
            last: wall,
        }
    }
}
