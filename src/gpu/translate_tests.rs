//! Every kernel, exactly as the program assembles it (the generated constants, `common.wgsl`
//! where it goes in front, the kernel's file, its entry point and the pipeline constants it is
//! compiled with), translated by naga for each API wgpu drives: MSL for Metal, HLSL at shader
//! model 6.0 for DX12, SPIR-V for Vulkan (checked by `spirv-val`) and GLSL ES 3.10 for GL
//! (checked by `glslangValidator`). The options follow what wgpu-hal passes naga for each API
//! (wgpu-hal 30: `metal/device.rs`, `dx12/device.rs`, `vulkan/device.rs`, `gles/device.rs`),
//! with the bindings mapped the way each backend maps them rather than faked, so a binding the
//! layout does not describe fails here too.
//!
//! Metal's and DX12's own compilers cannot run on Linux; what they would do with the arithmetic is
//! the subject of the exactness argument in `shaders/common.wgsl` and its tests in
//! `src/cpu/common.rs`.
//!
//! The validators come from Debian's `spirv-tools` and `glslang-tools` (`scripts/test.sh`
//! installs them). Without them the two checks fail when `KMQUANT_REQUIRE_GPU=1` (CI), and are
//! skipped loudly otherwise.

use super::layout::Access;
use super::pipelines::{Kernel, CONSTANTS, KERNELS};
use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use naga::{ResourceBinding, ShaderStage};
use std::borrow::Cow;
use std::process::Command;

/// The kernel's module after naga's front end, validation and override processing, as wgpu
/// hands it to a backend.
fn translated_input(k: &Kernel) -> (naga::Module, naga::valid::ModuleInfo) {
    let src = k.wgsl();
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{}: WGSL: {}", k.name, e.emit_to_string(&src)));
    let info = Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: validation: {e:?}", k.name));
    let mut constants = naga::back::PipelineConstants::default();
    constants.extend(CONSTANTS.iter().map(|&(n, v)| (n.to_string(), v)));
    let (m, i) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((ShaderStage::Compute, k.name)),
        &constants,
    )
    .unwrap_or_else(|e| panic!("{}: pipeline constants: {e:?}", k.name));
    (Cow::into_owned(m), Cow::into_owned(i))
}

fn binding(b: u32) -> ResourceBinding {
    ResourceBinding { group: 0, binding: b }
}

/// Runtime bounds checks, as wgpu enables them by default (`ShaderRuntimeChecks::checked()`).
fn checked() -> naga::proc::BoundsCheckPolicies {
    let p = naga::proc::BoundsCheckPolicy::Restrict;
    naga::proc::BoundsCheckPolicies {
        index: p,
        buffer: p,
        image_load: p,
        binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
    }
}

fn to_msl(k: &Kernel, m: &naga::Module, i: &naga::valid::ModuleInfo) -> Result<String, String> {
    // wgpu-hal's Metal layout: each buffer in its own argument slot, in binding order, and the
    // runtime-array sizes in the slot after them.
    let resources = k
        .slots
        .iter()
        .enumerate()
        .map(|(slot, s)| {
            let target = msl::BindTarget {
                buffer: Some(slot as u8),
                mutable: s.access == Access::ReadWrite,
                ..Default::default()
            };
            (binding(s.binding), target)
        })
        .collect();
    let options = msl::Options {
        lang_version: (2, 0),
        fake_missing_bindings: false,
        per_entry_point_map: msl::EntryPointResourceMap::from([(
            k.name.to_string(),
            msl::EntryPointResources {
                resources,
                immediates_buffer: None,
                sizes_buffer: Some(k.slots.len() as u8),
            },
        )]),
        bounds_check_policies: checked(),
        zero_initialize_workgroup_memory: false,
        ..Default::default()
    };
    let pipeline = msl::PipelineOptions {
        entry_point: Some((ShaderStage::Compute, k.name.to_string())),
        ..Default::default()
    };
    msl::write_string(m, i, &options, &pipeline)
        .map(|(s, _)| s)
        .map_err(|e| format!("{e:?}"))
}

fn to_hlsl(k: &Kernel, m: &naga::Module, i: &naga::valid::ModuleInfo) -> Result<String, String> {
    // wgpu-hal's DX12 layout: uniforms in b registers and storage buffers in t (read) or u
    // (read-write) registers of space 0, each class counted from 0 in binding order.
    let (mut b, mut t, mut u) = (0, 0, 0);
    let binding_map = k
        .slots
        .iter()
        .map(|s| {
            let counter = match s.access {
                Access::Uniform => &mut b,
                Access::Read => &mut t,
                Access::ReadWrite => &mut u,
            };
            let register = *counter;
            *counter += 1;
            let target = hlsl::BindTarget {
                space: 0,
                register,
                binding_array_size: None,
                dynamic_storage_buffer_offsets_index: None,
                restrict_indexing: true,
            };
            (binding(s.binding), target)
        })
        .collect();
    let options = hlsl::Options {
        shader_model: hlsl::ShaderModel::V6_0,
        binding_map,
        fake_missing_bindings: false,
        zero_initialize_workgroup_memory: false,
        ..Default::default()
    };
    let pipeline = hlsl::PipelineOptions {
        entry_point: Some((ShaderStage::Compute, k.name.to_string())),
    };
    let mut out = String::new();
    hlsl::Writer::new(&mut out, &options, &pipeline)
        .write(m, i, None)
        .map_err(|e| format!("{e:?}"))?;
    Ok(out)
}

fn to_spirv(k: &Kernel, m: &naga::Module, i: &naga::valid::ModuleInfo) -> Result<Vec<u32>, String> {
    let options = spv::Options {
        lang_version: (1, 0),
        bounds_check_policies: checked(),
        zero_initialize_workgroup_memory: spv::ZeroInitializeWorkgroupMemoryMode::None,
        ..Default::default()
    };
    let pipeline = spv::PipelineOptions {
        shader_stage: ShaderStage::Compute,
        entry_point: k.name.to_string(),
    };
    spv::write_vec(m, i, &options, Some(&pipeline)).map_err(|e| format!("{e:?}"))
}

fn to_glsl_es(k: &Kernel, m: &naga::Module, i: &naga::valid::ModuleInfo) -> Result<String, String> {
    // wgpu-hal's GL layout: uniform blocks and storage blocks each numbered from 0 in binding
    // order.
    let (mut ubo, mut ssbo) = (0u8, 0u8);
    let binding_map = k
        .slots
        .iter()
        .map(|s| {
            let counter = if s.access == Access::Uniform {
                &mut ubo
            } else {
                &mut ssbo
            };
            let n = *counter;
            *counter += 1;
            (binding(s.binding), n)
        })
        .collect();
    let options = glsl::Options {
        version: glsl::Version::Embedded {
            version: 310,
            is_webgl: false,
        },
        writer_flags: glsl::WriterFlags::empty(),
        binding_map,
        zero_initialize_workgroup_memory: false,
    };
    let pipeline = glsl::PipelineOptions {
        shader_stage: ShaderStage::Compute,
        entry_point: k.name.to_string(),
        multiview: None,
    };
    let mut out = String::new();
    glsl::Writer::new(&mut out, m, i, &options, &pipeline, checked())
        .and_then(|mut w| w.write())
        .map_err(|e| format!("{e:?}"))?;
    Ok(out)
}

/// Runs a validator over `file`; Err(message) when it rejects it, None when the tool is missing.
fn validate_with(tool: &str, args: &[&str], file: &std::path::Path) -> Option<Result<(), String>> {
    let out = match Command::new(tool).args(args).arg(file).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("cannot run {tool}: {e}"))),
    };
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// A missing validator: a failure when the environment requires the GPU checks, else a loud skip.
fn missing(tool: &str, package: &str) {
    let msg = format!("{tool} not found (apt-get install {package})");
    if std::env::var("KMQUANT_REQUIRE_GPU").is_ok_and(|v| v == "1") {
        panic!("KMQUANT_REQUIRE_GPU=1 but {msg}");
    }
    eprintln!("SKIPPED the {tool} check: {msg}");
}

#[test]
fn every_kernel_translates_to_msl_for_metal() {
    for k in &KERNELS {
        let (m, i) = translated_input(k);
        let msl = to_msl(k, &m, &i).unwrap_or_else(|e| panic!("{} to MSL: {e}", k.name));
        assert!(
            msl.contains(&format!("kernel void {}", k.name)),
            "{} to MSL: no kernel function {}",
            k.name,
            k.name
        );
    }
}

#[test]
fn every_kernel_translates_to_hlsl_shader_model_6_for_dx12() {
    for k in &KERNELS {
        let (m, i) = translated_input(k);
        let hlsl = to_hlsl(k, &m, &i).unwrap_or_else(|e| panic!("{} to HLSL 6.0: {e}", k.name));
        assert!(
            hlsl.contains("[numthreads(256, 1, 1)]"),
            "{} to HLSL 6.0: no [numthreads(256, 1, 1)]",
            k.name
        );
    }
}

#[test]
fn every_kernel_translates_to_spirv_that_spirv_val_accepts() {
    let dir = tempfile::tempdir().unwrap();
    for k in &KERNELS {
        let (m, i) = translated_input(k);
        let words = to_spirv(k, &m, &i).unwrap_or_else(|e| panic!("{} to SPIR-V: {e}", k.name));
        let file = dir.path().join(format!("{}.spv", k.name));
        std::fs::write(&file, bytemuck::cast_slice::<u32, u8>(&words)).unwrap();
        match validate_with("spirv-val", &["--target-env", "vulkan1.0"], &file) {
            None => return missing("spirv-val", "spirv-tools"),
            Some(Err(e)) => panic!("{} to SPIR-V: spirv-val rejects it:\n{e}", k.name),
            Some(Ok(())) => {}
        }
    }
}

#[test]
fn every_kernel_translates_to_glsl_es_310_that_glslang_accepts() {
    let dir = tempfile::tempdir().unwrap();
    for k in &KERNELS {
        let (m, i) = translated_input(k);
        let src = to_glsl_es(k, &m, &i).unwrap_or_else(|e| panic!("{} to GLSL ES 3.10: {e}", k.name));
        assert!(
            src.starts_with("#version 310 es"),
            "{} to GLSL ES 3.10: starts {:?}",
            k.name,
            src.lines().next()
        );
        let file = dir.path().join(format!("{}.comp", k.name));
        std::fs::write(&file, &src).unwrap();
        match validate_with("glslangValidator", &[], &file) {
            None => return missing("glslangValidator", "glslang-tools"),
            Some(Err(e)) => panic!("{} to GLSL ES 3.10: glslangValidator rejects it:\n{e}", k.name),
            Some(Ok(())) => {}
        }
    }
}

#[test]
fn the_validators_reject_a_broken_shader() {
    // The checks above must be able to fail: a SPIR-V module cut short and a GLSL ES shader
    // using a name it never declares.
    let dir = tempfile::tempdir().unwrap();
    let (m, i) = translated_input(&KERNELS[0]);
    let words = to_spirv(&KERNELS[0], &m, &i).unwrap();
    let cut = dir.path().join("cut.spv");
    std::fs::write(&cut, bytemuck::cast_slice::<u32, u8>(&words[..words.len() / 2])).unwrap();
    match validate_with("spirv-val", &["--target-env", "vulkan1.0"], &cut) {
        None => missing("spirv-val", "spirv-tools"),
        Some(r) => assert!(r.is_err(), "spirv-val accepted half a module"),
    }
    let bad = dir.path().join("bad.comp");
    std::fs::write(
        &bad,
        "#version 310 es\nlayout(local_size_x = 1) in;\nvoid main() { undeclared = 1u; }\n",
    )
    .unwrap();
    match validate_with("glslangValidator", &[], &bad) {
        None => missing("glslangValidator", "glslang-tools"),
        Some(r) => assert!(r.is_err(), "glslangValidator accepted an undeclared name"),
    }
}
