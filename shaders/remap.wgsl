// remap.wgsl: the final remap, the nearest palette entry for every point (unique color).
// CPU twin: `src/cpu/remap.rs`. Pipeline field: `Pipelines::remap`.
// The palette is bound as `centroids`; every palette coordinate is an integer in [0, 2040],
// so the distance is exact under any compiler, as `common.wgsl` explains. The host expands these labels to pixels.

@group(0) @binding(3) var<storage, read_write> labels: array<u32>;

@compute @workgroup_size(WG_SIZE)
fn remap(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.n_points) {
        return;
    }
    labels[i] = nearest(vec4<f32>(point_coords(i))).x;
}
