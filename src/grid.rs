//! The integer grid that every k-means point and centroid lives on, and exact distances on it.
//!
//! A [`Point`] holds four coordinates in `0..=GRID_MAX` (2040 = 255 × 8): the color's position in
//! the clustering space ([`crate::ColorSpace`] makes them), or a centroid (the host rounds every
//! mean onto the same grid). Squared distances between two points are integers below 2^24
//! (4 × 2040² = 16,646,400), so they are exact in `u32`, and exact in `f32` on the GPU too, where
//! every intermediate is an integer below 2^24 whatever order or fusion the compiler chooses.
//!
//! This module is the host's one implementation of the distance and of the nearest-centroid
//! search. The GPU runs `nearest` in `shaders/common.wgsl`, and `src/cpu/common.rs` is its
//! line-by-line f32 twin; everything else on the host (the CPU backend's fast path, empty-cluster
//! refills, dithering, the report) uses the functions here.

use bytemuck::{Pod, Zeroable};

/// Largest coordinate value (255 × 8).
pub(crate) const GRID_MAX: u16 = 2040;
/// Grid units per 8-bit level in sRGB.
pub(crate) const GRID_SCALE: u16 = 8;

/// A point (a color, or a centroid) on the integer grid. `#[repr(C)]` so that a slice of points
/// uploads as it is: the shaders read each as two u32 words, `x | y << 16` and `z | w << 16`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
pub(crate) struct Point(pub [u16; 4]);

impl Point {
    /// The point nearest to `q` on the grid: each coordinate clamped to `0..=GRID_MAX`.
    #[inline]
    pub fn clamped(q: [i32; 4]) -> Point {
        Point(q.map(|v| v.clamp(0, GRID_MAX as i32) as u16))
    }

    /// The coordinates as i32, for arithmetic with signed errors.
    #[inline]
    pub fn signed(self) -> [i32; 4] {
        self.0.map(|v| v as i32)
    }

    /// The coordinates as f32, as the GPU receives centroids. Exact: every value is at most 2040.
    #[inline]
    pub fn to_f32(self) -> [f32; 4] {
        self.0.map(|v| v as f32)
    }

    /// Exact squared Euclidean distance (below 2^24).
    #[inline]
    pub fn dist2(self, o: Point) -> u32 {
        let (a, b) = (self.signed(), o.signed());
        let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]];
        (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]) as u32
    }
}

/// `s / w` rounded half up onto the grid (`w > 0`, and `s / w` a weighted mean of coordinates).
#[inline]
pub(crate) fn round_div(s: u64, w: u64) -> u16 {
    ((2 * s as u128 + w as u128) / (2 * w as u128)) as u16
}

/// Index and squared distance of the nearest of `centroids` to `q`; ties go to the lower index.
/// `centroids` must not be empty.
#[inline]
pub(crate) fn nearest(q: Point, centroids: &[Point]) -> (usize, u32) {
    let mut best = (0, q.dist2(centroids[0]));
    for (j, &c) in centroids.iter().enumerate().skip(1) {
        let d = q.dist2(c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// The exact pruned nearest search: the CPU backend's fast path, and dithering's search.
///
/// A search starts from a hint, usually the point's label of the previous iteration, `a`, at
/// squared distance `d_a`. Any centroid `j` with `|c_a - c_j| > 2 |q - c_a|` is strictly farther
/// from `q` than `c_a` (triangle inequality), so walking `a`'s neighbors in order of distance can
/// stop at the first one with `|c_a - c_j|² > 4 d_a`. Every centroid at least as close as `c_a`,
/// and so every tied one, is visited, and ties go to the lower index: the answer is exactly
/// [`nearest`]'s. All arithmetic is on exact integers.
pub(crate) struct Neighbors {
    centroids: Vec<Point>,
    /// Row `a` (length `k - 1`): the squared distances from centroid `a` to the others, ascending.
    dist: Vec<u32>,
    /// Row `a`: the other centroids' indices in that order (ties by index).
    order: Vec<u16>,
}

impl Neighbors {
    /// Builds the neighbor table for `centroids` (1 to 256 of them).
    pub fn new(centroids: &[Point]) -> Self {
        let k = centroids.len();
        let mut dist = Vec::with_capacity(k * k.saturating_sub(1));
        let mut order = Vec::with_capacity(k * k.saturating_sub(1));
        let mut row: Vec<(u32, u16)> = Vec::with_capacity(k);
        for (a, &ca) in centroids.iter().enumerate() {
            row.clear();
            row.extend(
                centroids
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != a)
                    .map(|(j, &cj)| (ca.dist2(cj), j as u16)),
            );
            row.sort_unstable();
            dist.extend(row.iter().map(|r| r.0));
            order.extend(row.iter().map(|r| r.1));
        }
        Neighbors {
            centroids: centroids.to_vec(),
            dist,
            order,
        }
    }

    /// The centroids this table was built for.
    pub fn centroids(&self) -> &[Point] {
        &self.centroids
    }

    /// The nearest centroid to `q` and its squared distance, searching from centroid `hint`
    /// (any value `>= k` means no hint: a full search).
    #[inline]
    pub fn nearest_from(&self, q: Point, hint: usize) -> (usize, u32) {
        let k = self.centroids.len();
        if hint >= k {
            return nearest(q, &self.centroids);
        }
        let da = q.dist2(self.centroids[hint]);
        let limit = 4 * da as u64;
        let row = hint * (k - 1);
        let mut best = (hint, da);
        for idx in row..row + k - 1 {
            if self.dist[idx] as u64 > limit {
                break;
            }
            let j = self.order[idx] as usize;
            let d = q.dist2(self.centroids[j]);
            if d < best.1 || (d == best.1 && j < best.0) {
                best = (j, d);
            }
        }
        best
    }
}

/// Cells per axis of [`CellSearch`]'s grid: 32 cells of 64 grid units (8 levels) each.
const CELLS: usize = 32;
/// Grid units per cell side.
const CELL: u16 = (GRID_MAX + 1).div_ceil(CELLS as u16);

/// The exact nearest search for opaque palettes, for many queries spread over the color cube
/// (dithering): the first three coordinates are cut into `CELLS`³ cells, and each cell keeps the
/// entries that can be nearest to some point in it (an entry whose closest approach to the cell
/// is farther than some other entry's farthest point never wins there), sorted by that closest
/// approach. A query walks its cell's list and stops at the first entry whose closest approach
/// exceeds the best distance found, so it returns exactly [`nearest`]'s answer, ties included.
/// The lists are built up front, on every core, and stored flat in blocks of four.
pub(crate) struct CellSearch {
    /// The palette's r, g, b as i32, then a sentinel farther from every grid point than any
    /// entry, which pads the lists and never wins.
    palette: Vec<[i32; 3]>,
    /// Cell `c`'s candidates are `blocks[offsets[c]..offsets[c + 1]]`, four to a block.
    offsets: Vec<u32>,
    blocks: Vec<[Candidate; 4]>,
}

/// One candidate of a cell: its closest approach to the cell, squared, and its index.
#[derive(Clone, Copy)]
struct Candidate {
    near: u32,
    index: u16,
}

/// The sentinel's coordinate: its squared distance to any grid point (at least 3 × 5960²) is
/// larger than any real one (at most 3 × 2040²), and fits an i32.
const FAR: i32 = 8000;

impl CellSearch {
    /// A search over `palette` (1 to 256 entries, every one opaque: the fourth coordinate
    /// `GRID_MAX`); None when some entry is not opaque.
    pub fn new(palette: &[Point]) -> Option<Self> {
        use rayon::prelude::*;
        if palette.is_empty() || palette.len() > 256 || palette.iter().any(|p| p.0[3] != GRID_MAX) {
            return None;
        }
        let axes = AxisSpans::new(palette);
        let sentinel = Candidate {
            near: u32::MAX,
            index: palette.len() as u16,
        };
        let lists: Vec<Vec<[Candidate; 4]>> = (0..CELLS * CELLS)
            .into_par_iter()
            .flat_map_iter(|rg| {
                let axes = &axes;
                (0..CELLS).map(move |b| {
                    let list = axes.candidates([rg / CELLS, rg % CELLS, b]);
                    list.chunks(4)
                        .map(|four| {
                            let mut block = [sentinel; 4];
                            for (slot, &(near, j)) in block.iter_mut().zip(four) {
                                *slot = Candidate {
                                    near,
                                    index: j as u16,
                                };
                            }
                            block
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0u32);
        for l in &lists {
            offsets.push(offsets[offsets.len() - 1] + l.len() as u32);
        }
        let mut coords: Vec<[i32; 3]> = palette.iter().map(|p| [0, 1, 2].map(|a| p.0[a] as i32)).collect();
        coords.push([FAR; 3]);
        Some(CellSearch {
            palette: coords,
            offsets,
            blocks: lists.concat(),
        })
    }

    /// The nearest entry to `q` (opaque: its fourth coordinate is `GRID_MAX`) and its squared
    /// distance; ties go to the lower index. Each block of four is reduced without branches, by
    /// the smallest `(distance << 16) | index`; the walk stops at the first block whose closest
    /// candidate cannot beat the best so far.
    #[inline(always)]
    pub fn nearest(&self, q: Point) -> (usize, u32) {
        let c = [0, 1, 2].map(|a| (q.0[a] / CELL) as usize);
        let cell = (c[0] * CELLS + c[1]) * CELLS + c[2];
        let blocks = &self.blocks[self.offsets[cell] as usize..self.offsets[cell + 1] as usize];
        let q = [q.0[0] as i32, q.0[1] as i32, q.0[2] as i32];
        let mut best = u64::MAX;
        for block in blocks {
            if block[0].near as u64 > best >> 16 {
                break;
            }
            for cand in block {
                let p = self.palette[cand.index as usize];
                let d = [q[0] - p[0], q[1] - p[1], q[2] - p[2]];
                let d2 = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) as u64;
                best = best.min(d2 << 16 | cand.index as u64);
            }
        }
        ((best & 0xffff) as usize, (best >> 16) as u32)
    }
}

/// For every axis, cell coordinate and entry: the squared closest and farthest approach of the
/// entry's coordinate to the cell's interval on that axis. A cell's approach is the sum over
/// the three axes.
struct AxisSpans {
    k: usize,
    /// [axis][cell coordinate][entry] -> (near², far²).
    spans: Vec<(u32, u32)>,
}

impl AxisSpans {
    fn new(palette: &[Point]) -> Self {
        let k = palette.len();
        let mut spans = Vec::with_capacity(3 * CELLS * k);
        for a in 0..3 {
            for cell in 0..CELLS {
                let lo = cell as i64 * CELL as i64;
                let hi = (lo + CELL as i64 - 1).min(GRID_MAX as i64);
                for p in palette {
                    let v = p.0[a] as i64;
                    let d = if v < lo {
                        lo - v
                    } else if v > hi {
                        v - hi
                    } else {
                        0
                    };
                    let f = (v - lo).abs().max((v - hi).abs());
                    spans.push(((d * d) as u32, (f * f) as u32));
                }
            }
        }
        AxisSpans { k, spans }
    }

    fn axis(&self, a: usize, cell: usize) -> &[(u32, u32)] {
        let start = (a * CELLS + cell) * self.k;
        &self.spans[start..start + self.k]
    }

    /// The entries that can be nearest to a point of cell `c`, sorted by (closest approach,
    /// index).
    fn candidates(&self, c: [usize; 3]) -> Vec<(u32, u8)> {
        let (x, y, z) = (self.axis(0, c[0]), self.axis(1, c[1]), self.axis(2, c[2]));
        let bound = (0..self.k).map(|j| x[j].1 + y[j].1 + z[j].1).min().unwrap_or(0);
        let mut list: Vec<(u32, u8)> = (0..self.k)
            .map(|j| (x[j].0 + y[j].0 + z[j].0, j as u8))
            .filter(|&(near, _)| near <= bound)
            .collect();
        list.sort_unstable();
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(v: [u16; 4]) -> Point {
        Point(v.map(|x| x % (GRID_MAX + 1)))
    }

    #[test]
    fn largest_distance_fits_below_2_to_the_24() {
        let far = Point([GRID_MAX; 4]).dist2(Point([0; 4]));
        assert_eq!(far, 4 * 2040 * 2040);
        assert!(far < 1 << 24);
    }

    #[test]
    fn round_div_rounds_half_up() {
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(4, 2), 2);
        assert_eq!(round_div(7, 3), 2);
        assert_eq!(round_div(2040 * 1_000_000_007, 1_000_000_007), 2040);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The cell search returns exactly the brute force's index and distance for opaque
        /// palettes, with duplicate entries and entries on cell edges among them.
        #[test]
        fn cell_search_equals_brute_force(
            cs in proptest::collection::vec(any::<[u16; 3]>(), 1..120),
            qs in proptest::collection::vec(any::<[u16; 3]>(), 1..200),
        ) {
            let opaque = |v: [u16; 3]| Point([v[0] % (GRID_MAX + 1), v[1] % (GRID_MAX + 1), v[2] % (GRID_MAX + 1), GRID_MAX]);
            let mut cs: Vec<Point> = cs.into_iter().map(opaque).collect();
            if cs.len() > 3 {
                cs[2] = cs[0];
                cs[3] = Point([CELL * 5, CELL * 7 - 1, 0, GRID_MAX]);
            }
            let search = CellSearch::new(&cs).unwrap();
            for q in qs.into_iter().map(opaque) {
                prop_assert_eq!(search.nearest(q), nearest(q, &cs));
            }
        }

        /// The pruned search returns exactly the brute force's index and distance, from any
        /// hint, with duplicate centroids among them.
        #[test]
        fn pruned_search_equals_brute_force_from_any_hint(
            cs in proptest::collection::vec(any::<[u16; 4]>(), 1..80),
            qs in proptest::collection::vec(any::<[u16; 4]>(), 1..60),
            hint in 0usize..300,
        ) {
            let mut cs: Vec<Point> = cs.into_iter().map(point).collect();
            if cs.len() > 3 {
                cs[2] = cs[1];
            }
            let nb = Neighbors::new(&cs);
            for q in qs.into_iter().map(point) {
                prop_assert_eq!(nb.nearest_from(q, hint), nearest(q, &cs));
            }
        }
    }
}
