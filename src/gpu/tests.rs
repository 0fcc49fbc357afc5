//! Every kernel, as the program assembles it, parses and validates with naga, keeps its barriers
//! in uniform control flow, stays within the portable limits that lavapipe does not enforce, and
//! agrees with `layout.rs`: struct sizes, workgroup size and memory, binding slots. Then the
//! kernels against their CPU twins on whatever adapter is present.

use super::backend::{chunk_limit, GpuBackend};
use super::layout::{self, Access, Centroids, Params, ASSIGN_TILE, POINT_BYTES, REMAP_TILE, WG_SIZE};
use super::pipelines::{Kernel, KERNELS};
use crate::backend::Backend;
use crate::cpu::CpuBackend;
use crate::grid::Point;
use crate::testutil::{brute_nearest, gpu, Rng};
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

fn module(k: &Kernel) -> naga::Module {
    parse_and_validate(&k.wgsl())
        .unwrap_or_else(|e| panic!("{}: {e}", k.name))
        .0
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

#[test]
fn every_shader_file_is_a_kernel_and_validates_as_assembled() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".wgsl"))
        .collect();
    files.sort();
    let mut expected: Vec<String> = KERNELS.iter().map(|k| format!("{}.wgsl", k.name)).collect();
    expected.push("common.wgsl".into());
    expected.sort();
    assert_eq!(files, expected, "every shader file is a kernel (or common.wgsl)");
    for k in &KERNELS {
        let m = module(k);
        assert!(
            m.entry_points.iter().any(|e| e.name == k.name),
            "{}: entry point missing",
            k.name
        );
    }
}

#[test]
fn workgroup_size_and_memory_match_layout_and_stay_within_portable_limits() {
    for k in &KERNELS {
        let m = module(k);
        let bytes = workgroup_bytes(&m);
        assert!(
            bytes <= PORTABLE_WORKGROUP_BYTES,
            "{}: {bytes} bytes of workgroup memory",
            k.name
        );
        for ep in &m.entry_points {
            assert_eq!(ep.workgroup_size, [WG_SIZE, 1, 1], "{}", k.name);
            let n: u32 = ep.workgroup_size.iter().product();
            assert!(n <= PORTABLE_INVOCATIONS, "{}: {n} invocations", k.name);
        }
        if k.name == "assign" {
            assert_eq!(bytes, layout::ASSIGN_WORKGROUP_BYTES);
        }
        eprintln!("{}: {bytes} bytes of workgroup memory", k.name);
    }
    // The check itself can fail: 20 KiB of workgroup memory is caught.
    let big =
        "var<workgroup> big: array<u32, 5120>;\n@compute @workgroup_size(64) fn main() { big[0] = 1u; }";
    let (m, _) = parse_and_validate(big).unwrap();
    assert!(workgroup_bytes(&m) > PORTABLE_WORKGROUP_BYTES);
}

#[test]
fn generated_constants_are_the_ones_the_shaders_see() {
    let m = module(&KERNELS[0]);
    let value = |name: &str| -> u32 {
        let (_, c) = m
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("constant {name} missing"));
        match m.global_expressions[c.init] {
            naga::Expression::Literal(naga::Literal::U32(v)) => v,
            ref e => panic!("{name}: {e:?}"),
        }
    };
    assert_eq!(value("MAX_K"), layout::MAX_K);
    assert_eq!(value("WG_SIZE"), layout::WG_SIZE);
    assert_eq!(value("ASSIGN_ITEMS"), layout::ASSIGN_ITEMS);
    assert_eq!(value("ACC_WORDS"), layout::ACC_WORDS);
    assert_eq!(value("ACC_LEN"), layout::ACC_LEN);
    // No shader file defines a constant of its own that the prelude defines.
    for k in &KERNELS {
        for name in ["MAX_K", "WG_SIZE", "ASSIGN_ITEMS", "ACC_WORDS", "ACC_LEN"] {
            assert!(
                !k.source.contains(&format!("const {name}")),
                "{} redefines {name}",
                k.name
            );
        }
    }
}

#[test]
fn binding_slots_match_the_wgsl_declarations() {
    for k in &KERNELS {
        let m = module(k);
        let mut declared: Vec<(String, u32, Access)> = m
            .global_variables
            .iter()
            .filter_map(|(_, v)| {
                let b = v.binding.as_ref()?;
                assert_eq!(b.group, 0, "{}: one bind group", k.name);
                let access = match v.space {
                    naga::AddressSpace::Uniform => Access::Uniform,
                    naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
                        Access::ReadWrite
                    }
                    naga::AddressSpace::Storage { .. } => Access::Read,
                    s => panic!("{}: unexpected space {s:?}", k.name),
                };
                Some((v.name.clone().unwrap_or_default(), b.binding, access))
            })
            .collect();
        declared.sort_by_key(|d| d.1);
        let table: Vec<(String, u32, Access)> = k
            .slots
            .iter()
            .map(|s| (s.name.to_string(), s.binding, s.access))
            .collect();
        assert_eq!(declared, table, "{}: WGSL bindings vs layout.rs", k.name);
    }
}

#[test]
fn repr_c_structs_match_their_wgsl_twins() {
    for k in &KERNELS {
        let m = module(k);
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(m.to_ctx()).unwrap();
        let params = m
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Params"))
            .map(|(h, _)| h)
            .expect("Params struct");
        assert_eq!(
            layouter[params].size as usize,
            std::mem::size_of::<Params>(),
            "{}: Params",
            k.name
        );
        let centroids = m
            .global_variables
            .iter()
            .find(|(_, v)| v.name.as_deref() == Some("centroids"))
            .map(|(_, v)| v.ty)
            .expect("centroids");
        assert_eq!(
            layouter[centroids].size as usize,
            std::mem::size_of::<Centroids>(),
            "{}: centroids",
            k.name
        );
    }
    assert_eq!(POINT_BYTES, 8, "a point is the shader's vec2<u32>");
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
    for k in &KERNELS {
        assert_eq!(barrier_violations(&module(k)), Vec::<String>::new(), "{}", k.name);
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
fn chunks_respect_binding_buffer_and_dispatch_limits() {
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

/// Random points with huge weights, so every 64-bit sum carries out of its low word, and
/// duplicated centroids, so ties are exercised.
#[test]
fn assign_and_remap_kernels_equal_cpu_twins_with_carries_and_ties() {
    let Some(ctx) = gpu() else { return };
    let mut rng = Rng(99);
    let n = 5000;
    let points: Vec<Point> = (0..n)
        .map(|_| Point([0; 4].map(|_| (rng.below(256) * 8) as u16)))
        .collect();
    let weights: Vec<u32> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                u32::MAX - rng.below(1000) as u32
            } else {
                1 + rng.below(50) as u32
            }
        })
        .collect();
    let mut centroids: Vec<Point> = (0..40)
        .map(|_| Point([0; 4].map(|_| rng.below(2041) as u16)))
        .collect();
    centroids[7] = centroids[3]; // a duplicate: index 7 must never win
    centroids.push(Point([0, 0, 0, 0]));
    centroids.push(Point([16, 0, 0, 0])); // equidistant from the previous one for x = 8
    let mut cpu_b = CpuBackend::new(&points, &weights);
    for chunk in [None, Some(1024)] {
        let mut gpu_b = GpuBackend::new(&ctx, &points, &weights, chunk).expect("upload");
        let g = gpu_b.assign(&centroids).expect("gpu assign");
        let c = cpu_b.assign(&centroids).expect("cpu assign");
        assert_eq!(g, c, "sums differ (chunk {chunk:?})");
        assert_eq!(g[7].count, 0, "the duplicate centroid must lose every tie");
        assert!(
            g.iter().any(|s| s.sum[0] > u32::MAX as u64),
            "the test must exercise carries"
        );
        let gl = gpu_b.remap(&centroids).expect("gpu remap");
        let cl = cpu_b.remap(&centroids).expect("cpu remap");
        assert_eq!(gl, cl, "remap labels differ (chunk {chunk:?})");
        for (p, l) in points.iter().zip(&gl) {
            assert_eq!(*l as usize, brute_nearest(*p, &centroids).0);
        }
    }
}

#[test]
fn both_backends_refuse_bad_centroid_counts_with_the_same_error_kind() {
    let Some(ctx) = gpu() else { return };
    let points = vec![Point([8, 8, 8, 2040]); 10];
    let weights = vec![1; 10];
    let mut g = GpuBackend::new(&ctx, &points, &weights, None).unwrap();
    let mut c = CpuBackend::new(&points, &weights);
    for bad in [vec![], vec![Point::default(); 257]] {
        let (eg, ec) = (g.assign(&bad).unwrap_err(), c.assign(&bad).unwrap_err());
        assert_eq!(eg.to_string(), ec.to_string());
        assert!(matches!(eg, crate::Error::InvalidOption { .. }));
        let (eg, ec) = (g.remap(&bad).unwrap_err(), c.remap(&bad).unwrap_err());
        assert_eq!(eg.to_string(), ec.to_string());
    }
}

#[test]
fn binding_by_name_refuses_a_missing_or_unknown_slot() {
    let Some(ctx) = gpu() else { return };
    let d = &ctx.device;
    let b = d.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4096,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM,
        mapped_at_creation: false,
    });
    let all = [("params", &b), ("centroids", &b), ("points", &b), ("labels", &b)];
    assert!(
        ctx.pipelines.remap.bind(d, &all[..3]).is_err(),
        "missing 'labels'"
    );
    let extra = [&all[..], &[("weights", &b)]].concat();
    assert!(ctx.pipelines.remap.bind(d, &extra).is_err(), "unknown 'weights'");
}
