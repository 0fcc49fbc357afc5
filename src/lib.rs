//! # kmquant
//!
//! Reduce an image to at most K colors (1 ≤ K ≤ 256) with k-means. The heavy loops run as WGSL
//! compute shaders through wgpu (Vulkan, Metal, DX12 or GL), or on the CPU; both give the same
//! palette and the same indices, bit for bit.
//!
//! ```no_run
//! use kmquant::{quantize, ImageRef, Options, BackendChoice};
//! let pixels = vec![[200u8, 30, 30, 255]; 64 * 64];
//! let image = ImageRef::new(64, 64, &pixels)?;
//! let q = quantize(image, &Options::new(16)?.with_backend(BackendChoice::Cpu))?;
//! assert_eq!(q.indices.len(), 64 * 64);
//! # Ok::<(), kmquant::Error>(())
//! ```
//!
//! ## The way through
//! One straight line, each stage a module with a plain value in and out:
//!
//! | stage | module | GPU kernel | CPU code |
//! |---|---|---|---|
//! | decode | [`decode`] | | the `image` and `png` crates |
//! | histogram | `histogram` | | a 2^24 count table (opaque) or a sort (alpha) |
//! | seed | `seed` | | median cut or k-means++, on the host |
//! | cluster | `cluster` | `shaders/assign.wgsl`, `shaders/remap.wgsl` | their twins `src/cpu/assign.rs`, `src/cpu/remap.rs` |
//! | remap | `remap`, `dither` | | labels to pixels, dithering, palette order |
//! | encode | [`encode`] | | indexed PNG (parallel deflate), GIF, JPEG |
//!
//! [`Quantizer`] runs histogram → seed → cluster → remap; the caller decodes and encodes.
//!
//! ## The bit-identical contract
//! For the same pixels and [`Options`], every backend and every device returns the same palette
//! and the same indices. This holds because no step depends on floating-point rounding:
//! - Points are integers: sRGB channel values times 8, in `0..=2040` (the grid).
//! - Centroids live on the same integer grid. The host computes each new centroid as the exact
//!   integer sum of weighted coordinates divided by the exact integer weight, rounded half up.
//! - The distance is `Σ (q - c)²` over four channels in f32. Each difference is an integer of at
//!   most 2040 in magnitude, each square is below 2^22 and the total below 2^24, so every
//!   intermediate is exactly representable: a fused multiply-add gives the same bits as a separate
//!   multiply and add, and so does any order of the sum or any of Metal's fast-math rewrites, on
//!   any device and under any shader compiler (the full argument is in `shaders/common.wgsl`;
//!   tests evaluate the distance with FMAs and in other orders on every pair of grid corners
//!   and 400,000 random pairs).
//! - The nearest centroid is the first one with the smallest distance (ties go to the lower index).
//! - Per-cluster sums are 64-bit integers (two u32 words with a carry on the GPU), added with
//!   atomics whose order cannot change an integer total.
//! - Seeding, empty-cluster refills and convergence checks run on the host, once, for all backends.
//!
//! The tests in `tests/gpu_matches_cpu.rs` check the equality on lavapipe (Vulkan) and llvmpipe (GL).

#![warn(missing_docs)]

mod backend;
#[cfg(feature = "cli")]
pub mod cli;
mod cluster;
mod cpu;
pub mod decode;
mod dither;
pub mod encode;
mod error;
mod fit;
mod gpu;
mod grid;
mod histogram;
mod image;
pub mod metadata;
mod options;
pub mod palette;
#[cfg(feature = "plot")]
pub mod plot;
mod png_split;
pub mod policy;
mod quantized;
mod quantizer;
mod remap;
mod seed;
mod space;
mod target;
#[cfg(test)]
mod testutil;

/// The README's code blocks, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use backend::{AdapterSummary, BackendKind, BackendUsed, EngineFit, MissingLimit};
pub use error::{Error, Result};
pub use fit::Fitted;
pub use gpu::{list_adapters, GpuContext};
pub use image::ImageRef;
pub use metadata::Metadata;
pub use options::{AdapterPin, BackendChoice, Init, Options, MAX_COLORS};
pub use quantized::{psnr, Progress, Quantized, Timings};
pub use quantizer::{quantize, Prepared, Quantizer};
pub use space::ColorSpace;
pub use target::PsnrFit;
