// common.wgsl: declarations and helpers shared by every kmquant kernel.
// It is prepended to assign.wgsl and remap.wgsl when the shader modules are built, after the
// constants (MAX_K, WG_SIZE, ...) generated from `src/gpu/layout.rs` (see `src/gpu/pipelines.rs`).
// CPU twin: `src/cpu/common.rs`.
//
// The exactness contract (see `src/lib.rs`): point and centroid coordinates are integers in
// [0, 2040] held in f32, so every difference is an integer in [-2040, 2040], every square is below
// 2^22 and the sum of four squares is below 2^24. Every intermediate is exactly representable in
// f32, so the distance is the same whether or not the device fuses multiply-adds.

// Twin: `gpu::layout::Params` (16 bytes).
struct Params {
    // Number of points in this chunk.
    n_points: u32,
    // Number of live centroids (1..=MAX_K).
    k: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Twin: `gpu::layout::Centroids` (MAX_K x vec4<f32>). Only the first `params.k` are read.
@group(0) @binding(1) var<uniform> centroids: array<vec4<f32>, MAX_K>;
// One point per entry: four u16 coordinates, packed little-endian as two u32 (x | y << 16, z | w << 16).
@group(0) @binding(2) var<storage, read> points: array<vec2<u32>>;

fn point_coords(i: u32) -> vec4<u32> {
    let p = points[i];
    return vec4<u32>(p.x & 0xffffu, p.x >> 16u, p.y & 0xffffu, p.y >> 16u);
}

// Squared Euclidean distance; exact (see above).
fn dist2(q: vec4<f32>, c: vec4<f32>) -> f32 {
    let d = q - c;
    return dot(d, d);
}

// Index of the nearest centroid and its squared distance. Ties go to the lower index
// because only a strictly smaller distance replaces the best so far.
fn nearest(q: vec4<f32>) -> vec2<u32> {
    var best = 0u;
    var best_d = dist2(q, centroids[0]);
    for (var j = 1u; j < params.k; j = j + 1u) {
        let d = dist2(q, centroids[j]);
        if (d < best_d) {
            best_d = d;
            best = j;
        }
    }
    return vec2<u32>(best, u32(best_d));
}
