//! The cluster stage: Lloyd's algorithm over the unique colors, written once for every backend,
//! then each unique color's nearest palette entry.
//!
//! Each iteration the backend assigns every point to its nearest centroid and returns integer
//! per-cluster sums (`shaders/assign.wgsl` on the GPU, `src/cpu/assign.rs` on the CPU); the host
//! divides them (rounding half up onto the grid), refills empty clusters and checks convergence.
//! Because the sums are exact integers and the division happens here, the centroids, and so every
//! later label, do not depend on the backend. After the loop, the centroids become palette colors
//! and the backend's remap kernel (`shaders/remap.wgsl`, `src/cpu/remap.rs`) labels every unique
//! color.
//!
//! The GPU runs first when the quantizer has a device; if it fails under `--backend auto`, the
//! whole stage runs again on the CPU, with a warning, and gives the same result.

use crate::backend::{Backend, BackendUsed, ClusterSum};
use crate::cpu::CpuBackend;
use crate::error::Result;
use crate::gpu::{GpuBackend, GpuContext};
use crate::grid::{nearest, round_div, Point, GRID_SCALE};
use crate::options::Options;
use crate::quantized::Timings;
use crate::seed::Seeds;
use crate::space::ColorSpace;
use std::time::Instant;

/// What k-means works on for one palette size: the weighted points, and how many clusters.
pub(crate) struct Problem<'a> {
    /// The points to cluster (unique colors in the clustering space).
    pub points: &'a [Point],
    /// Pixels per point.
    pub weights: &'a [u32],
    /// The clustering space, to turn centroids into colors.
    pub space: ColorSpace,
}

/// What the cluster stage hands the remap stage.
pub(crate) struct Clustered {
    /// Distinct palette colors, in centroid order.
    pub palette: Vec<[u8; 4]>,
    /// The palette entry of every point of the problem.
    pub labels: Vec<u8>,
    /// Lloyd iterations run.
    pub iterations: u32,
    /// Whether the tolerance was met.
    pub converged: bool,
    /// Weighted squared error of each iteration's assignment, in grid units squared.
    pub sse: Vec<u64>,
    /// The backend that ran.
    pub backend: BackendUsed,
    /// Fallback warnings.
    pub warnings: Vec<String>,
}

/// Progress of the loop, passed to the caller's callback.
pub(crate) struct Step {
    /// 1-based iteration number.
    pub iteration: u32,
    /// Largest centroid move, in 8-bit levels.
    pub moved: f64,
    /// Weighted squared error of this iteration's assignment, in grid units squared.
    pub sse: u64,
}

/// The stage for an image with at most K colors: its own colors are the palette, on every
/// backend, and nothing is clustered.
pub(crate) fn exact(colors: &[[u8; 4]]) -> Clustered {
    Clustered {
        palette: colors.to_vec(),
        labels: (0..colors.len()).map(|i| i as u8).collect(),
        iterations: 0,
        converged: true,
        sse: Vec::new(),
        backend: BackendUsed {
            chunks: 0,
            ..BackendUsed::cpu()
        },
        warnings: Vec::new(),
    }
}

/// Runs the stage on the GPU when `gpu` is given (falling back to the CPU when it fails and
/// `fall_back` allows), else on the CPU, from the initial centroids `init`. Records the `setup`,
/// `kmeans` and `remap` times.
pub(crate) fn cluster(
    gpu: Option<&GpuContext>,
    fall_back: bool,
    problem: &Problem<'_>,
    init: &Seeds,
    opts: &Options,
    timings: &mut Timings,
    on_step: &mut dyn FnMut(Step),
) -> Result<Clustered> {
    let mut warnings = Vec::new();
    if let Some(ctx) = gpu {
        let t = Instant::now();
        let attempt =
            GpuBackend::new(ctx, problem.points, problem.weights, opts.gpu_chunk_points).and_then(|mut b| {
                timings.setup = t.elapsed();
                let chunks = b.chunks();
                run_on(&mut b, problem, &init.centroids, opts, timings, on_step).map(|c| (c, chunks))
            });
        match attempt {
            Ok((mut c, chunks)) => {
                c.backend = ctx.used(chunks);
                return Ok(c);
            }
            Err(e) if fall_back => {
                warnings.push(format!("{e}; falling back to the CPU"));
            }
            Err(e) => return Err(e),
        }
    }
    let mut cpu = CpuBackend::new(problem.points, problem.weights);
    if let Some(hints) = &init.hints {
        cpu.start_from(hints, init.centroids.len());
    }
    let mut c = run_on(&mut cpu, problem, &init.centroids, opts, timings, on_step)?;
    c.warnings = warnings;
    Ok(c)
}

/// Lloyd, then the palette and the remap, on one backend.
fn run_on(
    backend: &mut dyn Backend,
    problem: &Problem<'_>,
    init: &[Point],
    opts: &Options,
    timings: &mut Timings,
    on_step: &mut dyn FnMut(Step),
) -> Result<Clustered> {
    let t = Instant::now();
    let out = lloyd(backend, problem, init.to_vec(), opts, on_step)?;
    timings.kmeans = t.elapsed();
    let t = Instant::now();
    let mut palette: Vec<[u8; 4]> = Vec::with_capacity(out.centroids.len());
    for &c in &out.centroids {
        let color = problem.space.to_color(c);
        // Centroids that round to the same color share one entry.
        if !palette.contains(&color) {
            palette.push(color);
        }
    }
    let points: Vec<Point> = palette.iter().map(|&c| problem.space.to_point(c)).collect();
    let labels = backend.remap(&points)?;
    timings.remap = t.elapsed();
    Ok(Clustered {
        palette,
        labels,
        iterations: out.iterations,
        converged: out.converged,
        sse: out.sse,
        backend: BackendUsed::cpu(),
        warnings: Vec::new(),
    })
}

/// What one run of the Lloyd loop produced.
pub(crate) struct Outcome {
    /// Final centroids.
    pub centroids: Vec<Point>,
    /// Iterations run.
    pub iterations: u32,
    /// Whether the tolerance was met.
    pub converged: bool,
    /// Weighted squared error of each iteration's assignment, in grid units squared.
    pub sse: Vec<u64>,
}

/// Runs Lloyd's algorithm from `init` until no centroid moves by more than the tolerance (in
/// 8-bit levels), or the iteration cap.
pub(crate) fn lloyd(
    backend: &mut dyn Backend,
    problem: &Problem<'_>,
    init: Vec<Point>,
    opts: &Options,
    on_step: &mut dyn FnMut(Step),
) -> Result<Outcome> {
    let mut c = init;
    let mut history = Vec::new();
    let mut converged = false;
    let mut iterations = 0;
    let tol_grid = opts.tolerance * GRID_SCALE as f64;
    while iterations < opts.max_iter {
        let sums = backend.assign(&c)?;
        iterations += 1;
        let sse: u64 = sums.iter().map(|s| s.sse).sum();
        history.push(sse);
        let (next, refilled) = update(problem, &c, &sums);
        let moved = largest_move(&c, &next);
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

/// The next centroids: each cluster's rounded weighted mean, and empty clusters refilled.
/// Returns whether any cluster was refilled.
fn update(problem: &Problem<'_>, c: &[Point], sums: &[ClusterSum]) -> (Vec<Point>, bool) {
    let mut next = c.to_vec();
    let mut empty = Vec::new();
    for (j, s) in sums.iter().enumerate() {
        if s.count == 0 {
            empty.push(j);
        } else {
            next[j] = Point(s.sum.map(|v| round_div(v, s.count)));
        }
    }
    let refilled = !empty.is_empty() && refill(problem, &mut next, &empty);
    (next, refilled)
}

/// The largest Euclidean move of any centroid, in grid units.
fn largest_move(a: &[Point], b: &[Point]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(a, b)| a.dist2(*b) as f64)
        .fold(0.0f64, f64::max)
        .sqrt()
}

/// Moves each empty cluster onto the point that adds most to the error (weight times squared
/// distance to its nearest live centroid; ties to the lower point index), one distinct point per
/// empty cluster. Runs on the host, the same for every backend. Returns whether any centroid
/// moved.
fn refill(problem: &Problem<'_>, c: &mut [Point], empty: &[usize]) -> bool {
    let live: Vec<Point> = c
        .iter()
        .enumerate()
        .filter(|(j, _)| !empty.contains(j))
        .map(|(_, &c)| c)
        .collect();
    if live.is_empty() {
        return false;
    }
    let mut scored: Vec<(u64, usize)> = problem
        .points
        .iter()
        .zip(problem.weights)
        .enumerate()
        .map(|(i, (&p, &w))| (w as u64 * nearest(p, &live).1 as u64, i))
        .filter(|&(s, _)| s > 0)
        .collect();
    scored.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut moved = false;
    for (&j, &(_, i)) in empty.iter().zip(&scored) {
        c[j] = problem.points[i];
        moved = true;
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{brute_sums, random_points, Rng};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Against an independent brute force: the objective never increases, and at the fixed
        /// point every centroid is the rounded mean of its brute-force members.
        #[test]
        fn lloyd_objective_never_increases_and_converges_to_rounded_means(
            seed in 1u64..u64::MAX, n in 2usize..400, k in 1usize..24,
        ) {
            let mut rng = Rng(seed);
            let (points, weights) = random_points(&mut rng, n, 120);
            let problem = Problem { points: &points, weights: &weights, space: ColorSpace::Srgb };
            let init = crate::seed::kmeans_plus_plus(&points, &weights, k, seed);
            let mut backend = CpuBackend::new(&points, &weights);
            let opts = Options::new(k as u32).unwrap().with_max_iter(500).unwrap().with_tolerance(0.0).unwrap();
            let out = lloyd(&mut backend, &problem, init, &opts, &mut |_| {}).unwrap();
            for w in out.sse.windows(2) {
                prop_assert!(w[1] <= w[0], "objective rose: {:?}", out.sse);
            }
            prop_assert!(out.converged, "500 iterations must reach a fixed point on {} points", n);
            let sums = brute_sums(&points, &weights, &out.centroids);
            for (c, s) in out.centroids.iter().zip(&sums) {
                if s.count > 0 {
                    let mean = s.sum.map(|v| ((2 * v + s.count) / (2 * s.count)) as u16);
                    prop_assert_eq!(c.0, mean);
                }
            }
            // The last recorded objective is the brute-force error of the final assignment.
            prop_assert_eq!(*out.sse.last().unwrap(), sums.iter().map(|s| s.sse).sum::<u64>());
        }
    }

    #[test]
    fn empty_clusters_are_refilled_with_the_worst_served_points() {
        // Two tight groups and three centroids, one of them far from everything.
        let points: Vec<Point> = [
            [0u16, 0, 0, 2040],
            [8, 0, 0, 2040],
            [2000, 0, 0, 2040],
            [2040, 0, 0, 2040],
        ]
        .map(Point)
        .to_vec();
        let weights = vec![1, 1, 1, 5];
        let problem = Problem {
            points: &points,
            weights: &weights,
            space: ColorSpace::Srgb,
        };
        let init = vec![
            Point([0, 0, 0, 2040]),
            Point([2020, 0, 0, 2040]),
            Point([0, 2040, 2040, 0]),
        ];
        let mut b = CpuBackend::new(&points, &weights);
        let sums = b.assign(&init).unwrap();
        assert_eq!(sums[2].count, 0, "the far centroid starts empty");
        let (next, refilled) = update(&problem, &init, &sums);
        assert!(refilled);
        // Cluster 1's new mean is 2033. Point 2, 33 units from it, adds 1089 to the error and
        // outweighs point 3 (weight 5, 7 units away: 245), so the empty cluster moves onto it.
        assert_eq!(next[1], Point([2033, 0, 0, 2040]));
        assert_eq!(next[2], points[2], "{next:?}");
    }
}
