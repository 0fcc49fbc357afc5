//! The GPU backend for one image: buffers and bind groups built once, split into chunks that fit
//! the device's storage-binding and dispatch limits, reused by every iteration.

use super::context::GpuContext;
use super::types::{Centroids, Params, ACC_WORDS, ASSIGN_TILE, POINT_BYTES, REMAP_TILE};
use crate::error::{Error, Result};
use crate::lloyd::{Backend, ClusterSum};
use crate::options::MAX_COLORS;
use wgpu::util::DeviceExt;

struct Chunk {
    n: u32,
    params: wgpu::Buffer,
    labels: wgpu::Buffer,
    assign: wgpu::BindGroup,
    remap: wgpu::BindGroup,
}

/// Largest number of points one chunk may hold on this device: one storage binding of packed
/// points, one buffer, and at most `max_compute_workgroups_per_dimension` workgroups per dispatch.
/// `requested` (a multiple of 1024) can only lower it.
pub fn chunk_limit(limits: &wgpu::Limits, requested: Option<u32>) -> u32 {
    let by_binding = limits.max_storage_buffer_binding_size / POINT_BYTES;
    let by_buffer = limits.max_buffer_size / POINT_BYTES;
    let by_dispatch = limits.max_compute_workgroups_per_dimension as u64 * REMAP_TILE as u64;
    let n = by_binding.min(by_buffer).min(by_dispatch).min(u32::MAX as u64) as u32;
    let n = requested.map_or(n, |r| r.min(n));
    (n / ASSIGN_TILE * ASSIGN_TILE).max(ASSIGN_TILE)
}

/// The GPU side of one image.
pub struct GpuBackend<'c> {
    ctx: &'c GpuContext,
    chunks: Vec<Chunk>,
    centroids: wgpu::Buffer,
    sums: wgpu::Buffer,
    sums_staging: wgpu::Buffer,
    labels_staging: wgpu::Buffer,
}

impl<'c> GpuBackend<'c> {
    /// Uploads the points and weights and builds every buffer and bind group.
    pub fn new(
        ctx: &'c GpuContext,
        points: &[[u16; 4]],
        weights: &[u32],
        chunk: Option<u32>,
    ) -> Result<Self> {
        let limit = chunk_limit(&ctx.limits, chunk) as usize;
        ctx.scoped(|| {
            let device = &ctx.device;
            let uniform = wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST;
            let centroids = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("centroids"),
                size: std::mem::size_of::<Centroids>() as u64,
                usage: uniform,
                mapped_at_creation: false,
            });
            let sums_bytes = (MAX_COLORS as usize * ACC_WORDS * 4) as u64;
            let sums = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("sums"),
                size: sums_bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let sums_staging = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("sums staging"),
                size: sums_bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let largest = points.len().min(limit).max(1);
            let labels_staging = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("labels staging"),
                size: (largest * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let chunks = points
                .chunks(limit)
                .zip(weights.chunks(limit))
                .map(|(p, w)| {
                    let storage = |label, contents: &[u8]| {
                        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                            label: Some(label),
                            contents,
                            usage: wgpu::BufferUsages::STORAGE,
                        })
                    };
                    let pts = storage("points", bytemuck::cast_slice(p));
                    let wts = storage("weights", bytemuck::cast_slice(w));
                    let params = device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("params"),
                        size: std::mem::size_of::<Params>() as u64,
                        usage: uniform,
                        mapped_at_creation: false,
                    });
                    let labels = device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("labels"),
                        size: (p.len() * 4) as u64,
                        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    });
                    let bind = |layout, buffers: &[&wgpu::Buffer]| {
                        let entries: Vec<wgpu::BindGroupEntry> = buffers
                            .iter()
                            .enumerate()
                            .map(|(i, b)| wgpu::BindGroupEntry {
                                binding: i as u32,
                                resource: b.as_entire_binding(),
                            })
                            .collect();
                        device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: None,
                            layout,
                            entries: &entries,
                        })
                    };
                    let p_ = &ctx.pipelines;
                    Chunk {
                        n: p.len() as u32,
                        assign: bind(&p_.assign_layout, &[&params, &centroids, &pts, &wts, &sums]),
                        remap: bind(&p_.remap_layout, &[&params, &centroids, &pts, &labels]),
                        params,
                        labels,
                    }
                })
                .collect();
            GpuBackend {
                ctx,
                chunks,
                centroids,
                sums,
                sums_staging,
                labels_staging,
            }
        })
    }

    /// Number of chunks the points were split into.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    fn upload(&self, centroids: &[[f32; 4]]) -> Result<()> {
        let k = centroids.len();
        if k == 0 || k > MAX_COLORS as usize {
            return Err(Error::Gpu(format!("{k} centroids: expected 1 to 256")));
        }
        let mut c = Centroids([[0.0; 4]; 256]);
        c.0[..k].copy_from_slice(centroids);
        self.ctx
            .queue
            .write_buffer(&self.centroids, 0, bytemuck::bytes_of(&c));
        for ch in &self.chunks {
            let p = Params {
                n_points: ch.n,
                k: k as u32,
                _pad0: 0,
                _pad1: 0,
            };
            self.ctx.queue.write_buffer(&ch.params, 0, bytemuck::bytes_of(&p));
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
    fn assign(&mut self, centroids: &[[f32; 4]]) -> Result<Vec<ClusterSum>> {
        self.upload(centroids)?;
        let k = centroids.len();
        let words = (k * ACC_WORDS) as u64;
        let mut enc = self.encoder();
        enc.clear_buffer(&self.sums, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("assign"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.ctx.pipelines.assign);
            for ch in &self.chunks {
                pass.set_bind_group(0, &ch.assign, &[]);
                pass.dispatch_workgroups(ch.n.div_ceil(ASSIGN_TILE), 1, 1);
            }
        }
        enc.copy_buffer_to_buffer(&self.sums, 0, &self.sums_staging, 0, words * 4);
        let w = self.ctx.submit_and_read(enc, &self.sums_staging, words * 4)?;
        let word = |i: usize| w[i] as u64 | (w[i + 1] as u64) << 32;
        Ok((0..k)
            .map(|j| {
                let s = j * ACC_WORDS;
                ClusterSum {
                    count: word(s),
                    sum: [word(s + 2), word(s + 4), word(s + 6), word(s + 8)],
                    sse: word(s + 10),
                }
            })
            .collect())
    }

    fn remap(&mut self, palette: &[[f32; 4]]) -> Result<Vec<u32>> {
        self.upload(palette)?;
        let mut labels = Vec::new();
        for ch in &self.chunks {
            let mut enc = self.encoder();
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("remap"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.ctx.pipelines.remap);
                pass.set_bind_group(0, &ch.remap, &[]);
                pass.dispatch_workgroups(ch.n.div_ceil(REMAP_TILE), 1, 1);
            }
            let bytes = ch.n as u64 * 4;
            enc.copy_buffer_to_buffer(&ch.labels, 0, &self.labels_staging, 0, bytes);
            labels.extend(self.ctx.submit_and_read(enc, &self.labels_staging, bytes)?);
        }
        Ok(labels)
    }
}
