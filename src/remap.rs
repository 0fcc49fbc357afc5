//! The remap stage, on the host: from one palette entry per unique color (the backend's remap
//! kernel, see [`crate::cluster`]) to one palette index per pixel, optionally dithered
//! ([`crate::dither`]), with the palette in its final order and the error measured.
//!
//! The palette is sorted by population, most used first, ties by ascending packed value
//! `r | g << 8 | b << 16 | a << 24`; entries no pixel uses are dropped.

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
pub(crate) fn map(
    src: &Source<'_>,
    palette: &[[u8; 4]],
    palette_points: &[Point],
    labels: &[u8],
    dither: f32,
    expand: &mut dyn FnMut(&[u8]) -> Result<Vec<u8>>,
) -> Result<Mapped> {
    if dither > 0.0 {
        return Ok(dithered(src, palette, palette_points, labels, dither));
    }
    let o = order(src.hist, palette, labels);
    Ok(Mapped {
        indices: expand(&o.finals)?,
        palette: o.palette,
        counts: o.counts,
        sse: o.sse,
        sse_alpha: o.sse_alpha,
    })
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
    // Every fully transparent pixel counts as the one transparent color, as in the histogram.
    let opaque_or_clear = |c: [u8; 4]| if c[3] == 0 { [0; 4] } else { c };
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

    #[test]
    fn palette_order_is_by_population_then_packed_value_and_drops_unused_entries() {
        let palette = [[9, 0, 0, 255], [1, 0, 0, 255], [5, 5, 5, 255], [2, 0, 0, 255]];
        let counts = [3, 7, 0, 7];
        let (p, c, map) = order_palette(&palette, &counts);
        assert_eq!(p, vec![[1, 0, 0, 255], [2, 0, 0, 255], [9, 0, 0, 255]]);
        assert_eq!(c, vec![7, 7, 3]);
        assert_eq!((map[0], map[1], map[3]), (2, 0, 1));
    }
}
