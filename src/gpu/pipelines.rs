//! Shader modules and compute pipelines, built once per device.

use std::borrow::Cow;

/// `shaders/common.wgsl` followed by `shaders/assign.wgsl`.
pub const ASSIGN_WGSL: &str = concat!(
    include_str!("../../shaders/common.wgsl"),
    "\n",
    include_str!("../../shaders/assign.wgsl")
);
/// `shaders/common.wgsl` followed by `shaders/remap.wgsl`.
pub const REMAP_WGSL: &str = concat!(
    include_str!("../../shaders/common.wgsl"),
    "\n",
    include_str!("../../shaders/remap.wgsl")
);

/// The compute pipelines, one field per shader, named like the shader file.
pub struct Pipelines {
    /// `shaders/assign.wgsl`, entry point `assign`.
    pub assign: wgpu::ComputePipeline,
    /// Bind group layout of `assign`.
    pub assign_layout: wgpu::BindGroupLayout,
    /// `shaders/remap.wgsl`, entry point `remap`.
    pub remap: wgpu::ComputePipeline,
    /// Bind group layout of `remap`.
    pub remap_layout: wgpu::BindGroupLayout,
}

fn entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

const UNIFORM: wgpu::BufferBindingType = wgpu::BufferBindingType::Uniform;
const READ: wgpu::BufferBindingType = wgpu::BufferBindingType::Storage { read_only: true };
const WRITE: wgpu::BufferBindingType = wgpu::BufferBindingType::Storage { read_only: false };

fn pipeline(
    device: &wgpu::Device,
    name: &str,
    source: &str,
    entries: &[wgpu::BindGroupLayoutEntry],
) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(name),
        entries,
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
            zero_initialize_workgroup_memory: false,
            ..Default::default()
        },
        cache: None,
    });
    (pipeline, layout)
}

impl Pipelines {
    /// Compiles both kernels. Errors surface through the device's error scope (see `context.rs`).
    pub fn new(device: &wgpu::Device) -> Self {
        let (assign, assign_layout) = pipeline(
            device,
            "assign",
            ASSIGN_WGSL,
            &[
                entry(0, UNIFORM),
                entry(1, UNIFORM),
                entry(2, READ),
                entry(3, READ),
                entry(4, WRITE),
            ],
        );
        let (remap, remap_layout) = pipeline(
            device,
            "remap",
            REMAP_WGSL,
            &[
                entry(0, UNIFORM),
                entry(1, UNIFORM),
                entry(2, READ),
                entry(3, WRITE),
            ],
        );
        Pipelines {
            assign,
            assign_layout,
            remap,
            remap_layout,
        }
    }
}
