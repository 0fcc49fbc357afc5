// common.wgsl: declarations and helpers shared by every kmquant kernel.
// It is prepended to assign.wgsl and remap.wgsl when the shader modules are built, after the
// constants (MAX_K, WG_SIZE, ...) generated from `src/gpu/layout.rs` (see `src/gpu/pipelines.rs`).
// CPU twin: `src/cpu/common.rs`.
//
// Exact under any shader compiler. Metal compiles with fast math by default, HLSL compilers and
// GPU drivers may contract `a * b + c` into one FMA and reorder sums; the kernels' results are
// the same under all of these, for the following reasons.
// - assign and remap (this file's `dist2` and `nearest`): point and centroid coordinates are
//   integers in [0, 2040] (the grid, `src/grid.rs`; the host rounds every centroid onto it). The
//   u32 -> f32 conversion of such a value is exact. Every difference q - c is an integer in
//   [-2040, 2040], every square an integer below 2^22, and any sum of up to four squares an
//   integer at most 4 * 2040^2 = 16,646,400 < 2^24. f32 holds every integer below 2^24 exactly,
//   so each operation's exact result is representable and no rounding happens anywhere: a fused
//   multiply-add, a separate multiply and add, and any order or grouping of the four terms give
//   the same value, the exact integer.
// - Fast math's other licences change nothing either: no value is a NaN, an infinity or a
//   denormal (all are finite integers), the sign of a zero does not change a comparison or the
//   u32 conversion, and no kernel divides or calls a transcendental function, so approximate
//   reciprocals and functions never come into play. The comparison `d < best_d` compares exact
//   values, and `u32(best_d)` converts an exact integer below 2^24.
// - assign's sums, the histogram and expand are integer arithmetic only (u32 with wrapping
//   multiplication and explicit carries, atomic adds), which every API defines exactly and
//   which no compiler may reassociate into a different result: integer addition is associative.
// The argument covers rewrites of how an expression is evaluated. A change of formula, such as
// expanding (q - c)^2 into q^2 - 2qc + c^2 (whose sums pass 2^24), is not one of the rewrites
// above, and the argument does not cover it. The CPU twin's tests (`src/cpu/common.rs`,
// `mod exactness`) check every square of a grid difference exhaustively, then evaluate `dist2`
// with FMAs and in other orders on every pair of grid corners and 400,000 random pairs, and get
// the same integers and the same labels; they also show that off the grid the variants
// disagree. The bound is a compile-time assertion there.

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
