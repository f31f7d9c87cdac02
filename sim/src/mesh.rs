//! Triangle meshes: STL loading and the coarse level of detail the renderer
//! and collision shapes use.
//!
//! STL is read by hand: binary STL is an 84-byte header and 50-byte records,
//! ASCII STL is `vertex x y z` lines; a crate would add more than it saves.

use std::collections::HashMap;
use std::path::Path;

use crate::SimError;

/// An indexed triangle mesh in metres.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions.
    pub positions: Vec<[f32; 3]>,
    /// Counter-clockwise triangles (outward normals).
    pub triangles: Vec<[u32; 3]>,
    /// A sphere around every vertex (centre, radius), so a renderer can skip
    /// a mesh outside its view without transforming its vertices.
    bounds: ([f32; 3], f32),
}

impl Mesh {
    /// A mesh from vertices and counter-clockwise triangles.
    pub fn new(positions: Vec<[f32; 3]>, triangles: Vec<[u32; 3]>) -> Self {
        // The centre of the bounding box: not the smallest sphere, but
        // within √3 of it and one pass.
        let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for p in &positions {
            for k in 0..3 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let centre: [f32; 3] = std::array::from_fn(|k| {
            if lo[k] <= hi[k] {
                (lo[k] + hi[k]) / 2.0
            } else {
                0.0
            }
        });
        let radius = positions
            .iter()
            .map(|p| (0..3).map(|k| (p[k] - centre[k]).powi(2)).sum::<f32>())
            .fold(0.0f32, f32::max)
            .sqrt();
        Self {
            positions,
            triangles,
            bounds: (centre, radius),
        }
    }

    /// A sphere (centre, radius) holding every vertex.
    pub fn bounds(&self) -> ([f32; 3], f32) {
        self.bounds
    }

    /// Reads a binary or ASCII STL file, scaling every coordinate by `scale`.
    pub fn read_stl(path: &Path, scale: [f64; 3]) -> Result<Self, SimError> {
        let bytes = std::fs::read(path).map_err(|e| SimError::io(path, e))?;
        let soup = parse_stl(&bytes).ok_or_else(|| {
            SimError::input(
                path,
                "not a readable STL mesh (binary or ASCII); re-export it",
            )
        })?;
        let s = scale.map(|v| v as f32);
        let scaled: Vec<[f32; 3]> = soup
            .into_iter()
            .map(|p| [p[0] * s[0], p[1] * s[1], p[2] * s[2]])
            .collect();
        Ok(Self::weld(&scaled, 0.0))
    }

    /// An axis-aligned box centred on the origin with full edge lengths `size`.
    pub fn cuboid(size: [f64; 3]) -> Self {
        let h = size.map(|v| (v / 2.0) as f32);
        let positions = (0..8)
            .map(|i| {
                [
                    if i & 1 == 0 { -h[0] } else { h[0] },
                    if i & 2 == 0 { -h[1] } else { h[1] },
                    if i & 4 == 0 { -h[2] } else { h[2] },
                ]
            })
            .collect();
        let triangles = vec![
            [0, 2, 1],
            [1, 2, 3], // -z
            [4, 5, 6],
            [5, 7, 6], // +z
            [0, 1, 4],
            [1, 5, 4], // -y
            [2, 6, 3],
            [3, 6, 7], // +y
            [0, 4, 2],
            [2, 4, 6], // -x
            [1, 3, 5],
            [3, 7, 5], // +x
        ];
        Self::new(positions, triangles)
    }

    /// A cylinder along z centred on the origin, `segments` around.
    pub fn cylinder(radius: f64, length: f64, segments: usize) -> Self {
        let (r, h) = (radius as f32, (length / 2.0) as f32);
        let mut positions = vec![[0.0, 0.0, -h], [0.0, 0.0, h]];
        for i in 0..segments {
            let a = i as f32 / segments as f32 * std::f32::consts::TAU;
            positions.push([r * a.cos(), r * a.sin(), -h]);
            positions.push([r * a.cos(), r * a.sin(), h]);
        }
        let mut triangles = Vec::new();
        for i in 0..segments as u32 {
            let j = (i + 1) % segments as u32;
            let (b0, t0, b1, t1) = (2 + 2 * i, 3 + 2 * i, 2 + 2 * j, 3 + 2 * j);
            triangles.push([0, b1, b0]);
            triangles.push([1, t0, t1]);
            triangles.push([b0, b1, t0]);
            triangles.push([t0, b1, t1]);
        }
        Self::new(positions, triangles)
    }

    /// A UV sphere.
    pub fn sphere(radius: f64, rings: usize, segments: usize) -> Self {
        let r = radius as f32;
        let mut positions = vec![[0.0, 0.0, -r], [0.0, 0.0, r]];
        for ring in 1..rings {
            let phi =
                std::f32::consts::PI * ring as f32 / rings as f32 - std::f32::consts::FRAC_PI_2;
            for s in 0..segments {
                let a = s as f32 / segments as f32 * std::f32::consts::TAU;
                positions.push([
                    r * phi.cos() * a.cos(),
                    r * phi.cos() * a.sin(),
                    r * phi.sin(),
                ]);
            }
        }
        let at = |ring: usize, s: usize| (2 + (ring - 1) * segments + s % segments) as u32;
        let mut triangles = Vec::new();
        for s in 0..segments {
            triangles.push([0, at(1, s + 1), at(1, s)]);
            triangles.push([1, at(rings - 1, s), at(rings - 1, s + 1)]);
            for ring in 1..rings - 1 {
                triangles.push([at(ring, s), at(ring, s + 1), at(ring + 1, s)]);
                triangles.push([at(ring + 1, s), at(ring, s + 1), at(ring + 1, s + 1)]);
            }
        }
        Self::new(positions, triangles)
    }

    /// Vertex clustering: vertices within one `cell` (metres) merge, and
    /// triangles that collapse disappear. A cell of 0 only welds identical
    /// positions. Keeps the silhouette to about `cell`, which is what a
    /// 320×240 camera or a contact solver can tell apart; deterministic.
    pub fn simplified(&self, cell: f64) -> Self {
        let soup: Vec<[f32; 3]> = self
            .triangles
            .iter()
            .flat_map(|t| t.map(|i| self.positions[i as usize]))
            .collect();
        Self::weld(&soup, cell as f32)
    }

    fn weld(soup: &[[f32; 3]], cell: f32) -> Self {
        let mut index: HashMap<[i64; 3], u32> = HashMap::new();
        let mut sums: Vec<([f64; 3], u32)> = Vec::new();
        let key = |p: &[f32; 3]| -> [i64; 3] {
            if cell > 0.0 {
                p.map(|v| (v / cell).floor() as i64)
            } else {
                p.map(|v| v.to_bits() as i64)
            }
        };
        let mut triangles = Vec::with_capacity(soup.len() / 3);
        for tri in soup.chunks_exact(3) {
            let ids: [u32; 3] = std::array::from_fn(|k| {
                let p = &tri[k];
                *index.entry(key(p)).or_insert_with(|| {
                    sums.push(([0.0; 3], 0));
                    (sums.len() - 1) as u32
                })
            });
            for (k, id) in ids.iter().enumerate() {
                let s = &mut sums[*id as usize];
                for (sum, v) in s.0.iter_mut().zip(tri[k]) {
                    *sum += v as f64;
                }
                s.1 += 1;
            }
            if ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2] {
                triangles.push(ids);
            }
        }
        let positions = sums
            .iter()
            .map(|(s, n)| s.map(|v| (v / *n as f64) as f32))
            .collect();
        Self::new(positions, triangles)
    }
}

fn parse_stl(bytes: &[u8]) -> Option<Vec<[f32; 3]>> {
    if bytes.len() >= 84 {
        let n = u32::from_le_bytes(bytes[80..84].try_into().ok()?) as usize;
        if bytes.len() == 84 + n * 50 {
            let mut soup = Vec::with_capacity(n * 3);
            for rec in bytes[84..].chunks_exact(50) {
                for v in 0..3 {
                    let at = 12 + v * 12;
                    soup.push(std::array::from_fn(|a| {
                        let o = at + a * 4;
                        f32::from_le_bytes([rec[o], rec[o + 1], rec[o + 2], rec[o + 3]])
                    }));
                }
            }
            return Some(soup);
        }
    }
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.trim_start().starts_with("solid") {
        return None;
    }
    let mut soup = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("vertex") {
            let v: Vec<f32> = words.filter_map(|w| w.parse().ok()).collect();
            if v.len() != 3 {
                return None;
            }
            soup.push([v[0], v[1], v[2]]);
        }
    }
    (!soup.is_empty() && soup.len() % 3 == 0).then_some(soup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_ascii_stl_read_the_same_triangle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bin = vec![0u8; 80];
        bin.extend(1u32.to_le_bytes());
        bin.extend([0u8; 12]);
        for v in [[0.0f32, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] {
            for c in v {
                bin.extend(c.to_le_bytes());
            }
        }
        bin.extend([0u8; 2]);
        std::fs::write(dir.path().join("a.stl"), &bin).expect("write");
        std::fs::write(
            dir.path().join("b.stl"),
            "solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendloop\nendfacet\nendsolid t\n",
        )
        .expect("write");
        let a = Mesh::read_stl(&dir.path().join("a.stl"), [0.001; 3]).expect("binary");
        let b = Mesh::read_stl(&dir.path().join("b.stl"), [0.001; 3]).expect("ascii");
        assert_eq!(a, b);
        assert_eq!(a.triangles.len(), 1);
        assert_eq!(a.positions[1], [0.001, 0.0, 0.0]);
        std::fs::write(dir.path().join("c.stl"), b"garbage").expect("write");
        let e = Mesh::read_stl(&dir.path().join("c.stl"), [1.0; 3]).expect_err("garbage");
        assert!(e.to_string().contains("c.stl"), "{e}");
    }

    #[test]
    fn simplification_keeps_the_shape_and_drops_triangles() {
        let s = Mesh::sphere(0.05, 32, 64);
        let coarse = s.simplified(0.01);
        assert!(coarse.triangles.len() < s.triangles.len() / 4);
        for p in &coarse.positions {
            let r = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            assert!((r - 0.05).abs() < 0.01, "{r}");
        }
    }
}
