//! The wgpu backend: device setup and adapter listing (`context.rs`), everything shared with the
//! shaders (`layout.rs`), the pipelines (`pipelines.rs`) and the per-image buffers with chunking
//! (`backend.rs`).

mod backend;
mod context;
pub(crate) mod layout;
mod pipelines;
#[cfg(test)]
mod tests;

pub(crate) use backend::GpuBackend;
pub use context::{list_adapters, GpuContext};
