//! The wgpu backend: device setup (`context.rs`), the `#[repr(C)]` twins of the WGSL structs
//! (`types.rs`), the pipelines (`pipelines.rs`) and the per-image buffers with chunking
//! (`backend.rs`).

pub mod backend;
pub mod context;
pub mod pipelines;
pub mod types;

pub use context::{list_adapters, AdapterSummary, GpuContext};
