//! CPU twin of `shaders/expand.wgsl`: one palette index per pixel, through the histogram's table
//! (a pixel's 24-bit color to its color's index) and each color's final index. It is also what
//! the CPU backend runs, over the same tiles in parallel.

use super::histogram::key;
use crate::gpu::layout::PIXEL_TILE;
use rayon::prelude::*;

/// `labels[table[key(p)]]` for every pixel `p`.
pub(crate) fn expand(pixels: &[[u8; 4]], table: &[u32], labels: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; pixels.len()];
    // Sixteen workgroup tiles per task keeps the per-task overhead small.
    let group = PIXEL_TILE as usize * 16;
    out.par_chunks_mut(group)
        .zip(pixels.par_chunks(group))
        .for_each(|(o, p)| {
            for (o, &p) in o.iter_mut().zip(p) {
                *o = labels[table[key(p)] as usize];
            }
        });
    out
}
