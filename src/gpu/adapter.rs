//! Finding adapters, and saying for each whether the engine can run on it and why not.
//!
//! An adapter can run the engine when it has compute shaders and every limit the kernels need
//! ([`required_limits`]); `auto` also wants a hardware device. Opening is a separate step
//! ([`crate::GpuContext`]); a failed open is reported with its message.
//!
//! On Linux, a hardware GPU needs a device node (`/dev/dri/renderD*`, `/dev/nvidia*`, or `/dev/dxg`
//! under WSL). Without one, `auto` does not load any driver at all: loading Mesa's drivers to find
//! only lavapipe costs tens of milliseconds of CPU, as much as quantizing a small photo.

use super::layout::{ASSIGN_WORKGROUP_BYTES, MAX_STORAGE_BUFFERS, WG_SIZE};
use crate::backend::AdapterSummary;

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

/// The limits the engine asks a device for: the portable `Limits::downlevel_defaults()` (what
/// every Vulkan, Metal, DX12 and GLES 3.1 device offers), with the storage binding and buffer
/// sizes raised to the adapter's own, up to 1 GiB, because larger bindings mean fewer chunks.
/// Nothing else is asked for.
pub(crate) fn required_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    let base = wgpu::Limits::downlevel_defaults();
    wgpu::Limits {
        max_storage_buffer_binding_size: adapter
            .max_storage_buffer_binding_size
            .clamp(base.max_storage_buffer_binding_size, 1 << 30),
        max_buffer_size: adapter.max_buffer_size.clamp(base.max_buffer_size, 1 << 30),
        ..base
    }
}

/// Why the engine cannot run with these capabilities, or None when it can.
pub(crate) fn unusable_reason(flags: wgpu::DownlevelFlags, limits: &wgpu::Limits) -> Option<String> {
    if !flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
        return Some("no compute shaders (an OpenGL context below 4.3 / GLES 3.1)".into());
    }
    let needs: [(&str, u64, u64); 6] = [
        (
            "max_storage_buffers_per_shader_stage",
            limits.max_storage_buffers_per_shader_stage as u64,
            MAX_STORAGE_BUFFERS as u64,
        ),
        (
            "max_compute_workgroup_storage_size",
            limits.max_compute_workgroup_storage_size as u64,
            ASSIGN_WORKGROUP_BYTES as u64,
        ),
        (
            "max_compute_invocations_per_workgroup",
            limits.max_compute_invocations_per_workgroup as u64,
            WG_SIZE as u64,
        ),
        (
            "max_compute_workgroup_size_x",
            limits.max_compute_workgroup_size_x as u64,
            WG_SIZE as u64,
        ),
        (
            "max_uniform_buffer_binding_size",
            limits.max_uniform_buffer_binding_size,
            4096,
        ),
        (
            "max_compute_workgroups_per_dimension",
            limits.max_compute_workgroups_per_dimension as u64,
            1024,
        ),
    ];
    needs
        .iter()
        .find(|(_, have, need)| have < need)
        .map(|(name, have, need)| format!("{name} is {have}, the kernels need {need}"))
}

/// The adapter's summary with its fitness filled in.
pub(crate) fn report(adapter: &wgpu::Adapter) -> AdapterSummary {
    let mut s = summary(&adapter.get_info());
    if let Some(r) = unusable_reason(adapter.get_downlevel_capabilities().flags, &adapter.limits()) {
        s.usable = false;
        s.reason = Some(r);
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
    fn portable_limits_are_enough_and_a_smaller_one_is_named() {
        let all = wgpu::DownlevelFlags::all();
        assert_eq!(unusable_reason(all, &wgpu::Limits::default()), None);
        assert_eq!(unusable_reason(all, &wgpu::Limits::downlevel_defaults()), None);
        let small = wgpu::Limits {
            max_compute_workgroup_storage_size: 8192,
            ..wgpu::Limits::default()
        };
        let r = unusable_reason(all, &small).unwrap();
        assert!(r.contains("max_compute_workgroup_storage_size is 8192"), "{r}");
    }

    #[test]
    fn requested_limits_stay_within_the_adapters_and_the_portable_set() {
        let big = wgpu::Limits {
            max_storage_buffer_binding_size: 4 << 30,
            max_buffer_size: 8 << 30,
            ..wgpu::Limits::default()
        };
        let r = required_limits(&big);
        assert_eq!(r.max_storage_buffer_binding_size, 1 << 30);
        assert_eq!(
            r.max_compute_workgroup_storage_size, 16352,
            "nothing else is raised"
        );
        let d = wgpu::Limits::downlevel_defaults();
        let r = required_limits(&d);
        assert!(r.check_limits(&d), "a downlevel device can grant what is asked");
    }
}
