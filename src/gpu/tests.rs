//! Every kernel, as the program assembles it, parses and validates with naga, keeps its barriers
//! in uniform control flow, stays within the portable limits that lavapipe does not enforce, and
//! agrees with `layout.rs`: struct sizes, workgroup size and memory, binding slots. Then the
//! kernels against their CPU twins on whatever adapter is present.

use super::backend::{chunk_limit, GpuBackend};
use super::layout::{self, Access, Centroids, Params, ASSIGN_TILE, POINT_BYTES, REMAP_TILE, WG_SIZE};
use super::pipelines::{Kernel, KERNELS};
use super::pixels::GpuPixels;
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
    validated(k).0
}

fn validated(k: &Kernel) -> (naga::Module, naga::valid::ModuleInfo) {
    parse_and_validate(&k.wgsl()).unwrap_or_else(|e| panic!("{}: {e}", k.name))
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
    let mut expected: Vec<String> = KERNELS.iter().map(|k| format!("{}.wgsl", k.file)).collect();
    expected.push("common.wgsl".into());
    expected.sort();
    expected.dedup();
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
        let (m, info) = validated(k);
        let ep = m.entry_points.iter().position(|e| e.name == k.name).unwrap();
        let uses = info.get_entry_point(ep);
        // The globals this entry point reads or writes, with their declared binding and access.
        let mut declared: Vec<(String, u32, Access)> = m
            .global_variables
            .iter()
            .filter(|(h, _)| !uses[*h].is_empty())
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
        let storage = k.slots.iter().filter(|s| s.access != Access::Uniform).count() as u32;
        assert!(
            storage <= layout::MAX_STORAGE_BUFFERS,
            "{}: {storage} storage buffers",
            k.name
        );
    }
}

#[test]
fn repr_c_structs_match_their_wgsl_twins() {
    for k in KERNELS.iter().filter(|k| !k.common) {
        let m = module(k);
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(m.to_ctx()).unwrap();
        let pp = m
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("PixelParams"))
            .map(|(h, _)| h)
            .expect("PixelParams struct");
        assert_eq!(
            layouter[pp].size as usize,
            std::mem::size_of::<layout::PixelParams>(),
            "{}: PixelParams",
            k.name
        );
    }
    for k in KERNELS.iter().filter(|k| k.common) {
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
/// point or of a helper function (never inside `if`, `switch` or a loop); a helper that holds
/// barriers is called only as a top-level statement of an entry point; and no `return` precedes
/// the last barrier.
use naga::Statement as S;

/// (depth, what): what is a barrier, a return, or a call to a function with barriers.
#[derive(Clone, Copy, PartialEq)]
enum Seen {
    Barrier,
    Return,
    Call(naga::Handle<naga::Function>),
}
fn walk(block: &naga::Block, depth: usize, out: &mut Vec<(usize, Seen)>) {
    for st in block.iter() {
        match st {
            S::ControlBarrier(_) => out.push((depth, Seen::Barrier)),
            S::Return { .. } => out.push((depth, Seen::Return)),
            S::Call { function, .. } => out.push((depth, Seen::Call(*function))),
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
/// Checks one body; `helpers` are the functions that hold barriers.
fn check(
    name: &str,
    body: &naga::Block,
    helpers: &[naga::Handle<naga::Function>],
    calls_ok: bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    walk(body, 0, &mut seen);
    let syncs = |s: &Seen| matches!(s, Seen::Barrier) || matches!(s, Seen::Call(f) if helpers.contains(f));
    let last = seen.iter().rposition(|(_, s)| syncs(s));
    let mut bad = Vec::new();
    for (i, (depth, s)) in seen.iter().enumerate() {
        if syncs(s) && *depth > 0 {
            bad.push(format!("{name}: barrier nested in control flow"));
        }
        if matches!(s, Seen::Call(f) if helpers.contains(f)) && !calls_ok {
            bad.push(format!("{name}: calls a function with barriers"));
        }
        if *s == Seen::Return && last.is_some_and(|l| i < l) {
            bad.push(format!("{name}: return before a barrier"));
        }
    }
    bad
}
fn barrier_violations(module: &naga::Module) -> Vec<String> {
    let helpers: Vec<_> = module
        .functions
        .iter()
        .filter(|(_, f)| {
            let mut seen = Vec::new();
            walk(&f.body, 0, &mut seen);
            seen.iter().any(|(_, s)| *s == Seen::Barrier)
        })
        .map(|(h, _)| h)
        .collect();
    let mut bad = Vec::new();
    for (h, f) in module.functions.iter() {
        let name = f.name.clone().unwrap_or_default();
        let mut v = check(&name, &f.body, &helpers, false);
        if !helpers.contains(&h) {
            v.retain(|m| !m.contains("return before"));
        }
        bad.extend(v);
    }
    for ep in &module.entry_points {
        bad.extend(check(&ep.name, &ep.function.body, &helpers, true));
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
        "fn helper() { workgroupBarrier(); }\n@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) {\n  if (i == 0u) { helper(); }\n}",
        "fn helper() { for (var j = 0u; j < 4u; j++) { workgroupBarrier(); } }\n@compute @workgroup_size(64) fn main() { helper(); }",
        "fn inner() { workgroupBarrier(); }\nfn outer() { inner(); }\n@compute @workgroup_size(64) fn main() { outer(); }",
    ] {
        let (m, _) = parse_and_validate(bad).unwrap();
        assert!(!barrier_violations(&m).is_empty(), "not caught:\n{bad}");
    }
    // And a helper with top-level barriers, called at the top level, is allowed.
    let good = "fn helper() { workgroupBarrier(); }\n@compute @workgroup_size(64) fn main() { helper(); }";
    let (m, _) = parse_and_validate(good).unwrap();
    assert_eq!(barrier_violations(&m), Vec::<String>::new());
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
    for limits in [lavapipe.clone(), wgpu::Limits::default(), huge.clone()] {
        let p = super::pixels::pixel_chunk_limit(&limits, None);
        assert!(p as u64 * 4 <= limits.max_storage_buffer_binding_size);
        assert!(p as u64 * 4 <= limits.max_buffer_size);
        assert!(p.div_ceil(layout::PIXEL_TILE) <= limits.max_compute_workgroups_per_dimension);
        assert_eq!(p % layout::PIXEL_TILE, 0);
    }
    // A 100 MP image under the portable limits: 128 MiB bindings hold 32 Mi pixels, so 3 chunks.
    let p = super::pixels::pixel_chunk_limit(&wgpu::Limits::default(), None) as u64;
    assert_eq!(100_000_000u64.div_ceil(p), 3);
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

/// Pixels with the extreme keys (black, white), one color repeated many times, noise, and a
/// count that is neither a multiple of 4 nor of a tile.
fn awkward_pixels(n: usize) -> Vec<[u8; 4]> {
    let mut rng = Rng(7);
    (0..n)
        .map(|i| match i % 7 {
            0 => [0, 0, 0, 255],
            1 => [255, 255, 255, 255],
            2 => [12, 200, 7, 255],
            _ => {
                let v = rng.next();
                [v as u8, (v >> 8) as u8, (v >> 16) as u8, 255]
            }
        })
        .collect()
}

#[test]
fn gpu_histogram_and_indices_equal_the_cpu_twins_in_chunks() {
    let Some(ctx) = gpu() else { return };
    let (_, _, photo) = crate::testutil::fixture("chelsea.png");
    for (what, px) in [("chelsea", photo), ("awkward", awkward_pixels(10_007))] {
        let (table, cpu_summary) = crate::cpu::histogram::opaque(&px).expect("opaque");
        for chunk in [None, Some(4096)] {
            let (g, summary) = GpuPixels::histogram(ctx.clone(), &px, chunk)
                .expect("gpu histogram")
                .expect("opaque");
            assert_eq!(summary, cpu_summary, "{what}, chunk {chunk:?}: histograms differ");
            let labels: Vec<u8> = (0..summary.len()).map(|i| (i * 7 % 251) as u8).collect();
            let want = crate::cpu::expand::expand(&px, &table, &labels);
            assert_eq!(
                g.expand(&labels).expect("gpu expand"),
                want,
                "{what}, chunk {chunk:?}: indices differ"
            );
        }
        eprintln!("{what}: {} colors, identical", cpu_summary.len());
    }
}

#[test]
fn gpu_histogram_leaves_images_with_alpha_to_the_cpu() {
    let Some(ctx) = gpu() else { return };
    let mut px = awkward_pixels(5000);
    px[4321][3] = 254;
    assert!(GpuPixels::histogram(ctx, &px, None).unwrap().is_none());
}
