//! CPU twin of `shaders/assign.wgsl`: label every point with its nearest centroid and add its
//! weight, weighted coordinates and weighted squared distance to that cluster's sums.
#![allow(clippy::needless_range_loop)]

use super::common::{nearest, point_coords, to_f32};
use crate::lloyd::ClusterSum;
use rayon::prelude::*;

/// Invocations per workgroup (`WG_SIZE` in the shader).
pub const WG_SIZE: usize = 256;
/// Points per invocation (`ITEMS` in the shader).
pub const ITEMS: usize = 4;
/// Points per workgroup tile.
pub const TILE: usize = WG_SIZE * ITEMS;

/// One workgroup's tile: accumulate into `acc` (the shader's `acc`, in u64 instead of word pairs).
pub fn assign_tile(points: &[[u16; 4]], weights: &[u32], centroids: &[[f32; 4]], acc: &mut [ClusterSum]) {
    for i in 0..points.len() {
        let qi = point_coords(points[i]);
        let q = to_f32(qi);
        let (label, d) = nearest(q, centroids);
        acc[label as usize].add_point(weights[i], points[i], d);
    }
}

/// The whole dispatch: every tile, then the tiles' sums added together (the shader's flush).
pub fn assign(points: &[[u16; 4]], weights: &[u32], centroids: &[[f32; 4]]) -> Vec<ClusterSum> {
    let k = centroids.len();
    points
        .par_chunks(TILE * 16)
        .zip(weights.par_chunks(TILE * 16))
        .fold(
            || vec![ClusterSum::default(); k],
            |mut acc, (p, w)| {
                assign_tile(p, w, centroids, &mut acc);
                acc
            },
        )
        .reduce(|| vec![ClusterSum::default(); k], ClusterSum::add_all)
}
