//! `sensor_msgs/PointCloud2` → `Points3D`, coloured by intensity.

use std::sync::Arc;

use arrow_array::{FixedSizeListArray, Float32Array, UInt32Array};
use arrow_schema::{DataType, Field};
use reel_episode::cloud::{read_field, CloudError, CloudLayout};
use reel_episode::ros2::sensor_msgs::{PointCloud2, PointField};

/// The cloud's points with intensity colours (turbo over 0..=max intensity).
pub fn points3d(m: &PointCloud2) -> Result<rerun::Points3D, CloudError> {
    let layout = CloudLayout::of(m)?;
    let (x, y, z) = (
        m.require_field("x")?,
        m.require_field("y")?,
        m.require_field("z")?,
    );
    let intensity = m.field("intensity");
    let step = layout.point_step();
    let n = layout.len();
    let mut positions: Vec<[f32; 3]> = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    let f32_le = |f: &PointField| {
        f.datatype == PointField::FLOAT32 && !m.is_bigendian && f.offset as usize + 4 <= step
    };
    if f32_le(x) && f32_le(y) && f32_le(z) && intensity.is_none_or(f32_le) {
        // The layout reel (and most drivers) write: little-endian f32 fields.
        let at = |p: &[u8], o: u32| {
            let o = o as usize;
            f32::from_le_bytes([p[o], p[o + 1], p[o + 2], p[o + 3]])
        };
        for p in layout.points(m) {
            let (px, py, pz) = (at(p, x.offset), at(p, y.offset), at(p, z.offset));
            if px.is_finite() && py.is_finite() && pz.is_finite() {
                positions.push([px, py, pz]);
                values.push(intensity.map_or(0.0, |f| at(p, f.offset)));
            }
        }
    } else {
        // Any other layout, field by field.
        for p in layout.points(m) {
            let read = |f: &PointField| read_field(p, f, m.is_bigendian).map(|v| v as f32);
            let (Some(px), Some(py), Some(pz)) = (read(x), read(y), read(z)) else {
                continue; // unreachable: the layout checked every datatype
            };
            if !(px.is_finite() && py.is_finite() && pz.is_finite()) {
                continue; // NaN marks no return in organised clouds
            }
            positions.push([px, py, pz]);
            values.push(intensity.and_then(read).unwrap_or(0.0));
        }
    }
    let max = values.iter().copied().fold(1.0f32, f32::max);
    let lut = turbo_table();
    let scale = 255.0 / max;
    let colours: Vec<u32> = values
        .iter()
        .map(|v| {
            let [r, g, b] = lut[(v * scale).clamp(0.0, 255.0) as usize];
            u32::from_be_bytes([r, g, b, 255])
        })
        .collect();
    // Arrow arrays built directly: rerun's generic per-point serialization
    // took a fifth of the conversion of a LiDAR episode.
    let flat: Vec<f32> = positions.into_flattened();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    // Three values per point by construction: the list cannot be ragged.
    let positions = FixedSizeListArray::new(item, 3, Arc::new(Float32Array::from(flat)), None);
    let mut points = rerun::Points3D::update_fields().with_radii([0.01f32]);
    points.positions = Some(rerun::SerializedComponentBatch::new(
        Arc::new(positions),
        rerun::Points3D::descriptor_positions(),
    ));
    points.colors = Some(rerun::SerializedComponentBatch::new(
        Arc::new(UInt32Array::from(colours)),
        rerun::Points3D::descriptor_colors(),
    ));
    Ok(points)
}

/// Turbo sampled at 256 levels (computed once).
fn turbo_table() -> &'static [[u8; 3]; 256] {
    static TABLE: std::sync::OnceLock<[[u8; 3]; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| turbo(i as f32 / 255.0)))
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
    use reel_episode::ros2::std_msgs::Header;

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
            .to_string()
            .contains("fewer than 3 points"));
    }

    #[test]
    fn turbo_runs_blue_to_red() {
        let lo = turbo(0.15);
        let hi = turbo(1.0);
        assert!(lo[2] > lo[0] && hi[0] > hi[2], "{lo:?} {hi:?}");
    }
}
