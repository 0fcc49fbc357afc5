//! CPU twin of `shaders/common.wgsl`: point unpacking, the f32 distance and the brute-force
//! nearest centroid with ties to the lower index, written as the shader writes them.
//!
//! The host's own exact search is in [`crate::grid`]; this file exists so that the shader's f32
//! arithmetic has a line-by-line counterpart that tests can run and compare.
#![allow(clippy::needless_range_loop)]

use crate::grid::Point;

/// Twin of `point_coords`: the four integer coordinates of a point.
#[inline]
pub(crate) fn point_coords(p: Point) -> [u32; 4] {
    p.0.map(|v| v as u32)
}

/// Integer coordinates as f32, as the shader's `vec4<f32>(qi)` (exact: every value is at most 2040).
#[inline]
pub(crate) fn to_f32(q: [u32; 4]) -> [f32; 4] {
    [q[0] as f32, q[1] as f32, q[2] as f32, q[3] as f32]
}

/// Twin of `dist2`: squared Euclidean distance. Every intermediate is an integer below 2^24,
/// so the value is exact in any evaluation order, fused or not.
#[inline]
pub(crate) fn dist2(q: [f32; 4], c: [f32; 4]) -> f32 {
    let d = [q[0] - c[0], q[1] - c[1], q[2] - c[2], q[3] - c[3]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]
}

/// Twin of `nearest`: (index, squared distance) of the nearest centroid; ties go to the lower
/// index because only a strictly smaller distance replaces the best so far.
#[inline]
pub(crate) fn nearest(q: [f32; 4], centroids: &[[f32; 4]]) -> (u32, u32) {
    let mut best = 0u32;
    let mut best_d = dist2(q, centroids[0]);
    for j in 1..centroids.len() {
        let d = dist2(q, centroids[j]);
        if d < best_d {
            best_d = d;
            best = j as u32;
        }
    }
    (best, best_d as u32)
}

// The bound the exactness argument rests on (see `shaders/common.wgsl`): four squares of grid
// differences sum below 2^24, so every intermediate of `dist2` is an integer f32 holds exactly.
const _: () = assert!(4 * (crate::grid::GRID_MAX as u32).pow(2) < 1 << 24);

/// `dist2` and `nearest` as other shader compilers may legally evaluate them: fused into FMAs,
/// summed in another order, or both. On the grid every variant equals the exact integer.
#[cfg(test)]
mod exactness {
    use super::*;
    use crate::grid::GRID_MAX;
    use crate::testutil::Rng;

    type Dist = fn([f32; 4], [f32; 4]) -> f32;

    fn diffs(q: [f32; 4], c: [f32; 4]) -> [f32; 4] {
        [q[0] - c[0], q[1] - c[1], q[2] - c[2], q[3] - c[3]]
    }

    /// How a compiler may evaluate `dot(d, d)`: the twin's order, reversed, pairwise, and FMA
    /// chains (what Metal's fast math, HLSL compilers and GPU drivers may emit).
    const VARIANTS: [(&str, Dist); 7] = [
        ("as written", dist2),
        ("reversed", |q, c| {
            let d = diffs(q, c);
            d[3] * d[3] + d[2] * d[2] + d[1] * d[1] + d[0] * d[0]
        }),
        ("pairwise", |q, c| {
            let d = diffs(q, c);
            (d[0] * d[0] + d[1] * d[1]) + (d[2] * d[2] + d[3] * d[3])
        }),
        ("fma chain", |q, c| {
            let d = diffs(q, c);
            d[3].mul_add(d[3], d[2].mul_add(d[2], d[1].mul_add(d[1], d[0] * d[0])))
        }),
        ("fma chain reversed", |q, c| {
            let d = diffs(q, c);
            d[0].mul_add(d[0], d[1].mul_add(d[1], d[2].mul_add(d[2], d[3] * d[3])))
        }),
        ("fma pairwise", |q, c| {
            let d = diffs(q, c);
            d[0].mul_add(d[0], d[1] * d[1]) + d[2].mul_add(d[2], d[3] * d[3])
        }),
        ("fma into a pairwise sum", |q, c| {
            let d = diffs(q, c);
            d[0].mul_add(d[0], d[1].mul_add(d[1], d[2] * d[2] + d[3] * d[3]))
        }),
    ];

    fn exact(q: [f32; 4], c: [f32; 4]) -> i64 {
        (0..4).map(|i| (q[i] as i64 - c[i] as i64).pow(2)).sum()
    }

    /// Coordinates over the whole grid, the ends most often (the largest differences).
    fn coord(rng: &mut Rng, max: u64) -> f32 {
        match rng.below(4) {
            0 => 0.0,
            1 => max as f32,
            _ => rng.below(max + 1) as f32,
        }
    }

    fn point(rng: &mut Rng, max: u64) -> [f32; 4] {
        [coord(rng, max), coord(rng, max), coord(rng, max), coord(rng, max)]
    }

    #[test]
    fn every_square_and_sum_of_grid_differences_is_exact_in_f32() {
        let g = GRID_MAX as i64;
        for d in -g..=g {
            let f = d as f32;
            assert_eq!((f * f) as i64, d * d, "{d}²");
            // Added to the largest sum three other squares can make, fused or not.
            let rest = 3 * g * g;
            assert_eq!(f.mul_add(f, rest as f32) as i64, d * d + rest, "{d}² + 3·{g}²");
            assert_eq!((f * f + rest as f32) as i64, d * d + rest, "{d}² + 3·{g}²");
        }
    }

    #[test]
    fn the_distance_is_the_same_integer_under_fma_and_any_order_over_the_full_grid() {
        let g = GRID_MAX as f32;
        // Every corner of the grid against every corner: the extreme differences.
        let corners: Vec<[f32; 4]> = (0..16)
            .map(|m: u32| [0, 1, 2, 3].map(|b| if m >> b & 1 == 1 { g } else { 0.0 }))
            .collect();
        let mut rng = Rng(0x5eed);
        let random: Vec<([f32; 4], [f32; 4])> = (0..400_000)
            .map(|_| (point(&mut rng, GRID_MAX as u64), point(&mut rng, GRID_MAX as u64)))
            .collect();
        let pairs = corners
            .iter()
            .flat_map(|&a| corners.iter().map(move |&b| (a, b)))
            .chain(random);
        for (q, c) in pairs {
            let want = exact(q, c);
            for (name, f) in VARIANTS {
                let got = f(q, c);
                assert!(
                    got.fract() == 0.0 && got as i64 == want,
                    "{name}: {q:?} to {c:?} gives {got}, not {want}"
                );
            }
        }
    }

    #[test]
    fn nearest_gives_the_same_labels_under_every_variant() {
        let mut rng = Rng(42);
        for k in [1usize, 2, 16, 256] {
            // Centroids with repeats, so that ties are common and must go to the lower index.
            let distinct: Vec<[f32; 4]> = (0..k.div_ceil(2))
                .map(|_| point(&mut rng, GRID_MAX as u64))
                .collect();
            let centroids: Vec<[f32; 4]> = (0..k).map(|i| distinct[(i * 7) % distinct.len()]).collect();
            for _ in 0..4000 {
                let q = point(&mut rng, GRID_MAX as u64);
                let want = nearest(q, &centroids);
                for (name, f) in VARIANTS {
                    let mut best = (0u32, f(q, centroids[0]));
                    for (j, c) in centroids.iter().enumerate().skip(1) {
                        let d = f(q, *c);
                        if d < best.1 {
                            best = (j as u32, d);
                        }
                    }
                    assert_eq!((best.0, best.1 as u32), want, "{name}, K={k}, {q:?}");
                }
            }
        }
    }

    #[test]
    fn off_the_grid_the_variants_disagree_so_the_checks_above_can_fail() {
        // Coordinates four times the grid's range: squares pass 2^24 and round, and the fused
        // and unfused sums part ways. The checks above would catch a grid that grew this far.
        let mut rng = Rng(9);
        let wide = 4 * GRID_MAX as u64;
        let found = (0..100_000).any(|_| {
            let (q, c) = (point(&mut rng, wide), point(&mut rng, wide));
            let all: Vec<f32> = VARIANTS.iter().map(|(_, f)| f(q, c)).collect();
            all.iter().any(|&v| v != all[0]) || all[0] as i64 != exact(q, c)
        });
        assert!(found, "no pair off the grid separates the variants");
    }
}
