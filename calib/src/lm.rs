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

/// One Levenberg–Marquardt step from the normal equations: solves
/// (JᵀJ + λ·diag JᵀJ)·δ = −Jᵀr, raising λ until `cost_at(δ)` is below `cost`
/// (λ shrinks after a success). `None` when no step lowers the cost. Shared
/// with the intrinsic fit, which builds its JᵀJ block by block.
pub(crate) fn damped_step(
    jtj: &DMatrix<f64>,
    jtr: &DVector<f64>,
    lambda: &mut f64,
    cost: f64,
    cost_at: &mut dyn FnMut(&DVector<f64>) -> f64,
) -> Option<(DVector<f64>, f64)> {
    for _ in 0..10 {
        let mut a = jtj.clone();
        for k in 0..jtj.nrows() {
            a[(k, k)] += *lambda * jtj[(k, k)].max(1e-12);
        }
        let Some(chol) = a.cholesky() else {
            *lambda *= 10.0;
            continue;
        };
        let step = chol.solve(&(-jtr));
        let c = cost_at(&step);
        if c.is_finite() && c < cost {
            *lambda = (*lambda / 3.0).max(1e-12);
            return Some((step, c));
        }
        *lambda *= 4.0;
    }
    None
}

/// One rejection step of the extrinsic fits: the views whose RMS exceeds
/// 3× the median and `floor` are left out, if at least `keep` remain.
/// `None` when no view is left out.
pub(crate) fn without_outliers(rms: &[f64], floor: f64, keep: usize) -> Option<Vec<bool>> {
    let mut sorted = rms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let limit = (3.0 * sorted[sorted.len() / 2]).max(floor);
    let accepted: Vec<bool> = rms.iter().map(|&r| r <= limit).collect();
    let kept = accepted.iter().filter(|a| **a).count();
    (kept < rms.len() && kept >= keep).then_some(accepted)
}

impl Fit {
    /// One-sigma uncertainty of a pose's rotation (degrees) and translation
    /// (millimetres) held as [rotation vector, translation] at parameter
    /// `first`, from the inverse of JᵀJ and the residual variance.
    pub fn pose_sigma_deg_mm(&self, first: usize) -> [f64; 2] {
        let dof = self.residuals.saturating_sub(self.jtj.nrows()).max(1) as f64;
        let variance = self.cost / dof;
        self.jtj
            .clone()
            .try_inverse()
            .map(|inv| {
                let v = |k: usize| (inv[(first + k, first + k)] * variance).max(0.0);
                [
                    (v(0) + v(1) + v(2)).sqrt().to_degrees(),
                    (v(3) + v(4) + v(5)).sqrt() * 1e3,
                ]
            })
            .unwrap_or([f64::NAN; 2])
    }
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
        let Some((step, c)) = damped_step(&jtj, &jtr, &mut lambda, cost, &mut |step| {
            let trial: Vec<f64> = x.iter().zip(step.iter()).map(|(a, b)| a + b).collect();
            residuals(&trial, &mut rp);
            sum_sq(&rp)
        }) else {
            break;
        };
        // `rp` holds the residuals of the accepted (last tried) step.
        let relative = (cost - c) / cost.max(1e-300);
        x.iter_mut().zip(step.iter()).for_each(|(a, b)| *a += b);
        std::mem::swap(&mut r, &mut rp);
        cost = c;
        if relative <= 1e-12 {
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
