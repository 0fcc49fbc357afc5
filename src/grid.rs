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
