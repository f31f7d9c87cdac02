//! Target images rendered with known intrinsics, distortion and poses: the
//! ground truth the calibration is tested against (and a way for a user to
//! check a pipeline end to end).
//!
//! Each pixel is supersampled: the ray through each sub-sample is undistorted
//! exactly (the model's inverse), intersected with the board plane and
//! shaded, so edges carry the area coverage a real sensor integrates.

use nalgebra::Vector3;

use crate::board::Checkerboard;
use crate::model::{CameraModel, Pose};

/// Grey levels of the printed squares, the margin and the background.
const DARK: f64 = 30.0;
const LIGHT: f64 = 215.0;
const BACKGROUND: f64 = 120.0;

/// Renders the board seen by `camera` at `pose` (camera ← board) as 8-bit grey.
pub fn render_board(
    camera: &CameraModel,
    board: &Checkerboard,
    pose: &Pose,
    samples: usize,
) -> Vec<u8> {
    let (w, h) = (camera.width as usize, camera.height as usize);
    let r = pose.rotation();
    let t = Vector3::from(pose.tvec);
    // Board plane in the camera frame: n·p = n·t with n the board's z axis.
    let n = r * Vector3::z();
    let d = n.dot(&t);
    let inv = r.inverse();
    let s = samples.max(1);
    // Exact rays on a lattice every GRID pixels, bilinear in between: the
    // distortion is smooth, so the error is far below a thousandth of a pixel,
    // and the model's inverse (Newton) runs per lattice point, not per sample.
    const GRID: usize = 4;
    let (gw, gh) = (w / GRID + 3, h / GRID + 3);
    let lattice: Vec<[f64; 2]> = (0..gh)
        .flat_map(|j| (0..gw).map(move |i| (i, j)))
        .map(|(i, j)| {
            camera.unproject([
                (i * GRID) as f64 - GRID as f64,
                (j * GRID) as f64 - GRID as f64,
            ])
        })
        .collect();
    let ray_at = |x: f64, y: f64| {
        let (gx, gy) = (
            (x + GRID as f64) / GRID as f64,
            (y + GRID as f64) / GRID as f64,
        );
        let (i, j) = (gx.floor() as usize, gy.floor() as usize);
        let (fx, fy) = (gx - i as f64, gy - j as f64);
        let l = |i: usize, j: usize| lattice[j.min(gh - 1) * gw + i.min(gw - 1)];
        let (a, b, c, d) = (l(i, j), l(i + 1, j), l(i, j + 1), l(i + 1, j + 1));
        std::array::from_fn::<f64, 2, _>(|k| {
            (a[k] * (1.0 - fx) + b[k] * fx) * (1.0 - fy) + (c[k] * (1.0 - fx) + d[k] * fx) * fy
        })
    };
    let mut out = vec![0u8; w * h];
    for v in 0..h {
        for u in 0..w {
            let mut sum = 0.0;
            for sv in 0..s {
                for su in 0..s {
                    let ray = ray_at(
                        u as f64 - 0.5 + (su as f64 + 0.5) / s as f64,
                        v as f64 - 0.5 + (sv as f64 + 0.5) / s as f64,
                    );
                    let dir = Vector3::new(ray[0], ray[1], 1.0);
                    let denom = n.dot(&dir);
                    sum += if denom.abs() < 1e-12 || d / denom <= 0.0 {
                        BACKGROUND
                    } else {
                        let p = inv * (dir * (d / denom) - t);
                        match board.is_dark(p.x, p.y) {
                            Some(true) => DARK,
                            Some(false) => LIGHT,
                            None => BACKGROUND,
                        }
                    };
                }
            }
            out[v * w + u] = (sum / (s * s) as f64).round() as u8;
        }
    }
    out
}

/// A spread of board poses that a careful person would capture: the board
/// at several distances, tilted up to ~35° about both axes, and moved towards
/// the image's corners and edges, always whole in the image (with one square
/// of margin). Deterministic.
pub fn varied_poses(camera: &CameraModel, board: &Checkerboard, views: usize) -> Vec<Pose> {
    let (bw, bh) = (
        (board.cols - 1) as f64 * board.square,
        (board.rows - 1) as f64 * board.square,
    );
    // A distance at which the board fills about half the image width.
    let base = camera.fx * bw / (camera.width as f64 * 0.5);
    let margin = [-1.0, board.cols as f64]
        .into_iter()
        .flat_map(|i| [-1.0, board.rows as f64].map(move |j| (i, j)))
        .map(|(i, j)| Vector3::new(i * board.square, j * board.square, 0.0))
        .collect::<Vec<_>>();
    let inside = |pose: &Pose| {
        margin.iter().all(|p| {
            camera.project(pose.apply(p).into()).is_some_and(|q| {
                q[0] > 2.0
                    && q[1] > 2.0
                    && q[0] < camera.width as f64 - 3.0
                    && q[1] < camera.height as f64 - 3.0
            })
        })
    };
    (0..views * 20)
        .map(|k| {
            let f = k as f64;
            let tilt_x = 0.6 * (f * 2.4).sin();
            let tilt_y = 0.6 * (f * 1.7 + 1.0).cos();
            let spin = 0.3 * (f * 0.9).sin();
            let r = nalgebra::Rotation3::from_euler_angles(tilt_x, tilt_y, spin);
            let z = base * (0.85 + 0.5 * ((f * 1.3).sin() * 0.5 + 0.5));
            // Where the board centre lands: cycling over the image.
            let aim = [
                0.22 * (f * 2.1).cos() * camera.width as f64 / camera.fx,
                0.2 * (f * 1.1).sin() * camera.height as f64 / camera.fy,
            ];
            let centre = Vector3::new(aim[0] * z, aim[1] * z, z);
            let t = centre - r * Vector3::new(bw / 2.0, bh / 2.0, 0.0);
            Pose::from_parts(&r, &t)
        })
        .filter(inside)
        .take(views)
        .collect()
}

/// One VLP-16 revolution (16 lines, 0.2° azimuth steps) over a scene of a
/// board and a floor: the board is the rectangle `x0..x1 × y0..y1` of its
/// frame's z = 0 plane, placed by `lidar_from_board`; the floor is the
/// plane z = `floor_z` of the LiDAR frame, out to 20 m. Ranges carry
/// uniform noise of standard deviation `noise_m` (deterministic in `seed`).
pub fn vlp16_scan(
    lidar_from_board: &nalgebra::Isometry3<f64>,
    rect: [f64; 4],
    floor_z: f64,
    noise_m: f64,
    seed: u64,
) -> Vec<Vector3<f64>> {
    let n = lidar_from_board.rotation * Vector3::z();
    let o = lidar_from_board.translation.vector;
    let board_from_lidar = lidar_from_board.inverse();
    let mut state = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Uniform on ±√3·σ has standard deviation σ.
        ((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * 3f64.sqrt() * noise_m
    };
    let mut out = Vec::new();
    for step in 0..1800 {
        let azimuth = (step as f64 * 0.2).to_radians();
        for elevation in reel_episode::velodyne::ELEVATION_DEG {
            let e = elevation.to_radians();
            let d = Vector3::new(e.cos() * azimuth.cos(), e.cos() * azimuth.sin(), e.sin());
            let mut range = f64::INFINITY;
            let facing = n.dot(&d);
            if facing.abs() > 1e-9 {
                let s = n.dot(&o) / facing;
                let local = board_from_lidar.transform_point(&(d * s).into());
                if s > 0.0
                    && (rect[0]..=rect[1]).contains(&local.x)
                    && (rect[2]..=rect[3]).contains(&local.y)
                {
                    range = s;
                }
            }
            if d.z < -1e-9 {
                let s = floor_z / d.z;
                if s > 0.0 && s < 20.0 {
                    range = range.min(s);
                }
            }
            if range.is_finite() {
                out.push(d * (range + noise()));
            }
        }
    }
    out
}
