//! Serpentine Floyd–Steinberg error diffusion, on the host, after the palette is fixed.
//!
//! It works on the same integer points as k-means (see [`crate::space`]): each pixel's point
//! plus the error carried to it (scaled by the strength, in 1/256 steps) is clamped to the grid,
//! matched to the nearest palette point (exact integer distance, ties to the lower index), and
//! the difference is passed on with weights 7/16 (next), 3/16, 5/16, 1/16 (row below), leftover
//! rounding included. Rows alternate direction. All integer arithmetic, so the result is the same
//! whichever backend found the palette. Fully transparent pixels keep their entry and pass no
//! error on. It is sequential by nature and runs on one core.

use crate::grid::{Neighbors, Point};

/// Dithered palette indices, one per pixel.
///
/// `point_of(i)` is the point of pixel `i`'s color, `palette` the palette's points, `start[i]` the
/// undithered label of pixel `i` (a good place to begin the search), `strength` in 0..=1.
pub(crate) fn floyd_steinberg(
    width: usize,
    height: usize,
    point_of: impl Fn(usize) -> Point,
    start: &[u8],
    palette: &[Point],
    strength: f32,
) -> Vec<u8> {
    let nb = Neighbors::new(palette);
    let pal: Vec<[i32; 4]> = palette.iter().map(|c| c.signed()).collect();
    let s = (strength.clamp(0.0, 1.0) * 256.0).round() as i32;
    // Error rows (current and next), one slot of padding on each side.
    let mut cur = vec![[0i32; 4]; width + 2];
    let mut next = vec![[0i32; 4]; width + 2];
    let mut out = vec![0u8; width * height];
    for y in 0..height {
        let ltr = y % 2 == 0;
        for step in 0..width {
            let x = if ltr { step } else { width - 1 - step };
            let i = y * width + x;
            let p = point_of(i).signed();
            if p[3] == 0 {
                // Fully transparent: keep the transparent entry, pass no error on.
                out[i] = start[i];
                continue;
            }
            let e = cur[x + 1];
            let q = Point::clamped(std::array::from_fn(|c| p[c] + e[c] * s / 256));
            let (j, _) = nb.nearest_from(q, start[i] as usize);
            out[i] = j as u8;
            let qs = q.signed();
            let err: [i32; 4] = std::array::from_fn(|c| qs[c] - pal[j][c]);
            let (ahead, back) = if ltr { (x + 2, x) } else { (x, x + 2) };
            for c in 0..4 {
                let e7 = err[c] * 7 / 16;
                let e3 = err[c] * 3 / 16;
                let e5 = err[c] * 5 / 16;
                let e1 = err[c] - e7 - e3 - e5;
                cur[ahead][c] += e7;
                next[back][c] += e3;
                next[x + 1][c] += e5;
                next[ahead][c] += e1;
            }
        }
        std::mem::swap(&mut cur, &mut next);
        next.iter_mut().for_each(|e| *e = [0; 4]);
    }
    out
}
