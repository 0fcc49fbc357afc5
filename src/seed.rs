//! Deterministic initial centroids.
//!
//! Both initialisations run on the host, once, for every backend, and use only integer or
//! IEEE-754 `f64` arithmetic without fused operations, so the start is the same everywhere.
//!
//! - [`median_cut`]: repeatedly split the box of colors with the largest squared error, along its
//!   widest channel, at the threshold that minimises the two halves' total squared error (Wu's
//!   criterion restricted to one axis). Close to a k-means optimum, so Lloyd needs few iterations.
//!   The splits do not depend on K, so one [`MedianCut`] serves every K tried on an image, and
//!   each point's box is where the CPU backend starts its first nearest-centroid search.
//! - [`kmeans_plus_plus`]: weighted D² sampling driven by a SplitMix64 generator seeded by the user.

#![allow(clippy::needless_range_loop)]

use crate::grid::{round_div, Point, GRID_MAX};

const BUCKETS: usize = GRID_MAX as usize + 1;

/// Weighted sums of one set of points.
#[derive(Clone, Copy, Default)]
struct Moments {
    w: f64,
    s: [f64; 4],
    q: [f64; 4],
}

impl Moments {
    fn add_point(&mut self, p: Point, w: u32) {
        let w = w as f64;
        self.w += w;
        for c in 0..4 {
            let x = p.0[c] as f64;
            self.s[c] += w * x;
            self.q[c] += w * x * x;
        }
    }
    fn add(&mut self, o: &Moments) {
        self.w += o.w;
        for c in 0..4 {
            self.s[c] += o.s[c];
            self.q[c] += o.q[c];
        }
    }
    fn sub(&self, o: &Moments) -> Moments {
        let mut m = *self;
        m.w -= o.w;
        for c in 0..4 {
            m.s[c] -= o.s[c];
            m.q[c] -= o.q[c];
        }
        m
    }
    fn channel_var(&self, c: usize) -> f64 {
        if self.w == 0.0 {
            0.0
        } else {
            (self.q[c] - self.s[c] * self.s[c] / self.w).max(0.0)
        }
    }
    fn sse(&self) -> f64 {
        (0..4).map(|c| self.channel_var(c)).sum()
    }
    fn of(points: &[Point], weights: &[u32], idx: &[u32]) -> Moments {
        let mut m = Moments::default();
        for &i in idx {
            m.add_point(points[i as usize], weights[i as usize]);
        }
        m
    }
}

/// One box of the median cut: the points `order[start..end]` and their squared error.
struct Cut {
    start: usize,
    end: usize,
    sse: f64,
}

/// The rounded weighted mean of the points `idx`.
fn mean(points: &[Point], weights: &[u32], idx: &[u32]) -> Point {
    let mut s = [0u64; 4];
    let mut w = 0u64;
    for &i in idx {
        let i = i as usize;
        w += weights[i] as u64;
        for c in 0..4 {
            s[c] += weights[i] as u64 * points[i].0[c] as u64;
        }
    }
    Point(s.map(|v| round_div(v, w)))
}

/// The box with the largest error that can still be split; ties go to the earlier box.
fn worst_box(cuts: &[Cut]) -> Option<usize> {
    let mut pick: Option<usize> = None;
    for (i, c) in cuts.iter().enumerate() {
        if c.sse > 0.0 && c.end - c.start > 1 && pick.is_none_or(|p| c.sse > cuts[p].sse) {
            pick = Some(i);
        }
    }
    pick
}

/// The axis with the largest variance in `idx`, and the threshold on it that minimises the two
/// halves' total squared error (points with coordinate `<= t` go left). None when every point
/// has the same coordinate on that axis.
fn best_split(
    points: &[Point],
    weights: &[u32],
    idx: &[u32],
    buckets: &mut [Moments],
) -> Option<(usize, usize)> {
    let total = Moments::of(points, weights, idx);
    let axis = (0..4).fold(0, |best, c| {
        if total.channel_var(c) > total.channel_var(best) {
            c
        } else {
            best
        }
    });
    buckets.iter_mut().for_each(|b| *b = Moments::default());
    for &i in idx {
        let p = points[i as usize];
        buckets[p.0[axis] as usize].add_point(p, weights[i as usize]);
    }
    let mut left = Moments::default();
    let mut best: Option<(f64, usize)> = None;
    for (t, b) in buckets.iter().enumerate() {
        if b.w == 0.0 {
            continue;
        }
        left.add(b);
        let right = total.sub(&left);
        if right.w <= 0.0 {
            break;
        }
        let err = left.sse() + right.sse();
        if best.is_none_or(|(e, _)| err < e) {
            best = Some((err, t));
        }
    }
    best.map(|(_, t)| (axis, t))
}

/// Where Lloyd starts: the centroids, and for each point the seed it came from when the seeding
/// knows it. The CPU backend starts each point's first nearest-centroid search there (a box's
/// own mean is usually its points' nearest centroid); the answer is the same from any start.
pub(crate) struct Seeds {
    /// The initial centroids.
    pub centroids: Vec<Point>,
    /// Each point's seed, an index into `centroids` (median cut: the box that holds the point).
    pub hints: Option<Vec<u16>>,
}

/// Up to `k` centroids by variance-minimising median cut. Fewer come back only when there are
/// fewer than `k` distinct points.
#[cfg(test)]
pub(crate) fn median_cut(points: &[Point], weights: &[u32], k: usize) -> Vec<Point> {
    MedianCut::new(points, weights)
        .seeds(points, weights, k)
        .centroids
}

/// The median cut, kept for more than one K. Each split takes the worst box of those so far, so
/// the boxes for K are those after the first K - 1 splits whatever K the splitting went on to:
/// one run of splits serves every K up to the largest asked for, and the seeds of a K do not
/// depend on what was asked before. Every call must pass the points and weights of `new`.
pub(crate) struct MedianCut {
    /// The point indices; every box ever made is a range of it (a split reorders only the range
    /// of the box it splits).
    order: Vec<u32>,
    /// The boxes after every split so far.
    cuts: Vec<Cut>,
    /// Every split so far, in order: the index of the box split, and where its range was cut
    /// (the box keeps the lower part; the upper part is appended).
    splits: Vec<(usize, usize)>,
    /// Scratch for [`best_split`].
    buckets: Vec<Moments>,
}

impl MedianCut {
    /// One box of every point.
    pub fn new(points: &[Point], weights: &[u32]) -> Self {
        let order: Vec<u32> = (0..points.len() as u32).collect();
        let cuts = if points.is_empty() {
            Vec::new()
        } else {
            vec![Cut {
                start: 0,
                end: points.len(),
                sse: Moments::of(points, weights, &order).sse(),
            }]
        };
        MedianCut {
            order,
            cuts,
            splits: Vec::new(),
            buckets: Vec::new(),
        }
    }

    /// Splits until there are `k` boxes or none can be split.
    fn grow(&mut self, points: &[Point], weights: &[u32], k: usize) {
        while self.cuts.len() < k {
            let Some(pi) = worst_box(&self.cuts) else { break };
            if self.buckets.is_empty() {
                self.buckets = vec![Moments::default(); BUCKETS];
            }
            let (start, end) = (self.cuts[pi].start, self.cuts[pi].end);
            let idx = &mut self.order[start..end];
            let Some((axis, t)) = best_split(points, weights, idx, &mut self.buckets) else {
                // Nothing left to split here.
                self.cuts[pi].sse = 0.0;
                continue;
            };
            let (lo, hi): (Vec<u32>, Vec<u32>) = idx
                .iter()
                .partition(|&&i| (points[i as usize].0[axis] as usize) <= t);
            let mid = start + lo.len();
            idx[..lo.len()].copy_from_slice(&lo);
            idx[lo.len()..].copy_from_slice(&hi);
            self.cuts[pi] = Cut {
                start,
                end: mid,
                sse: Moments::of(points, weights, &self.order[start..mid]).sse(),
            };
            self.cuts.push(Cut {
                start: mid,
                end,
                sse: Moments::of(points, weights, &self.order[mid..end]).sse(),
            });
            self.splits.push((pi, mid));
        }
    }

    /// The seeds for `k` boxes (fewer when there are fewer distinct points): each box's rounded
    /// weighted mean, and each point's box.
    pub fn seeds(&mut self, points: &[Point], weights: &[u32], k: usize) -> Seeds {
        if points.is_empty() || k == 0 {
            return Seeds {
                centroids: Vec::new(),
                hints: None,
            };
        }
        if points.len() != self.order.len() {
            // Not the points of `new`: start again rather than index past them.
            *self = MedianCut::new(points, weights);
        }
        self.grow(points, weights, k);
        // The boxes after the first k - 1 splits: ranges of `order`, which later splits only
        // reordered within.
        let mut boxes = vec![(0, points.len())];
        for &(pi, mid) in self.splits.iter().take(k - 1) {
            let (start, end) = boxes[pi];
            boxes[pi] = (start, mid);
            boxes.push((mid, end));
        }
        let mut hints = vec![0u16; points.len()];
        for (b, &(start, end)) in boxes.iter().enumerate() {
            for &i in &self.order[start..end] {
                hints[i as usize] = b as u16;
            }
        }
        Seeds {
            centroids: boxes
                .iter()
                .map(|&(start, end)| mean(points, weights, &self.order[start..end]))
                .collect(),
            hints: Some(hints),
        }
    }
}

/// SplitMix64: a tiny, well-known generator whose output is fixed by its seed on every platform.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A value in `0..bound` (bound > 0), by 128-bit multiply-shift.
    pub(crate) fn below(&mut self, bound: u128) -> u128 {
        let hi = (self.next_u64() as u128) << 64 | self.next_u64() as u128;
        // (hi * bound) >> 128 without overflow: split bound.
        let (b_hi, b_lo) = (bound >> 64, bound & u64::MAX as u128);
        let (h_hi, h_lo) = (hi >> 64, hi & u64::MAX as u128);
        let lo_part = (h_lo * b_lo) >> 64;
        let mid = h_hi * b_lo + h_lo * b_hi + lo_part;
        (h_hi * b_hi) + (mid >> 64)
    }
}

/// Up to `k` centroids by weighted k-means++ seeded by `seed`. Fewer come back only when there are
/// fewer than `k` distinct points.
pub(crate) fn kmeans_plus_plus(points: &[Point], weights: &[u32], k: usize, seed: u64) -> Vec<Point> {
    let n = points.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(seed);
    let pick = |rng: &mut SplitMix64, score: &dyn Fn(usize) -> u128| -> Option<usize> {
        let total: u128 = (0..n).map(score).sum();
        if total == 0 {
            return None;
        }
        let mut r = rng.below(total);
        for i in 0..n {
            let s = score(i);
            if r < s {
                return Some(i);
            }
            r -= s;
        }
        None
    };
    let Some(first) = pick(&mut rng, &|i| weights[i] as u128) else {
        return Vec::new();
    };
    let mut centroids = vec![points[first]];
    let mut d: Vec<u32> = points.iter().map(|&p| p.dist2(centroids[0])).collect();
    while centroids.len() < k {
        let Some(next) = pick(&mut rng, &|i| weights[i] as u128 * d[i] as u128) else {
            break;
        };
        let c = points[next];
        centroids.push(c);
        for (di, &p) in d.iter_mut().zip(points) {
            *di = (*di).min(p.dist2(c));
        }
    }
    centroids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::cpu::CpuBackend;
    use crate::histogram::Histogram;
    use crate::space::ColorSpace;
    use crate::testutil::fixture;

    /// The histogram of `px` and its colors as grid points (sRGB).
    fn points_of(px: &[[u8; 4]]) -> (Histogram, Vec<Point>) {
        let hist = Histogram::counted(px, None);
        let pts = hist
            .colors
            .iter()
            .map(|&c| ColorSpace::Srgb.to_point(c))
            .collect();
        (hist, pts)
    }

    #[test]
    fn median_cut_gives_k_distinct_centroids_and_a_lower_error_than_one_cluster() {
        let (w, h, px) = fixture("coffee.png");
        let (hist, pts) = points_of(&px);
        let c = median_cut(&pts, &hist.counts, 64);
        assert_eq!(c.len(), 64);
        let mut dedup = c.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 64);
        let mut b = CpuBackend::new(&pts, &hist.counts);
        let mut err = |c: &[Point]| b.assign(c).unwrap().iter().map(|s| s.sse).sum::<u64>();
        let one = median_cut(&pts, &hist.counts, 1);
        let (many, few) = (err(&c), err(&one));
        assert!(many * 10 < few, "64 boxes must cut the error tenfold at least");
        assert_eq!(w * h, hist.counts.iter().sum::<u32>());
    }

    /// One median cut serves every K in any order: the seeds for K are a fresh cut's, and each
    /// point's hint is its box, whose weighted mean is the hinted centroid.
    #[test]
    fn a_kept_median_cut_gives_every_k_the_seeds_of_a_fresh_one_with_each_points_box() {
        let (_, _, px) = fixture("chelsea.png");
        let (hist, pts) = points_of(&px);
        let w = &hist.counts;
        let mut kept = MedianCut::new(&pts, w);
        for k in [100, 1, 37, 256, 2, 255, 100] {
            let seeds = kept.seeds(&pts, w, k);
            let fresh = MedianCut::new(&pts, w).seeds(&pts, w, k);
            assert_eq!(seeds.centroids, fresh.centroids, "K={k}");
            assert_eq!(seeds.hints, fresh.hints, "K={k}");
            assert_eq!(seeds.centroids.len(), k);
            let hints = seeds.hints.unwrap();
            let mut boxes = vec![Vec::new(); k];
            for (i, &b) in hints.iter().enumerate() {
                boxes[b as usize].push(i as u32);
            }
            for (b, members) in boxes.iter().enumerate() {
                assert!(!members.is_empty(), "K={k}: box {b} is empty");
                assert_eq!(mean(&pts, w, members), seeds.centroids[b], "K={k}: box {b}");
            }
        }
        // Fewer distinct points than K: as many seeds as points, each point its own box.
        let few = &pts[..5];
        let seeds = MedianCut::new(few, &w[..5]).seeds(few, &w[..5], 9);
        let hints = seeds.hints.unwrap();
        assert_eq!(seeds.centroids.len(), 5);
        for (i, p) in few.iter().enumerate() {
            assert_eq!(seeds.centroids[hints[i] as usize], *p, "point {i}");
        }
    }

    #[test]
    fn kmeans_plus_plus_is_fixed_by_its_seed() {
        let (_, _, px) = fixture("chelsea.png");
        let (hist, pts) = points_of(&px);
        let a = kmeans_plus_plus(&pts, &hist.counts, 16, 1);
        assert_eq!(a, kmeans_plus_plus(&pts, &hist.counts, 16, 1));
        assert_ne!(a, kmeans_plus_plus(&pts, &hist.counts, 16, 2));
        assert_eq!(a.len(), 16);
    }
}
