//! An image's pixels on the GPU: uploaded once, in chunks that fit the device's binding and
//! dispatch limits; the histogram stage computed there (`shaders/histogram.wgsl`), and at the end
//! one palette index per pixel (`shaders/expand.wgsl`). Only the list of distinct colors and the
//! final index bytes come back.

use super::context::GpuContext;
use super::layout::Summary;
use super::layout::{PixelParams, N_BLOCKS, PIXEL_TILE, TABLE_LEN};
use crate::error::Result;
use std::sync::Arc;
use wgpu::util::DeviceExt;
use wgpu::BufferUsages as U;

/// Largest number of pixels one chunk may hold: one storage binding and one buffer of 4-byte
/// pixels, and at most `max_compute_workgroups_per_dimension` workgroups. `requested` (a multiple
/// of 1024) can only lower it.
pub(crate) fn pixel_chunk_limit(limits: &wgpu::Limits, requested: Option<u32>) -> u32 {
    let by_binding = limits.max_storage_buffer_binding_size / 4;
    let by_buffer = limits.max_buffer_size / 4;
    let by_dispatch = limits.max_compute_workgroups_per_dimension as u64 * PIXEL_TILE as u64;
    let n = by_binding.min(by_buffer).min(by_dispatch).min(u32::MAX as u64) as u32;
    let n = requested.map_or(n, |r| r.min(n));
    (n / PIXEL_TILE * PIXEL_TILE).max(PIXEL_TILE)
}

/// Whether the device can count `pixels` pixels: the count table (64 MiB) and the list of
/// distinct colors (8 bytes each, at most one per pixel and one per table entry) must each fit
/// one binding and one buffer.
pub(crate) fn can_count(limits: &wgpu::Limits, pixels: usize) -> bool {
    let summary = pixels.min(TABLE_LEN as usize) as u64 * 8;
    let most = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
    most >= TABLE_LEN as u64 * 4 && most >= summary
}

struct Chunk {
    n: u32,
    params: wgpu::Buffer,
    pixels: wgpu::Buffer,
}

/// One image's pixels and count table on the device.
pub(crate) struct GpuPixels {
    ctx: Arc<GpuContext>,
    chunks: Vec<Chunk>,
    /// After the histogram: each 24-bit color's index among the distinct colors.
    table: wgpu::Buffer,
}

fn buffer(device: &wgpu::Device, label: &str, size: u64, usage: U) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage,
        mapped_at_creation: false,
    })
}

impl GpuPixels {
    /// Uploads `pixels` and computes their histogram: the distinct colors as (24-bit key, count),
    /// ascending. None when some pixel is not opaque (the CPU histogram handles alpha).
    pub fn histogram(
        ctx: Arc<GpuContext>,
        pixels: &[[u8; 4]],
        chunk: Option<u32>,
    ) -> Result<Option<(GpuPixels, Summary)>> {
        let limit = pixel_chunk_limit(&ctx.limits, chunk) as usize;
        let d = &ctx.device;
        let (me, flags, blocks, summary) = ctx.scoped(|| {
            let chunks = pixels
                .chunks(limit)
                .map(|p| Chunk {
                    n: p.len() as u32,
                    params: d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("pixel params"),
                        contents: bytemuck::bytes_of(&PixelParams {
                            n: p.len() as u32,
                            _pad: [0; 3],
                        }),
                        usage: U::UNIFORM,
                    }),
                    pixels: d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some("pixels"),
                        contents: bytemuck::cast_slice(p),
                        usage: U::STORAGE,
                    }),
                })
                .collect();
            // Buffers start zeroed: the table is a table of zero counts.
            let table = buffer(d, "table", TABLE_LEN as u64 * 4, U::STORAGE);
            let flags = buffer(d, "flags", 8, U::STORAGE | U::COPY_SRC);
            let blocks = buffer(d, "blocks", N_BLOCKS as u64 * 4, U::STORAGE);
            let most = pixels.len().min(TABLE_LEN as usize) as u64;
            let summary = buffer(d, "summary", most * 8, U::STORAGE | U::COPY_SRC);
            (
                GpuPixels {
                    ctx: ctx.clone(),
                    chunks,
                    table,
                },
                flags,
                blocks,
                summary,
            )
        })?;
        let (translucent, distinct) = me.count(&flags, &blocks, &summary)?;
        if translucent {
            return Ok(None);
        }
        let list = me.read_summary(&summary, distinct)?;
        Ok(Some((me, list)))
    }

    /// The bind groups of the four histogram kernels: one `hist_count` per chunk, then
    /// `hist_blocks`, `hist_scan` and `hist_compact`.
    fn histogram_binds(
        &self,
        flags: &wgpu::Buffer,
        blocks: &wgpu::Buffer,
        summary: &wgpu::Buffer,
    ) -> Result<(Vec<wgpu::BindGroup>, [wgpu::BindGroup; 3])> {
        let (d, p, table) = (&self.ctx.device, &self.ctx.pipelines, &self.table);
        self.ctx.scoped(|| -> Result<_> {
            let counts = self
                .chunks
                .iter()
                .map(|c| {
                    let b = [
                        ("pp", &c.params),
                        ("pixels", &c.pixels),
                        ("table", table),
                        ("flags", flags),
                    ];
                    p.hist_count.bind(d, &b)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((
                counts,
                [
                    p.hist_blocks.bind(d, &[("table", table), ("blocks", blocks)])?,
                    p.hist_scan.bind(d, &[("flags", flags), ("blocks", blocks)])?,
                    p.hist_compact
                        .bind(d, &[("table", table), ("blocks", blocks), ("summary", summary)])?,
                ],
            ))
        })?
    }

    /// Runs the four histogram kernels; returns (some pixel not opaque, distinct colors).
    fn count(
        &self,
        flags: &wgpu::Buffer,
        blocks: &wgpu::Buffer,
        summary: &wgpu::Buffer,
    ) -> Result<(bool, u32)> {
        let (ctx, d, p) = (&self.ctx, &self.ctx.device, &self.ctx.pipelines);
        let (counts, [blocks_bg, scan_bg, compact_bg]) = self.histogram_binds(flags, blocks, summary)?;
        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("histogram"),
        });
        let staging = buffer(d, "flags staging", 8, U::MAP_READ | U::COPY_DST);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("histogram"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&p.hist_count.pipeline);
            for (c, bg) in self.chunks.iter().zip(&counts) {
                pass.set_bind_group(0, bg, &[]);
                pass.dispatch_workgroups(c.n.div_ceil(PIXEL_TILE), 1, 1);
            }
            for (pipe, bg, groups) in [
                (&p.hist_blocks, &blocks_bg, N_BLOCKS),
                (&p.hist_scan, &scan_bg, 1),
                (&p.hist_compact, &compact_bg, N_BLOCKS),
            ] {
                pass.set_pipeline(&pipe.pipeline);
                pass.set_bind_group(0, bg, &[]);
                pass.dispatch_workgroups(groups, 1, 1);
            }
        }
        enc.copy_buffer_to_buffer(flags, 0, &staging, 0, 8);
        let f = ctx.submit_and_read(enc, &staging, 8)?;
        Ok((f[0] != 0, f[1]))
    }

    fn read_summary(&self, summary: &wgpu::Buffer, distinct: u32) -> Result<Summary> {
        let bytes = distinct as u64 * 8;
        let d = &self.ctx.device;
        let staging = buffer(d, "summary staging", bytes.max(8), U::MAP_READ | U::COPY_DST);
        let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("summary"),
        });
        enc.copy_buffer_to_buffer(summary, 0, &staging, 0, bytes);
        self.ctx.submit_and_map(enc, &staging, bytes.max(8), |b| {
            bytemuck::cast_slice::<u8, [u32; 2]>(&b[..bytes as usize])
                .iter()
                .map(|w| (w[0], w[1]))
                .collect()
        })
    }

    /// One palette index per pixel: `labels[i]` is distinct color `i`'s final index.
    pub fn expand(&self, labels: &[u8]) -> Result<Vec<u8>> {
        let (ctx, d) = (&self.ctx, &self.ctx.device);
        let words: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let largest = self.chunks.iter().map(|c| c.n).max().unwrap_or(0) as u64;
        let (labels_buf, out, staging) = ctx.scoped(|| {
            (
                d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("labels"),
                    contents: bytemuck::cast_slice(if words.is_empty() { &[0u32][..] } else { &words }),
                    usage: U::STORAGE,
                }),
                buffer(d, "indices", largest.div_ceil(4) * 4, U::STORAGE | U::COPY_SRC),
                buffer(
                    d,
                    "indices staging",
                    largest.div_ceil(4) * 4,
                    U::MAP_READ | U::COPY_DST,
                ),
            )
        })?;
        let mut indices = Vec::with_capacity(self.chunks.iter().map(|c| c.n as usize).sum());
        for c in &self.chunks {
            let bg = ctx.scoped(|| {
                ctx.pipelines.expand.bind(
                    d,
                    &[
                        ("pp", &c.params),
                        ("pixels", &c.pixels),
                        ("table", &self.table),
                        ("labels", &labels_buf),
                        ("indices", &out),
                    ],
                )
            })??;
            let mut enc = d.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("expand"),
            });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("expand"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&ctx.pipelines.expand.pipeline);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(c.n.div_ceil(PIXEL_TILE), 1, 1);
            }
            let bytes = (c.n as u64).div_ceil(4) * 4;
            enc.copy_buffer_to_buffer(&out, 0, &staging, 0, bytes);
            ctx.submit_and_map(enc, &staging, bytes, |b| {
                indices.extend_from_slice(&b[..c.n as usize])
            })?;
        }
        Ok(indices)
    }
}
