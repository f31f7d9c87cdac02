//! A CPU rasterizer for the simulated cameras: z-buffered triangles sampled
//! at pixel centres with the OpenCV/ROS pinhole convention (pixel (u, v) is
//! centred at integer coordinates), flat Lambert shading from one directional
//! light plus ambient, per-object colours and a procedural checker texture.
//! Outputs RGB and metric depth (distance along the optical axis).
//!
//! Written by hand: the crates that exist draw through a GPU or a generic
//! shader pipeline; this needs exact pinhole sampling (so `camera_info`
//! predicts every pixel), bit-identical results on every machine, and
//! depth in metres, in about 200 lines.

use reel_episode::calibration::CameraModel;
use reel_episode::geometry::Iso;

use crate::mesh::Mesh;

/// Surface appearance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Material {
    /// Linear RGB 0..1.
    pub colour: [f32; 3],
    /// Second colour and tile size (metres, world x/y) of a checker texture.
    pub checker: Option<([f32; 3], f32)>,
}

/// The light.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Light {
    /// Unit vector towards the light (world).
    pub to_light: [f32; 3],
    /// Ambient fraction.
    pub ambient: f32,
    /// Directional intensity.
    pub intensity: f32,
}

/// Something to draw: a mesh, world ← mesh, and its material.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The mesh.
    pub mesh: &'a Mesh,
    /// World ← mesh.
    pub pose: Iso,
    /// Appearance.
    pub material: Material,
}

/// A rendered frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Row-major RGB8 (sRGB-encoded).
    pub rgb: Vec<u8>,
    /// Row-major depth in metres; `f32::INFINITY` where nothing was hit.
    pub depth: Vec<f32>,
}

/// A drawn triangle's lit colour (sRGB-encoded) and, when textured, its second colour and tiles per metre.
type Shade = ([u8; 3], Option<([u8; 3], f32)>);

const NEAR: f32 = 0.005;
/// Tiles added before truncating checker coordinates: even, and more than any
/// scene spans (4096 tiles of 1 mm = 4 m from the origin).
const CHECKER_SHIFT: f32 = 4096.0;
const BACKGROUND: [f32; 3] = [0.62, 0.66, 0.72];

/// Renders `items` seen from `world_from_camera` (optical frame: x right, y down, z forward)
/// through `k` as an ideal pinhole: the renderer draws no lens distortion.
///
/// Deferred: the raster pass keeps, per pixel, the nearest 1/z and which
/// shaded triangle it came from; colours (and the checker texture) are
/// computed once per visible pixel afterwards.
pub fn render(
    k: &CameraModel,
    world_from_camera: &Iso,
    items: &[Item<'_>],
    light: &Light,
) -> Frame {
    let (w, h) = (k.width as usize, k.height as usize);
    let mut inv_depth = vec![0.0f32; w * h];
    let mut shade_of = vec![u32::MAX; w * h];
    // Per drawn triangle: its lit colour and, for textured ones, the second colour and tile.
    let mut shades: Vec<Shade> = Vec::new();
    let cam_from_world = world_from_camera.inverse();
    let (fx, fy, cx, cy) = (k.fx as f32, k.fy as f32, k.cx as f32, k.cy as f32);
    let cam_to_world = matrix(world_from_camera);
    let lut = srgb_table();
    let encode =
        |c: [f32; 3]| c.map(|v| lut[(v.clamp(0.0, 1.0) * (LUT_SIZE - 1) as f32 + 0.5) as usize]);
    let view = ViewPlanes::new(k);
    let mut verts: Vec<[f32; 3]> = Vec::new();
    let mut screen: Vec<[f32; 3]> = Vec::new();
    for item in items.iter().rev() {
        let m = matrix(&cam_from_world.then_apply_to(&item.pose));
        let (centre, radius) = item.mesh.bounds();
        if !view.may_see(transform(&m, &centre), radius) {
            continue;
        }
        let world_rot = matrix(&item.pose);
        verts.clear();
        verts.extend(item.mesh.positions.iter().map(|p| transform(&m, p)));
        // Screen position and 1/z of every vertex in front of the near plane, once.
        screen.clear();
        screen.extend(verts.iter().map(|p| {
            if p[2] >= NEAR {
                [fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy, 1.0 / p[2]]
            } else {
                [f32::NAN; 3]
            }
        }));
        for tri in &item.mesh.triangles {
            let v = tri.map(|i| verts[i as usize]);
            if v.iter().all(|p| p[2] < NEAR) {
                continue;
            }
            // Back faces of closed, outward-wound meshes (STL, URDF primitives)
            // are hidden behind their front faces: skip them.
            let n_cam = cross(sub(v[1], v[0]), sub(v[2], v[0]));
            if dot(n_cam, v[0]) >= 0.0 {
                continue;
            }
            let (projected, n) = if v.iter().all(|p| p[2] >= NEAR) {
                let s = tri.map(|i| screen[i as usize]);
                ([s[0], s[1], s[2], [0.0; 3]], 3)
            } else {
                let (poly, n) = clip_near(&v);
                let projected: [[f32; 3]; 4] = std::array::from_fn(|i| {
                    let p = poly[i];
                    if i < n {
                        [fx * p[0] / p[2] + cx, fy * p[1] / p[2] + cy, 1.0 / p[2]]
                    } else {
                        [0.0; 3]
                    }
                });
                (projected, n)
            };
            if n < 3 {
                continue;
            }
            let id = shades.len() as u32;
            let mut drawn = false;
            for i in 1..n - 1 {
                drawn |= raster(
                    [projected[0], projected[i], projected[i + 1]],
                    w,
                    h,
                    &mut inv_depth,
                    &mut shade_of,
                    id,
                );
            }
            if drawn {
                let n_world = rotate_back(&m, &world_rot, n_cam);
                let len = dot(n_world, n_world).sqrt().max(1e-30);
                let lambert = (dot(n_world, light.to_light) / len).abs();
                let shade = light.ambient + light.intensity * lambert;
                let base = encode(item.material.colour.map(|c| c * shade));
                let checker = item
                    .material
                    .checker
                    .map(|(c2, tile)| (encode(c2.map(|c| c * shade)), 1.0 / tile));
                shades.push((base, checker));
            }
        }
    }
    let background = encode(BACKGROUND);
    let mut rgb = vec![0u8; w * h * 3];
    let mut depth = vec![f32::INFINITY; w * h];
    // World position of a pixel at depth z: camera origin + z·(R·((u−cx)/fx, (v−cy)/fy, 1)),
    // affine in u along a row.
    let r = |i: usize, j: usize| cam_to_world[i][j];
    let step_u: [f32; 3] = std::array::from_fn(|i| r(i, 0) / fx);
    let origin: [f32; 3] = std::array::from_fn(|i| cam_to_world[i][3]);
    for y in 0..h {
        let vy = (y as f32 - cy) / fy;
        let row_start: [f32; 3] =
            std::array::from_fn(|i| r(i, 0) * (-cx / fx) + r(i, 1) * vy + r(i, 2));
        let row = y * w..(y + 1) * w;
        let pixels = rgb[row.start * 3..row.end * 3].chunks_exact_mut(3);
        for (x, ((px, d), (&id, &iz))) in pixels
            .zip(&mut depth[row.clone()])
            .zip(shade_of[row.clone()].iter().zip(&inv_depth[row]))
            .enumerate()
        {
            if id == u32::MAX {
                px.copy_from_slice(&background);
                continue;
            }
            let z = 1.0 / iz;
            *d = z;
            let (base, checker) = shades[id as usize];
            let c = match checker {
                None => base,
                Some((c2, per_metre)) => {
                    let u = x as f32;
                    let wx = origin[0] + z * (row_start[0] + step_u[0] * u);
                    let wy = origin[1] + z * (row_start[1] + step_u[1] * u);
                    // Truncation is the floor once shifted positive by an even
                    // number of tiles (which keeps the parity).
                    let tiles = (wx * per_metre + CHECKER_SHIFT) as i32
                        + (wy * per_metre + CHECKER_SHIFT) as i32;
                    if tiles & 1 == 0 {
                        base
                    } else {
                        c2
                    }
                }
            };
            px.copy_from_slice(&c);
        }
    }
    Frame { rgb, depth }
}

const LUT_SIZE: usize = 4096;

/// Linear 0..1 → sRGB-ish (γ 2.2) 8-bit, tabulated: a `powf` per channel
/// per pixel cost more than the whole raster pass.
fn srgb_table() -> &'static [u8; LUT_SIZE] {
    static TABLE: std::sync::OnceLock<[u8; LUT_SIZE]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            ((i as f64 / (LUT_SIZE - 1) as f64).powf(1.0 / 2.2) * 255.0 + 0.5) as u8
        })
    })
}

/// Draws one triangle (screen x, y and 1/z per vertex) into the buffers; true if any pixel won.
fn raster(
    t: [[f32; 3]; 3],
    w: usize,
    h: usize,
    inv_depth: &mut [f32],
    shade_of: &mut [u32],
    id: u32,
) -> bool {
    let area =
        (t[1][0] - t[0][0]) * (t[2][1] - t[0][1]) - (t[2][0] - t[0][0]) * (t[1][1] - t[0][1]);
    if area.abs() < 1e-12 {
        return false;
    }
    let (lo_x, hi_x) = (
        t[0][0].min(t[1][0]).min(t[2][0]),
        t[0][0].max(t[1][0]).max(t[2][0]),
    );
    let (lo_y, hi_y) = (
        t[0][1].min(t[1][1]).min(t[2][1]),
        t[0][1].max(t[1][1]).max(t[2][1]),
    );
    let (min_x, max_x) = (ceil(lo_x).max(0.0), floor(hi_x).min(w as f32 - 1.0));
    let (min_y, max_y) = (ceil(lo_y).max(0.0), floor(hi_y).min(h as f32 - 1.0));
    if max_x < min_x || max_y < min_y {
        return false;
    }
    let (min_x, max_x, min_y, max_y) = (
        min_x as usize,
        max_x as usize,
        min_y as usize,
        max_y as usize,
    );
    let inv = 1.0 / area;
    // Barycentrics are affine in the pixel position: start values and steps.
    let edge = |a: [f32; 3], b: [f32; 3], x: f32, y: f32| {
        ((b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])) * inv
    };
    let (x0, y0) = (min_x as f32, min_y as f32);
    let e = [
        edge(t[1], t[2], x0, y0),
        edge(t[2], t[0], x0, y0),
        edge(t[0], t[1], x0, y0),
    ];
    let dx = [
        -(t[2][1] - t[1][1]) * inv,
        -(t[0][1] - t[2][1]) * inv,
        -(t[1][1] - t[0][1]) * inv,
    ];
    let dy = [
        (t[2][0] - t[1][0]) * inv,
        (t[0][0] - t[2][0]) * inv,
        (t[1][0] - t[0][0]) * inv,
    ];
    let mut won = false;
    for y in min_y..=max_y {
        let fy = (y - min_y) as f32;
        let row = y * w;
        // The span of this row inside all three edges (each barycentric is
        // linear in x), widened by a pixel; the test below stays exact.
        let (mut lo, mut hi) = (0.0f32, (max_x - min_x) as f32);
        for k in 0..3 {
            let at = e[k] + dy[k] * fy;
            if dx[k] > 0.0 {
                lo = lo.max(floor(-at / dx[k]) - 1.0);
            } else if dx[k] < 0.0 {
                hi = hi.min(ceil(-at / dx[k]) + 1.0);
            } else if at < 0.0 {
                hi = -1.0;
            }
        }
        if hi < lo {
            continue;
        }
        for x in min_x + lo as usize..=min_x + hi as usize {
            // The barycentrics of the pixel centre; "≥ 0 on all edges" instead
            // of a top-left rule: shared edges may be drawn twice, which the
            // depth test makes harmless.
            let fx = (x - min_x) as f32;
            let b0 = e[0] + dx[0] * fx + dy[0] * fy;
            let b1 = e[1] + dx[1] * fx + dy[1] * fy;
            let b2 = e[2] + dx[2] * fx + dy[2] * fy;
            if b0 < 0.0 || b1 < 0.0 || b2 < 0.0 {
                continue;
            }
            let iz = b0 * t[0][2] + b1 * t[1][2] + b2 * t[2][2];
            let i = row + x;
            if iz > inv_depth[i] {
                inv_depth[i] = iz;
                shade_of[i] = id;
                won = true;
            }
        }
    }
    won
}

/// The view frustum's side planes (through the optical centre, unit normals
/// pointing inwards) and its near plane.
struct ViewPlanes([[f32; 3]; 4]);

impl ViewPlanes {
    fn new(k: &CameraModel) -> Self {
        // Pixel centres span −0.5 … w − 0.5: u ≥ −0.5 ⇔ fx·x + (cx + 0.5)·z ≥ 0, etc.
        let (w, h) = (k.width as f64, k.height as f64);
        let planes = [
            [k.fx, 0.0, k.cx + 0.5],
            [-k.fx, 0.0, w - 0.5 - k.cx],
            [0.0, k.fy, k.cy + 0.5],
            [0.0, -k.fy, h - 0.5 - k.cy],
        ]
        .map(|n| {
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            n.map(|v| (v / len) as f32)
        });
        Self(planes)
    }

    /// False only when a sphere (camera frame) is wholly outside the view.
    fn may_see(&self, centre: [f32; 3], radius: f32) -> bool {
        centre[2] + radius >= NEAR && self.0.iter().all(|n| dot(*n, centre) >= -radius)
    }
}

/// `f32::floor` without the libm call (the default x86-64 target has no
/// rounding instruction); exact for |x| < 2³¹, which covers every pixel.
#[inline(always)]
fn floor(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

#[inline(always)]
fn ceil(x: f32) -> f32 {
    -floor(-x)
}

/// Sutherland–Hodgman against the near plane: at most 4 vertices, no allocation.
fn clip_near(v: &[[f32; 3]; 3]) -> ([[f32; 3]; 4], usize) {
    let mut out = [[0.0; 3]; 4];
    let mut n = 0;
    if v.iter().all(|p| p[2] >= NEAR) {
        out[..3].copy_from_slice(v);
        return (out, 3);
    }
    for i in 0..3 {
        let (a, b) = (v[i], v[(i + 1) % 3]);
        let (ina, inb) = (a[2] >= NEAR, b[2] >= NEAR);
        if ina {
            out[n] = a;
            n += 1;
        }
        if ina != inb {
            let s = (NEAR - a[2]) / (b[2] - a[2]);
            out[n] = [a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s, NEAR];
            n += 1;
        }
    }
    (out, n)
}

type Mat34 = [[f32; 4]; 3];

fn matrix(iso: &Iso) -> Mat34 {
    let r = iso.rotation_matrix();
    std::array::from_fn(|i| {
        [
            r[i][0] as f32,
            r[i][1] as f32,
            r[i][2] as f32,
            iso.t[i] as f32,
        ]
    })
}

fn transform(m: &Mat34, p: &[f32; 3]) -> [f32; 3] {
    std::array::from_fn(|i| m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3])
}

/// A camera-frame normal back to the world frame: world ← mesh · (cam ← mesh)⁻¹.
fn rotate_back(cam_from_mesh: &Mat34, world_from_mesh: &Mat34, n: [f32; 3]) -> [f32; 3] {
    // mesh-frame normal = Rᵀ n (rotation part only), then rotate to world.
    let nm: [f32; 3] = std::array::from_fn(|j| (0..3).map(|i| cam_from_mesh[i][j] * n[i]).sum());
    std::array::from_fn(|i| (0..3).map(|j| world_from_mesh[i][j] * nm[j]).sum())
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// World ← optical frame of a camera at `eye` looking at `target` (world z up).
pub fn look_at(eye: [f64; 3], target: [f64; 3]) -> Iso {
    let norm = |v: [f64; 3]| {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
        v.map(|x| x / n)
    };
    let cross = |a: [f64; 3], b: [f64; 3]| {
        [
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ]
    };
    let z = norm([target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]]);
    let mut x = cross(z, [0.0, 0.0, 1.0]);
    if x.iter().map(|v| v * v).sum::<f64>() < 1e-12 {
        x = [0.0, -1.0, 0.0]; // looking straight down: image right is world −y
    }
    let x = norm(x);
    let y = cross(z, x);
    let m = [[x[0], y[0], z[0]], [x[1], y[1], z[1]], [x[2], y[2], z[2]]];
    Iso {
        q: quat_from_matrix(&m),
        t: eye,
    }
}

/// Unit quaternion (w, x, y, z) of a rotation matrix (Shepperd's method).
pub fn quat_from_matrix(m: &[[f64; 3]; 3]) -> [f64; 4] {
    let tr = m[0][0] + m[1][1] + m[2][2];
    let q = if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        [
            0.25 * s,
            (m[2][1] - m[1][2]) / s,
            (m[0][2] - m[2][0]) / s,
            (m[1][0] - m[0][1]) / s,
        ]
    } else if m[0][0] > m[1][1] && m[0][0] > m[2][2] {
        let s = (1.0 + m[0][0] - m[1][1] - m[2][2]).sqrt() * 2.0;
        [
            (m[2][1] - m[1][2]) / s,
            0.25 * s,
            (m[0][1] + m[1][0]) / s,
            (m[0][2] + m[2][0]) / s,
        ]
    } else if m[1][1] > m[2][2] {
        let s = (1.0 + m[1][1] - m[0][0] - m[2][2]).sqrt() * 2.0;
        [
            (m[0][2] - m[2][0]) / s,
            (m[0][1] + m[1][0]) / s,
            0.25 * s,
            (m[1][2] + m[2][1]) / s,
        ]
    } else {
        let s = (1.0 + m[2][2] - m[0][0] - m[1][1]).sqrt() * 2.0;
        [
            (m[1][0] - m[0][1]) / s,
            (m[0][2] + m[2][0]) / s,
            (m[1][2] + m[2][1]) / s,
            0.25 * s,
        ]
    };
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    q.map(|v| v / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_point_lands_on_the_pixel_camera_info_predicts() {
        let k = CameraModel::from_hfov(320, 240, 70.0);
        let cam = look_at([0.6, 0.1, 0.4], [0.1, -0.05, 0.0]);
        let marker = Mesh::cuboid([0.004, 0.004, 0.004]);
        let light = Light {
            to_light: [0.0, 0.0, 1.0],
            ambient: 1.0,
            intensity: 0.0,
        };
        let mut worst: f64 = 0.0;
        for p in [
            [0.2, 0.0, 0.02],
            [0.05, -0.1, 0.0],
            [0.3, 0.12, 0.1],
            [0.0, 0.2, 0.05],
        ] {
            let item = Item {
                mesh: &marker,
                pose: Iso::translation(p),
                material: Material {
                    colour: [1.0, 0.0, 0.0],
                    checker: None,
                },
            };
            let f = render(&k, &cam, &[item], &light);
            let (mut su, mut sv, mut n) = (0.0, 0.0, 0.0);
            for (i, d) in f.depth.iter().enumerate() {
                if d.is_finite() {
                    su += (i % 320) as f64;
                    sv += (i / 320) as f64;
                    n += 1.0;
                }
            }
            assert!(n >= 4.0, "marker at {p:?} not drawn");
            let predicted = k.project(cam.inverse().apply(p)).expect("in front");
            let err = ((su / n - predicted[0]).powi(2) + (sv / n - predicted[1]).powi(2)).sqrt();
            worst = worst.max(err);
        }
        assert!(
            worst <= 0.5,
            "centroid {worst} px from the camera_info projection"
        );
    }

    #[test]
    fn depth_is_the_distance_along_the_optical_axis() {
        let k = CameraModel::from_hfov(64, 48, 60.0);
        // Straight down from 0.5 m onto a large plane at z = 0.
        let cam = look_at([0.0, 0.0, 0.5], [0.0, 0.0, 0.0]);
        let plane = Mesh::cuboid([2.0, 2.0, 0.0001]);
        let light = Light {
            to_light: [0.0, 0.0, 1.0],
            ambient: 0.3,
            intensity: 0.7,
        };
        let item = Item {
            mesh: &plane,
            pose: Iso::IDENTITY,
            material: Material {
                colour: [0.5; 3],
                checker: None,
            },
        };
        let f = render(&k, &cam, &[item], &light);
        for d in &f.depth {
            assert!((d - 0.49995).abs() < 1e-4, "{d}");
        }
    }
}
