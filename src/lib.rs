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
//! [`Histogram`] (unique colors with counts) → seed ([`Init`]) → Lloyd iterations (backend
//! `assign`, host divides) → palette → backend `remap` of every unique color → labels expanded to
//! pixels → palette sorted by population.
//!
//! ## The bit-identical contract
//! For the same pixels and [`Options`], every backend and every device returns the same palette
//! and the same indices. This holds because no step depends on floating-point rounding:
//! - Points are integers: sRGB channel values times 8, in `0..=2040` ([`space`]).
//! - Centroids live on the same integer grid. The host computes each new centroid as the exact
//!   integer sum of weighted coordinates divided by the exact integer weight, rounded half up.
//! - The distance is `Σ (q - c)²` over four channels in f32. Each difference is an integer of at
//!   most 2040 in magnitude, each square is below 2^22 and the total below 2^24, so every
//!   intermediate is exactly representable: a fused multiply-add gives the same bits as a separate
//!   multiply and add, on any device.
//! - The nearest centroid is the first one with the smallest distance (ties go to the lower index).
//! - Per-cluster sums are 64-bit integers (two u32 words with a carry on the GPU), added with
//!   atomics whose order cannot change an integer total.
//! - Seeding, empty-cluster refills and convergence checks run on the host, once, for all backends.
//!
//! The tests in `tests/gpu_matches_cpu.rs` check the equality on lavapipe (Vulkan) and llvmpipe (GL).

#![warn(missing_docs)]

pub mod cpu;
pub mod decode;
pub mod dither;
pub mod encode;
mod error;
pub mod gpu;
mod histogram;
pub mod lloyd;
mod options;
pub mod palette;
pub mod plot;
pub mod pngw;
pub mod seed;
pub mod space;

pub use cpu::CpuBackend;
pub use error::{Error, Result};
pub use gpu::backend::GpuBackend;
pub use gpu::{list_adapters, AdapterSummary, GpuContext};
pub use histogram::Histogram;
pub use lloyd::{Backend, ClusterSum};
pub use options::{BackendChoice, Init, Options, MAX_COLORS};
pub use space::ColorSpace;

use std::time::{Duration, Instant};

/// A borrowed 8-bit RGBA image.
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    width: u32,
    height: u32,
    pixels: &'a [[u8; 4]],
}

impl<'a> ImageRef<'a> {
    /// Checks that `pixels` holds `width * height` pixels, at least one, and fewer than 2^32.
    pub fn new(width: u32, height: u32, pixels: &'a [[u8; 4]]) -> Result<Self> {
        let n = width as u64 * height as u64;
        if n == 0 {
            return Err(Error::InvalidImage(format!("{width}x{height} has no pixels")));
        }
        if n >= u32::MAX as u64 {
            return Err(Error::TooLarge {
                width: width as u64,
                height: height as u64,
                pixels: n,
                limit: u32::MAX as u64 - 1,
            });
        }
        if pixels.len() as u64 != n {
            return Err(Error::InvalidImage(format!(
                "{width}x{height} needs {n} pixels, got {}",
                pixels.len()
            )));
        }
        Ok(ImageRef {
            width,
            height,
            pixels,
        })
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Pixels, row-major.
    pub fn pixels(&self) -> &'a [[u8; 4]] {
        self.pixels
    }
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
    /// Number of chunks the GPU split the points into (1 on the CPU).
    pub chunks: usize,
}

impl std::fmt::Display for BackendUsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.adapter {
            Some(a) => write!(f, "gpu: {a}"),
            None => write!(f, "cpu: {} threads", rayon::current_num_threads()),
        }
    }
}

/// Time spent in each stage.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timings {
    /// Counting unique colors.
    pub histogram: Duration,
    /// Choosing the initial centroids.
    pub seed: Duration,
    /// Uploading the points and building the per-image buffers (GPU only).
    pub setup: Duration,
    /// The Lloyd iterations.
    pub kmeans: Duration,
    /// The final remap, expansion to pixels and palette ordering.
    pub remap: Duration,
}

/// The outcome of [`quantize`].
#[derive(Debug, Clone)]
pub struct Quantized {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The palette, most used color first (ties by ascending `r | g<<8 | b<<16 | a<<24`). Every
    /// entry is used by at least one pixel; there are at most K entries, fewer when the image has
    /// fewer distinct colors or when centroids coincide after rounding.
    pub palette: Vec<[u8; 4]>,
    /// Pixels using each palette entry.
    pub counts: Vec<u64>,
    /// One palette index per pixel, row-major.
    pub indices: Vec<u8>,
    /// Distinct colors in the input.
    pub unique_colors: usize,
    /// Lloyd iterations run (0 when the image had at most K colors and the palette is exact).
    pub iterations: u32,
    /// Whether the loop stopped on the tolerance rather than on the iteration cap.
    pub converged: bool,
    /// Mean squared error of the output against the input, per RGB channel, in 8-bit levels².
    pub mse: f64,
    /// The k-means objective after each iteration's assignment (mean squared distance per pixel,
    /// summed over the four channels, in 8-bit levels²). Never increases.
    pub objective: Vec<f64>,
    /// The backend that ran.
    pub backend: BackendUsed,
    /// Anything the caller should hear about, such as a fallback from the GPU to the CPU.
    pub warnings: Vec<String>,
    /// Time per stage.
    pub timings: Timings,
}

impl Quantized {
    /// PSNR in dB from [`Quantized::mse`] (infinite for an exact result).
    pub fn psnr(&self) -> f64 {
        psnr(self.mse)
    }
}

/// PSNR in dB for a mean squared error in 8-bit levels².
pub fn psnr(mse: f64) -> f64 {
    if mse <= 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// What the library reports while it works.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress {
    /// A stage began.
    Stage(&'static str),
    /// A Lloyd iteration finished.
    Iteration {
        /// 1-based iteration number.
        iteration: u32,
        /// The iteration cap.
        max_iter: u32,
        /// Largest centroid move in 8-bit levels.
        moved: f64,
        /// The k-means objective of this iteration's assignment.
        objective: f64,
    },
}

/// Quantizes with a fresh backend chosen by `opts.backend()`. To process many images on one
/// device, build a [`Quantizer`] once instead.
pub fn quantize(image: ImageRef<'_>, opts: &Options) -> Result<Quantized> {
    Quantizer::new(opts.clone())?.quantize(image, &mut |_| {})
}

/// An image's distinct colors and their k-means points, computed once and reusable for several
/// palette sizes (see [`Quantizer::quantize_prepared`]).
pub struct Prepared<'a> {
    image: ImageRef<'a>,
    hist: Histogram,
    points: Vec<[u16; 4]>,
    space: ColorSpace,
    /// Index in `hist.colors` of the fully transparent color, when the image has one.
    transparent: Option<usize>,
    histogram_time: Duration,
}

impl Prepared<'_> {
    /// Distinct colors in the image.
    pub fn unique_colors(&self) -> usize {
        self.hist.len()
    }
    /// The histogram.
    pub fn histogram(&self) -> &Histogram {
        &self.hist
    }
}

/// A quantizer holding its options and, when the GPU is used, an open device.
pub struct Quantizer {
    opts: Options,
    gpu: Option<std::sync::Arc<GpuContext>>,
    warnings: Vec<String>,
}

impl Quantizer {
    /// Opens the backend `opts` asks for. `Gpu` fails without an adapter; `Auto` uses a hardware
    /// adapter when one opens and otherwise the CPU, with a warning only when opening one failed.
    pub fn new(opts: Options) -> Result<Self> {
        let (gpu, warnings) = match opts.backend {
            BackendChoice::Cpu => (None, Vec::new()),
            BackendChoice::Gpu => (Some(std::sync::Arc::new(GpuContext::new(false)?)), Vec::new()),
            BackendChoice::Auto => match GpuContext::new(true) {
                Ok(ctx) => (Some(std::sync::Arc::new(ctx)), Vec::new()),
                Err(Error::NoAdapter(_)) => (None, Vec::new()),
                Err(e) => (None, vec![format!("{e}; using the CPU")]),
            },
        };
        Ok(Quantizer { opts, gpu, warnings })
    }

    /// Uses an already open device (the backend choice in `opts` is ignored).
    pub fn with_context(opts: Options, ctx: std::sync::Arc<GpuContext>) -> Self {
        Quantizer {
            opts,
            gpu: Some(ctx),
            warnings: Vec::new(),
        }
    }

    /// The adapter in use, if any.
    pub fn adapter(&self) -> Option<&AdapterSummary> {
        self.gpu.as_deref().map(GpuContext::adapter)
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Quantizes one image to at most `options().k()` colors, reporting progress.
    pub fn quantize(&self, image: ImageRef<'_>, progress: &mut dyn FnMut(Progress)) -> Result<Quantized> {
        let prepared = self.prepare(image, progress);
        self.quantize_prepared(&prepared, self.opts.k, progress)
    }

    /// Counts the image's colors and converts them to points, once.
    pub fn prepare<'a>(&self, image: ImageRef<'a>, progress: &mut dyn FnMut(Progress)) -> Prepared<'a> {
        progress(Progress::Stage("histogram"));
        let t = Instant::now();
        let hist = Histogram::new(image.pixels);
        let points: Vec<[u16; 4]> = hist.colors.iter().map(|&c| self.opts.space.to_point(c)).collect();
        // Colors are sorted by packed value, so a fully transparent pixel ([0, 0, 0, 0]) comes first.
        let transparent = (hist.colors.first() == Some(&[0, 0, 0, 0])).then_some(0);
        Prepared {
            image,
            hist,
            points,
            space: self.opts.space,
            transparent,
            histogram_time: t.elapsed(),
        }
    }

    /// Quantizes a prepared image to at most `k` colors (1..=256); every other option comes from
    /// [`Quantizer::options`].
    ///
    /// When the image has fully transparent pixels and `k >= 2`, they share one palette entry,
    /// `[0, 0, 0, 0]`, and k-means finds the other `k - 1` colors among the other pixels.
    pub fn quantize_prepared(
        &self,
        p: &Prepared<'_>,
        k: u32,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Quantized> {
        if !(1..=MAX_COLORS).contains(&k) {
            return Err(Error::invalid("number of colors", k, "an integer from 1 to 256"));
        }
        let opts = &self.opts;
        let space = p.space;
        let mut timings = Timings {
            histogram: p.histogram_time,
            ..Timings::default()
        };
        let mut warnings = self.warnings.clone();
        let k = k as usize;
        let exact = p.hist.len() <= k;
        // The points k-means sees: all of them, or all but the reserved transparent one.
        let skip = if !exact && k >= 2 && p.transparent.is_some() {
            1
        } else {
            0
        };
        let (points, weights) = (&p.points[skip..], &p.hist.counts[skip..]);
        let kk = k - skip;

        progress(Progress::Stage("seed"));
        let t = Instant::now();
        let init = if exact {
            Vec::new()
        } else {
            match opts.init {
                Init::MedianCut => seed::median_cut(points, weights, kk),
                Init::KMeansPlusPlus => seed::kmeans_plus_plus(points, weights, kk, opts.seed),
            }
        };
        timings.seed = t.elapsed();

        let total = p.image.pixels.len() as f64 * GRID_SCALE2;
        let run = |backend: &mut dyn lloyd::Backend,
                   timings: &mut Timings,
                   progress: &mut dyn FnMut(Progress)|
         -> Result<(Vec<[u8; 4]>, Vec<u32>, lloyd::Outcome)> {
            let t = Instant::now();
            progress(Progress::Stage("kmeans"));
            let outcome = if exact {
                lloyd::Outcome {
                    centroids: Vec::new(),
                    iterations: 0,
                    converged: true,
                    sse: Vec::new(),
                }
            } else {
                lloyd::run(
                    backend,
                    points,
                    weights,
                    init.clone(),
                    opts.max_iter,
                    opts.tolerance,
                    &mut |s| {
                        progress(Progress::Iteration {
                            iteration: s.iteration,
                            max_iter: opts.max_iter,
                            moved: s.moved,
                            objective: s.sse as f64 / total,
                        })
                    },
                )?
            };
            timings.kmeans = t.elapsed();
            let t = Instant::now();
            progress(Progress::Stage("remap"));
            let (palette, labels) = if exact {
                (p.hist.colors.clone(), (0..p.hist.len() as u32).collect())
            } else {
                let mut palette: Vec<[u8; 4]> = Vec::new();
                for c in &outcome.centroids {
                    let color = space.to_color(*c);
                    if !palette.contains(&color) {
                        palette.push(color);
                    }
                }
                let labels = backend.remap(&palette_points(space, &palette))?;
                if skip == 1 {
                    // Entry 0 is the transparent one; the k-means entries follow.
                    palette.insert(0, [0, 0, 0, 0]);
                    (
                        palette,
                        std::iter::once(0).chain(labels.iter().map(|l| l + 1)).collect(),
                    )
                } else {
                    (palette, labels)
                }
            };
            timings.remap = t.elapsed();
            Ok((palette, labels, outcome))
        };

        let mut used = BackendUsed {
            kind: BackendKind::Cpu,
            adapter: None,
            chunks: 1,
        };
        let mut result = None;
        if let (Some(ctx), false) = (&self.gpu, exact) {
            let t = Instant::now();
            let attempt = gpu::backend::GpuBackend::new(ctx, points, weights, opts.gpu_chunk_points)
                .and_then(|mut b| {
                    timings.setup = t.elapsed();
                    let chunks = b.chunks();
                    run(&mut b, &mut timings, progress).map(|r| (r, chunks))
                });
            match attempt {
                Ok((r, chunks)) => {
                    used = BackendUsed {
                        kind: BackendKind::Gpu,
                        adapter: Some(ctx.adapter().clone()),
                        chunks,
                    };
                    result = Some(r);
                }
                Err(e) if opts.backend == BackendChoice::Auto => {
                    warnings.push(format!("{e}; falling back to the CPU"));
                }
                Err(e) => return Err(e),
            }
        } else if let Some(ctx) = &self.gpu {
            // Nothing to cluster: the palette is the image's own colors on every backend.
            used = BackendUsed {
                kind: BackendKind::Gpu,
                adapter: Some(ctx.adapter().clone()),
                chunks: 0,
            };
        }
        let (palette, labels, outcome) = match result {
            Some(r) => r,
            None => run(&mut cpu::CpuBackend::new(points, weights), &mut timings, progress)?,
        };

        let t = Instant::now();
        let pixels = p.image.pixels;
        let (palette, counts, indices, sse) = if opts.dither > 0.0 && !exact {
            progress(Progress::Stage("dither"));
            let start: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
            let start = p.hist.expand(pixels, &start);
            let d = dither::floyd_steinberg(
                p.image.width as usize,
                p.image.height as usize,
                |i| p.points[p.hist.index_of(pixels[i])],
                &start,
                &palette_points(space, &palette),
                opts.dither,
            );
            let mut counts = vec![0u64; palette.len()];
            d.iter().for_each(|&l| counts[l as usize] += 1);
            let sse = pixels
                .iter()
                .zip(&d)
                .map(|(c, &l)| rgb_error(*c, palette[l as usize]))
                .sum();
            let (palette, counts, map) = order_palette(&palette, &counts);
            (
                palette,
                counts,
                d.iter().map(|&l| map[l as usize]).collect::<Vec<u8>>(),
                sse,
            )
        } else {
            // Every pixel of a color gets the same entry: count and sum the error per color.
            let mut counts = vec![0u64; palette.len()];
            let mut sse = 0u64;
            for ((&l, &w), &c) in labels.iter().zip(&p.hist.counts).zip(&p.hist.colors) {
                counts[l as usize] += w as u64;
                sse += w as u64 * rgb_error(c, palette[l as usize]);
            }
            let (palette, counts, map) = order_palette(&palette, &counts);
            let unique: Vec<u8> = labels.iter().map(|&l| map[l as usize]).collect();
            (palette, counts, p.hist.expand(pixels, &unique), sse)
        };
        timings.remap += t.elapsed();
        let n = pixels.len() as f64;
        Ok(Quantized {
            width: p.image.width,
            height: p.image.height,
            palette,
            counts,
            indices,
            unique_colors: p.hist.len(),
            iterations: outcome.iterations,
            converged: outcome.converged,
            mse: sse as f64 / (3.0 * n),
            objective: outcome
                .sse
                .iter()
                .map(|&s| s as f64 / (n * GRID_SCALE2))
                .collect(),
            backend: used,
            warnings,
            timings,
        })
    }
}

const GRID_SCALE2: f64 = (space::GRID_SCALE * space::GRID_SCALE) as f64;

/// Palette colors as k-means points (what the remap and the dither compare against).
fn palette_points(space: ColorSpace, palette: &[[u8; 4]]) -> Vec<[f32; 4]> {
    let pts: Vec<[u32; 4]> = palette
        .iter()
        .map(|&c| cpu::common::point_coords(space.to_point(c)))
        .collect();
    lloyd::to_f32(&pts)
}

/// Squared RGB error between two colors.
fn rgb_error(a: [u8; 4], b: [u8; 4]) -> u64 {
    (0..3).map(|i| (a[i] as i64 - b[i] as i64).pow(2) as u64).sum()
}

/// Sorts the palette by population (then by packed color) and drops unused entries. Returns the
/// palette, the counts and the map from old to new index.
fn order_palette(palette: &[[u8; 4]], counts: &[u64]) -> (Vec<[u8; 4]>, Vec<u64>, Vec<u8>) {
    let mut order: Vec<usize> = (0..palette.len()).filter(|&i| counts[i] > 0).collect();
    order.sort_by(|&a, &b| {
        counts[b]
            .cmp(&counts[a])
            .then(u32::from_le_bytes(palette[a]).cmp(&u32::from_le_bytes(palette[b])))
    });
    let mut map = vec![0u8; palette.len()];
    for (new, &old) in order.iter().enumerate() {
        map[old] = new as u8;
    }
    (
        order.iter().map(|&i| palette[i]).collect(),
        order.iter().map(|&i| counts[i]).collect(),
        map,
    )
}
