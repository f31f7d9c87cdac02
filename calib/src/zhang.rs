//! Closed-form starting values: plane-to-image homographies (normalised
//! DLT), intrinsics from them (Zhang 2000, zero skew), and each view's pose.

use nalgebra::{DMatrix, Matrix3, Rotation3, SymmetricEigen, Vector3};

use crate::model::Pose;

/// The homography image ← board plane (z = 0) from ≥ 4 correspondences.
pub fn homography(plane: &[[f64; 2]], image: &[[f64; 2]]) -> Option<Matrix3<f64>> {
    if plane.len() < 4 || plane.len() != image.len() {
        return None;
    }
    let (tp, pn) = normalise(plane);
    let (ti, im) = normalise(image);
    let mut ata = DMatrix::<f64>::zeros(9, 9);
    for (p, q) in pn.iter().zip(&im) {
        let rows = [
            [
                -p[0],
                -p[1],
                -1.0,
                0.0,
                0.0,
                0.0,
                q[0] * p[0],
                q[0] * p[1],
                q[0],
            ],
            [
                0.0,
                0.0,
                0.0,
                -p[0],
                -p[1],
                -1.0,
                q[1] * p[0],
                q[1] * p[1],
                q[1],
            ],
        ];
        for r in rows {
            for a in 0..9 {
                for b in 0..9 {
                    ata[(a, b)] += r[a] * r[b];
                }
            }
        }
    }
    let h = smallest_eigenvector(ata)?;
    let hn = Matrix3::from_row_slice(h.as_slice());
    let full = ti.try_inverse()? * hn * tp;
    (full[(2, 2)].abs() > 1e-15).then(|| full / full[(2, 2)])
}

/// Hartley normalisation: centroid to the origin, mean distance √2.
/// `p` carried by the plane homography `h`.
pub fn transfer(h: &Matrix3<f64>, p: [f64; 2]) -> [f64; 2] {
    let q = h * nalgebra::Vector3::new(p[0], p[1], 1.0);
    [q.x / q.z, q.y / q.z]
}

fn normalise(points: &[[f64; 2]]) -> (Matrix3<f64>, Vec<[f64; 2]>) {
    let n = points.len() as f64;
    let c = [
        points.iter().map(|p| p[0]).sum::<f64>() / n,
        points.iter().map(|p| p[1]).sum::<f64>() / n,
    ];
    let mean = points
        .iter()
        .map(|p| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    let s = if mean > 0.0 { 2f64.sqrt() / mean } else { 1.0 };
    let t = Matrix3::new(s, 0.0, -s * c[0], 0.0, s, -s * c[1], 0.0, 0.0, 1.0);
    (
        t,
        points
            .iter()
            .map(|p| [s * (p[0] - c[0]), s * (p[1] - c[1])])
            .collect(),
    )
}

fn smallest_eigenvector(m: DMatrix<f64>) -> Option<nalgebra::DVector<f64>> {
    let n = m.nrows();
    let eig = SymmetricEigen::new(m);
    let k = (0..n).min_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]))?;
    Some(eig.eigenvectors.column(k).into_owned())
}

/// fx, fy, cx, cy from ≥ 3 homographies (Zhang's closed form with zero
/// skew); with fewer, or when the views do not constrain the principal
/// point, the principal point is taken at the image centre and only the
/// focal lengths are solved (as OpenCV initialises).
pub fn intrinsics(homographies: &[Matrix3<f64>], width: u32, height: u32) -> Option<[f64; 4]> {
    let centre = [(width as f64 - 1.0) / 2.0, (height as f64 - 1.0) / 2.0];
    if homographies.len() >= 3 {
        if let Some(k) = zhang(homographies) {
            let sane = k.iter().all(|v| v.is_finite())
                && k[0] > 0.0
                && k[1] > 0.0
                && (k[0] / k[1] - 1.0).abs() < 0.5
                && (k[2] - centre[0]).abs() < width as f64 * 0.25
                && (k[3] - centre[1]).abs() < height as f64 * 0.25;
            if sane {
                return Some(k);
            }
        }
    }
    focal_with_centre(homographies, centre)
}

fn zhang(hs: &[Matrix3<f64>]) -> Option<[f64; 4]> {
    let v = |h: &Matrix3<f64>, i: usize, j: usize| {
        [
            h[(0, i)] * h[(0, j)],
            h[(0, i)] * h[(1, j)] + h[(1, i)] * h[(0, j)],
            h[(1, i)] * h[(1, j)],
            h[(2, i)] * h[(0, j)] + h[(0, i)] * h[(2, j)],
            h[(2, i)] * h[(1, j)] + h[(1, i)] * h[(2, j)],
            h[(2, i)] * h[(2, j)],
        ]
    };
    let mut vtv = DMatrix::<f64>::zeros(6, 6);
    for h in hs {
        // Scale each homography to unit norm for a balanced system.
        let h = h / h.norm();
        let a = v(&h, 0, 1);
        let b0 = v(&h, 0, 0);
        let b1 = v(&h, 1, 1);
        let b: [f64; 6] = std::array::from_fn(|k| b0[k] - b1[k]);
        for r in [a, b] {
            for x in 0..6 {
                for y in 0..6 {
                    vtv[(x, y)] += r[x] * r[y];
                }
            }
        }
        // Zero skew: B12 = 0.
        vtv[(1, 1)] += 1.0;
    }
    let b = smallest_eigenvector(vtv)?;
    let (b11, b12, b22, b13, b23, b33) = (b[0], b[1], b[2], b[3], b[4], b[5]);
    let den = b11 * b22 - b12 * b12;
    let v0 = (b12 * b13 - b11 * b23) / den;
    let lambda = b33 - (b13 * b13 + v0 * (b12 * b13 - b11 * b23)) / b11;
    let alpha = (lambda / b11).sqrt();
    let beta = (lambda * b11 / den).sqrt();
    let gamma = -b12 * alpha * alpha * beta / lambda;
    let u0 = gamma * v0 / beta - b13 * alpha * alpha / lambda;
    Some([alpha, beta, u0, v0])
}

fn focal_with_centre(hs: &[Matrix3<f64>], c: [f64; 2]) -> Option<[f64; 4]> {
    // With the principal point known, each homography gives two linear
    // equations in 1/fx², 1/fy² (orthogonal, equal-length rotation columns).
    let t = Matrix3::new(1.0, 0.0, -c[0], 0.0, 1.0, -c[1], 0.0, 0.0, 1.0);
    let mut ata = nalgebra::Matrix2::<f64>::zeros();
    let mut atb = nalgebra::Vector2::<f64>::zeros();
    for h in hs {
        let h = t * h;
        let (h1, h2) = (h.column(0), h.column(1));
        let rows = [
            ([h1[0] * h2[0], h1[1] * h2[1]], -h1[2] * h2[2]),
            (
                [h1[0] * h1[0] - h2[0] * h2[0], h1[1] * h1[1] - h2[1] * h2[1]],
                -(h1[2] * h1[2] - h2[2] * h2[2]),
            ),
        ];
        for (a, b) in rows {
            let a = nalgebra::Vector2::new(a[0], a[1]);
            ata += a * a.transpose();
            atb += a * b;
        }
    }
    let x = ata.try_inverse()? * atb;
    if !(x[0] > 0.0 && x[1] > 0.0) {
        return None;
    }
    Some([1.0 / x[0].sqrt(), 1.0 / x[1].sqrt(), c[0], c[1]])
}

/// Camera ← board from a homography and the intrinsics (distortion ignored).
pub fn pose(h: &Matrix3<f64>, k: [f64; 4]) -> Option<Pose> {
    let kinv = Matrix3::new(k[0], 0.0, k[2], 0.0, k[1], k[3], 0.0, 0.0, 1.0).try_inverse()?;
    let m = kinv * h;
    let (m1, m2, m3) = (m.column(0), m.column(1), m.column(2));
    let mut s = 2.0 / (m1.norm() + m2.norm());
    // The board is in front of the camera.
    if m3[2] * s < 0.0 {
        s = -s;
    }
    let r1 = m1 * s;
    let r2 = m2 * s;
    let r3 = r1.cross(&r2);
    let approx = Matrix3::from_columns(&[r1, r2, r3]);
    // Nearest rotation.
    let svd = approx.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let mut r = u * vt;
    if r.determinant() < 0.0 {
        r = -r;
    }
    let t: Vector3<f64> = m3 * s;
    Some(Pose::from_parts(&Rotation3::from_matrix_unchecked(r), &t))
}
