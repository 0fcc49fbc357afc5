//! Shader modules and compute pipelines, built once per device from the kernel table below: each
//! kernel's WGSL is the generated constants ([`layout::wgsl_prelude`]), `shaders/common.wgsl`
//! for the kernels over unique colors, and the kernel's own file; its bind group layout comes from its slot table in
//! [`layout`], and [`Pipelines::bind`] fills a bind group by slot name.

use super::layout::{self, Access, Slot};
use crate::error::{Error, Result};
use std::borrow::Cow;

/// One compute kernel: its entry point, its file and its bindings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kernel {
    /// The entry point.
    pub name: &'static str,
    /// `shaders/FILE.wgsl`.
    pub file: &'static str,
    /// The file's WGSL.
    pub source: &'static str,
    /// Whether `shaders/common.wgsl` goes in front (the kernels over unique colors).
    pub common: bool,
    /// Its binding slots.
    pub slots: &'static [Slot],
}

const COMMON_WGSL: &str = include_str!("../../shaders/common.wgsl");
const HISTOGRAM_WGSL: &str = include_str!("../../shaders/histogram.wgsl");

/// `shaders/assign.wgsl`: one Lloyd iteration's assignment and per-cluster sums.
pub(crate) const ASSIGN: Kernel = Kernel {
    name: "assign",
    file: "assign",
    source: include_str!("../../shaders/assign.wgsl"),
    common: true,
    slots: &layout::ASSIGN_SLOTS,
};

/// `shaders/remap.wgsl`: the nearest palette entry per point.
pub(crate) const REMAP: Kernel = Kernel {
    name: "remap",
    file: "remap",
    source: include_str!("../../shaders/remap.wgsl"),
    common: true,
    slots: &layout::REMAP_SLOTS,
};

const fn hist(name: &'static str, slots: &'static [Slot]) -> Kernel {
    Kernel {
        name,
        file: "histogram",
        source: HISTOGRAM_WGSL,
        common: false,
        slots,
    }
}

/// `shaders/histogram.wgsl`, the four steps of the GPU histogram.
pub(crate) const HIST_COUNT: Kernel = hist("hist_count", &layout::HIST_COUNT_SLOTS);
/// See [`HIST_COUNT`].
pub(crate) const HIST_BLOCKS: Kernel = hist("hist_blocks", &layout::HIST_BLOCKS_SLOTS);
/// See [`HIST_COUNT`].
pub(crate) const HIST_SCAN: Kernel = hist("hist_scan", &layout::HIST_SCAN_SLOTS);
/// See [`HIST_COUNT`].
pub(crate) const HIST_COMPACT: Kernel = hist("hist_compact", &layout::HIST_COMPACT_SLOTS);

/// `shaders/expand.wgsl`: one palette index per pixel.
pub(crate) const EXPAND: Kernel = Kernel {
    name: "expand",
    file: "expand",
    source: include_str!("../../shaders/expand.wgsl"),
    common: false,
    slots: &layout::EXPAND_SLOTS,
};

/// The pipeline-overridable constants every kernel is compiled with: none, because every
/// number the shaders share with the host is a WGSL `const` from [`layout::wgsl_prelude`]. The
/// translation tests pass the same map, so they translate exactly what the device compiles.
pub(crate) const CONSTANTS: &[(&str, f64)] = &[];

/// Every kernel (the limits and the tests walk this list).
pub(crate) const KERNELS: [Kernel; 7] = [
    ASSIGN,
    REMAP,
    HIST_COUNT,
    HIST_BLOCKS,
    HIST_SCAN,
    HIST_COMPACT,
    EXPAND,
];

impl Kernel {
    /// The WGSL the device compiles: generated constants, `common.wgsl` for the kernels over
    /// unique colors, then the kernel's file.
    pub fn wgsl(&self) -> String {
        let common = if self.common { COMMON_WGSL } else { "" };
        format!("{}\n{common}\n{}", layout::wgsl_prelude(), self.source)
    }
}

/// A compiled kernel and its bind group layout.
pub(crate) struct Pipeline {
    kernel: Kernel,
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

/// The compute pipelines, one per kernel, named like the entry points.
pub(crate) struct Pipelines {
    /// `shaders/assign.wgsl`.
    pub assign: Pipeline,
    /// `shaders/remap.wgsl`.
    pub remap: Pipeline,
    /// `shaders/histogram.wgsl`, `hist_count`.
    pub hist_count: Pipeline,
    /// `shaders/histogram.wgsl`, `hist_blocks`.
    pub hist_blocks: Pipeline,
    /// `shaders/histogram.wgsl`, `hist_scan`.
    pub hist_scan: Pipeline,
    /// `shaders/histogram.wgsl`, `hist_compact`.
    pub hist_compact: Pipeline,
    /// `shaders/expand.wgsl`.
    pub expand: Pipeline,
}

fn layout_entry(s: &Slot) -> wgpu::BindGroupLayoutEntry {
    let ty = match s.access {
        Access::Uniform => wgpu::BufferBindingType::Uniform,
        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
    };
    wgpu::BindGroupLayoutEntry {
        binding: s.binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Pipeline {
    fn new(device: &wgpu::Device, kernel: Kernel) -> Self {
        let name = kernel.name;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.file),
            source: wgpu::ShaderSource::Wgsl(Cow::Owned(kernel.wgsl())),
        });
        let entries: Vec<_> = kernel.slots.iter().map(layout_entry).collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(name),
            entries: &entries,
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(name),
            // The kernels clear the workgroup memory they read themselves.
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: CONSTANTS,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        Pipeline {
            kernel,
            pipeline,
            layout,
        }
    }

    /// A bind group with `buffers` bound by slot name; every slot must be given exactly once.
    pub fn bind(&self, device: &wgpu::Device, buffers: &[(&str, &wgpu::Buffer)]) -> Result<wgpu::BindGroup> {
        let slots = self.kernel.slots;
        let mut entries = Vec::with_capacity(slots.len());
        for s in slots {
            let mut given = buffers.iter().filter(|(n, _)| *n == s.name);
            match (given.next(), given.next()) {
                (Some((_, b)), None) => entries.push(wgpu::BindGroupEntry {
                    binding: s.binding,
                    resource: b.as_entire_binding(),
                }),
                _ => {
                    return Err(Error::Gpu(format!(
                        "{}: slot '{}' must be bound exactly once",
                        self.kernel.name, s.name
                    )))
                }
            }
        }
        if let Some((n, _)) = buffers.iter().find(|(n, _)| !slots.iter().any(|s| s.name == *n)) {
            return Err(Error::Gpu(format!("{}: no slot named '{n}'", self.kernel.name)));
        }
        Ok(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(self.kernel.name),
            layout: &self.layout,
            entries: &entries,
        }))
    }
}

impl Pipelines {
    /// Compiles every kernel. Errors surface through the device's error scope (see `context.rs`).
    pub fn new(device: &wgpu::Device) -> Self {
        Pipelines {
            assign: Pipeline::new(device, ASSIGN),
            remap: Pipeline::new(device, REMAP),
            hist_count: Pipeline::new(device, HIST_COUNT),
            hist_blocks: Pipeline::new(device, HIST_BLOCKS),
            hist_scan: Pipeline::new(device, HIST_SCAN),
            hist_compact: Pipeline::new(device, HIST_COMPACT),
            expand: Pipeline::new(device, EXPAND),
        }
    }
}
