//! Dense Levenberg–Marquardt for small problems (a dozen parameters, a few
//! thousand residuals), with central-difference derivatives. The intrinsic
//! fit keeps its own block-structured solver: its many per-view poses make a
//! dense Jacobian wasteful there.

use nalgebra::{DMatrix, DVector};

/// The outcome of [`minimize`].
pub(crate) struct Fit {
    /// Sum of squared residuals at the solution.
    pub cost: f64,
    /// Number of residuals.
    pub residuals: usize,
    /// JᵀJ at the solution (its inverse times the residual variance is the
    /// parameters' covariance).
    pub jtj: DMatrix<f64>,
}

/// Minimises the sum of squares of `residuals(x)` over `x`, in place.
/// `scale[k]` is the size of a meaningful change of `x[k]` (the derivative
/// step is a millionth of it).
pub(crate) fn minimize(
    x: &mut [f64],
    scale: &[f64],
    residuals: &dyn Fn(&[f64], &mut Vec<f64>),
) -> Fit {
    let n = x.len();
    let mut r = Vec::new();
    residuals(x, &mut r);
    let m = r.len();
    let sum_sq = |r: &[f64]| r.iter().map(|v| v * v).sum::<f64>();
    let mut cost = sum_sq(&r);
    let mut lambda = 1e-3;
    let mut jtj = DMatrix::<f64>::zeros(n, n);
    let (mut rp, mut rm) = (Vec::new(), Vec::new());
    for _iteration in 0..100 {
        let mut j = DMatrix::<f64>::zeros(m, n);
        for k in 0..n {
            let h = 1e-6 * scale[k];
            let mut p = x.to_vec();
            p[k] += h;
            residuals(&p, &mut rp);
            p[k] -= 2.0 * h;
            residuals(&p, &mut rm);
            for i in 0..m {
                j[(i, k)] = (rp[i] - rm[i]) / (2.0 * h);
            }
        }
        jtj = j.transpose() * &j;
        let jtr = j.transpose() * DVector::from_column_slice(&r);
        let mut improved = false;
        for _ in 0..10 {
            let mut a = jtj.clone();
            for k in 0..n {
                a[(k, k)] += lambda * jtj[(k, k)].max(1e-12);
            }
            let Some(chol) = a.cholesky() else {
                lambda *= 10.0;
                continue;
            };
            let step = chol.solve(&(-&jtr));
            let trial: Vec<f64> = x.iter().zip(step.iter()).map(|(a, b)| a + b).collect();
            residuals(&trial, &mut rp);
            let c = sum_sq(&rp);
            if c.is_finite() && c < cost {
                let relative = (cost - c) / cost.max(1e-300);
                x.copy_from_slice(&trial);
                std::mem::swap(&mut r, &mut rp);
                cost = c;
                lambda = (lambda / 3.0).max(1e-12);
                improved = relative > 1e-12;
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
    }
    Fit {
        cost,
        residuals: m,
        jtj,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_an_exponential() {
        // y = a·exp(b·t) sampled exactly: the fit returns a and b.
        let t: Vec<f64> = (0..20).map(|k| k as f64 * 0.1).collect();
        let y: Vec<f64> = t.iter().map(|t| 2.5 * (-1.3 * t).exp()).collect();
        let mut x = [1.0, 0.0];
        let fit = minimize(&mut x, &[1.0, 1.0], &|p, r| {
            r.clear();
            r.extend(t.iter().zip(&y).map(|(t, y)| p[0] * (p[1] * t).exp() - y));
        });
        assert!(
            (x[0] - 2.5).abs() < 1e-8 && (x[1] + 1.3).abs() < 1e-8,
            "{x:?}"
        );
        assert!(fit.cost < 1e-18 && fit.residuals == 20);
    }
}
