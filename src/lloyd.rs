//! The host's Lloyd loop, written once for every backend.
//!
//! Each iteration the backend assigns every point to its nearest centroid and returns integer
//! per-cluster sums ([`ClusterSum`]); the host divides them (rounding half up onto the integer
//! grid), refills empty clusters and checks convergence. Because the sums are exact integers and
//! the division happens here, the centroids, and so every later label, do not depend on the
//! backend.

use crate::cpu;
use crate::error::Result;
use crate::space::GRID_SCALE;

/// Integer sums for one cluster, as the assign kernel produces them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterSum {
    /// Total weight (pixels) assigned.
    pub count: u64,
    /// Weighted coordinate sums.
    pub sum: [u64; 4],
    /// Weighted squared distance to the centroid, in grid units squared.
    pub sse: u64,
}

impl ClusterSum {
    /// Adds one point of weight `w` at squared distance `d` from the centroid.
    #[inline]
    pub fn add_point(&mut self, w: u32, p: [u16; 4], d: u32) {
        let w = w as u64;
        self.count += w;
        for (s, &x) in self.sum.iter_mut().zip(&p) {
            *s += w * x as u64;
        }
        self.sse += w * d as u64;
    }

    /// Adds the per-cluster sums `b` into `a` (joining two tiles' partial sums).
    pub fn add_all(mut a: Vec<ClusterSum>, b: Vec<ClusterSum>) -> Vec<ClusterSum> {
        for (x, y) in a.iter_mut().zip(&b) {
            x.add(y);
        }
        a
    }

    /// Adds another partial sum.
    pub fn add(&mut self, o: &ClusterSum) {
        self.count += o.count;
        for c in 0..4 {
            self.sum[c] += o.sum[c];
        }
        self.sse += o.sse;
    }
}

/// The stages a backend implements; the loop around them is [`run`].
pub trait Backend {
    /// Sums per cluster for the given centroids (the assign kernel).
    fn assign(&mut self, centroids: &[[f32; 4]]) -> Result<Vec<ClusterSum>>;
    /// Nearest palette entry per point (the remap kernel).
    fn remap(&mut self, palette: &[[f32; 4]]) -> Result<Vec<u32>>;
}

/// `s / w` rounded half up; `w > 0`.
pub(crate) fn round_div(s: u64, w: u64) -> u32 {
    ((2 * s as u128 + w as u128) / (2 * w as u128)) as u32
}

pub(crate) fn to_f32(c: &[[u32; 4]]) -> Vec<[f32; 4]> {
    c.iter().map(|&c| cpu::common::to_f32(c)).collect()
}

/// What one run of the loop produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Final centroids on the integer grid.
    pub centroids: Vec<[u32; 4]>,
    /// Iterations run.
    pub iterations: u32,
    /// Whether the tolerance was met.
    pub converged: bool,
    /// Weighted squared error of each iteration's assignment, in grid units squared.
    pub sse: Vec<u64>,
}

/// Progress of the loop, passed to the caller's callback.
pub struct Step {
    /// 1-based iteration number.
    pub iteration: u32,
    /// Largest centroid move, in 8-bit levels.
    pub moved: f64,
    /// Weighted squared error of this iteration's assignment, in grid units squared.
    pub sse: u64,
}

/// Runs Lloyd's algorithm from `init` (centroids on the grid) until no centroid moves by more
/// than `tolerance` 8-bit levels, or `max_iter` iterations.
pub fn run(
    backend: &mut dyn Backend,
    points: &[[u16; 4]],
    weights: &[u32],
    init: Vec<[u32; 4]>,
    max_iter: u32,
    tolerance: f64,
    on_step: &mut dyn FnMut(Step),
) -> Result<Outcome> {
    let mut c = init;
    let mut history = Vec::new();
    let mut converged = false;
    let mut iterations = 0;
    let tol_grid = tolerance * GRID_SCALE as f64;
    while iterations < max_iter {
        let sums = backend.assign(&to_f32(&c))?;
        iterations += 1;
        let sse: u64 = sums.iter().map(|s| s.sse).sum();
        history.push(sse);
        let mut next = c.clone();
        let mut empty = Vec::new();
        for (j, s) in sums.iter().enumerate() {
            if s.count == 0 {
                empty.push(j);
            } else {
                next[j] = s.sum.map(|v| round_div(v, s.count));
            }
        }
        let refilled = !empty.is_empty() && refill(points, weights, &mut next, &empty);
        let moved = c
            .iter()
            .zip(&next)
            .map(|(a, b)| {
                (0..4)
                    .map(|i| {
                        let d = a[i] as f64 - b[i] as f64;
                        d * d
                    })
                    .sum::<f64>()
            })
            .fold(0.0f64, f64::max)
            .sqrt();
        c = next;
        on_step(Step {
            iteration: iterations,
            moved: moved / GRID_SCALE as f64,
            sse,
        });
        if !refilled && moved <= tol_grid {
            converged = true;
            break;
        }
    }
    Ok(Outcome {
        centroids: c,
        iterations,
        converged,
        sse: history,
    })
}

/// Moves each empty cluster onto the point that adds most to the error (weight times squared
/// distance to its nearest live centroid; ties to the lower point index), one distinct point per
/// empty cluster. Runs on the host with the CPU twin of the distance, so it is the same for every
/// backend. Returns whether any centroid moved.
fn refill(points: &[[u16; 4]], weights: &[u32], c: &mut [[u32; 4]], empty: &[usize]) -> bool {
    let live: Vec<[f32; 4]> = c
        .iter()
        .enumerate()
        .filter(|(j, _)| !empty.contains(j))
        .map(|(_, &c)| cpu::common::to_f32(c))
        .collect();
    if live.is_empty() {
        return false;
    }
    let mut scored: Vec<(u64, usize)> = points
        .iter()
        .zip(weights)
        .enumerate()
        .map(|(i, (&p, &w))| {
            let q = cpu::common::to_f32(cpu::common::point_coords(p));
            (w as u64 * cpu::common::nearest(q, &live).1 as u64, i)
        })
        .filter(|&(s, _)| s > 0)
        .collect();
    scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut moved = false;
    for (&j, &(_, i)) in empty.iter().zip(&scored) {
        c[j] = cpu::common::point_coords(points[i]);
        moved = true;
    }
    moved
}
