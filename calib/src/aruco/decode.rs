//! A candidate's cells read as OpenCV's `_extractBits` and
//! `_identifyOneCandidate` read them: the quadrilateral warped to 4 pixels
//! per cell (nearest neighbour), an Otsu threshold over the warp, a cell
//! white when more than half its pixels are; at most 35 % of the border
//! cells white; the code matched in any rotation within the dictionary's
//! correction bits (times OpenCV's `errorCorrectionRate`, 0.6).

use super::{Dictionary, Marker};
use crate::detect::Gray;
use crate::zhang::{homography, transfer};

const CELL_PIXELS: usize = 4;
const MAX_BORDER_ERROR_RATE: f64 = 0.35;
const MIN_OTSU_STD_DEV: f64 = 5.0;
const ERROR_CORRECTION_RATE: f64 = 0.6;

pub(super) fn identify(
    image: &Gray,
    corners: &[[f64; 2]; 4],
    dictionary: &Dictionary,
) -> Option<Marker> {
    let n = dictionary.bits;
    let cells = read_cells(image, corners, n + 2)?;
    let side = n + 2;
    let border_errors = (0..side * side)
        .filter(|&k| {
            let (r, c) = (k / side, k % side);
            (r == 0 || c == 0 || r == side - 1 || c == side - 1) && cells[k]
        })
        .count();
    if border_errors as f64 > (n * n) as f64 * MAX_BORDER_ERROR_RATE {
        return None;
    }
    let inner: Vec<bool> = (0..n * n)
        .map(|k| cells[(k / n + 1) * side + k % n + 1])
        .collect();
    let allowed = (f64::from(dictionary.max_correction_bits) * ERROR_CORRECTION_RATE) as u32;
    // The code read with each corner as the marker's top-left in turn.
    let mut best: Option<(u32, usize, usize)> = None;
    let mut view = inner;
    for start in 0..4 {
        let code = view.iter().fold(0u64, |v, &b| (v << 1) | u64::from(b));
        for (id, &c) in dictionary.codes.iter().enumerate() {
            let d = (code ^ c).count_ones();
            if d <= allowed && best.is_none_or(|b| d < b.0) {
                best = Some((d, id, start));
            }
        }
        // The next corner clockwise as top-left: what was the right
        // column, read downwards, is now the top row.
        view = (0..n * n)
            .map(|k| view[(k % n) * n + (n - 1 - k / n)])
            .collect();
    }
    let (_, id, start) = best?;
    Some(Marker {
        id,
        corners: [0, 1, 2, 3].map(|k| corners[(start + k) % 4]),
    })
}

/// The `side × side` cells of the warped quadrilateral (`true`: white).
fn read_cells(image: &Gray, corners: &[[f64; 2]; 4], side: usize) -> Option<Vec<bool>> {
    let size = side * CELL_PIXELS;
    let last = (size - 1) as f64;
    let h = homography(
        &[[0.0, 0.0], [last, 0.0], [last, last], [0.0, last]],
        corners,
    )?;
    let (w, ht) = (image.width as i64, image.height as i64);
    let warped: Vec<u8> = (0..size * size)
        .map(|k| {
            let (x, y) = ((k % size) as f64, (k / size) as f64);
            let [u, v] = transfer(&h, [x, y]);
            let (u, v) = (
                (u.round() as i64).clamp(0, w - 1),
                (v.round() as i64).clamp(0, ht - 1),
            );
            image.data[(v * w + u) as usize].round().clamp(0.0, 255.0) as u8
        })
        .collect();
    let mean = warped.iter().map(|&v| f64::from(v)).sum::<f64>() / warped.len() as f64;
    let var = warped
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / warped.len() as f64;
    if var.sqrt() < MIN_OTSU_STD_DEV {
        // One flat tone: all cells alike, which the border check refuses
        // unless the tone is dark (and then the code is all black).
        return Some(vec![mean > 127.0; side * side]);
    }
    let t = otsu(&warped);
    Some(
        (0..side * side)
            .map(|cell| {
                let (r, c) = (cell / side, cell % side);
                let white = (0..CELL_PIXELS * CELL_PIXELS)
                    .filter(|&k| {
                        let (y, x) = (
                            r * CELL_PIXELS + k / CELL_PIXELS,
                            c * CELL_PIXELS + k % CELL_PIXELS,
                        );
                        warped[y * size + x] > t
                    })
                    .count();
                white > CELL_PIXELS * CELL_PIXELS / 2
            })
            .collect(),
    )
}

/// Otsu's threshold: the grey level that best splits the histogram in two.
fn otsu(values: &[u8]) -> u8 {
    let mut hist = [0f64; 256];
    for &v in values {
        hist[v as usize] += 1.0;
    }
    let total = values.len() as f64;
    let sum: f64 = hist.iter().enumerate().map(|(i, h)| i as f64 * h).sum();
    let (mut below, mut below_sum, mut best, mut best_t) = (0.0, 0.0, -1.0, 0u8);
    for (t, &count) in hist.iter().enumerate() {
        below += count;
        below_sum += t as f64 * count;
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let (m0, m1) = (below_sum / below, (sum - below_sum) / above);
        let between = below * above * (m0 - m1).powi(2);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}
