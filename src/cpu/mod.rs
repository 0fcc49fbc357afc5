//! The CPU backend. One file per WGSL kernel, with the same name, reading like the shader:
//! `common.rs` mirrors `shaders/common.wgsl`, `assign.rs` mirrors `shaders/assign.wgsl` and
//! `remap.rs` mirrors `shaders/remap.wgsl`.
//!
//! The twins take their nearest-centroid search as a parameter ([`Search`]). [`Brute`] is the
//! shader's own brute force, in f32, from `common.rs`. [`CpuBackend`] runs the same twins with
//! [`Neighbors`], the exact pruned search of [`crate::grid`], as their fast path; the tests below
//! prove that both searches give the same labels and sums.

pub(crate) mod assign;
// The shader's own f32 search, written the shader's way: the tests run the twins with it and
// prove the pruned search equal; the backend itself runs the pruned search.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod common;
pub(crate) mod expand;
pub(crate) mod histogram;
pub(crate) mod remap;

use crate::backend::{check_centroids, Backend, ClusterSum};
use crate::error::Result;
use crate::grid::{Neighbors, Point};

/// A nearest-centroid search over a fixed set of centroids, as the twins call it.
pub(crate) trait Search: Sync {
    /// The number of centroids.
    fn k(&self) -> usize;
    /// (label, squared distance) of the nearest centroid to `q`, ties to the lower index.
    /// `hint` is where the search may start (any value `>= k` for none); it never changes the
    /// answer.
    fn nearest(&self, q: Point, hint: u16) -> (u16, u32);
}

/// The shader's brute force (`nearest` in `shaders/common.wgsl`, twin in `common.rs`), in f32.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Brute(Vec<[f32; 4]>);

#[cfg_attr(not(test), allow(dead_code))]
impl Brute {
    /// Centroids as the GPU receives them.
    pub fn new(centroids: &[Point]) -> Self {
        Brute(centroids.iter().map(|c| c.to_f32()).collect())
    }
}

impl Search for Brute {
    fn k(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn nearest(&self, q: Point, _hint: u16) -> (u16, u32) {
        let (j, d) = common::nearest(common::to_f32(common::point_coords(q)), &self.0);
        (j as u16, d)
    }
}

impl Search for Neighbors {
    fn k(&self) -> usize {
        self.centroids().len()
    }
    #[inline]
    fn nearest(&self, q: Point, hint: u16) -> (u16, u32) {
        let (j, d) = self.nearest_from(q, hint as usize);
        (j as u16, d)
    }
}

/// The CPU backend over one image's points. It keeps each point's last label as the start of its
/// next search.
pub(crate) struct CpuBackend<'a> {
    points: &'a [Point],
    weights: &'a [u32],
    /// Each point's label from the previous assignment (`u16::MAX`: none yet).
    labels: Vec<u16>,
    /// The centroid count the labels refer to.
    k: usize,
}

impl<'a> CpuBackend<'a> {
    /// A backend over `points` with one weight each.
    pub fn new(points: &'a [Point], weights: &'a [u32]) -> Self {
        CpuBackend {
            points,
            weights,
            labels: vec![u16::MAX; points.len()],
            k: 0,
        }
    }

    /// Starts each point's first search from `hints[i]`, one of the first `k` centroids (its
    /// seed). The labels are the same from any start; a good one only makes the search short.
    /// Hints of another length are ignored.
    pub fn start_from(&mut self, hints: &[u16], k: usize) {
        if hints.len() == self.labels.len() {
            self.labels.copy_from_slice(hints);
            self.k = k;
        }
    }
}

impl Backend for CpuBackend<'_> {
    fn assign(&mut self, centroids: &[Point]) -> Result<Vec<ClusterSum>> {
        check_centroids(centroids)?;
        if centroids.len() != self.k {
            self.labels.fill(u16::MAX);
            self.k = centroids.len();
        }
        let search = Neighbors::new(centroids);
        Ok(assign::assign(
            self.points,
            self.weights,
            &mut self.labels,
            &search,
        ))
    }

    fn remap(&mut self, palette: &[Point]) -> Result<Vec<u8>> {
        check_centroids(palette)?;
        // When no two centroids rounded to the same color, palette entry i is centroid i and the
        // last labels are a close start; otherwise the hints are stale and each search starts
        // from scratch. The answer is exact either way.
        if palette.len() != self.k {
            self.labels.fill(u16::MAX);
        }
        Ok(remap::remap(self.points, &self.labels, &Neighbors::new(palette)))
    }
}

#[cfg(test)]
mod tests;
