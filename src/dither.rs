//! Serpentine Floyd–Steinberg error diffusion, on the host, after the palette is fixed; the
//! dithering step of the remap stage. It runs on the CPU for both backends.
//!
//! It works on the same integer points as k-means (see [`crate::grid`]): each pixel's point
//! plus the error carried to it (scaled by the strength, in 1/256 steps) is clamped to the grid,
//! matched to the nearest palette point (exact integer distance, ties to the lower index), and
//! the difference is passed on with weights 7/16 (next), 3/16, 5/16, 1/16 (row below), leftover
//! rounding included. Even rows go left to right, odd rows right to left. Fully transparent
//! pixels keep their entry and pass no error on.
//!
//! In parallel, with the same result for any number of threads: the rows are cut into bands of
//! [`BAND_ROWS`], fixed by the image height. Each band starts [`WARMUP_ROWS`] rows above its first
//! row with no error, dithers those rows to build up the error its first row receives, and
//! keeps only its own rows. Error diffusion forgets quickly, so a few rows are enough for the
//! seams not to show (the tests compare against one sequential pass). Opaque palettes on images
//! of a megapixel and more use the exact cell search of [`crate::grid::CellSearch`]; the rest
//! use the pruned search.

use crate::grid::{CellSearch, Neighbors, Point};
use rayon::prelude::*;

/// Rows per band.
pub(crate) const BAND_ROWS: usize = 128;
/// Smallest image the cell search serves.
const CELLS_MIN_PIXELS: usize = 1 << 20;
/// Rows dithered above each band, and thrown away, to build up its incoming error.
pub(crate) const WARMUP_ROWS: usize = 8;

/// An exact nearest-entry search, as the loop calls it for pixel `i`; `start` holds the
/// undithered labels (the pruned search starts there; the cell search needs no start).
trait Search: Sync {
    fn nearest(&self, q: Point, start: &[u8], i: usize) -> usize;
}

impl Search for CellSearch {
    #[inline(always)]
    fn nearest(&self, q: Point, _start: &[u8], _i: usize) -> usize {
        CellSearch::nearest(self, q).0
    }
}

impl Search for Neighbors {
    #[inline(always)]
    fn nearest(&self, q: Point, start: &[u8], i: usize) -> usize {
        self.nearest_from(q, start[i] as usize).0
    }
}

/// What every band reads.
struct Job<'a, F, S> {
    /// Rows per band ([`BAND_ROWS`]; the tests also run one band over the whole image).
    band_rows: usize,
    width: usize,
    height: usize,
    point_of: &'a F,
    start: &'a [u8],
    palette: Vec<[i32; 4]>,
    search: S,
    /// Error weight in 1/256 steps.
    strength: i32,
}

/// Dithered palette indices, one per pixel.
///
/// `point_of(i)` is the point of pixel `i`'s color, `palette` the palette's points, `strength` in
/// 0..=1. `start(..)` gives the undithered label of every pixel; it is called only when some
/// entry is not opaque (transparent pixels keep their label, and searches start there).
pub(crate) fn floyd_steinberg(
    width: usize,
    height: usize,
    point_of: impl Fn(usize) -> Point + Sync,
    start: impl FnOnce() -> Vec<u8>,
    palette: &[Point],
    strength: f32,
) -> Vec<u8> {
    banded(BAND_ROWS, width, height, point_of, start, palette, strength)
}

/// [`floyd_steinberg`] with bands of `band_rows` rows.
fn banded(
    band_rows: usize,
    width: usize,
    height: usize,
    point_of: impl Fn(usize) -> Point + Sync,
    start: impl FnOnce() -> Vec<u8>,
    palette: &[Point],
    strength: f32,
) -> Vec<u8> {
    let mut out = vec![0u8; width * height];
    let strength = (strength.clamp(0.0, 1.0) * 256.0).round() as i32;
    let signed = palette.iter().map(|c| c.signed()).collect();
    // The cell search pays for its table (tens of MiB at K = 256) from about a megapixel on;
    // below, the pruned search is as fast. Both are exact: the choice changes no index.
    let cells = if width * height >= CELLS_MIN_PIXELS {
        CellSearch::new(palette)
    } else {
        None
    };
    match cells {
        // An opaque palette: an opaque image (its pixels keep alpha 255, error included).
        Some(search) => Job {
            band_rows,
            width,
            height,
            point_of: &point_of,
            start: &[],
            palette: signed,
            search,
            strength,
        }
        .run::<3>(&mut out),
        None => Job {
            band_rows,
            width,
            height,
            point_of: &point_of,
            start: &start(),
            palette: signed,
            search: Neighbors::new(palette),
            strength,
        }
        .run::<4>(&mut out),
    }
    out
}

/// One band's state: its rows' output and its two error rows (one slot of padding each side).
struct Lane<'o> {
    y0: usize,
    out: &'o mut [u8],
    cur: Vec<[i32; 4]>,
    next: Vec<[i32; 4]>,
    scratch: Vec<u8>,
}

impl<F: Fn(usize) -> Point + Sync, S: Search> Job<'_, F, S> {
    /// Every band, in parallel; `CH` channels carry error (3 when everything is opaque). Each
    /// task takes two bands and steps them in lockstep, pixel by pixel: error diffusion is one
    /// long chain of dependent steps, and two independent chains keep a core twice as busy.
    fn run<const CH: usize>(&self, out: &mut [u8]) {
        let w = self.width;
        let mut lanes: Vec<Lane<'_>> = out
            .chunks_mut(w * self.band_rows)
            .enumerate()
            .map(|(b, o)| Lane {
                y0: b * self.band_rows,
                out: o,
                cur: vec![[0; 4]; w + 2],
                next: vec![[0; 4]; w + 2],
                scratch: vec![0; w],
            })
            .collect();
        let half = lanes.len().div_ceil(2);
        let (first, second) = lanes.split_at_mut(half);
        let mut pairs: Vec<(&mut Lane<'_>, Option<&mut Lane<'_>>)> = first
            .iter_mut()
            .zip(second.iter_mut().map(Some).chain(std::iter::repeat_with(|| None)))
            .collect();
        pairs
            .par_iter_mut()
            .for_each(|(a, b)| self.bands::<CH>(a, b.as_deref_mut()));
    }

    /// Dithers one or two bands, warm-up rows first, their rows in lockstep.
    fn bands<'o, const CH: usize>(&self, a: &mut Lane<'o>, mut b: Option<&mut Lane<'o>>) {
        let w = self.width;
        for r in 0..self.band_rows + WARMUP_ROWS {
            // Row r of a band's run is its row y0 - WARMUP_ROWS + r (warm-up rows first).
            let rows = |l: &Lane<'_>| -> Option<usize> {
                let y = (l.y0 + r).checked_sub(WARMUP_ROWS)?;
                (y < (l.y0 + self.band_rows).min(self.height)).then_some(y)
            };
            let ya = rows(a);
            let yb = b.as_deref().and_then(rows);
            match (ya, yb, b.as_deref_mut()) {
                (Some(ya), Some(yb), Some(lb)) if ya % 2 == yb % 2 => {
                    let (oa, ob) = (out_row(a, ya, w), out_row(lb, yb, w));
                    self.row_pair::<CH>([ya, yb], [oa.0, ob.0], [oa.1, ob.1], [oa.2, ob.2]);
                }
                (ya, yb, lb) => {
                    if let Some(y) = ya {
                        let (o, cur, next) = out_row(a, y, w);
                        self.row::<CH>(y, o, cur, next);
                    }
                    if let (Some(y), Some(l)) = (yb, lb) {
                        let (o, cur, next) = out_row(l, y, w);
                        self.row::<CH>(y, o, cur, next);
                    }
                }
            }
            a.advance();
            if let Some(l) = b.as_deref_mut() {
                l.advance();
            }
        }
    }

    /// Dithers rows `y[0]` and `y[1]` (same direction) of two bands, pixel by pixel in lockstep.
    #[inline(always)]
    fn row_pair<const CH: usize>(
        &self,
        y: [usize; 2],
        out: [&mut [u8]; 2],
        cur: [&mut [[i32; 4]]; 2],
        next: [&mut [[i32; 4]]; 2],
    ) {
        let w = self.width;
        let ltr = y[0].is_multiple_of(2);
        let [o0, o1] = out;
        let [c0, c1] = cur;
        let [n0, n1] = next;
        for step in 0..w {
            let x = if ltr { step } else { w - 1 - step };
            self.pixel::<CH>(y[0] * w + x, x, ltr, &mut o0[x], c0, n0);
            self.pixel::<CH>(y[1] * w + x, x, ltr, &mut o1[x], c1, n1);
        }
    }

    /// Dithers row `y`, taking its incoming error from `cur` and passing error on to `cur`
    /// (ahead) and `next` (the row below).
    #[inline(always)]
    fn row<const CH: usize>(&self, y: usize, out: &mut [u8], cur: &mut [[i32; 4]], next: &mut [[i32; 4]]) {
        let w = self.width;
        let ltr = y.is_multiple_of(2);
        for step in 0..w {
            let x = if ltr { step } else { w - 1 - step };
            self.pixel::<CH>(y * w + x, x, ltr, &mut out[x], cur, next);
        }
    }

    /// One pixel: pixel `i`, in column `x` of a row going left to right when `ltr`.
    #[inline(always)]
    fn pixel<const CH: usize>(
        &self,
        i: usize,
        x: usize,
        ltr: bool,
        out: &mut u8,
        cur: &mut [[i32; 4]],
        next: &mut [[i32; 4]],
    ) {
        let p = (self.point_of)(i).signed();
        if CH == 4 && p[3] == 0 {
            // Fully transparent: keep the transparent entry, pass no error on.
            *out = self.start[i];
            return;
        }
        let e = cur[x + 1];
        let mut q = p;
        for c in 0..CH {
            q[c] += e[c] * self.strength / 256;
        }
        let q = Point::clamped(q);
        let j = self.search.nearest(q, self.start, i);
        *out = j as u8;
        let qs = q.signed();
        let (ahead, back) = if ltr { (x + 2, x) } else { (x, x + 2) };
        for c in 0..CH {
            let err = qs[c] - self.palette[j][c];
            let e7 = err * 7 / 16;
            let e3 = err * 3 / 16;
            let e5 = err * 5 / 16;
            let e1 = err - e7 - e3 - e5;
            cur[ahead][c] += e7;
            next[back][c] += e3;
            next[x + 1][c] += e5;
            next[ahead][c] += e1;
        }
    }
}

impl Lane<'_> {
    /// Moves to the next row: its incoming error becomes the current one.
    fn advance(&mut self) {
        std::mem::swap(&mut self.cur, &mut self.next);
        self.next.iter_mut().for_each(|e| *e = [0; 4]);
    }
}

/// The output row for image row `y` of a band (its scratch row during warm-up), and its error
/// rows.
fn out_row<'l>(
    l: &'l mut Lane<'_>,
    y: usize,
    w: usize,
) -> (&'l mut [u8], &'l mut [[i32; 4]], &'l mut [[i32; 4]]) {
    let row = if y >= l.y0 {
        &mut l.out[(y - l.y0) * w..(y - l.y0 + 1) * w]
    } else {
        &mut l.scratch[..]
    };
    (row, &mut l.cur, &mut l.next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo's points and a palette of its colors.
    fn setup(k: usize) -> (usize, usize, Vec<Point>, Vec<Point>) {
        let (w, h, px) = crate::testutil::fixture("chelsea.png");
        let points: Vec<Point> = px.iter().map(|&c| crate::ColorSpace::Srgb.to_point(c)).collect();
        let step = points.len() / k;
        let palette: Vec<Point> = (0..k).map(|i| points[i * step + step / 2]).collect();
        (w as usize, h as usize, points, palette)
    }

    /// The undithered labels, which the pruned search starts from.
    fn labels(points: &[Point], palette: &[Point]) -> Vec<u8> {
        points
            .iter()
            .map(|&p| crate::grid::nearest(p, palette).0 as u8)
            .collect()
    }

    fn psnr(points: &[Point], palette: &[Point], labels: &[u8]) -> f64 {
        let sse: f64 = points
            .iter()
            .zip(labels)
            .map(|(p, &l)| p.dist2(palette[l as usize]) as f64 / 64.0)
            .sum();
        10.0 * (255.0f64.powi(2) / (sse / (3.0 * points.len() as f64))).log10()
    }

    #[test]
    fn the_same_indices_on_one_thread_and_on_many() {
        let (w, h, points, palette) = setup(12);
        assert!(h > 2 * BAND_ROWS, "the image must span several bands");
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| floyd_steinberg(w, h, |i| points[i], || labels(&points, &palette), &palette, 1.0))
        };
        let one = run(1);
        assert_eq!(run(3), one);
        assert_eq!(run(8), one);
    }

    #[test]
    fn bands_dither_as_well_as_one_pass_over_the_whole_image() {
        let (w, h, points, palette) = setup(8);
        let start = || labels(&points, &palette);
        let bands = floyd_steinberg(w, h, |i| points[i], start, &palette, 1.0);
        let one = banded(h, w, h, |i| points[i], start, &palette, 1.0);
        assert_ne!(bands, one, "the bands really start over");
        let (pb, po) = (psnr(&points, &palette, &bands), psnr(&points, &palette, &one));
        assert!((pb - po).abs() < 0.2, "banded {pb:.3} dB, one pass {po:.3} dB");
    }
}
