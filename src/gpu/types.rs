//! Structs that cross to the GPU. Each is `#[repr(C)]` + `Pod` and has a WGSL twin named in its
//! doc comment; `tests/shaders.rs` checks that the sizes agree.

use bytemuck::{Pod, Zeroable};

/// Twin of `struct Params` in `shaders/common.wgsl` (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq, Eq)]
pub struct Params {
    /// Number of points in this chunk.
    pub n_points: u32,
    /// Number of live centroids (1..=256).
    pub k: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
    /// Padding to 16 bytes.
    pub _pad1: u32,
}

/// Twin of `centroids: array<vec4<f32>, 256>` in `shaders/common.wgsl` (4096 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub struct Centroids(pub [[f32; 4]; 256]);

/// Words per cluster in the `sums` buffer (`ACC_WORDS` in `shaders/assign.wgsl`).
pub const ACC_WORDS: usize = 12;
/// Points per assign workgroup (`WG_SIZE * ITEMS` in `shaders/assign.wgsl`).
pub const ASSIGN_TILE: u32 = 1024;
/// Points per remap workgroup (`@workgroup_size` in `shaders/remap.wgsl`).
pub const REMAP_TILE: u32 = 256;
/// Bytes per packed point (`vec2<u32>`).
pub const POINT_BYTES: u64 = 8;
