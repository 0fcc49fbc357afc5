//! Everything the host and the shaders must agree on, defined once, here: the constants (emitted
//! as a WGSL prelude in front of every shader, so the WGSL files never repeat a number), the
//! `#[repr(C)]` structs that cross to the GPU, and each kernel's binding slots (from which the
//! bind group layouts are built and the bind groups filled, by name).
//!
//! The unit tests in `src/gpu/tests.rs` check the assembled WGSL against these with naga: the
//! struct sizes, the workgroup size and memory, and every binding's slot, name and access.

use crate::options::MAX_COLORS;
use bytemuck::{Pod, Zeroable};

/// Largest number of centroids (`MAX_K` in WGSL).
pub(crate) const MAX_K: u32 = MAX_COLORS;
/// Invocations per workgroup in every kernel (`WG_SIZE`).
pub(crate) const WG_SIZE: u32 = 256;
/// Points per invocation in `assign` (`ASSIGN_ITEMS`).
pub(crate) const ASSIGN_ITEMS: u32 = 4;
/// Points per `assign` workgroup.
pub(crate) const ASSIGN_TILE: u32 = WG_SIZE * ASSIGN_ITEMS;
/// Points per `remap` workgroup (one per invocation).
pub(crate) const REMAP_TILE: u32 = WG_SIZE;
/// u32 words per cluster in the sums (`ACC_WORDS`): count, sum x, y, z, w and sse, each as a
/// (lo, hi) pair.
pub(crate) const ACC_WORDS: u32 = 12;
/// Words of `assign`'s per-workgroup accumulator (`ACC_LEN`).
pub(crate) const ACC_LEN: u32 = MAX_K * ACC_WORDS;
/// Bytes of workgroup memory `assign` uses.
pub(crate) const ASSIGN_WORKGROUP_BYTES: u32 = ACC_LEN * 4;

// The portable limits every device offers (wgpu's `Limits::default()`): 16 KiB of workgroup
// memory and 256 invocations per workgroup. Checked when the crate compiles.
const _: () = assert!(ASSIGN_WORKGROUP_BYTES <= 16 * 1024);
const _: () = assert!(WG_SIZE <= 256);
/// Bytes per packed point (`vec2<u32>`; see [`crate::grid::Point`]).
pub(crate) const POINT_BYTES: u64 = std::mem::size_of::<crate::grid::Point>() as u64;

/// The constants above as WGSL, prepended to every shader.
pub(crate) fn wgsl_prelude() -> String {
    format!(
        "// Generated from src/gpu/layout.rs.\n\
         const MAX_K: u32 = {MAX_K}u;\n\
         const WG_SIZE: u32 = {WG_SIZE}u;\n\
         const ASSIGN_ITEMS: u32 = {ASSIGN_ITEMS}u;\n\
         const ACC_WORDS: u32 = {ACC_WORDS}u;\n\
         const ACC_LEN: u32 = {ACC_LEN}u;\n"
    )
}

/// Twin of `struct Params` in `shaders/common.wgsl` (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub(crate) struct Params {
    /// Number of points in this chunk.
    pub n_points: u32,
    /// Number of live centroids (1..=MAX_K).
    pub k: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

/// Twin of `centroids: array<vec4<f32>, MAX_K>` in `shaders/common.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Centroids(pub [[f32; 4]; MAX_K as usize]);

/// How a kernel reads a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One binding of a kernel: `@group(0) @binding(slot) var<...> name`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// The WGSL variable's name, also the key the host binds a buffer by.
    pub name: &'static str,
    /// `@binding(...)`.
    pub binding: u32,
    /// Uniform or storage, and how.
    pub access: Access,
}

const fn slot(name: &'static str, binding: u32, access: Access) -> Slot {
    Slot {
        name,
        binding,
        access,
    }
}

/// The bindings `shaders/common.wgsl` declares for every kernel.
const COMMON: [Slot; 3] = [
    slot("params", 0, Access::Uniform),
    slot("centroids", 1, Access::Uniform),
    slot("points", 2, Access::Read),
];

/// `assign`'s bindings.
pub(crate) const ASSIGN_SLOTS: [Slot; 5] = [
    COMMON[0],
    COMMON[1],
    COMMON[2],
    slot("weights", 3, Access::Read),
    slot("sums", 4, Access::ReadWrite),
];

/// `remap`'s bindings.
pub(crate) const REMAP_SLOTS: [Slot; 4] = [
    COMMON[0],
    COMMON[1],
    COMMON[2],
    slot("labels", 3, Access::ReadWrite),
];
