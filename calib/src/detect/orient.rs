//! How a found grid's axes map onto the board's: the order OpenCV gives
//! corners in, with the board's handedness and its dark origin square.

use super::grid::Grid;
use super::{dist2, Gray};
use crate::board::Checkerboard;

/// How the grown grid's axes map onto the board's.
#[derive(Debug, Clone, Copy)]
struct Layout {
    transposed: bool,
    flip_i: bool,
    flip_j: bool,
}

/// The grid as the board's corners in OpenCV's order, or `None` when it
/// is not exactly the board.
pub(super) fn ordered(grid: &Grid, board: &Checkerboard, img: &Gray) -> Option<Vec<[f64; 2]>> {
    let (ni, nj) = (grid.ni, grid.nj);
    if ni * nj != board.corners() || grid.points.len() != board.corners() {
        return None;
    }
    let at = |i: i64, j: i64| grid.points[j as usize * ni + i as usize];
    // Board (i, j) → grid cell: the axes possibly swapped, each possibly reversed.
    let (c, r) = (board.cols as i64, board.rows as i64);
    let cell = |l: Layout, i: usize, j: usize| {
        let (i, j) = (i as i64, j as i64);
        let i = if l.flip_i { c - 1 - i } else { i };
        let j = if l.flip_j { r - 1 - j } else { j };
        if l.transposed {
            (j, i)
        } else {
            (i, j)
        }
    };
    let layouts = [false, true]
        .into_iter()
        .filter(|&t| {
            (ni, nj)
                == if t {
                    (board.rows, board.cols)
                } else {
                    (board.cols, board.rows)
                }
        })
        .flat_map(|transposed| {
            [(false, false), (true, false), (false, true), (true, true)].map(|(flip_i, flip_j)| {
                Layout {
                    transposed,
                    flip_i,
                    flip_j,
                }
            })
        });
    let square_level = |l: Layout, i: usize, j: usize| {
        let q = [
            cell(l, i, j),
            cell(l, i + 1, j),
            cell(l, i, j + 1),
            cell(l, i + 1, j + 1),
        ]
        .map(|(a, b)| at(a, b));
        let centre = [
            (q[0][0] + q[1][0] + q[2][0] + q[3][0]) / 4.0,
            (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4.0,
        ];
        img.sample(centre[0], centre[1])
    };
    let chosen = layouts
        .filter(|&l| {
            // Right-handed with z into the image: x then y turn clockwise on screen.
            let (o, x, y) = (cell(l, 0, 0), cell(l, 1, 0), cell(l, 0, 1));
            let (po, px, py) = (at(o.0, o.1), at(x.0, x.1), at(y.0, y.1));
            let du = [px[0] - po[0], px[1] - po[1]];
            let dv = [py[0] - po[0], py[1] - po[1]];
            du[0] * dv[1] - du[1] * dv[0] > 0.0
        })
        // The origin square is dark.
        .min_by(|&f, &g| square_level(f, 0, 0).total_cmp(&square_level(g, 0, 0)))?;
    Some(
        (0..board.rows)
            .flat_map(|j| (0..board.cols).map(move |i| (i, j)))
            .map(|(i, j)| {
                let (a, b) = cell(chosen, i, j);
                at(a, b)
            })
            .collect(),
    )
}

pub(super) fn median_spacing(corners: &[[f64; 2]], board: &Checkerboard) -> f64 {
    let mut d: Vec<f64> = (0..board.rows)
        .flat_map(|j| (0..board.cols - 1).map(move |i| (i, j)))
        .map(|(i, j)| dist2(corners[j * board.cols + i], corners[j * board.cols + i + 1]).sqrt())
        .collect();
    d.sort_by(f64::total_cmp);
    d[d.len() / 2]
}
