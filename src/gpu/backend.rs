//! The GPU backend for one image's unique colors: buffers and bind groups built once, split into
//! chunks that fit the device's storage-binding and dispatch limits, reused by every iteration.
//! It implements the assign and remap stages with `shaders/assign.wgsl` and `shaders/remap.wgsl`.

use super::context::GpuContext;
use super::layout::{Centroids, Params, ACC_WORDS, ASSIGN_TILE, MAX_K, POINT_BYTES, REMAP_TILE};
use crate::backend::{check_centroids, Backend, ClusterSum};
use crate::error::Result;
use crate::grid::Point;
use wgpu::util::DeviceExt;

/// Largest number of points one chunk may hold on this device: one storage binding of packed
/// points, one buffer, and at most `max_compute_workgroups_per_dimension` workgroups per dispatch.
/// `requested` (a multiple of 1024) can only lower it.
pub(crate) fn chunk_limit(limits: &wgpu::Limits, requested: Option<u32>) -> u32 {
    let by_binding = limits.max_storage_buffer_binding_size / POINT_BYTES;
    let by_buffer = limits.max_buffer_size / POINT_BYTES;
    let by_dispatch = limits.max_compute_workgroups_per_dimension as u64 * REMAP_TILE as u64;
    let n = by_binding.min(by_buffer).min(by_dispatch).min(u32::MAX as u64) as u32;
    let n = requested.map_or(n, |r| r.min(n));
    (n / ASSIGN_TILE * ASSIGN_TILE).max(ASSIGN_TILE)
}

/// One chunk of points with its own parameters, label buffer and bind groups.
struct Chunk {
    n: u32,
    params: wgpu::Buffer,
    labels: wgpu::Buffer,
    assign: wgpu::BindGroup,
    remap: wgpu::BindGroup,
}

/// The buffers every chunk shares.
struct Shared {
    centroids: wgpu::Buffer,
    sums: wgpu::Buffer,
    sums_staging: wgpu::Buffer,
    labels_staging: wgpu::Buffer,
}

/// The GPU side of one image.
pub(crate) struct GpuBackend<'c> {
    ctx: &'c GpuContext,
    chunks: Vec<Chunk>,
    shared: Shared,
}

fn buffer(device: &wgpu::Device, label: &str, size: u64, usage: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage,
        mapped_at_creation: false,
    })
}

const UNIFORM: wgpu::BufferUsages = wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST);

impl Shared {
    fn new(device: &wgpu::Device, largest_chunk: usize) -> Self {
        use wgpu::BufferUsages as U;
        let sums_bytes = (MAX_K * ACC_WORDS * 4) as u64;
        Shared {
            centroids: buffer(
                device,
                "centroids",
                std::mem::size_of::<Centroids>() as u64,
                UNIFORM,
            ),
            sums: buffer(device, "sums", sums_bytes, U::STORAGE | U::COPY_SRC | U::COPY_DST),
            sums_staging: buffer(device, "sums staging", sums_bytes, U::MAP_READ | U::COPY_DST),
            labels_staging: buffer(
                device,
                "labels staging",
                (largest_chunk * 4) as u64,
                U::MAP_READ | U::COPY_DST,
            ),
        }
    }
}

impl Chunk {
    fn new(ctx: &GpuContext, shared: &Shared, points: &[Point], weights: &[u32]) -> Result<Self> {
        let device = &ctx.device;
        let storage = |label, contents: &[u8]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents,
                usage: wgpu::BufferUsages::STORAGE,
            })
        };
        let pts = storage("points", bytemuck::cast_slice(points));
        let wts = storage("weights", bytemuck::cast_slice(weights));
        let params = buffer(device, "params", std::mem::size_of::<Params>() as u64, UNIFORM);
        let labels = buffer(
            device,
            "labels",
            (points.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        );
        let p = &ctx.pipelines;
        let common = [
            ("params", &params),
            ("centroids", &shared.centroids),
            ("points", &pts),
        ];
        let assign = p.assign.bind(
            device,
            &[&common[..], &[("weights", &wts), ("sums", &shared.sums)]].concat(),
        )?;
        let remap = p
            .remap
            .bind(device, &[&common[..], &[("labels", &labels)]].concat())?;
        Ok(Chunk {
            n: points.len() as u32,
            params,
            labels,
            assign,
            remap,
        })
    }
}

impl<'c> GpuBackend<'c> {
    /// Uploads the points and weights and builds every buffer and bind group. `chunk` (a
    /// multiple of 1024) lowers the chunk size below what the device allows.
    pub fn new(ctx: &'c GpuContext, points: &[Point], weights: &[u32], chunk: Option<u32>) -> Result<Self> {
        let limit = chunk_limit(&ctx.limits, chunk) as usize;
        ctx.scoped(|| {
            let shared = Shared::new(&ctx.device, points.len().min(limit).max(1));
            let chunks = points
                .chunks(limit)
                .zip(weights.chunks(limit))
                .map(|(p, w)| Chunk::new(ctx, &shared, p, w))
                .collect::<Result<Vec<_>>>()?;
            Ok(GpuBackend { ctx, chunks, shared })
        })?
    }

    /// Number of chunks the points were split into.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    fn upload(&self, centroids: &[Point]) -> Result<()> {
        check_centroids(centroids)?;
        let k = centroids.len();
        let mut c = Centroids([[0.0; 4]; MAX_K as usize]);
        for (slot, p) in c.0.iter_mut().zip(centroids) {
            *slot = p.to_f32();
        }
        let queue = &self.ctx.queue;
        queue.write_buffer(&self.shared.centroids, 0, bytemuck::bytes_of(&c));
        for ch in &self.chunks {
            let p = Params {
                n_points: ch.n,
                k: k as u32,
                _pad0: 0,
                _pad1: 0,
            };
            queue.write_buffer(&ch.params, 0, bytemuck::bytes_of(&p));
        }
        Ok(())
    }

    fn encoder(&self) -> wgpu::CommandEncoder {
        self.ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kmquant"),
            })
    }
}

impl Backend for GpuBackend<'_> {
    fn assign(&mut self, centroids: &[Point]) -> Result<Vec<ClusterSum>> {
        self.upload(centroids)?;
        let k = centroids.len();
        let words = k as u64 * ACC_WORDS as u64;
        let mut enc = self.encoder();
        enc.clear_buffer(&self.shared.sums, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("assign"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.ctx.pipelines.assign.pipeline);
            for ch in &self.chunks {
                pass.set_bind_group(0, &ch.assign, &[]);
                pass.dispatch_workgroups(ch.n.div_ceil(ASSIGN_TILE), 1, 1);
            }
        }
        enc.copy_buffer_to_buffer(&self.shared.sums, 0, &self.shared.sums_staging, 0, words * 4);
        let w = self
            .ctx
            .submit_and_read(enc, &self.shared.sums_staging, words * 4)?;
        let word = |i: usize| w[i] as u64 | (w[i + 1] as u64) << 32;
        Ok((0..k)
            .map(|j| {
                let s = j * ACC_WORDS as usize;
                ClusterSum {
                    count: word(s),
                    sum: [word(s + 2), word(s + 4), word(s + 6), word(s + 8)],
                    sse: word(s + 10),
                }
            })
            .collect())
    }

    fn remap(&mut self, palette: &[Point]) -> Result<Vec<u8>> {
        self.upload(palette)?;
        let mut labels = Vec::new();
        for ch in &self.chunks {
            let mut enc = self.encoder();
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("remap"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.ctx.pipelines.remap.pipeline);
                pass.set_bind_group(0, &ch.remap, &[]);
                pass.dispatch_workgroups(ch.n.div_ceil(REMAP_TILE), 1, 1);
            }
            let bytes = ch.n as u64 * 4;
            enc.copy_buffer_to_buffer(&ch.labels, 0, &self.shared.labels_staging, 0, bytes);
            let words = self
                .ctx
                .submit_and_read(enc, &self.shared.labels_staging, bytes)?;
            labels.extend(words.iter().map(|&l| l as u8));
        }
        Ok(labels)
    }
}
