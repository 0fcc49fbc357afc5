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

/// The distinct colors of an opaque image as (24-bit key, count), ascending by key: what
/// `hist_compact` writes and its CPU twin returns.
pub(crate) type Summary = Vec<(u32, u32)>;
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
// hist_scan covers every block with one workgroup, and blocks tile the table exactly.
const _: () = assert!(N_BLOCKS == WG_SIZE * SCAN_ITEMS && TABLE_LEN == N_BLOCKS * BLOCK_LEN);
/// Pixels per invocation in `hist_count` and `expand` (`PIXEL_ITEMS`).
pub(crate) const PIXEL_ITEMS: u32 = 4;
/// Pixels per `hist_count` or `expand` workgroup.
pub(crate) const PIXEL_TILE: u32 = WG_SIZE * PIXEL_ITEMS;
/// Entries of the GPU histogram's count table: one per 24-bit RGB value (`TABLE_LEN`).
pub(crate) const TABLE_LEN: u32 = 1 << 24;
/// Table entries per invocation in `hist_blocks` and `hist_compact` (`BLOCK_ITEMS`).
pub(crate) const BLOCK_ITEMS: u32 = 64;
/// Table entries per block, one block per workgroup (`BLOCK_LEN`).
pub(crate) const BLOCK_LEN: u32 = WG_SIZE * BLOCK_ITEMS;
/// Blocks in the table (`N_BLOCKS`).
pub(crate) const N_BLOCKS: u32 = TABLE_LEN / BLOCK_LEN;
/// Block counts per invocation in the one-workgroup `hist_scan` (`SCAN_ITEMS`).
pub(crate) const SCAN_ITEMS: u32 = N_BLOCKS / WG_SIZE;
/// Most storage buffers any kernel binds: the portable `Limits::downlevel_defaults()` allow 4.
pub(crate) const MAX_STORAGE_BUFFERS: u32 = 4;
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
         const ACC_LEN: u32 = {ACC_LEN}u;\n\
         const PIXEL_ITEMS: u32 = {PIXEL_ITEMS}u;\n\
         const BLOCK_ITEMS: u32 = {BLOCK_ITEMS}u;\n\
         const BLOCK_LEN: u32 = {BLOCK_LEN}u;\n\
         const SCAN_ITEMS: u32 = {SCAN_ITEMS}u;\n"
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

/// Twin of `struct PixelParams` in `shaders/histogram.wgsl` and `shaders/expand.wgsl` (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub(crate) struct PixelParams {
    /// Pixels in this chunk.
    pub n: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 3],
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

/// `shaders/histogram.wgsl`'s bindings, each entry point using some of them.
const HIST: [Slot; 6] = [
    slot("pp", 0, Access::Uniform),
    slot("pixels", 1, Access::Read),
    slot("table", 2, Access::ReadWrite),
    slot("flags", 3, Access::ReadWrite),
    slot("blocks", 4, Access::ReadWrite),
    slot("summary", 5, Access::ReadWrite),
];

/// `hist_count`'s bindings.
pub(crate) const HIST_COUNT_SLOTS: [Slot; 4] = [HIST[0], HIST[1], HIST[2], HIST[3]];
/// `hist_blocks`'s bindings.
pub(crate) const HIST_BLOCKS_SLOTS: [Slot; 2] = [HIST[2], HIST[4]];
/// `hist_scan`'s bindings.
pub(crate) const HIST_SCAN_SLOTS: [Slot; 2] = [HIST[3], HIST[4]];
/// `hist_compact`'s bindings.
pub(crate) const HIST_COMPACT_SLOTS: [Slot; 3] = [HIST[2], HIST[4], HIST[5]];

/// `expand`'s bindings.
pub(crate) const EXPAND_SLOTS: [Slot; 5] = [
    slot("pp", 0, Access::Uniform),
    slot("pixels", 1, Access::Read),
    slot("table", 2, Access::Read),
    slot("labels", 3, Access::Read),
    slot("indices", 4, Access::ReadWrite),
];
