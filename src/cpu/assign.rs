//! CPU twin of `shaders/assign.wgsl`: label every point with its nearest centroid and add its
//! weight, weighted coordinates and weighted squared distance to that cluster's sums.
//!
//! The shader's workgroup takes a tile of `ASSIGN_TILE` points and flushes its partial sums into
//! the global sums; here rayon takes groups of tiles and the partial sums are added at the end.
//! Every sum is an integer, so neither split can change a total.
#![allow(clippy::needless_range_loop)]

use super::Search;
use crate::backend::ClusterSum;
use crate::gpu::layout::ASSIGN_TILE;
use crate::grid::Point;
use rayon::prelude::*;

/// One workgroup's tile: each point's nearest centroid (starting from its previous label, which
/// is updated), accumulated into `acc` (the shader's `acc`, in u64 instead of word pairs).
pub(crate) fn assign_tile(
    points: &[Point],
    weights: &[u32],
    labels: &mut [u16],
    search: &impl Search,
    acc: &mut [ClusterSum],
) {
    for i in 0..points.len() {
        let (label, d) = search.nearest(points[i], labels[i]);
        labels[i] = label;
        acc[label as usize].add_point(weights[i], points[i], d);
    }
}

/// The whole dispatch: every tile, then the tiles' sums added together (the shader's flush).
pub(crate) fn assign(
    points: &[Point],
    weights: &[u32],
    labels: &mut [u16],
    search: &impl Search,
) -> Vec<ClusterSum> {
    let k = search.k();
    // Sixteen workgroup tiles per rayon task keeps the per-task overhead small.
    let group = ASSIGN_TILE as usize * 16;
    points
        .par_chunks(group)
        .zip(weights.par_chunks(group))
        .zip(labels.par_chunks_mut(group))
        .fold(
            || vec![ClusterSum::default(); k],
            |mut acc, ((p, w), l)| {
                assign_tile(p, w, l, search, &mut acc);
                acc
            },
        )
        .reduce(|| vec![ClusterSum::default(); k], ClusterSum::add_all)
}
