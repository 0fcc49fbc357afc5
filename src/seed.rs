//! Deterministic initial centroids.
//!
//! Both initialisations run on the host, once, for every backend, and use only integer or
//! IEEE-754 `f64` arithmetic without fused operations, so the start is the same everywhere.
//!
//! - [`median_cut`]: repeatedly split the box of colors with the largest squared error, along its
//!   widest channel, at the threshold that minimises the two halves' total squared error (Wu's
//!   criterion restricted to one axis). Close to a k-means optimum, so Lloyd needs few iterations.
//! - [`kmeans_plus_plus`]: weighted D² sampling driven by a SplitMix64 generator seeded by the user.

#![allow(clippy::needless_range_loop)]

use crate::space::GRID_MAX;

const BUCKETS: usize = GRID_MAX as usize + 1;

/// Weighted sums of one set of points.
#[derive(Clone, Copy, Default)]
struct Moments {
    w: f64,
    s: [f64; 4],
    q: [f64; 4],
}

impl Moments {
    fn add(&mut self, p: [u16; 4], w: u32) {
        let w = w as f64;
        self.w += w;
        for c in 0..4 {
            let x = p[c] as f64;
            self.s[c] += w * x;
            self.q[c] += w * x * x;
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
}

struct Cut {
    start: usize,
    end: usize,
    sse: f64,
}

/// The rounded weighted mean of the points `order[start..end]`.
fn mean(points: &[[u16; 4]], weights: &[u32], idx: &[u32]) -> [u32; 4] {
    let mut s = [0u64; 4];
    let mut w = 0u64;
    for &i in idx {
        let i = i as usize;
        w += weights[i] as u64;
        for c in 0..4 {
            s[c] += weights[i] as u64 * points[i][c] as u64;
        }
    }
    s.map(|v| crate::lloyd::round_div(v, w))
}

fn moments(points: &[[u16; 4]], weights: &[u32], idx: &[u32]) -> Moments {
    let mut m = Moments::default();
    for &i in idx {
        m.add(points[i as usize], weights[i as usize]);
    }
    m
}

/// Up to `k` centroids by variance-minimising median cut. Fewer come back only when there are
/// fewer than `k` distinct points.
pub fn median_cut(points: &[[u16; 4]], weights: &[u32], k: usize) -> Vec<[u32; 4]> {
    let n = points.len();
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    let whole = moments(points, weights, &order);
    let mut cuts = vec![Cut {
        start: 0,
        end: n,
        sse: whole.sse(),
    }];
    let mut buckets = vec![Moments::default(); BUCKETS];
    while cuts.len() < k {
        // The box with the largest error; ties go to the earlier box.
        let mut pick = None;
        for (i, c) in cuts.iter().enumerate() {
            if c.sse > 0.0 && c.end - c.start > 1 && pick.is_none_or(|p: usize| c.sse > cuts[p].sse) {
                pick = Some(i);
            }
        }
        let Some(pi) = pick else { break };
        let (start, end) = (cuts[pi].start, cuts[pi].end);
        let idx = &mut order[start..end];
        let total = moments(points, weights, idx);
        let axis = (0..4).fold(0, |best, c| {
            if total.channel_var(c) > total.channel_var(best) {
                c
            } else {
                best
            }
        });
        buckets.iter_mut().for_each(|b| *b = Moments::default());
        for &i in idx.iter() {
            let p = points[i as usize];
            buckets[p[axis] as usize].add(p, weights[i as usize]);
        }
        // Best threshold t: points with coordinate <= t go left.
        let mut left = Moments::default();
        let mut best: Option<(f64, usize)> = None;
        for (t, b) in buckets.iter().enumerate() {
            if b.w == 0.0 {
                continue;
            }
            left.w += b.w;
            for c in 0..4 {
                left.s[c] += b.s[c];
                left.q[c] += b.q[c];
            }
            let right = total.sub(&left);
            if right.w <= 0.0 {
                break;
            }
            let err = left.sse() + right.sse();
            if best.is_none_or(|(e, _)| err < e) {
                best = Some((err, t));
            }
        }
        let Some((_, t)) = best else {
            // Every point has the same coordinate on the widest axis: nothing left to split here.
            cuts[pi].sse = 0.0;
            continue;
        };
        let (lo, hi): (Vec<u32>, Vec<u32>) = idx
            .iter()
            .partition(|&&i| (points[i as usize][axis] as usize) <= t);
        let mid = start + lo.len();
        idx[..lo.len()].copy_from_slice(&lo);
        idx[lo.len()..].copy_from_slice(&hi);
        let sse_lo = moments(points, weights, &order[start..mid]).sse();
        let sse_hi = moments(points, weights, &order[mid..end]).sse();
        cuts[pi] = Cut {
            start,
            end: mid,
            sse: sse_lo,
        };
        cuts.push(Cut {
            start: mid,
            end,
            sse: sse_hi,
        });
    }
    cuts.iter()
        .map(|c| mean(points, weights, &order[c.start..c.end]))
        .collect()
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

fn dist2_int(p: [u16; 4], c: [u32; 4]) -> u64 {
    (0..4)
        .map(|i| {
            let d = p[i] as i64 - c[i] as i64;
            (d * d) as u64
        })
        .sum()
}

/// Up to `k` centroids by weighted k-means++ seeded by `seed`. Fewer come back only when there are
/// fewer than `k` distinct points.
pub fn kmeans_plus_plus(points: &[[u16; 4]], weights: &[u32], k: usize, seed: u64) -> Vec<[u32; 4]> {
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
    let to_c = |p: [u16; 4]| p.map(|v| v as u32);
    let mut centroids = vec![to_c(points[first])];
    let mut d: Vec<u64> = points.iter().map(|&p| dist2_int(p, centroids[0])).collect();
    while centroids.len() < k {
        let Some(next) = pick(&mut rng, &|i| weights[i] as u128 * d[i] as u128) else {
            break;
        };
        let c = to_c(points[next]);
        centroids.push(c);
        for (di, &p) in d.iter_mut().zip(points) {
            *di = (*di).min(dist2_int(p, c));
        }
    }
    centroids
}
