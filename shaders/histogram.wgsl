// histogram.wgsl: the histogram stage on the GPU, four entry points run in order.
// CPU twin: `src/cpu/histogram.rs`. Pipeline fields: `Pipelines::hist_count`, `hist_blocks`,
// `hist_scan`, `hist_compact`. Constants come from `src/gpu/layout.rs`.
//
//   hist_count    every pixel adds 1 to table[rgb] (the 2^24-entry count table), and flags[0]
//                 records whether some pixel is not opaque (the host then uses the CPU path);
//   hist_blocks   the number of distinct colors in each block of BLOCK_LEN table entries;
//   hist_scan     one workgroup turns the N_BLOCKS block counts into exclusive offsets, and
//                 writes the total, the number of distinct colors, to flags[1];
//   hist_compact  each block lists its colors in ascending order at its offset, as
//                 summary[i] = (rgb, count), and replaces table[rgb] by i.
//
// So colors come out in ascending order of r | g << 8 | b << 16, the order of the CPU histogram,
// and the table becomes the map from a pixel to its color's index that `expand.wgsl` reads.
// Everything is integer: atomic adds of 1 in any order give the same counts, and each block's
// offset is a sum of integers, so the result cannot depend on scheduling or on the compiler
// (no floating point at all; see `common.wgsl`).

// Twin: `gpu::layout::PixelParams` (16 bytes).
struct PixelParams {
    // Pixels in this chunk.
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> pp: PixelParams;
// One pixel per word, RGBA8 little-endian: r | g << 8 | b << 16 | a << 24.
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
// TABLE_LEN words: counts, then (after hist_compact) indices into summary.
@group(0) @binding(2) var<storage, read_write> table: array<atomic<u32>>;
// [0]: 1 when some pixel has alpha below 255; [1]: number of distinct colors.
@group(0) @binding(3) var<storage, read_write> flags: array<atomic<u32>>;
// N_BLOCKS words: distinct colors per block, then their exclusive prefix sums.
@group(0) @binding(4) var<storage, read_write> blocks: array<u32>;
// (rgb, count) per distinct color, ascending.
@group(0) @binding(5) var<storage, read_write> summary: array<vec2<u32>>;

var<workgroup> wg_count: atomic<u32>;
var<workgroup> wg_scan: array<u32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn hist_count(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let base = wid.x * WG_SIZE * PIXEL_ITEMS;
    for (var s = 0u; s < PIXEL_ITEMS; s = s + 1u) {
        let i = base + s * WG_SIZE + lid;
        if (i < pp.n) {
            let p = pixels[i];
            if ((p >> 24u) != 255u) {
                atomicOr(&flags[0], 1u);
            }
            atomicAdd(&table[p & 0xffffffu], 1u);
        }
    }
}

// Distinct colors among this invocation's BLOCK_ITEMS consecutive entries of block `block`.
fn entries_used(block: u32, lid: u32) -> u32 {
    let start = block * BLOCK_LEN + lid * BLOCK_ITEMS;
    var used = 0u;
    for (var j = 0u; j < BLOCK_ITEMS; j = j + 1u) {
        if (atomicLoad(&table[start + j]) != 0u) {
            used = used + 1u;
        }
    }
    return used;
}

@compute @workgroup_size(WG_SIZE)
fn hist_blocks(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    if (lid == 0u) {
        atomicStore(&wg_count, 0u);
    }
    workgroupBarrier();
    atomicAdd(&wg_count, entries_used(wid.x, lid));
    workgroupBarrier();
    if (lid == 0u) {
        blocks[wid.x] = atomicLoad(&wg_count);
    }
}

// Exclusive prefix sum of `v` over the workgroup. One invocation adds the WG_SIZE values in
// order, which costs nothing next to the memory traffic and keeps every barrier at the top level.
// Every invocation must call it, from the top level of its entry point: it holds barriers.
fn workgroup_exclusive_scan(lid: u32, v: u32) -> u32 {
    wg_scan[lid] = v;
    workgroupBarrier();
    if (lid == 0u) {
        var sum = 0u;
        for (var j = 0u; j < WG_SIZE; j = j + 1u) {
            let x = wg_scan[j];
            wg_scan[j] = sum;
            sum = sum + x;
        }
    }
    workgroupBarrier();
    return wg_scan[lid];
}

@compute @workgroup_size(WG_SIZE)
fn hist_scan(@builtin(local_invocation_index) lid: u32) {
    // N_BLOCKS = WG_SIZE * SCAN_ITEMS: each invocation owns SCAN_ITEMS consecutive blocks.
    let first = lid * SCAN_ITEMS;
    var mine = 0u;
    for (var j = 0u; j < SCAN_ITEMS; j = j + 1u) {
        mine = mine + blocks[first + j];
    }
    var offset = workgroup_exclusive_scan(lid, mine);
    for (var j = 0u; j < SCAN_ITEMS; j = j + 1u) {
        let c = blocks[first + j];
        blocks[first + j] = offset;
        offset = offset + c;
    }
    if (lid == WG_SIZE - 1u) {
        atomicStore(&flags[1], offset);
    }
}

@compute @workgroup_size(WG_SIZE)
fn hist_compact(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    var next = blocks[wid.x] + workgroup_exclusive_scan(lid, entries_used(wid.x, lid));
    let start = wid.x * BLOCK_LEN + lid * BLOCK_ITEMS;
    for (var j = 0u; j < BLOCK_ITEMS; j = j + 1u) {
        let rgb = start + j;
        let count = atomicLoad(&table[rgb]);
        if (count != 0u) {
            summary[next] = vec2<u32>(rgb, count);
            atomicStore(&table[rgb], next);
            next = next + 1u;
        }
    }
}
