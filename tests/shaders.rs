//! Every WGSL module parses and validates with naga, keeps its barriers in uniform control flow, stays
//! within the portable limits that lavapipe does not enforce, and its structs match their
//! `#[repr(C)]` Rust twins.

use kmquant::gpu::pipelines::{ASSIGN_WGSL, REMAP_WGSL};
use kmquant::gpu::types::{Centroids, Params};
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// The portable default of `max_compute_workgroup_storage_size`.
const PORTABLE_WORKGROUP_BYTES: u32 = 16 * 1024;
/// The portable default of `max_compute_invocations_per_workgroup`.
const PORTABLE_INVOCATIONS: u32 = 256;

fn parse_and_validate(src: &str) -> Result<(naga::Module, naga::valid::ModuleInfo), String> {
    let module = naga::front::wgsl::parse_str(src).map_err(|e| e.emit_to_string(src))?;
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| format!("{e:?}"))?;
    Ok((module, info))
}

fn workgroup_bytes(module: &naga::Module) -> u32 {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    module
        .global_variables
        .iter()
        .filter(|(_, v)| v.space == naga::AddressSpace::WorkGroup)
        .map(|(_, v)| layouter[v.ty].size)
        .sum()
}

fn modules() -> [(&'static str, &'static str); 2] {
    [("assign", ASSIGN_WGSL), ("remap", REMAP_WGSL)]
}

#[test]
fn every_shader_file_is_used_and_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".wgsl"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["assign.wgsl", "common.wgsl", "remap.wgsl"],
        "a new shader needs its test here"
    );
    for f in &files {
        let src = std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        let used = modules().iter().any(|(_, m)| m.contains(src.trim()));
        assert!(used, "{f} is not part of any pipeline");
    }
    for (name, src) in modules() {
        let (module, _) = parse_and_validate(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            module.entry_points.iter().any(|e| e.name == name),
            "{name}: entry point missing"
        );
    }
}

#[test]
fn workgroup_memory_and_size_stay_within_portable_limits() {
    for (name, src) in modules() {
        let (module, _) = parse_and_validate(src).unwrap();
        let bytes = workgroup_bytes(&module);
        assert!(
            bytes <= PORTABLE_WORKGROUP_BYTES,
            "{name}: {bytes} bytes of workgroup memory"
        );
        for ep in &module.entry_points {
            let n: u32 = ep.workgroup_size.iter().product();
            assert!(n <= PORTABLE_INVOCATIONS, "{name}: {n} invocations per workgroup");
        }
        eprintln!("{name}: {bytes} bytes of workgroup memory");
    }
    // The check itself can fail: 20 KiB of workgroup memory is caught.
    let big =
        "var<workgroup> big: array<u32, 5120>;\n@compute @workgroup_size(64) fn main() { big[0] = 1u; }";
    let (m, _) = parse_and_validate(big).unwrap();
    assert!(workgroup_bytes(&m) > PORTABLE_WORKGROUP_BYTES);
}

/// Where barriers may stand: naga 30 does not reject a barrier in non-uniform control flow and
/// lavapipe runs one without complaint, while a real GPU may hang. So the kernels keep a simple
/// rule that this walk enforces: a barrier appears only as a top-level statement of an entry
/// point (never inside `if`, `switch` or a loop, never in a helper function), and no `return`
/// precedes the last barrier.
fn barrier_violations(module: &naga::Module) -> Vec<String> {
    use naga::Statement as S;
    fn walk(block: &naga::Block, depth: usize, out: &mut Vec<(usize, bool)>) {
        for st in block.iter() {
            match st {
                S::ControlBarrier(_) => out.push((depth, false)),
                S::Return { .. } => out.push((depth, true)),
                S::Block(b) => walk(b, depth + 1, out),
                S::If { accept, reject, .. } => {
                    walk(accept, depth + 1, out);
                    walk(reject, depth + 1, out);
                }
                S::Switch { cases, .. } => cases.iter().for_each(|c| walk(&c.body, depth + 1, out)),
                S::Loop { body, continuing, .. } => {
                    walk(body, depth + 1, out);
                    walk(continuing, depth + 1, out);
                }
                _ => {}
            }
        }
    }
    let mut bad = Vec::new();
    for (_, f) in module.functions.iter() {
        let mut seen = Vec::new();
        walk(&f.body, 0, &mut seen);
        if seen.iter().any(|(_, ret)| !ret) {
            bad.push(format!("barrier in helper function {:?}", f.name));
        }
    }
    for ep in &module.entry_points {
        let mut seen = Vec::new();
        walk(&ep.function.body, 0, &mut seen);
        let last_barrier = seen.iter().rposition(|(_, ret)| !ret);
        for (i, (depth, ret)) in seen.iter().enumerate() {
            if !ret && *depth > 0 {
                bad.push(format!("{}: barrier nested in control flow", ep.name));
            }
            if *ret && last_barrier.is_some_and(|l| i < l) {
                bad.push(format!("{}: return before a barrier", ep.name));
            }
        }
    }
    bad
}

#[test]
fn barriers_stand_only_in_uniform_control_flow() {
    for (name, src) in modules() {
        let (module, _) = parse_and_validate(src).unwrap();
        assert_eq!(barrier_violations(&module), Vec::<String>::new(), "{name}");
    }
    // The check can fail: each of these is caught.
    for bad in [
        "@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {\n  if (i == 0u) { workgroupBarrier(); }\n}",
        "@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {\n  if (i == 0u) { return; }\n  workgroupBarrier();\n}",
        "fn helper() { workgroupBarrier(); }\n@compute @workgroup_size(64) fn main() { helper(); }",
    ] {
        let (m, _) = parse_and_validate(bad).unwrap();
        assert!(!barrier_violations(&m).is_empty(), "not caught:\n{bad}");
    }
}

#[test]
fn repr_c_structs_match_their_wgsl_twins() {
    for (name, src) in modules() {
        let (module, _) = parse_and_validate(src).unwrap();
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).unwrap();
        let params = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Params"))
            .map(|(h, _)| h)
            .expect("Params struct");
        assert_eq!(
            layouter[params].size as usize,
            std::mem::size_of::<Params>(),
            "{name}: Params"
        );
        let centroids = module
            .global_variables
            .iter()
            .find(|(_, v)| v.name.as_deref() == Some("centroids"))
            .map(|(_, v)| v.ty)
            .expect("centroids");
        assert_eq!(
            layouter[centroids].size as usize,
            std::mem::size_of::<Centroids>(),
            "{name}: centroids"
        );
    }
}

#[test]
fn chunks_respect_binding_buffer_and_dispatch_limits() {
    use kmquant::gpu::backend::chunk_limit;
    use kmquant::gpu::types::{ASSIGN_TILE, POINT_BYTES, REMAP_TILE};
    // lavapipe's limits, the portable defaults, and a device with huge bindings.
    let lavapipe = wgpu::Limits {
        max_storage_buffer_binding_size: 128 << 20,
        max_buffer_size: 2 << 30,
        max_compute_workgroups_per_dimension: 65535,
        ..wgpu::Limits::default()
    };
    let huge = wgpu::Limits {
        max_storage_buffer_binding_size: 4 << 30,
        max_buffer_size: 8 << 30,
        ..lavapipe.clone()
    };
    for limits in [lavapipe, wgpu::Limits::default(), huge] {
        let n = chunk_limit(&limits, None);
        assert!(n as u64 * POINT_BYTES <= limits.max_storage_buffer_binding_size);
        assert!(n.div_ceil(REMAP_TILE) <= limits.max_compute_workgroups_per_dimension);
        assert!(n.div_ceil(ASSIGN_TILE) <= limits.max_compute_workgroups_per_dimension);
        assert_eq!(n % ASSIGN_TILE, 0);
        assert_eq!(chunk_limit(&limits, Some(4096)), 4096);
    }
}
