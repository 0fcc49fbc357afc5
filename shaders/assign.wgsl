// assign.wgsl: one Lloyd iteration's assignment and reduction, fused into one dispatch.
// CPU twin: `src/cpu/assign.rs`. Pipeline field: `Pipelines::assign`.
//
// Each workgroup takes a tile of WG_SIZE * ASSIGN_ITEMS points, labels each with its nearest centroid and
// accumulates, per cluster, the weight, the weighted coordinate sums and the weighted squared
// distance as 64-bit integers (two u32 words with a carry) in workgroup memory. At the end the
// workgroup adds its partial sums into the global `sums` buffer, again with carries. Integer
// addition is associative, so the totals do not depend on the order in which invocations or
// workgroups run.

// ACC_WORDS words per cluster: count, sum x, sum y, sum z, sum w, sse; each as (lo, hi).

@group(0) @binding(3) var<storage, read> weights: array<u32>;
// MAX_K * ACC_WORDS words; only the first k * ACC_WORDS are used. Cleared by the host before the dispatch.
@group(0) @binding(4) var<storage, read_write> sums: array<atomic<u32>>;

// ACC_LEN = MAX_K * ACC_WORDS words = 12 KiB, inside the portable 16 KiB limit (checked by the
// tests in src/gpu/tests.rs).
var<workgroup> acc: array<atomic<u32>, ACC_LEN>;

// Full 64-bit product of two u32, as (lo, hi).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    let lo = (p00 & 0xffffu) | (mid << 16u);
    let hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
    return vec2<u32>(lo, hi);
}

fn acc_add(slot: u32, v: vec2<u32>) {
    var carry = 0u;
    if (v.x != 0u) {
        let old = atomicAdd(&acc[slot], v.x);
        if (old + v.x < old) {
            carry = 1u;
        }
    }
    let hi = v.y + carry;
    if (hi != 0u) {
        atomicAdd(&acc[slot + 1u], hi);
    }
}

fn sums_add(slot: u32, v: vec2<u32>) {
    var carry = 0u;
    if (v.x != 0u) {
        let old = atomicAdd(&sums[slot], v.x);
        if (old + v.x < old) {
            carry = 1u;
        }
    }
    let hi = v.y + carry;
    if (hi != 0u) {
        atomicAdd(&sums[slot + 1u], hi);
    }
}

@compute @workgroup_size(WG_SIZE)
fn assign(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let k = params.k;
    for (var i = lid; i < k * ACC_WORDS; i = i + WG_SIZE) {
        atomicStore(&acc[i], 0u);
    }
    workgroupBarrier();

    let base = wid.x * WG_SIZE * ASSIGN_ITEMS;
    for (var s = 0u; s < ASSIGN_ITEMS; s = s + 1u) {
        let i = base + s * WG_SIZE + lid;
        if (i < params.n_points) {
            let qi = point_coords(i);
            let q = vec4<f32>(qi);
            let nd = nearest(q);
            let w = weights[i];
            let slot = nd.x * ACC_WORDS;
            acc_add(slot, vec2<u32>(w, 0u));
            acc_add(slot + 2u, mul_wide(w, qi.x));
            acc_add(slot + 4u, mul_wide(w, qi.y));
            acc_add(slot + 6u, mul_wide(w, qi.z));
            acc_add(slot + 8u, mul_wide(w, qi.w));
            acc_add(slot + 10u, mul_wide(w, nd.y));
        }
    }
    workgroupBarrier();

    for (var c = lid; c < k; c = c + WG_SIZE) {
        let slot = c * ACC_WORDS;
        if (atomicLoad(&acc[slot]) != 0u || atomicLoad(&acc[slot + 1u]) != 0u) {
            for (var v = 0u; v < ACC_WORDS; v = v + 2u) {
                let lo = atomicLoad(&acc[slot + v]);
                let hi = atomicLoad(&acc[slot + v + 1u]);
                sums_add(slot + v, vec2<u32>(lo, hi));
            }
        }
    }
}
