//! CPU twin of `shaders/histogram.wgsl`: count every 24-bit color in a table of `TABLE_LEN`
//! entries, count the distinct colors per block, turn the block counts into offsets, and list
//! each block's colors in ascending order at its offset, leaving in the table each color's index.
//!
//! The compaction steps ([`blocks`], [`scan`], [`compact`]) are what the CPU histogram runs too,
//! in parallel over the same blocks. For counting, the CPU fills the same table as the shader's
//! atomic adds ([`count`]) without atomics, which cost four times a plain increment: one pass of
//! plain increments ([`count_direct`], 1.3 ns a pixel) on up to three threads, and above that a
//! partitioned count that spreads over every core ([`count_partitioned`], twice the work per
//! pixel). Counts are exact integers, so the choice cannot change the table; the tests in
//! `src/cpu/tests.rs` check all three against each other.
#![allow(clippy::needless_range_loop)]

use crate::gpu::layout::{Summary, BLOCK_ITEMS, BLOCK_LEN, N_BLOCKS, PIXEL_TILE, TABLE_LEN};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// The 24-bit key of a pixel, as the shader's `p & 0xffffff`: `r | g << 8 | b << 16`.
#[inline]
pub(crate) fn key(p: [u8; 4]) -> usize {
    u32::from_le_bytes([p[0], p[1], p[2], 0]) as usize
}

/// Twin of `hist_count`: adds 1 to `table[key]` for every pixel, one workgroup tile at a time;
/// returns whether some pixel is not opaque (the shader's `flags[0]`). The tests hold the CPU's
/// [`count_partitioned`] to it.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn count(pixels: &[[u8; 4]], table: &[AtomicU32]) -> bool {
    pixels
        .par_chunks(PIXEL_TILE as usize)
        .map(|tile| {
            let mut translucent = false;
            for i in 0..tile.len() {
                let p = tile[i];
                if p[3] != 255 {
                    translucent = true;
                }
                table[key(p)].fetch_add(1, Ordering::Relaxed);
            }
            translucent
        })
        .reduce(|| false, |a, b| a || b)
}

/// The table of [`count`] in one pass of plain increments. Returns whether some pixel is not
/// opaque, in which case the table is incomplete.
pub(crate) fn count_direct(pixels: &[[u8; 4]], table: &mut [u32]) -> bool {
    let mut opaque = true;
    for &p in pixels {
        opaque &= p[3] == 255;
        table[key(p)] += 1;
    }
    !opaque
}

/// Pixels per partitioning task in [`count_partitioned`].
const PART: usize = 1 << 18;

/// The table of [`count`], spread over every core without atomics: pixels are first partitioned
/// by their blue byte (the top byte of the key), then each partition counts into its own
/// 65,536-entry slice of the table (256 KiB, which stays in cache), partitions in parallel.
/// Returns whether some pixel is not opaque, in which case the table is left empty.
pub(crate) fn count_partitioned(pixels: &[[u8; 4]], table: &mut [u32]) -> bool {
    // Per task: how many pixels fall in each partition, and whether any is translucent.
    let sizes: Vec<([u32; 256], bool)> = pixels
        .par_chunks(PART)
        .map(|c| {
            let mut n = [0u32; 256];
            let mut opaque = true;
            for p in c {
                n[p[2] as usize] += 1;
                opaque &= p[3] == 255;
            }
            (n, !opaque)
        })
        .collect();
    if sizes.iter().any(|s| s.1) {
        return true;
    }
    // Partition b holds, in task order, every task's pixels with blue byte b. Hand each task
    // its 256 regions, cut from `keys` in memory order.
    let tasks = sizes.len();
    let mut keys = vec![0u16; pixels.len()];
    let mut regions: Vec<Vec<&mut [u16]>> = (0..tasks).map(|_| Vec::with_capacity(256)).collect();
    let mut bounds = [0usize; 257];
    let mut rest = keys.as_mut_slice();
    for b in 0..256 {
        bounds[b + 1] = bounds[b];
        for t in 0..tasks {
            let (head, tail) = rest.split_at_mut(sizes[t].0[b] as usize);
            bounds[b + 1] += head.len();
            regions[t].push(head);
            rest = tail;
        }
    }
    // Scatter the low 16 bits of each key (g << 8 | r) into its partition.
    pixels.par_chunks(PART).zip(regions).for_each(|(c, dst)| {
        let mut slots: Vec<std::slice::IterMut<u16>> = dst.into_iter().map(|d| d.iter_mut()).collect();
        for p in c {
            if let Some(slot) = slots[p[2] as usize].next() {
                *slot = u16::from_le_bytes([p[0], p[1]]);
            }
        }
    });
    table.par_chunks_mut(1 << 16).enumerate().for_each(|(b, slice)| {
        for &k in &keys[bounds[b]..bounds[b + 1]] {
            slice[k as usize] += 1;
        }
    });
    false
}

/// Twin of `entries_used`: distinct colors in one invocation's `BLOCK_ITEMS` entries.
fn entries_used(entries: &[u32]) -> u32 {
    entries.iter().filter(|&&c| c != 0).count() as u32
}

/// Twin of `hist_blocks`: distinct colors per block of `BLOCK_LEN` entries.
pub(crate) fn blocks(table: &[u32]) -> Vec<u32> {
    table
        .par_chunks(BLOCK_LEN as usize)
        .map(|block| block.chunks(BLOCK_ITEMS as usize).map(entries_used).sum())
        .collect()
}

/// Twin of `hist_scan`: block counts to exclusive offsets; returns the total.
pub(crate) fn scan(blocks: &mut [u32]) -> u32 {
    let mut offset = 0;
    for b in blocks.iter_mut() {
        let c = *b;
        *b = offset;
        offset += c;
    }
    offset
}

/// Twin of `hist_compact`: every block lists its colors (key, count) in ascending order at its
/// offset in `summary` (of length `total`), and each table entry becomes its color's index.
pub(crate) fn compact(table: &mut [u32], offsets: &[u32], summary: &mut [(u32, u32)]) {
    // Split the summary at the block offsets, so that every block writes its own part.
    let mut parts = Vec::with_capacity(N_BLOCKS as usize);
    let mut rest = summary;
    for b in 0..N_BLOCKS as usize {
        let end = offsets
            .get(b + 1)
            .map_or(rest.len(), |&o| (o - offsets[b]) as usize);
        let (part, tail) = rest.split_at_mut(end);
        parts.push(part);
        rest = tail;
    }
    table
        .par_chunks_mut(BLOCK_LEN as usize)
        .zip(parts)
        .zip(offsets.par_iter())
        .enumerate()
        .for_each(|(b, ((block, part), &offset))| {
            let mut next = 0usize;
            for (j, slot) in block.iter_mut().enumerate() {
                if *slot != 0 {
                    part[next] = ((b * BLOCK_LEN as usize + j) as u32, *slot);
                    *slot = offset + next as u32;
                    next += 1;
                }
            }
        });
}

/// The opaque-image histogram the CPU backend computes: the counts of [`count_direct`] or
/// [`count_partitioned`], then the compaction twins. Returns None when some pixel is not opaque. Colors ascend by key.
pub(crate) fn opaque(pixels: &[[u8; 4]]) -> Option<(Vec<u32>, Summary)> {
    let mut table = vec![0u32; TABLE_LEN as usize];
    let translucent = if rayon::current_num_threads() >= 4 {
        count_partitioned(pixels, &mut table)
    } else {
        count_direct(pixels, &mut table)
    };
    if translucent {
        return None;
    }
    Some(compacted(table))
}

/// The compaction twins over a full count `table`: each entry becomes its color's index; the
/// (key, count) list in key order.
pub(crate) fn compacted(mut table: Vec<u32>) -> (Vec<u32>, Summary) {
    let mut offsets = blocks(&table);
    let total = scan(&mut offsets);
    let mut summary = vec![(0u32, 0u32); total as usize];
    compact(&mut table, &offsets, &mut summary);
    (table, summary)
}
