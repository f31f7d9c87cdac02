//! `sensor_msgs/PointCloud2` → `Points3D`, coloured by intensity.

use reel_formats::ros2::sensor_msgs::{PointCloud2, PointField};

/// Reads field `f` of the point at `base` as f32 (the PointField datatypes
/// INT8..FLOAT64, either byte order).
fn read(data: &[u8], base: usize, f: &PointField, big_endian: bool) -> Option<f32> {
    let at = base + f.offset as usize;
    macro_rules! num {
        ($t:ty, $n:expr) => {{
            let b: [u8; $n] = data.get(at..at + $n)?.try_into().ok()?;
            (if big_endian {
                <$t>::from_be_bytes(b)
            } else {
                <$t>::from_le_bytes(b)
            }) as f32
        }};
    }
    Some(match f.datatype {
        1 => num!(i8, 1),
        2 => num!(u8, 1),
        3 => num!(i16, 2),
        4 => num!(u16, 2),
        5 => num!(i32, 4),
        6 => num!(u32, 4),
        7 => num!(f32, 4),
        8 => num!(f64, 8),
        _ => return None,
    })
}

/// The cloud's points with intensity colours (turbo over 0..=max intensity).
pub fn points3d(m: &PointCloud2) -> Result<rerun::Points3D, String> {
    let field = |name: &str| m.fields.iter().find(|f| f.name == name);
    let (Some(x), Some(y), Some(z)) = (field("x"), field("y"), field("z")) else {
        return Err("no x, y, z fields".into());
    };
    let step = m.point_step as usize;
    let n = (m.width as usize) * (m.height.max(1) as usize);
    if step == 0 || m.data.len() < n * step {
        return Err(format!(
            "{} bytes hold fewer than {n} points of {step} bytes",
            m.data.len()
        ));
    }
    let intensity = field("intensity");
    let mut positions = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        let base = i * step;
        let p = [
            read(&m.data, base, x, m.is_bigendian),
            read(&m.data, base, y, m.is_bigendian),
            read(&m.data, base, z, m.is_bigendian),
        ];
        let (Some(px), Some(py), Some(pz)) = (p[0], p[1], p[2]) else {
            return Err("a point field has an unknown datatype".into());
        };
        if !(px.is_finite() && py.is_finite() && pz.is_finite()) {
            continue; // NaN marks no return in organised clouds
        }
        positions.push([px, py, pz]);
        values.push(
            intensity
                .and_then(|f| read(&m.data, base, f, m.is_bigendian))
                .unwrap_or(0.0),
        );
    }
    let max = values.iter().copied().fold(1.0f32, f32::max);
    let colours: Vec<rerun::Color> = values
        .iter()
        .map(|v| {
            let [r, g, b] = turbo(v / max);
            rerun::Color::from_rgb(r, g, b)
        })
        .collect();
    Ok(rerun::Points3D::new(positions)
        .with_colors(colours)
        .with_radii([0.01f32]))
}

/// Google's Turbo colormap, polynomial approximation (Mikhailov 2019, Apache-2.0).
pub fn turbo(t: f32) -> [u8; 3] {
    let x = t.clamp(0.0, 1.0) as f64;
    let r = 0.13572138
        + x * (4.61539260
            + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943))));
    let g = 0.09140261
        + x * (2.19418839
            + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604))));
    let b = 0.10667330
        + x * (12.64194608
            + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973))));
    [r, g, b].map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_formats::ros2::std_msgs::Header;

    fn cloud(points: &[[f32; 4]]) -> PointCloud2 {
        let f = |name: &str, offset| PointField {
            name: name.into(),
            offset,
            datatype: 7,
            count: 1,
        };
        PointCloud2 {
            header: Header::new(0, "lidar"),
            height: 1,
            width: points.len() as u32,
            fields: vec![f("x", 0), f("y", 4), f("z", 8), f("intensity", 12)],
            is_bigendian: false,
            point_step: 16,
            row_step: 16 * points.len() as u32,
            data: points
                .iter()
                .flatten()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            is_dense: false,
        }
    }

    #[test]
    fn reads_points_and_skips_nan() {
        let m = cloud(&[
            [1.0, 2.0, 3.0, 10.0],
            [f32::NAN, 0.0, 0.0, 5.0],
            [4.0, 5.0, 6.0, 100.0],
        ]);
        assert!(points3d(&m).is_ok());
        let mut short = m.clone();
        short.data.truncate(20);
        assert!(points3d(&short)
            .unwrap_err()
            .contains("fewer than 3 points"));
    }

    #[test]
    fn turbo_runs_blue_to_red() {
        let lo = turbo(0.15);
        let hi = turbo(1.0);
        assert!(lo[2] > lo[0] && hi[0] > hi[2], "{lo:?} {hi:?}");
    }
}
