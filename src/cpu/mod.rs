//! The CPU reference backend: one file per WGSL kernel, with the same name, reading like the
//! shader. `common.rs` mirrors `shaders/common.wgsl`, `assign.rs` mirrors `shaders/assign.wgsl` and
//! `remap.rs` mirrors `shaders/remap.wgsl`. Work is split with rayon into the same tiles a GPU
//! workgroup takes; every sum is an integer, so the split cannot change the result.

pub mod assign;
pub mod common;
pub mod nearest;
pub mod remap;

use crate::error::Result;
use crate::lloyd::{Backend, ClusterSum};

/// The CPU backend over one image's points. It runs the pruned search of [`nearest`], which
/// returns exactly the labels of the shader twins in [`assign`] and [`remap`].
pub struct CpuBackend<'a> {
    points: &'a [[u16; 4]],
    weights: &'a [u32],
    /// Each point's label from the previous assignment (`u16::MAX`: none yet).
    labels: Vec<u16>,
    /// The centroid count the labels refer to.
    k: usize,
}

impl<'a> CpuBackend<'a> {
    /// A backend over `points` (see [`crate::space`]) with one weight each.
    pub fn new(points: &'a [[u16; 4]], weights: &'a [u32]) -> Self {
        CpuBackend {
            points,
            weights,
            labels: vec![u16::MAX; points.len()],
            k: 0,
        }
    }
}

impl Backend for CpuBackend<'_> {
    fn assign(&mut self, centroids: &[[f32; 4]]) -> Result<Vec<ClusterSum>> {
        if centroids.len() != self.k {
            self.labels.fill(u16::MAX);
            self.k = centroids.len();
        }
        Ok(nearest::assign(
            self.points,
            self.weights,
            centroids,
            &mut self.labels,
        ))
    }

    fn remap(&mut self, palette: &[[f32; 4]]) -> Result<Vec<u32>> {
        // When no two centroids rounded to the same color, palette entry i is centroid i and the
        // last labels are a close start; otherwise search from scratch. Exact either way.
        let start = (palette.len() == self.k).then_some(self.labels.as_slice());
        Ok(nearest::remap(self.points, palette, start))
    }
}
