//! The CPU reference backend: one file per WGSL kernel, with the same name, reading like the
//! shader. `common.rs` mirrors `shaders/common.wgsl`, `assign.rs` mirrors `shaders/assign.wgsl` and
//! `remap.rs` mirrors `shaders/remap.wgsl`. Work is split with rayon into the same tiles a GPU
//! workgroup takes; every sum is an integer, so the split cannot change the result.

pub mod assign;
pub mod common;
pub mod remap;

use crate::error::Result;
use crate::lloyd::{Backend, ClusterSum};

/// The CPU backend over one image's points.
pub struct CpuBackend<'a> {
    /// The points (see [`crate::space`]).
    pub points: &'a [[u16; 4]],
    /// One weight per point.
    pub weights: &'a [u32],
}

impl Backend for CpuBackend<'_> {
    fn assign(&mut self, centroids: &[[f32; 4]]) -> Result<Vec<ClusterSum>> {
        Ok(assign::assign(self.points, self.weights, centroids))
    }

    fn remap(&mut self, palette: &[[f32; 4]]) -> Result<Vec<u32>> {
        Ok(remap::remap(self.points, palette))
    }
}
