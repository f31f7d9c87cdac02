//! Inverse kinematics on the URDF model: damped least squares on a numeric
//! Jacobian, for a point on a link plus two of its axes. Hand-written: the
//! arms reel targets have 5–7 joints and the solve is a few 6×n products,
//! which `formats::robot`'s forward kinematics already provide.

use reel_episode::geometry::Iso;
use reel_episode::robot::RobotModel;

/// What the tool link should do.
#[derive(Debug, Clone, Copy)]
pub struct ToolGoal {
    /// World position of `point`.
    pub position: [f64; 3],
    /// World direction of `axis_a`.
    pub direction_a: [f64; 3],
    /// World direction of `axis_b`.
    pub direction_b: [f64; 3],
}

/// The tool: a link, a point on it and two unit axes in its frame.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Link name.
    pub link: String,
    /// Point in the link frame.
    pub point: [f64; 3],
    /// First axis (weighted higher: the approach direction).
    pub axis_a: [f64; 3],
    /// Second axis (the closing direction).
    pub axis_b: [f64; 3],
}

/// Solves for the actuated joints `joints` (names, in order), starting from `seed`.
/// Returns the solution and its remaining position error in metres and
/// axis error (1 − cos) — callers decide what is good enough.
pub fn solve(
    model: &RobotModel,
    base: &Iso,
    joints: &[String],
    limits: &[Option<(f64, f64)>],
    tool: &Tool,
    goal: &ToolGoal,
    seed: &[f64],
) -> (Vec<f64>, f64, f64) {
    let n = joints.len();
    let residual = |q: &[f64]| -> [f64; 9] {
        let poses = model.link_poses(&|name| joints.iter().position(|j| j == name).map(|i| q[i]));
        let link = base.then_apply_to(&poses[&tool.link]);
        let p = link.apply(tool.point);
        let a = link.rotate(tool.axis_a);
        let b = link.rotate(tool.axis_b);
        let mut r = [0.0; 9];
        for k in 0..3 {
            r[k] = p[k] - goal.position[k];
            r[3 + k] = 0.3 * (a[k] - goal.direction_a[k]);
            r[6 + k] = 0.1 * (b[k] - goal.direction_b[k]);
        }
        r
    };
    let clamp = |q: &mut [f64]| {
        for (v, l) in q.iter_mut().zip(limits) {
            if let Some((lo, hi)) = l {
                *v = v.clamp(*lo, *hi);
            }
        }
    };
    let mut q = seed.to_vec();
    clamp(&mut q);
    let mut r = residual(&q);
    let norm = |r: &[f64; 9]| r.iter().map(|v| v * v).sum::<f64>();
    let mut lambda = 1e-3;
    for _ in 0..200 {
        if norm(&r) < 1e-12 {
            break;
        }
        // Numeric Jacobian, 9 × n.
        let h = 1e-6;
        let mut jac = vec![[0.0; 9]; n];
        for i in 0..n {
            let mut qh = q.clone();
            qh[i] += h;
            let rh = residual(&qh);
            for k in 0..9 {
                jac[i][k] = (rh[k] - r[k]) / h;
            }
        }
        // (JᵀJ + λI) dq = −Jᵀr, solved by Gaussian elimination (n ≤ 8).
        let mut a = vec![vec![0.0; n + 1]; n];
        for i in 0..n {
            for j in 0..n {
                a[i][j] = (0..9).map(|k| jac[i][k] * jac[j][k]).sum::<f64>();
            }
            a[i][i] += lambda;
            a[i][n] = -(0..9).map(|k| jac[i][k] * r[k]).sum::<f64>();
        }
        let Some(dq) = gauss(a) else { break };
        let mut trial: Vec<f64> = q
            .iter()
            .zip(&dq)
            .map(|(q, d)| q + d.clamp(-0.3, 0.3))
            .collect();
        clamp(&mut trial);
        let rt = residual(&trial);
        if norm(&rt) < norm(&r) {
            q = trial;
            r = rt;
            lambda = (lambda * 0.5).max(1e-9);
        } else {
            lambda *= 10.0;
            if lambda > 1e6 {
                break;
            }
        }
    }
    let pos_err = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    let axis_err = (r[3] * r[3] + r[4] * r[4] + r[5] * r[5]).sqrt() / 0.3;
    (q, pos_err, axis_err)
}

fn gauss(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = a.len();
    for c in 0..n {
        let p = (c..n).max_by(|x, y| a[*x][c].abs().total_cmp(&a[*y][c].abs()))?;
        if a[p][c].abs() < 1e-15 {
            return None;
        }
        a.swap(c, p);
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, p) in row.iter_mut().zip(&pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    Some((0..n).map(|i| a[i][n] / a[i][i]).collect())
}
