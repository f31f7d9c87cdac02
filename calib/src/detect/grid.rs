//! From corner candidates to the board's grid: candidates linked to their
//! nearest neighbours along their own edges, linked components given
//! integer coordinates, borders trimmed, and the component that is exactly
//! the board (whole) chosen.

use std::collections::{HashMap, VecDeque};
use std::f64::consts::PI;

use super::saddle::{angle_between, Candidate};
use super::saddle::{ring, Saddles};
use super::{dist2, Gray};
use crate::board::Checkerboard;

/// A board's corners on their grid: `points[j * ni + i]` is corner (i, j).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Grid {
    /// Corners along the first axis.
    pub ni: usize,
    /// Corners along the second axis.
    pub nj: usize,
    /// Row-major positions.
    pub points: Vec<[f64; 2]>,
}

/// Largest angle between a link and the edge it follows.
const LINK_ANGLE: f64 = 0.35; // 20°
/// Largest change of an edge direction from one corner to the next.
const EDGE_TURN: f64 = 0.44; // 25°

/// The four directions (angles) along a candidate's edges.
fn directions(c: &Candidate) -> [f64; 4] {
    [c.dirs[0], c.dirs[0] + PI, c.dirs[1], c.dirs[1] + PI]
}

fn angle_of(v: [f64; 2]) -> f64 {
    v[1].atan2(v[0])
}

/// Unsigned difference of two directions (mod 2π).
fn turn(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(2.0 * PI);
    d.min(2.0 * PI - d)
}

/// Candidate indices bucketed by position, for neighbour searches.
struct Buckets {
    cell: f64,
    map: HashMap<(i64, i64), Vec<usize>>,
}

impl Buckets {
    fn new(points: &[Candidate], cell: f64) -> Self {
        let mut map: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, c) in points.iter().enumerate() {
            map.entry(Self::key(c.p, cell)).or_default().push(i);
        }
        Self { cell, map }
    }

    fn key(p: [f64; 2], cell: f64) -> (i64, i64) {
        ((p[0] / cell).floor() as i64, (p[1] / cell).floor() as i64)
    }

    /// Candidates within `radius` of `p` (a superset).
    fn near(&self, p: [f64; 2], radius: f64) -> impl Iterator<Item = usize> + '_ {
        let (x0, y0) = Self::key([p[0] - radius, p[1] - radius], self.cell);
        let (x1, y1) = Self::key([p[0] + radius, p[1] + radius], self.cell);
        (y0..=y1)
            .flat_map(move |y| (x0..=x1).map(move |x| (x, y)))
            .filter_map(|k| self.map.get(&k))
            .flatten()
            .copied()
    }
}

/// The nearest candidate from `i` along direction `phi` whose edges agree
/// with `i`'s, within `reach` pixels.
fn neighbour(
    cands: &[Candidate],
    buckets: &Buckets,
    i: usize,
    phi: f64,
    reach: f64,
) -> Option<usize> {
    let c = &cands[i];
    buckets
        .near(c.p, reach)
        .filter(|&j| j != i)
        .filter_map(|j| {
            let v = [cands[j].p[0] - c.p[0], cands[j].p[1] - c.p[1]];
            let d2 = v[0] * v[0] + v[1] * v[1];
            if !(9.0..reach * reach).contains(&d2) || turn(angle_of(v), phi) > LINK_ANGLE {
                return None;
            }
            let o = &cands[j];
            let same_edges = (angle_between(c.dirs[0], o.dirs[0]) < EDGE_TURN
                && angle_between(c.dirs[1], o.dirs[1]) < EDGE_TURN)
                || (angle_between(c.dirs[0], o.dirs[1]) < EDGE_TURN
                    && angle_between(c.dirs[1], o.dirs[0]) < EDGE_TURN);
            same_edges.then_some((d2, j))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, j)| j)
}

/// The segment from `a` to `b` runs along a black/white edge: the squares
/// on its two sides differ clearly.
fn is_edge(img: &Gray, a: [f64; 2], b: [f64; 2]) -> bool {
    let m = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let v = [b[0] - a[0], b[1] - a[1]];
    // Into each square, a third of the side.
    let n = [-v[1] / 3.0, v[0] / 3.0];
    let one = img.sample(m[0] + n[0], m[1] + n[1]);
    let two = img.sample(m[0] - n[0], m[1] - n[1]);
    (one - two).abs() > 25.0
}

/// Every candidate's links: for each of its four edge directions, the
/// neighbour reached along it (mutual, along a black/white edge).
fn links(cands: &[Candidate], img: &Gray) -> Vec<[Option<usize>; 4]> {
    let reach = (img.width.max(img.height) as f64 / 4.0).max(20.0);
    let buckets = Buckets::new(cands, reach / 2.0);
    let first: Vec<[Option<usize>; 4]> = (0..cands.len())
        .map(|i| directions(&cands[i]).map(|phi| neighbour(cands, &buckets, i, phi, reach)))
        .collect();
    // A candidate's typical link length: the shortest it makes. A link
    // much longer than both ends' shortest skips missing corners (or joins
    // two patterns) and is dropped; completion fills the gap instead.
    let shortest: Vec<f64> = (0..cands.len())
        .map(|i| {
            first[i]
                .iter()
                .flatten()
                .map(|&j| dist2(cands[i].p, cands[j].p).sqrt())
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    (0..cands.len())
        .map(|i| {
            let mut out = [None; 4];
            for (k, phi) in directions(&cands[i]).iter().enumerate() {
                let Some(j) = first[i][k] else { continue };
                let length = dist2(cands[i].p, cands[j].p).sqrt();
                if length > 1.7 * shortest[i].min(shortest[j]) {
                    continue;
                }
                // Mutual: j's neighbour back towards i is i.
                let back = directions(&cands[j])
                    .iter()
                    .position(|&psi| turn(psi, phi + PI) < LINK_ANGLE);
                let mutual = back.is_some_and(|b| first[j][b] == Some(i));
                if mutual && is_edge(img, cands[i].p, cands[j].p) {
                    out[k] = Some(j);
                }
            }
            out
        })
        .collect()
}

/// A linked component with integer coordinates: cell → position.
type Component = HashMap<(i64, i64), [f64; 2]>;

/// The component around `seed`: its edge directions become the grid axes,
/// carried from corner to corner by their geometry.
fn component(
    cands: &[Candidate],
    links: &[[Option<usize>; 4]],
    seed: usize,
    taken: &mut [bool],
) -> Component {
    let mut cells: HashMap<(i64, i64), usize> = HashMap::new();
    let mut at: HashMap<usize, (i64, i64)> = HashMap::new();
    // Per candidate: the direction (angle) of its +i and +j axes.
    let mut axes: HashMap<usize, [f64; 2]> = HashMap::new();
    let d = directions(&cands[seed]);
    axes.insert(seed, [d[0], d[2]]);
    cells.insert((0, 0), seed);
    at.insert(seed, (0, 0));
    taken[seed] = true;
    let mut queue = VecDeque::from([seed]);
    while let Some(i) = queue.pop_front() {
        let (ci, cj) = at[&i];
        let [ai, aj] = axes[&i];
        for (k, phi) in directions(&cands[i]).iter().enumerate() {
            let Some(j) = links[i][k] else { continue };
            // Which grid step this link is.
            let step = [
                (ai, (1, 0)),
                (ai + PI, (-1, 0)),
                (aj, (0, 1)),
                (aj + PI, (0, -1)),
            ]
            .into_iter()
            .min_by(|a, b| turn(a.0, *phi).total_cmp(&turn(b.0, *phi)))
            .map(|s| s.1)
            .unwrap_or((0, 0));
            let cell = (ci + step.0, cj + step.1);
            if at.contains_key(&j) || cells.contains_key(&cell) || taken[j] {
                continue;
            }
            // j's axes: its edge directions nearest to i's axes.
            let dj = directions(&cands[j]);
            let nearest = |target: f64| {
                dj.iter()
                    .copied()
                    .min_by(|a, b| turn(*a, target).total_cmp(&turn(*b, target)))
                    .unwrap_or(target)
            };
            axes.insert(j, [nearest(ai), nearest(aj)]);
            cells.insert(cell, j);
            at.insert(j, cell);
            taken[j] = true;
            queue.push_back(j);
        }
    }
    cells.into_iter().map(|(c, k)| (c, cands[k].p)).collect()
}

/// Fills the component's missing corners: each empty cell next to it is
/// predicted from its filled neighbours (continuing a line, or closing a
/// parallelogram) and taken when a saddle peak lies near the prediction
/// and reads as a corner at the local square size. Grows past the
/// component's edge too (rows whose corners were too blurred to link);
/// trimming decides later whether such a row is the board's.
fn complete(cells: &mut Component, peaks: &[[f64; 2]], img: &Gray, limit: usize) {
    let steps = [(1i64, 0i64), (-1, 0), (0, 1), (0, -1)];
    for _ in 0..limit {
        let mut added = Vec::new();
        let empty: std::collections::BTreeSet<(i64, i64)> = cells
            .keys()
            .flat_map(|&(i, j)| steps.map(|d| (i + d.0, j + d.1)))
            .filter(|c| !cells.contains_key(c))
            .collect();
        for cell in empty {
            let get = |d: (i64, i64)| cells.get(&(cell.0 + d.0, cell.1 + d.1)).copied();
            let mut preds = Vec::new();
            for d in steps {
                // Continue the line through two filled cells behind.
                if let (Some(a), Some(b)) = (get((-d.0, -d.1)), get((-2 * d.0, -2 * d.1))) {
                    preds.push(([2.0 * a[0] - b[0], 2.0 * a[1] - b[1]], dist2(a, b).sqrt()));
                }
            }
            for (d1, d2) in [
                ((1, 0), (0, 1)),
                ((1, 0), (0, -1)),
                ((-1, 0), (0, 1)),
                ((-1, 0), (0, -1)),
            ] {
                // Close the parallelogram of three filled cells.
                if let (Some(a), Some(b), Some(c)) =
                    (get(d1), get(d2), get((d1.0 + d2.0, d1.1 + d2.1)))
                {
                    preds.push(([a[0] + b[0] - c[0], a[1] + b[1] - c[1]], dist2(a, c).sqrt()));
                }
            }
            if preds.is_empty() {
                continue;
            }
            let n = preds.len() as f64;
            let p = [
                preds.iter().map(|q| q.0[0]).sum::<f64>() / n,
                preds.iter().map(|q| q.0[1]).sum::<f64>() / n,
            ];
            let step = preds.iter().map(|q| q.1).sum::<f64>() / n;
            if p[0] < 2.0
                || p[1] < 2.0
                || p[0] > (img.width - 3) as f64
                || p[1] > (img.height - 3) as f64
            {
                continue;
            }
            // The nearest saddle peak that reads as a corner at this scale
            // (blur widens a corner: read it well inside its squares).
            let reads = |q: [f64; 2]| {
                [0.25, 0.35, 0.45]
                    .iter()
                    .any(|f| ring(img, q, (f * step).clamp(2.0, 16.0)).is_some())
            };
            let tolerance = (0.3 * step).powi(2);
            let mut near: Vec<[f64; 2]> = peaks
                .iter()
                .copied()
                .filter(|q| dist2(*q, p) < tolerance)
                .collect();
            near.sort_by(|a, b| dist2(*a, p).total_cmp(&dist2(*b, p)));
            let corner = near.into_iter().find(|&q| {
                // Not already a corner of the grid.
                !cells.values().any(|c| dist2(*c, q) < (0.25 * step).powi(2)) && reads(q)
            });
            // A cell between two corners of one grid line is a corner by
            // the grid's geometry, whatever crosses it (a shadow's edge, a
            // glare): without a peak that reads as one, the prediction,
            // which sub-pixel refinement pulls onto the corner.
            let between = (get((1, 0)).is_some() && get((-1, 0)).is_some())
                || (get((0, 1)).is_some() && get((0, -1)).is_some());
            match corner {
                Some(q) => added.push((cell, q)),
                None if between => added.push((cell, p)),
                None => {}
            }
        }
        if added.is_empty() {
            break;
        }
        for (cell, p) in added {
            cells.entry(cell).or_insert(p);
        }
    }
}

/// Drops border rows and columns of the component that are not filled
/// end to end, fewest filled first, until its bounding box is filled or
/// the holes are inside. Completion grows the grid past the board's edge
/// wherever something there reads as a corner (a shirt's stripes under a
/// board, a thin margin against the background): such a row is ragged,
/// the board's own rows are whole.
fn peel(cells: &mut Component) {
    loop {
        if cells.is_empty() {
            return;
        }
        let ((i0, i1), (j0, j1)) = bounds(cells);
        let (ni, nj) = (i1 - i0 + 1, j1 - j0 + 1);
        if (ni * nj) as usize == cells.len() {
            return;
        }
        // Border lines: (filled, length, is a column, index).
        let count = |column: bool, at: i64| {
            cells
                .keys()
                .filter(|c| if column { c.0 == at } else { c.1 == at })
                .count() as i64
        };
        let ragged = [
            (true, i0, nj),
            (true, i1, nj),
            (false, j0, ni),
            (false, j1, ni),
        ]
        .into_iter()
        .map(|(column, at, length)| (count(column, at), length, column, at))
        .filter(|&(filled, length, _, _)| filled < length)
        .min_by_key(|&(filled, length, _, _)| (filled * 1000 / length, filled));
        let Some((_, _, column, at)) = ragged else {
            return;
        };
        cells.retain(|c, _| if column { c.0 != at } else { c.1 != at });
    }
}

/// The component's bounding box: (first, last) i and (first, last) j.
fn bounds(cells: &Component) -> ((i64, i64), (i64, i64)) {
    cells.keys().fold(
        ((i64::MAX, i64::MIN), (i64::MAX, i64::MIN)),
        |((a, b), (c, d)), k| ((a.min(k.0), b.max(k.0)), (c.min(k.1), d.max(k.1))),
    )
}

/// The component as a dense grid, if every cell of its bounding box is
/// filled.
fn dense(cells: &Component) -> Option<Grid> {
    let ((i0, i1), (j0, j1)) = bounds(cells);
    let (ni, nj) = ((i1 - i0 + 1) as usize, (j1 - j0 + 1) as usize);
    if ni * nj != cells.len() {
        return None;
    }
    let mut points = vec![[0.0; 2]; ni * nj];
    for (&(i, j), &p) in cells {
        points[(j - j0) as usize * ni + (i - i0) as usize] = p;
    }
    Some(Grid { ni, nj, points })
}

impl Grid {
    fn at(&self, i: usize, j: usize) -> [f64; 2] {
        self.points[j * self.ni + i]
    }

    /// Drops border row/column `which`: 0 first i, 1 last i, 2 first j,
    /// 3 last j.
    fn without(&self, which: usize) -> Self {
        let (ri, rj) = match which {
            0 => (1..self.ni, 0..self.nj),
            1 => (0..self.ni - 1, 0..self.nj),
            2 => (0..self.ni, 1..self.nj),
            _ => (0..self.ni, 0..self.nj - 1),
        };
        let points = rj
            .clone()
            .flat_map(|j| ri.clone().map(move |i| (i, j)))
            .map(|(i, j)| self.at(i, j))
            .collect();
        Self {
            ni: ri.len(),
            nj: rj.len(),
            points,
        }
    }

    /// Whether the squares just outside border `which` look like the
    /// board's own squares: each alternates dark and light along the
    /// border and matches the square diagonally inside it. A row of
    /// corners found along a thin margin against a dark background fails.
    fn border_is_board(&self, which: usize, img: &Gray) -> bool {
        let line = |depth: usize| -> Vec<[f64; 2]> {
            match which {
                0 => (0..self.nj).map(|j| self.at(depth, j)).collect(),
                1 => (0..self.nj)
                    .map(|j| self.at(self.ni - 1 - depth, j))
                    .collect(),
                2 => (0..self.ni).map(|i| self.at(i, depth)).collect(),
                _ => (0..self.ni)
                    .map(|i| self.at(i, self.nj - 1 - depth))
                    .collect(),
            }
        };
        let (border, next) = (line(0), line(1));
        let n = border.len();
        if n < 2 {
            return false;
        }
        // For each border square between corners k and k+1: its centre,
        // one step outwards of the border segment's middle, and the
        // square's inner neighbour (between the border and the next line).
        let mut outer = Vec::new();
        let mut inner = Vec::new();
        for k in 0..n - 1 {
            let (a, b) = (border[k], border[k + 1]);
            let (ia, ib) = (next[k], next[k + 1]);
            let m = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
            let mi = [(ia[0] + ib[0]) / 2.0, (ia[1] + ib[1]) / 2.0];
            let out = [m[0] + (m[0] - mi[0]) / 2.0, m[1] + (m[1] - mi[1]) / 2.0];
            let inn = [(m[0] + mi[0]) / 2.0, (m[1] + mi[1]) / 2.0];
            outer.push(img.sample(out[0], out[1]));
            inner.push(img.sample(inn[0], inn[1]));
        }
        let contrast = inner
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let mid = (contrast.0 + contrast.1) / 2.0;
        let band = 0.2 * (contrast.1 - contrast.0);
        // Outer square k has the colour of inner square k's neighbour
        // along the border (the colours alternate along and across).
        (0..outer.len()).all(|k| {
            let want_light = inner[k] <= mid;
            let v = outer[k];
            if want_light {
                v > mid + band
            } else {
                v < mid - band
            }
        })
    }
}

/// The board among the candidates: a whole grid of exactly its corners.
pub(super) fn find_board(saddles: &Saddles, board: &Checkerboard, img: &Gray) -> Option<Grid> {
    let cands = &saddles.candidates;
    let links = links(cands, img);
    let mut taken = vec![false; cands.len()];
    let fits = |g: &Grid| {
        (g.ni, g.nj) == (board.cols, board.rows) || (g.ni, g.nj) == (board.rows, board.cols)
    };
    let mut found: Vec<Grid> = Vec::new();
    // Seeds: candidates with all four links first (inside a board).
    let mut seeds: Vec<usize> = (0..cands.len()).collect();
    seeds.sort_by_key(|&i| std::cmp::Reverse(links[i].iter().flatten().count()));
    for seed in seeds {
        if taken[seed] || links[seed].iter().flatten().count() < 2 {
            continue;
        }
        let mut cells = component(cands, &links, seed, &mut taken);
        if cells.len() < 4 {
            continue;
        }
        // Completion may add a row or column on every side beyond the board.
        complete(
            &mut cells,
            &saddles.peaks,
            img,
            board.cols.max(board.rows) + 2,
        );
        let grown = cells.clone();
        peel(&mut cells);
        let peeled = cells.len() < grown.len();
        if cells.len() < board.corners() {
            continue;
        }
        let Some(mut grid) = dense(&cells) else {
            continue;
        };
        // Trim borders that are not the board's while the grid is larger
        // than the board.
        while !fits(&grid) && grid.ni.max(grid.nj) > board.cols.max(board.rows) {
            let Some(w) = (0..4).find(|&w| {
                let shrinks = if w < 2 { grid.ni } else { grid.nj };
                shrinks > board.cols.min(board.rows) && !grid.border_is_board(w, img)
            }) else {
                break;
            };
            grid = grid.without(w);
        }
        // What peeling left must be a whole board, not the visible part
        // of a larger pattern: the corners peeled off beside it are no
        // board corners.
        let whole = !peeled || !pattern_goes_on(&grid, &grown, img);
        if fits(&grid) && whole {
            found.push(grid);
        }
    }
    // Several boards (a screen showing one, a second print): the largest.
    found.into_iter().max_by(|a, b| area(a).total_cmp(&area(b)))
}

/// Whether the checkered pattern goes on past the grid: two or more of
/// the component's other cells one step outside it are corners of the
/// same checkerboard, their four squares (half a step along each of the
/// grid's axes) alternating dark and light with the board's own contrast.
/// A shirt's stripes or a margin beyond a board's edge give no such
/// corners; the hidden part of a larger board does.
fn pattern_goes_on(grid: &Grid, cells: &Component, img: &Gray) -> bool {
    let (ni, nj) = (grid.ni, grid.nj);
    if ni < 2 || nj < 2 {
        return false;
    }
    // The board's contrast: the squares between its corners.
    let mut centres = Vec::new();
    for j in 0..nj - 1 {
        for i in 0..ni - 1 {
            let q = [grid.at(i, j), grid.at(i + 1, j + 1)];
            let c = [(q[0][0] + q[1][0]) / 2.0, (q[0][1] + q[1][1]) / 2.0];
            centres.push(((i + j) % 2, img.sample(c[0], c[1])));
        }
    }
    let mean = |parity: usize| {
        let v: Vec<f32> = centres
            .iter()
            .filter(|c| c.0 == parity)
            .map(|c| c.1)
            .collect();
        v.iter().sum::<f32>() / v.len().max(1) as f32
    };
    let contrast = (mean(0) - mean(1)).abs();
    let mut corners = 0;
    for (i, j) in (0..nj).flat_map(|j| (0..ni).map(move |i| (i, j))) {
        if i != 0 && j != 0 && i != ni - 1 && j != nj - 1 {
            continue;
        }
        let b = grid.at(i, j);
        // The grid's steps here, along i and along j.
        let step = |di: i64, dj: i64| -> [f64; 2] {
            let (ii, jj) = (i as i64 + di, j as i64 + dj);
            let (back_i, back_j) = (i as i64 - di, j as i64 - dj);
            let inside =
                |a: i64, b: i64| (0..ni as i64).contains(&a) && (0..nj as i64).contains(&b);
            let (p, sign) = if inside(ii, jj) {
                (grid.at(ii as usize, jj as usize), 1.0)
            } else {
                (grid.at(back_i as usize, back_j as usize), -1.0)
            };
            [sign * (p[0] - b[0]), sign * (p[1] - b[1])]
        };
        let (ui, uj) = (step(1, 0), step(0, 1));
        let outward: Vec<[f64; 2]> = [
            (i == 0, [-ui[0], -ui[1]]),
            (i == ni - 1, ui),
            (j == 0, [-uj[0], -uj[1]]),
            (j == nj - 1, uj),
        ]
        .into_iter()
        .filter(|o| o.0)
        .map(|o| o.1)
        .collect();
        for o in outward {
            let expected = [b[0] + o[0], b[1] + o[1]];
            let spacing = (o[0] * o[0] + o[1] * o[1]).sqrt();
            let Some(q) = cells
                .values()
                .copied()
                .find(|q| dist2(*q, expected) < (0.3 * spacing).powi(2))
            else {
                continue;
            };
            let at = |a: f64, c: f64| {
                img.sample(
                    q[0] + a * ui[0] / 2.0 + c * uj[0] / 2.0,
                    q[1] + a * ui[1] / 2.0 + c * uj[1] / 2.0,
                )
            };
            let (pp, mm, pm, mp) = (at(1.0, 1.0), at(-1.0, -1.0), at(1.0, -1.0), at(-1.0, 1.0));
            let apart = ((pp + mm) - (pm + mp)).abs() / 2.0;
            let alike = (pp - mm).abs().max((pm - mp).abs());
            if apart > 0.6 * contrast && alike < 0.3 * contrast {
                corners += 1;
            }
        }
    }
    corners >= 2
}

/// The image area the grid spans (its corner quadrilateral).
fn area(g: &Grid) -> f64 {
    let q = [
        g.at(0, 0),
        g.at(g.ni - 1, 0),
        g.at(g.ni - 1, g.nj - 1),
        g.at(0, g.nj - 1),
    ];
    let mut a = 0.0;
    for k in 0..4 {
        let (p, r) = (q[k], q[(k + 1) % 4]);
        a += p[0] * r[1] - r[0] * p[1];
    }
    (a / 2.0).abs()
}
