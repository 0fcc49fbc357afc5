// expand.wgsl: the last step of the remap stage on the GPU, one palette index per pixel.
// CPU twin: `src/cpu/expand.rs`. Pipeline field: `Pipelines::expand`.
//
// After `histogram.wgsl`, table[rgb] holds the index of the pixel's color among the distinct
// colors, and the host has uploaded each distinct color's final palette index (`labels`). Each
// invocation writes four consecutive pixels' indices as the four bytes of one word (pixel 4w in
// the low byte), so no two invocations write the same word. Only these bytes are read back.
// Integer loads, shifts and ors only: exact under any compiler (see `common.wgsl`).

// Twin: `gpu::layout::PixelParams` (16 bytes).
struct PixelParams {
    // Pixels in this chunk.
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> pp: PixelParams;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
// ceil(n / 4) words.
@group(0) @binding(4) var<storage, read_write> indices: array<u32>;

@compute @workgroup_size(WG_SIZE)
fn expand(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let w = wid.x * WG_SIZE + lid;
    let first = w * PIXEL_ITEMS;
    if (first >= pp.n) {
        return;
    }
    var word = 0u;
    for (var j = 0u; j < PIXEL_ITEMS; j = j + 1u) {
        let i = first + j;
        if (i < pp.n) {
            let label = labels[table[pixels[i] & 0xffffffu]];
            word = word | (label << (8u * j));
        }
    }
    indices[w] = word;
}
