//! Finding adapters, and saying for each whether the engine can run on it and why not.
//!
//! An adapter can run the engine when it has compute shaders and every limit the kernels need
//! ([`required_limits`]); `auto` also wants a hardware device. Opening is a separate step
//! ([`crate::GpuContext`]); a failed open is reported with its message.
//!
//! On Linux, a hardware GPU needs a device node (`/dev/dri/renderD*`, `/dev/nvidia*`, or `/dev/dxg`
//! under WSL). Without one, `auto` does not load any driver at all: loading Mesa's drivers to find
//! only lavapipe costs tens of milliseconds of CPU, as much as quantizing a small photo.

use super::layout::{
    Centroids, ACC_LEN, ASSIGN_TILE, ASSIGN_WORKGROUP_BYTES, MAX_STORAGE_BUFFERS, N_BLOCKS, PIXEL_TILE,
    POINT_BYTES, TABLE_LEN, WG_SIZE,
};
use super::pipelines::KERNELS;
use crate::backend::{AdapterSummary, EngineFit, MissingLimit};

/// What a caller may want to know about an adapter and its fitness for the engine.
pub(crate) fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    let driver = [info.driver.as_str(), info.driver_info.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver,
        usable: true,
        reason: None,
        missing_limits: Vec::new(),
        missing_features: Vec::new(),
        open_error: None,
        engine: None,
    }
}

/// An instance honoring `WGPU_BACKEND` and the other wgpu variables, over `backends` when given.
pub(crate) fn instance(backends: Option<wgpu::Backends>) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if let Some(b) = backends {
        if std::env::var_os("WGPU_BACKEND").is_none() {
            desc.backends = b;
        }
    }
    wgpu::Instance::new(desc)
}

/// What the kernels need of a device, and nothing more: the lowest set wgpu defines
/// (`Limits::downlevel_webgl2_defaults()`, whose graphics limits every adapter exceeds) with the
/// compute limits raised to what the kernels use. Every Vulkan, Metal and DX12 device
/// (`Limits::default()`) and every GLES 3.1 device (`Limits::downlevel_defaults()`) offers all of
/// it. The storage sizes here are the least the engine can chunk with; [`required_limits`] asks
/// for more when the adapter has it.
pub(crate) fn needed_limits() -> wgpu::Limits {
    // Binding numbers, not counts: wgpu wants every `@binding(n)` below this limit.
    let bindings = KERNELS
        .iter()
        .flat_map(|k| k.slots.iter().map(|s| s.binding + 1))
        .max()
        .unwrap_or(0);
    // The least storage binding and buffer the engine can work with: one tile of points or
    // pixels per chunk, and `assign`'s per-cluster sums (MAX_K x ACC_WORDS words), which are
    // bound whole.
    let least_chunk = (ASSIGN_TILE as u64 * POINT_BYTES)
        .max(PIXEL_TILE as u64 * 4)
        .max(ACC_LEN as u64 * 4);
    wgpu::Limits {
        max_bind_groups: 1,
        max_bindings_per_bind_group: bindings,
        max_storage_buffers_per_shader_stage: MAX_STORAGE_BUFFERS,
        max_uniform_buffers_per_shader_stage: 2,
        max_uniform_buffer_binding_size: std::mem::size_of::<Centroids>() as u64,
        max_storage_buffer_binding_size: least_chunk,
        max_buffer_size: least_chunk,
        max_compute_workgroup_storage_size: ASSIGN_WORKGROUP_BYTES,
        max_compute_invocations_per_workgroup: WG_SIZE,
        max_compute_workgroup_size_x: WG_SIZE,
        max_compute_workgroup_size_y: 1,
        max_compute_workgroup_size_z: 1,
        max_compute_workgroups_per_dimension: N_BLOCKS,
        ..wgpu::Limits::downlevel_webgl2_defaults()
    }
}

/// The limits the engine asks a device for: [`needed_limits`], with the storage binding and
/// buffer sizes raised to the adapter's own, up to 1 GiB, and the workgroups per dispatch up to
/// 65535, because larger bindings and dispatches mean fewer chunks (and 64 MiB lets the
/// histogram run on the device). Never more than the adapter has.
pub(crate) fn required_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    let need = needed_limits();
    wgpu::Limits {
        max_storage_buffer_binding_size: adapter
            .max_storage_buffer_binding_size
            .min(1 << 30)
            .max(need.max_storage_buffer_binding_size),
        max_buffer_size: adapter.max_buffer_size.min(1 << 30).max(need.max_buffer_size),
        max_compute_workgroups_per_dimension: adapter
            .max_compute_workgroups_per_dimension
            .min(65535)
            .max(need.max_compute_workgroups_per_dimension),
        ..need
    }
}

/// Every limit of `limits` that falls short of [`needed_limits`].
pub(crate) fn missing_limits(limits: &wgpu::Limits) -> Vec<MissingLimit> {
    let mut out = Vec::new();
    needed_limits().check_limits_with_fail_fn(limits, false, |name, need, have| {
        out.push(MissingLimit {
            name: name.to_string(),
            have,
            need,
        })
    });
    out
}

/// The capabilities the kernels need that `flags` lacks: compute shaders, nothing else.
pub(crate) fn missing_features(flags: wgpu::DownlevelFlags) -> Vec<String> {
    if flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
        Vec::new()
    } else {
        vec!["COMPUTE_SHADERS".to_string()]
    }
}

/// Why the engine cannot run with these capabilities, or None when it can.
pub(crate) fn unusable_reason(flags: wgpu::DownlevelFlags, limits: &wgpu::Limits) -> Option<String> {
    if !missing_features(flags).is_empty() {
        return Some("no compute shaders (an OpenGL context below 4.3 / GLES 3.1)".into());
    }
    let missing: Vec<String> = missing_limits(limits)
        .iter()
        .map(|m| format!("{} is {}, the kernels need {}", m.name, m.have, m.need))
        .collect();
    (!missing.is_empty()).then(|| missing.join("; "))
}

/// For an OpenGL adapter, why its context cannot run the kernels, read from the version wgpu
/// reports in `driver_info`: compute shaders need desktop OpenGL 4.3 or OpenGL ES 3.1. wgpu's GL
/// backend gets an OpenGL 3.3 context from NVIDIA's EGL driver ("3.3.0 NVIDIA 580.159.04", shading
/// language 3.30) and still reports compute shaders among its capabilities; opening the device
/// then fails, as wgpu's own compute pipeline cannot be built for that shading language
/// ("doesn't support Features(BUFFER_STORAGE | COMPUTE_SHADER ...)", then "Parent device is
/// lost"). None when the version is high enough or cannot be read.
pub(crate) fn gl_context_reason(backend: wgpu::Backend, driver_info: &str) -> Option<String> {
    if backend != wgpu::Backend::Gl {
        return None;
    }
    let (es, rest) = match driver_info.strip_prefix("OpenGL ES ") {
        Some(rest) => (true, rest),
        None => (false, driver_info),
    };
    let version = rest.split(|c: char| c.is_whitespace() || c == '(').next()?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>());
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return None;
    };
    let (need, api) = if es {
        ((3, 1), "OpenGL ES")
    } else {
        ((4, 3), "OpenGL")
    };
    ((major, minor) < need).then(|| {
        format!(
            "an {api} {major}.{minor} context has no compute shaders (they need {api} {}.{})",
            need.0, need.1
        )
    })
}

/// What the engine would get on a device with these limits (those [`required_limits`] asks for);
/// `histogram_on_device` holds for images of any size.
pub(crate) fn engine_fit(adapter: &wgpu::Limits) -> EngineFit {
    let asked = required_limits(adapter);
    EngineFit {
        storage_binding_bytes: asked.max_storage_buffer_binding_size,
        pixels_per_chunk: super::pixels::pixel_chunk_limit(&asked, None),
        colors_per_chunk: super::backend::chunk_limit(&asked, None),
        histogram_on_device: super::pixels::can_count(&asked, TABLE_LEN as usize),
    }
}

/// The adapter's summary with its fitness filled in (before any attempt to open it).
pub(crate) fn report(adapter: &wgpu::Adapter) -> AdapterSummary {
    let mut s = summary(&adapter.get_info());
    let limits = adapter.limits();
    let flags = adapter.get_downlevel_capabilities().flags;
    s.missing_features = missing_features(flags);
    s.missing_limits = missing_limits(&limits);
    let info = adapter.get_info();
    let reason =
        gl_context_reason(info.backend, &info.driver_info).or_else(|| unusable_reason(flags, &limits));
    match reason {
        Some(r) => {
            s.usable = false;
            s.reason = Some(r);
        }
        None => s.engine = Some(engine_fit(&limits)),
    }
    s
}

/// Whether a hardware GPU could be present at all, decided without loading any driver. True
/// when the user points wgpu at something (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`), and on systems
/// other than Linux; on Linux, when a GPU device node exists.
pub(crate) fn hardware_may_exist() -> bool {
    if std::env::var_os("WGPU_BACKEND").is_some() || std::env::var_os("WGPU_ADAPTER_NAME").is_some() {
        return true;
    }
    if !cfg!(target_os = "linux") {
        return true;
    }
    let nodes = |dir: &str, prefix: &str| {
        std::fs::read_dir(dir).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    nodes("/dev/dri", "renderD") || nodes("/dev", "nvidia") || std::path::Path::new("/dev/dxg").exists()
}

/// Preference among usable adapters: discrete, integrated, virtual, other, then software.
fn rank(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// The adapters of `instance`, usable ones first in order of preference (the order is stable
/// among equals), with their reports.
pub(crate) fn candidates(instance: &wgpu::Instance) -> Vec<(wgpu::Adapter, AdapterSummary)> {
    let mut all: Vec<(wgpu::Adapter, AdapterSummary)> =
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
            .into_iter()
            .map(|a| {
                let r = report(&a);
                (a, r)
            })
            .collect();
    all.sort_by_key(|(a, r)| (!r.usable, rank(&a.get_info())));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_without_compute_shaders_is_unusable_and_says_why() {
        let flags = wgpu::DownlevelFlags::all() - wgpu::DownlevelFlags::COMPUTE_SHADERS;
        let r = unusable_reason(flags, &wgpu::Limits::default()).unwrap();
        assert!(r.contains("compute shaders"), "{r}");
    }

    #[test]
    fn an_opengl_context_below_4_3_or_es_3_1_is_unusable_and_says_why() {
        use wgpu::Backend::{Gl, Vulkan};
        // What NVIDIA's EGL driver gave wgpu on an H100 (driver 580.159.04).
        let r = gl_context_reason(Gl, "3.3.0 NVIDIA 580.159.04").unwrap();
        assert_eq!(
            r,
            "an OpenGL 3.3 context has no compute shaders (they need OpenGL 4.3)"
        );
        let r = gl_context_reason(Gl, "OpenGL ES 3.0 Mesa 22.3.6").unwrap();
        assert!(r.contains("OpenGL ES 3.0") && r.contains("OpenGL ES 3.1"), "{r}");
        // llvmpipe, as this project's CI sees it, and other contexts with compute shaders.
        assert_eq!(gl_context_reason(Gl, "4.5 (Core Profile) Mesa 22.3.6"), None);
        assert_eq!(gl_context_reason(Gl, "4.3.0 NVIDIA 580.159.04"), None);
        assert_eq!(gl_context_reason(Gl, "OpenGL ES 3.2 NVIDIA 580.159.04"), None);
        // Other APIs, and versions that cannot be read, are left to the other checks.
        assert_eq!(gl_context_reason(Vulkan, "3.3.0 NVIDIA"), None);
        assert_eq!(gl_context_reason(Gl, ""), None);
        assert_eq!(gl_context_reason(Gl, "NVIDIA"), None);
    }

    #[test]
    fn portable_limits_are_enough_and_every_smaller_one_is_named() {
        let all = wgpu::DownlevelFlags::all();
        assert_eq!(unusable_reason(all, &wgpu::Limits::default()), None);
        assert_eq!(unusable_reason(all, &wgpu::Limits::downlevel_defaults()), None);
        assert!(missing_limits(&wgpu::Limits::downlevel_defaults()).is_empty());
        let small = wgpu::Limits {
            max_compute_workgroup_storage_size: 8192,
            max_storage_buffers_per_shader_stage: 2,
            ..wgpu::Limits::default()
        };
        let r = unusable_reason(all, &small).unwrap();
        assert!(
            r.contains("max_compute_workgroup_storage_size is 8192, the kernels need 12288"),
            "{r}"
        );
        assert!(
            r.contains("max_storage_buffers_per_shader_stage is 2, the kernels need 4"),
            "{r}"
        );
        // WebGL 2 has no compute at all: every compute limit is named.
        let names: Vec<String> = missing_limits(&wgpu::Limits::downlevel_webgl2_defaults())
            .into_iter()
            .map(|m| m.name)
            .collect();
        for n in [
            "max_storage_buffers_per_shader_stage",
            "max_compute_workgroup_storage_size",
            "max_compute_workgroups_per_dimension",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} not in {names:?}");
        }
    }

    #[test]
    fn requested_limits_are_the_needed_ones_with_larger_bindings_up_to_the_adapters() {
        let big = wgpu::Limits {
            max_storage_buffer_binding_size: 4 << 30,
            max_buffer_size: 8 << 30,
            ..wgpu::Limits::default()
        };
        let r = required_limits(&big);
        assert_eq!(r.max_storage_buffer_binding_size, 1 << 30);
        assert_eq!(r.max_buffer_size, 1 << 30);
        assert_eq!(r.max_compute_workgroups_per_dimension, 65535);
        let need = needed_limits();
        assert_eq!(
            wgpu::Limits {
                max_storage_buffer_binding_size: need.max_storage_buffer_binding_size,
                max_buffer_size: need.max_buffer_size,
                max_compute_workgroups_per_dimension: need.max_compute_workgroups_per_dimension,
                ..r.clone()
            },
            need,
            "nothing but the sizes and the dispatch width is raised"
        );
        for portable in [wgpu::Limits::default(), wgpu::Limits::downlevel_defaults()] {
            let r = required_limits(&portable);
            assert!(
                r.check_limits(&portable),
                "a portable device grants what is asked"
            );
            assert_eq!(r.max_storage_buffer_binding_size, 128 << 20);
            let fit = engine_fit(&portable);
            // 128 MiB of 4-byte pixels; colors: 65535 workgroups of 256, to whole 1024-point tiles.
            assert_eq!(
                (fit.pixels_per_chunk, fit.colors_per_chunk),
                (32 << 20, 16_776_192)
            );
            assert!(fit.histogram_on_device);
        }
    }
}
