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
