//! The remap stage, on the host: from one palette entry per unique color (the backend's remap
//! kernel, see [`crate::cluster`]) to one palette index per pixel, optionally dithered
//! ([`crate::dither`]), with the palette in its final order and the error measured.
//!
//! The palette is sorted by population, most used first, ties by ascending packed value
//! `r | g << 8 | b << 16 | a << 24`; entries no pixel uses are dropped.
//!
//! Without dithering, a pixel may then continue the run of its left neighbour instead of taking
//! its nearest entry, when that costs it little ([`extend_runs`]): longer runs of one index are
//! what deflate and LZW compress best.

use crate::cpu;
use crate::dither;
use crate::error::Result;
use crate::grid::Point;
use crate::histogram::Histogram;
use crate::space::ColorSpace;
use rayon::prelude::*;

/// The finished mapping of an image onto its palette.
pub(crate) struct Mapped {
    /// The palette, in its final order.
    pub palette: Vec<[u8; 4]>,
    /// Pixels using each entry.
    pub counts: Vec<u64>,
    /// One palette index per pixel.
    pub indices: Vec<u8>,
    /// Squared RGB error over all pixels, in 8-bit levels².
    pub sse: u64,
    /// Squared alpha error over all pixels, in 8-bit levels².
    pub sse_alpha: u64,
}

/// The image the remap works on.
pub(crate) struct Source<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels.
    pub pixels: &'a [[u8; 4]],
    /// Their unique colors.
    pub hist: &'a Histogram,
    /// Each unique color's point in the clustering space.
    pub points: &'a [Point],
    /// The clustering space.
    pub space: ColorSpace,
}

/// Maps every pixel. `labels[i]` is unique color `i`'s entry in `palette`, and `palette_points`
/// are the entries as points in the clustering space (dithering measures there). With
/// `dither > 0` the pixels are diffused on the CPU; otherwise every pixel of a color gets that
/// color's final index, spread over the pixels by `expand` (the GPU's `expand` kernel, or
/// [`expand`]).
///
/// Undithered, `run_bias` (a percentage, 0 for none) lets pixels continue their left
/// neighbour's run ([`extend_runs`]); the counts, the error and the palette order then follow
/// the final indices.
pub(crate) fn map(
    src: &Source<'_>,
    palette: &[[u8; 4]],
    palette_points: &[Point],
    labels: &[u8],
    dither: f32,
    run_bias: u32,
    expand: &mut dyn FnMut(&[u8]) -> Result<Vec<u8>>,
) -> Result<Mapped> {
    if dither > 0.0 {
        return Ok(dithered(src, palette, palette_points, labels, dither));
    }
    let o = order(src.hist, palette, labels);
    let mut mapped = Mapped {
        indices: expand(&o.finals)?,
        palette: o.palette,
        counts: o.counts,
        sse: o.sse,
        sse_alpha: o.sse_alpha,
    };
    if run_bias > 0 {
        let change = extend_runs(
            src.width,
            src.pixels,
            &mapped.palette,
            &mut mapped.indices,
            run_bias,
        );
        change.apply(&mut mapped);
    }
    Ok(mapped)
}

/// Rows per task of [`extend_runs`]; any split gives the same result, rows being independent.
const RUN_ROWS: usize = 16;

/// What [`extend_runs`] changed: per entry, the pixels gained (or lost), and the change in the
/// squared RGB and alpha errors.
pub(crate) struct RunChange {
    counts: [i64; 256],
    sse: i64,
    sse_alpha: i64,
}

impl RunChange {
    /// Applies the change to a mapping: its counts and errors, then its palette order (by
    /// population, dropping entries no pixel uses any more), re-indexing the pixels if the order
    /// moved.
    fn apply(self, m: &mut Mapped) {
        // Every pixel taken from an entry was counted in it, and its error in the totals, so
        // none of these goes below zero.
        for (c, d) in m.counts.iter_mut().zip(&self.counts) {
            *c = (*c as i64 + d) as u64;
        }
        m.sse = (m.sse as i64 + self.sse) as u64;
        m.sse_alpha = (m.sse_alpha as i64 + self.sse_alpha) as u64;
        let (palette, counts, map) = order_palette(&m.palette, &m.counts);
        // The pixels need new indices only when an entry in use moved (an emptied one maps to 0).
        if map.iter().enumerate().any(|(i, &n)| n as usize != i) {
            m.indices.par_iter_mut().for_each(|i| *i = map[*i as usize]);
        }
        m.palette = palette;
        m.counts = counts;
    }
}

/// Lets each pixel continue its left neighbour's run: going left to right along every row, a
/// pixel takes its left neighbour's (final) index instead of its own when that entry's squared
/// error for the pixel (RGB and alpha together, 8-bit levels) is at most `percent`% above its own
/// entry's. Each pixel loses at most that fraction in squared error; the image loses far less,
/// since only near-ties move. Integer arithmetic, rows independent: the result is the same on any
/// number of threads, and `indices` may hold any set of whole rows of `width` pixels.
pub(crate) fn extend_runs(
    width: usize,
    pixels: &[[u8; 4]],
    palette: &[[u8; 4]],
    indices: &mut [u8],
    percent: u32,
) -> RunChange {
    let zero = || RunChange {
        counts: [0; 256],
        sse: 0,
        sse_alpha: 0,
    };
    if width == 0 {
        return zero();
    }
    let scale = 100 + percent as u64;
    indices
        .par_chunks_mut(width * RUN_ROWS)
        .zip(pixels.par_chunks(width * RUN_ROWS))
        .fold(zero, |mut acc, (rows, px)| {
            for (row, px) in rows.chunks_mut(width).zip(px.chunks(width)) {
                let mut left = row[0];
                for (i, p) in row.iter_mut().zip(px).skip(1) {
                    let own = *i;
                    if own == left {
                        continue;
                    }
                    let c = opaque_or_clear(*p);
                    let (pl, po) = (palette[left as usize], palette[own as usize]);
                    let (rl, al) = (rgb_error(c, pl), alpha_error(c, pl));
                    let (ro, ao) = (rgb_error(c, po), alpha_error(c, po));
                    if (rl + al) * 100 <= (ro + ao) * scale {
                        *i = left;
                        acc.counts[left as usize] += 1;
                        acc.counts[own as usize] -= 1;
                        acc.sse += rl as i64 - ro as i64;
                        acc.sse_alpha += al as i64 - ao as i64;
                    } else {
                        left = own;
                    }
                }
            }
            acc
        })
        .reduce(zero, |mut a, b| {
            a.counts.iter_mut().zip(&b.counts).for_each(|(x, y)| *x += y);
            a.sse += b.sse;
            a.sse_alpha += b.sse_alpha;
            a
        })
}

/// A pixel as the histogram counts it: every fully transparent pixel is the one transparent color.
fn opaque_or_clear(c: [u8; 4]) -> [u8; 4] {
    if c[3] == 0 {
        [0; 4]
    } else {
        c
    }
}

/// An undithered mapping before it is spread over the pixels: the palette in its final order and
/// each unique color's final index.
pub(crate) struct Ordered {
    /// The palette, in its final order.
    pub palette: Vec<[u8; 4]>,
    /// Pixels using each entry.
    pub counts: Vec<u64>,
    /// The final index of each unique color of the histogram.
    pub finals: Vec<u8>,
    /// Squared RGB error over all pixels, in 8-bit levels².
    pub sse: u64,
    /// Squared alpha error over all pixels, in 8-bit levels².
    pub sse_alpha: u64,
}

/// Orders the palette and gives each unique color its final index. Every pixel of a color gets the
/// same entry, so the counts and the error come from the histogram alone.
pub(crate) fn order(hist: &Histogram, palette: &[[u8; 4]], labels: &[u8]) -> Ordered {
    let mut counts = vec![0u64; palette.len()];
    let (mut sse, mut sse_alpha) = (0u64, 0u64);
    for ((&l, &w), &c) in labels.iter().zip(&hist.counts).zip(&hist.colors) {
        counts[l as usize] += w as u64;
        sse += w as u64 * rgb_error(c, palette[l as usize]);
        sse_alpha += w as u64 * alpha_error(c, palette[l as usize]);
    }
    let (palette, counts, map) = order_palette(palette, &counts);
    Ordered {
        palette,
        counts,
        finals: labels.iter().map(|&l| map[l as usize]).collect(),
        sse,
        sse_alpha,
    }
}

/// The dithered mapping: serpentine Floyd–Steinberg over every pixel ([`dither`]).
fn dithered(
    src: &Source<'_>,
    palette: &[[u8; 4]],
    palette_points: &[Point],
    labels: &[u8],
    dither: f32,
) -> Mapped {
    let start = || self::expand(src.hist, src.pixels, labels);
    // In sRGB a pixel's point is its color times 8; in Oklab it is looked up.
    let point_of = |i: usize| match src.space {
        ColorSpace::Srgb => src.space.to_point(src.pixels[i]),
        ColorSpace::Oklab => src.points[src.hist.index_of(src.pixels[i])],
    };
    let d = dither::floyd_steinberg(src.width, src.height, point_of, start, palette_points, dither);
    let counts = d
        .par_chunks(1 << 16)
        .map(|c| {
            let mut n = vec![0u64; palette.len()];
            c.iter().for_each(|&l| n[l as usize] += 1);
            n
        })
        .reduce(
            || vec![0u64; palette.len()],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let (sse, sse_alpha) = src
        .pixels
        .par_iter()
        .zip(&d)
        .map(|(c, &l)| {
            let (c, e) = (opaque_or_clear(*c), palette[l as usize]);
            (rgb_error(c, e), alpha_error(c, e))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let (palette, counts, map) = order_palette(palette, &counts);
    let mut indices = d;
    indices.par_iter_mut().for_each(|i| *i = map[*i as usize]);
    Mapped {
        palette,
        counts,
        indices,
        sse,
        sse_alpha,
    }
}

/// One label per pixel from one label per unique color, on the CPU: `src/cpu/expand.rs` (the
/// twin of `shaders/expand.wgsl`) for opaque images, a lookup per pixel for images with alpha.
pub(crate) fn expand(hist: &Histogram, pixels: &[[u8; 4]], labels: &[u8]) -> Vec<u8> {
    if let Some(table) = hist.rgb_table() {
        return cpu::expand::expand(pixels, table, labels);
    }
    let mut out = vec![0u8; pixels.len()];
    out.par_chunks_mut(1 << 16)
        .zip(pixels.par_chunks(1 << 16))
        .for_each(|(o, p)| {
            for (o, &p) in o.iter_mut().zip(p) {
                *o = labels[hist.index_of(p)];
            }
        });
    out
}

/// Squared alpha error between two colors.
fn alpha_error(a: [u8; 4], b: [u8; 4]) -> u64 {
    (a[3] as i64 - b[3] as i64).pow(2) as u64
}

/// Squared RGB error between two colors.
fn rgb_error(a: [u8; 4], b: [u8; 4]) -> u64 {
    (0..3).map(|i| (a[i] as i64 - b[i] as i64).pow(2) as u64).sum()
}

/// Sorts the palette by population (then by packed color) and drops unused entries. Returns the
/// palette, the counts and the map from old to new index.
fn order_palette(palette: &[[u8; 4]], counts: &[u64]) -> (Vec<[u8; 4]>, Vec<u64>, Vec<u8>) {
    let mut order: Vec<usize> = (0..palette.len()).filter(|&i| counts[i] > 0).collect();
    order.sort_by(|&a, &b| {
        counts[b]
            .cmp(&counts[a])
            .then(u32::from_le_bytes(palette[a]).cmp(&u32::from_le_bytes(palette[b])))
    });
    let mut map = vec![0u8; palette.len()];
    for (new, &old) in order.iter().enumerate() {
        map[old] = new as u8;
    }
    (
        order.iter().map(|&i| palette[i]).collect(),
        order.iter().map(|&i| counts[i]).collect(),
        map,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    #[test]
    fn palette_order_is_by_population_then_packed_value_and_drops_unused_entries() {
        let palette = [[9, 0, 0, 255], [1, 0, 0, 255], [5, 5, 5, 255], [2, 0, 0, 255]];
        let counts = [3, 7, 0, 7];
        let (p, c, map) = order_palette(&palette, &counts);
        assert_eq!(p, vec![[1, 0, 0, 255], [2, 0, 0, 255], [9, 0, 0, 255]]);
        assert_eq!(c, vec![7, 7, 3]);
        assert_eq!((map[0], map[1], map[3]), (2, 0, 1));
    }

    /// Squared RGB plus alpha error, computed independently of the pass.
    fn err(c: [u8; 4], e: [u8; 4]) -> u64 {
        let c = opaque_or_clear(c);
        rgb_error(c, e) + alpha_error(c, e)
    }

    #[test]
    fn a_pixel_takes_its_left_neighbours_entry_only_within_the_bias() {
        let palette = [[0, 0, 0, 255], [100, 100, 100, 255]];
        // Gray 52 and 54 are nearer entry 1; entry 0 is 17.4% and 37.8% worse for them
        // (52² against 48², 54² against 46²). Gray 100 is exactly entry 1.
        let gray = |v: u8| [v, v, v, 255];
        let pixels = [gray(0), gray(52), gray(54), gray(100)];
        for (percent, want, moved) in [
            (0, [0, 1, 1, 1], 0),
            (30, [0, 0, 1, 1], 1),
            (100, [0, 0, 0, 1], 2),
        ] {
            let mut indices = vec![0, 1, 1, 1];
            let change = extend_runs(4, &pixels, &palette, &mut indices, percent);
            assert_eq!(indices, want.to_vec(), "{percent}%");
            assert_eq!(
                (change.counts[0], change.counts[1]),
                (moved, -moved),
                "{percent}%"
            );
            let sse: i64 = (1..=moved as usize)
                .map(|i| err(pixels[i], palette[0]) as i64 - err(pixels[i], palette[1]) as i64)
                .sum();
            assert_eq!(change.sse, sse, "{percent}%");
        }
    }

    /// A random "photo": smooth rows with noise, some translucent and transparent pixels.
    fn noisy(rng: &mut Rng, w: usize, h: usize) -> Vec<[u8; 4]> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let base = [(x * 3 + y) % 256, (y * 2) % 256, (x + y * 5) % 256];
                let n = |rng: &mut Rng| rng.below(24) as usize;
                let a = match rng.below(50) {
                    0 => 0,
                    1 => 128,
                    _ => 255,
                };
                let c = base.map(|v| ((v + n(rng)) % 256) as u8);
                [c[0], c[1], c[2], a]
            })
            .collect()
    }

    #[test]
    fn runs_change_counts_and_error_exactly_and_each_pixel_by_at_most_the_bias() {
        let mut rng = Rng(7);
        let (w, h) = (97, 41);
        let pixels = noisy(&mut rng, w, h);
        let palette: Vec<[u8; 4]> = (0..40)
            .map(|_| {
                let a = [0, 255, 255, 255][rng.below(4) as usize];
                [
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                    rng.below(256) as u8,
                    a,
                ]
            })
            .collect();
        let nearest: Vec<u8> = pixels
            .iter()
            .map(|&c| {
                (0..palette.len())
                    .min_by_key(|&i| (err(c, palette[i]), i))
                    .unwrap() as u8
            })
            .collect();
        for percent in [5, 15, 60] {
            let mut indices = nearest.clone();
            let change = extend_runs(w, &pixels, &palette, &mut indices, percent);
            let mut moved = 0;
            for (i, (&got, &own)) in indices.iter().zip(&nearest).enumerate() {
                if got == own {
                    continue;
                }
                moved += 1;
                assert!(i % w > 0, "the first pixel of a row has no run to continue");
                assert_eq!(got, indices[i - 1], "a moved pixel continues its left neighbour");
                let (e, o) = (
                    err(pixels[i], palette[got as usize]),
                    err(pixels[i], palette[own as usize]),
                );
                assert!(
                    e * 100 <= o * (100 + percent as u64),
                    "pixel {i}: {e} against {o}"
                );
            }
            // Every pixel that did not move either continues the run already or misses the bias.
            for (i, &own) in nearest.iter().enumerate().filter(|(i, _)| i % w > 0) {
                if indices[i] == own && own != indices[i - 1] {
                    let (e, o) = (
                        err(pixels[i], palette[indices[i - 1] as usize]),
                        err(pixels[i], palette[own as usize]),
                    );
                    assert!(
                        e * 100 > o * (100 + percent as u64),
                        "pixel {i} should have moved"
                    );
                }
            }
            assert!(moved > 20, "{percent}%: only {moved} pixels moved");
            let recount = |idx: &[u8]| {
                let mut n = [0i64; 256];
                idx.iter().for_each(|&l| n[l as usize] += 1);
                n
            };
            let (before, after) = (recount(&nearest), recount(&indices));
            for e in 0..256 {
                assert_eq!(after[e] - before[e], change.counts[e], "{percent}%: entry {e}");
            }
            // The total of one error function over the image for these indices.
            let total = |idx: &[u8], f: fn([u8; 4], [u8; 4]) -> u64| -> i64 {
                pixels
                    .iter()
                    .zip(idx)
                    .map(|(&c, &l)| f(opaque_or_clear(c), palette[l as usize]) as i64)
                    .sum()
            };
            assert_eq!(
                change.sse,
                total(&indices, rgb_error) - total(&nearest, rgb_error)
            );
            assert_eq!(
                change.sse_alpha,
                total(&indices, alpha_error) - total(&nearest, alpha_error)
            );
            // Rows are independent: row by row gives the same indices as the whole image.
            let mut by_row = nearest.clone();
            for (row, px) in by_row.chunks_mut(w).zip(pixels.chunks(w)) {
                extend_runs(w, px, &palette, row, percent);
            }
            assert_eq!(by_row, indices, "{percent}%: row by row differs");
        }
    }

    #[test]
    fn applying_runs_keeps_the_palette_sorted_by_population_and_drops_emptied_entries() {
        // Entry 2 is used by one pixel, an exact tie with entry 0, whose run it joins; entry 2
        // is then unused, and entry 1 (three pixels) now leads entry 0 (two).
        let palette = vec![[0, 0, 0, 255], [200, 200, 200, 255], [22, 22, 22, 255]];
        let gray = |v: u8| [v, v, v, 255];
        let pixels = vec![gray(0), gray(11), gray(200), gray(200), gray(200)];
        let mut m = Mapped {
            palette: palette.clone(),
            counts: vec![1, 3, 1],
            indices: vec![0, 2, 1, 1, 1],
            sse: 3 * 11 * 11,
            sse_alpha: 0,
        };
        let change = extend_runs(5, &pixels, &m.palette, &mut m.indices, 15);
        change.apply(&mut m);
        assert_eq!(m.palette, vec![gray(200), gray(0)]);
        assert_eq!(m.counts, vec![3, 2]);
        assert_eq!(m.indices, vec![1, 1, 0, 0, 0]);
        assert_eq!(m.sse, 3 * 11 * 11);
    }
}
