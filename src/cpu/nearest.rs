//! An exact, faster nearest-centroid search for the CPU backend (no shader twin: the GPU runs the
//! brute-force `nearest` of `shaders/common.wgsl`, and this must return the same label).
//!
//! Each point starts from its label of the previous iteration, `a`, at squared distance `d_a`.
//! Any centroid `j` with `|c_a - c_j| > 2 |q - c_a|` is strictly farther from `q` than `c_a`
//! (triangle inequality), so walking `a`'s neighbors in order of distance can stop at the first
//! one with `|c_a - c_j|² > 4 d_a`. Every centroid at least as close as `c_a`, and so every tied
//! one, is visited; ties go to the lower index, as in the brute force. All arithmetic is on exact
//! integers.

use crate::lloyd::ClusterSum;
use rayon::prelude::*;

/// Squared distance between integer points.
#[inline]
fn d2(q: [i32; 4], c: [i32; 4]) -> u32 {
    let d = [q[0] - c[0], q[1] - c[1], q[2] - c[2], q[3] - c[3]];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]) as u32
}

/// For each centroid, the others sorted by distance (ties by index).
pub struct Neighbors {
    k: usize,
    centroids: Vec<[i32; 4]>,
    dist: Vec<u32>,
    order: Vec<u16>,
}

impl Neighbors {
    /// Builds the table for `centroids` (integer-valued f32, as the backends receive them).
    pub fn new(centroids: &[[f32; 4]]) -> Self {
        let c: Vec<[i32; 4]> = centroids.iter().map(|c| c.map(|v| v as i32)).collect();
        let k = c.len();
        let mut dist = Vec::with_capacity(k * k.saturating_sub(1));
        let mut order = Vec::with_capacity(k * k.saturating_sub(1));
        for a in 0..k {
            let mut row: Vec<(u32, u16)> = (0..k)
                .filter(|&j| j != a)
                .map(|j| (d2(c[a], c[j]), j as u16))
                .collect();
            row.sort_unstable();
            dist.extend(row.iter().map(|r| r.0));
            order.extend(row.iter().map(|r| r.1));
        }
        Neighbors {
            k,
            centroids: c,
            dist,
            order,
        }
    }

    /// Brute force: (label, squared distance), ties to the lower index.
    #[inline]
    pub fn brute(&self, q: [i32; 4]) -> (usize, u32) {
        let mut best = (0, d2(q, self.centroids[0]));
        for (j, &c) in self.centroids.iter().enumerate().skip(1) {
            let d = d2(q, c);
            if d < best.1 {
                best = (j, d);
            }
        }
        best
    }

    /// The nearest centroid to `q`, starting the search from centroid `start`.
    #[inline]
    pub fn from(&self, q: [i32; 4], start: usize) -> (usize, u32) {
        if start >= self.k {
            return self.brute(q);
        }
        let da = d2(q, self.centroids[start]);
        let limit = 4 * da as u64;
        let row = start * (self.k - 1);
        let mut best = (start, da);
        for idx in row..row + self.k - 1 {
            if self.dist[idx] as u64 > limit {
                break;
            }
            let j = self.order[idx] as usize;
            let d = d2(q, self.centroids[j]);
            if d < best.1 || (d == best.1 && j < best.0) {
                best = (j, d);
            }
        }
        best
    }
}

#[inline]
fn coords(p: [u16; 4]) -> [i32; 4] {
    p.map(|v| v as i32)
}

/// The assign stage (labels and integer sums), equal to `assign::assign`, using and updating
/// `labels` (one per point; `u16::MAX` for "none yet").
pub fn assign(
    points: &[[u16; 4]],
    weights: &[u32],
    centroids: &[[f32; 4]],
    labels: &mut [u16],
) -> Vec<ClusterSum> {
    let nb = Neighbors::new(centroids);
    let k = centroids.len();
    const BLOCK: usize = 16 * 1024;
    points
        .par_chunks(BLOCK)
        .zip(weights.par_chunks(BLOCK))
        .zip(labels.par_chunks_mut(BLOCK))
        .fold(
            || vec![ClusterSum::default(); k],
            |mut acc, ((p, w), l)| {
                for ((&p, &w), l) in p.iter().zip(w).zip(l.iter_mut()) {
                    let q = coords(p);
                    let (j, d) = nb.from(q, *l as usize);
                    *l = j as u16;
                    acc[j].add_point(w, p, d);
                }
                acc
            },
        )
        .reduce(|| vec![ClusterSum::default(); k], ClusterSum::add_all)
}

/// The remap stage, equal to `remap::remap`, starting each search from `start[i]` when given.
pub fn remap(points: &[[u16; 4]], palette: &[[f32; 4]], start: Option<&[u16]>) -> Vec<u32> {
    let nb = Neighbors::new(palette);
    match start {
        Some(s) => points
            .par_iter()
            .zip(s)
            .map(|(&p, &s)| nb.from(coords(p), s as usize).0 as u32)
            .collect(),
        None => points.par_iter().map(|&p| nb.brute(coords(p)).0 as u32).collect(),
    }
}
