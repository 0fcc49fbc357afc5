//! The wgpu backend: device setup and adapter listing (`context.rs`), everything shared with the
//! shaders (`layout.rs`), the pipelines (`pipelines.rs`) and the per-image buffers with chunking
//! (`backend.rs`).

mod adapter;
mod backend;
mod context;
pub(crate) mod layout;
#[cfg(test)]
mod limits_tests;
mod pipelines;
mod pixels;
mod start;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod translate_tests;

pub(crate) use adapter::hardware_may_exist;
pub(crate) use backend::GpuBackend;
pub use context::{list_adapters, GpuContext};
pub(crate) use pixels::{can_count, GpuPixels};
pub(crate) use start::DeviceStart;
