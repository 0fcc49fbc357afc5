//! The stages a backend implements, and the plain values that cross between the host and a
//! backend.
//!
//! | stage | GPU kernel | CPU twin (reads like the kernel) | what the CPU backend runs |
//! |---|---|---|---|
//! | assign + per-cluster sums | `shaders/assign.wgsl` | `src/cpu/assign.rs` with `cpu::Brute` | the same twin with [`crate::grid::Neighbors`] as its search |
//! | remap (nearest palette entry per unique color) | `shaders/remap.wgsl` | `src/cpu/remap.rs` with `cpu::Brute` | the same twin with [`crate::grid::Neighbors`] |
//!
//! Everything else (seeding, the division of the sums, refills, convergence, dithering, palette
//! order) runs once on the host for both backends, so the backend cannot change the result.

use crate::error::{Error, Result};
use crate::grid::Point;
use crate::options::MAX_COLORS;

/// Integer sums for one cluster: what the assign stage returns per centroid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClusterSum {
    /// Total weight (pixels) assigned.
    pub count: u64,
    /// Weighted coordinate sums.
    pub sum: [u64; 4],
    /// Weighted squared distance to the centroid, in grid units squared.
    pub sse: u64,
}

impl ClusterSum {
    /// Adds one point of weight `w` at squared distance `d` from the centroid.
    #[inline]
    pub fn add_point(&mut self, w: u32, p: Point, d: u32) {
        let w = w as u64;
        self.count += w;
        for (s, &x) in self.sum.iter_mut().zip(&p.0) {
            *s += w * x as u64;
        }
        self.sse += w * d as u64;
    }

    /// Adds another partial sum.
    pub fn add(&mut self, o: &ClusterSum) {
        self.count += o.count;
        for (s, x) in self.sum.iter_mut().zip(&o.sum) {
            *s += x;
        }
        self.sse += o.sse;
    }

    /// Adds the per-cluster sums `b` into `a` (joining two tiles' partial sums).
    pub fn add_all(mut a: Vec<ClusterSum>, b: Vec<ClusterSum>) -> Vec<ClusterSum> {
        for (x, y) in a.iter_mut().zip(&b) {
            x.add(y);
        }
        a
    }
}

/// The stages a backend implements over one image's unique colors (its points and weights,
/// given when the backend is built). The Lloyd loop around them is written once, in
/// [`crate::cluster`].
pub(crate) trait Backend {
    /// The assign stage: every point to its nearest centroid (ties to the lower index), and the
    /// integer sums per cluster.
    fn assign(&mut self, centroids: &[Point]) -> Result<Vec<ClusterSum>>;
    /// The remap stage: the index of the nearest palette entry for every point.
    fn remap(&mut self, palette: &[Point]) -> Result<Vec<u8>>;
}

/// The check both backends make on centroids (or palette entries) before a stage: 1 to 256.
pub(crate) fn check_centroids(c: &[Point]) -> Result<()> {
    if c.is_empty() || c.len() > MAX_COLORS as usize {
        return Err(Error::invalid(
            "number of centroids",
            c.len(),
            "an integer from 1 to 256",
        ));
    }
    Ok(())
}

/// Which kind of backend ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The CPU reference backend.
    Cpu,
    /// A wgpu adapter.
    Gpu,
}

/// The backend that produced a result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackendUsed {
    /// CPU or GPU.
    pub kind: BackendKind,
    /// The adapter, when the GPU ran.
    pub adapter: Option<AdapterSummary>,
    /// Number of chunks the GPU split the points into (1 on the CPU, 0 when nothing was
    /// clustered because the image had at most K colors).
    pub chunks: usize,
    /// The stages that ran on the GPU: "histogram", "kmeans" (the Lloyd loop and the remap of
    /// the unique colors) and "indices" (one palette index per pixel). Empty on the CPU.
    pub gpu_stages: Vec<&'static str>,
}

impl BackendUsed {
    /// The CPU backend.
    pub(crate) fn cpu() -> Self {
        BackendUsed {
            kind: BackendKind::Cpu,
            adapter: None,
            chunks: 1,
            gpu_stages: Vec::new(),
        }
    }
}

impl BackendUsed {
    /// What ran the job: the GPU adapter's name, or "N threads" on the CPU.
    pub fn device_name(&self) -> String {
        match &self.adapter {
            Some(a) => a.to_string(),
            None => format!("{} threads", rayon::current_num_threads()),
        }
    }
}

impl std::fmt::Display for BackendUsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = if self.adapter.is_some() { "gpu" } else { "cpu" };
        write!(f, "{side}: {}", self.device_name())
    }
}

/// What a caller may want to know about an adapter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterSummary {
    /// The adapter's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// The graphics API: "Vulkan", "Gl", "Metal" or "Dx12".
    pub backend: String,
    /// "DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu" (a software rasterizer) or "Other".
    pub device_type: String,
    /// Driver name and version, where the driver reports them.
    pub driver: String,
    /// Whether the engine can run on this adapter.
    pub usable: bool,
    /// Why not, when it cannot: a missing capability or limit, or the error opening it gave.
    pub reason: Option<String>,
    /// Every limit the adapter offers less of than the kernels need; empty when none is missing.
    pub missing_limits: Vec<MissingLimit>,
    /// The capabilities the kernels need that the adapter lacks ("COMPUTE_SHADERS" is the only
    /// one the engine needs; it asks for no optional wgpu feature); empty when none is missing.
    pub missing_features: Vec<String>,
    /// The error opening a device gave, when the limits and capabilities were there.
    pub open_error: Option<String>,
    /// What the engine gets on this adapter, when it can run there.
    pub engine: Option<EngineFit>,
}

/// A limit an adapter offers less of than the kernels need.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingLimit {
    /// The wgpu limit's name, e.g. `max_compute_workgroup_storage_size`.
    pub name: String,
    /// What the adapter offers.
    pub have: u64,
    /// What the kernels need.
    pub need: u64,
}

/// What the engine gets on an adapter it can run on: the storage binding size it asks for (the
/// adapter's own, up to 1 GiB) and what follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EngineFit {
    /// The largest storage binding the engine asks for, in bytes.
    pub storage_binding_bytes: u64,
    /// Pixels per chunk for the histogram and the final indices.
    pub pixels_per_chunk: u32,
    /// Distinct colors per chunk for k-means and the remap.
    pub colors_per_chunk: u32,
    /// Whether the 64 MiB count table fits, so the histogram runs on the device (otherwise on
    /// the CPU).
    pub histogram_on_device: bool,
}

impl AdapterSummary {
    /// True for a software rasterizer such as lavapipe or llvmpipe.
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.backend, self.device_type)
    }
}
