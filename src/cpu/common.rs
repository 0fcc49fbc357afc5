//! CPU twin of `shaders/common.wgsl`: point unpacking, the exact distance and the nearest
//! centroid with ties to the lower index.
#![allow(clippy::needless_range_loop)]

/// Twin of `point_coords`: the four integer coordinates of a point.
#[inline]
pub fn point_coords(p: [u16; 4]) -> [u32; 4] {
    [p[0] as u32, p[1] as u32, p[2] as u32, p[3] as u32]
}

/// Integer coordinates as f32 (exact: every value is at most 2040).
#[inline]
pub fn to_f32(q: [u32; 4]) -> [f32; 4] {
    [q[0] as f32, q[1] as f32, q[2] as f32, q[3] as f32]
}

/// Twin of `dist2`: squared Euclidean distance. Every intermediate is an integer below 2^24,
/// so the value is exact in any evaluation order, fused or not.
#[inline]
pub fn dist2(q: [f32; 4], c: [f32; 4]) -> f32 {
    let d = [q[0] - c[0], q[1] - c[1], q[2] - c[2], q[3] - c[3]];
    d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3]
}

/// Twin of `nearest`: (index, squared distance) of the nearest centroid; ties go to the lower index.
#[inline]
pub fn nearest(q: [f32; 4], centroids: &[[f32; 4]]) -> (u32, u32) {
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
