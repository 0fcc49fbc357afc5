//! The orchestration: one image through histogram, seed, cluster and remap, top to bottom.
//!
//! Each stage is its own module with a plain value in and out:
//! [`Histogram`] → [`crate::seed`] → [`crate::cluster`] → [`crate::remap`]. This module only
//! calls them in order, times them and reports progress. Decoding and encoding are the caller's
//! ([`crate::decode`], [`crate::encode`]).

use crate::backend::AdapterSummary;
use crate::cluster::{self, Clustered, Problem};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::grid::{Point, GRID_SCALE};
use crate::histogram::Histogram;
use crate::image::ImageRef;
use crate::options::{BackendChoice, Init, Options, MAX_COLORS};
use crate::quantized::{Progress, Quantized, Timings};
use crate::remap::{self, Mapped, Source};
use crate::seed;
use std::sync::Arc;
use std::time::Instant;

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
    points: Vec<Point>,
    histogram_time: std::time::Duration,
}

impl Prepared<'_> {
    /// Distinct colors in the image.
    pub fn unique_colors(&self) -> usize {
        self.hist.len()
    }

    /// Whether a palette of `k` entries reserves entry 0 for fully transparent pixels: when the
    /// image has some, `k >= 2`, and the image has more colors than `k`. Colors are sorted by
    /// packed value, so the transparent color ([0, 0, 0, 0]) is the first.
    fn reserves_transparent(&self, k: usize) -> bool {
        k >= 2 && self.hist.len() > k && self.hist.colors.first() == Some(&[0, 0, 0, 0])
    }

    /// What k-means sees: every unique color, or every one but the reserved transparent one.
    fn problem(&self, reserve: bool, opts: &Options) -> Problem<'_> {
        let skip = reserve as usize;
        Problem {
            points: &self.points[skip..],
            weights: &self.hist.counts[skip..],
            space: opts.space,
        }
    }
}

/// Puts the reserved transparent entry back in front of a palette found without it.
fn with_reserved(reserve: bool, mut palette: Vec<[u8; 4]>, labels: Vec<u8>) -> (Vec<[u8; 4]>, Vec<u8>) {
    if !reserve {
        return (palette, labels);
    }
    palette.insert(0, [0, 0, 0, 0]);
    let labels = std::iter::once(0)
        .chain(labels.into_iter().map(|l| l + 1))
        .collect();
    (palette, labels)
}

/// A quantizer holding its options and, when the GPU is used, an open device.
pub struct Quantizer {
    opts: Options,
    gpu: Option<Arc<GpuContext>>,
    warnings: Vec<String>,
}

impl Quantizer {
    /// Opens the backend `opts` asks for. `Gpu` fails without an adapter; `Auto` uses a hardware
    /// adapter when one opens and otherwise the CPU, with a warning only when opening one failed.
    pub fn new(opts: Options) -> Result<Self> {
        let (gpu, warnings) = match opts.backend {
            BackendChoice::Cpu => (None, Vec::new()),
            BackendChoice::Gpu => (Some(Arc::new(GpuContext::new(false)?)), Vec::new()),
            BackendChoice::Auto => match GpuContext::new(true) {
                Ok(ctx) => (Some(Arc::new(ctx)), Vec::new()),
                Err(Error::NoAdapter(_)) => (None, Vec::new()),
                Err(e) => (None, vec![format!("{e}; using the CPU")]),
            },
        };
        Ok(Quantizer { opts, gpu, warnings })
    }

    /// Uses an already open device (the backend choice in `opts` is ignored).
    pub fn with_context(opts: Options, ctx: Arc<GpuContext>) -> Self {
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

    /// The histogram stage: counts the image's colors and converts them to points, once.
    pub fn prepare<'a>(&self, image: ImageRef<'a>, progress: &mut dyn FnMut(Progress)) -> Prepared<'a> {
        progress(Progress::Stage("histogram"));
        let t = Instant::now();
        let hist = Histogram::new(image.pixels());
        let points = hist.colors.iter().map(|&c| self.opts.space.to_point(c)).collect();
        Prepared {
            image,
            hist,
            points,
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
        let (opts, k) = (&self.opts, k as usize);
        let mut timings = Timings {
            histogram: p.histogram_time,
            ..Timings::default()
        };
        let exact = p.hist.len() <= k;
        let reserve = p.reserves_transparent(k);
        let problem = p.problem(reserve, opts);

        progress(Progress::Stage("seed"));
        let t = Instant::now();
        let init = if exact {
            Vec::new()
        } else {
            self.seed(&problem, k - reserve as usize)
        };
        timings.seed = t.elapsed();

        progress(Progress::Stage("kmeans"));
        let total = p.image.pixels().len() as f64 * (GRID_SCALE as f64).powi(2);
        let mut clustered = if exact {
            cluster::exact(&p.hist.colors, self.gpu.as_deref())
        } else {
            cluster::cluster(
                self.gpu.as_deref(),
                &problem,
                &init,
                opts,
                &mut timings,
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

        let dither = if exact { 0.0 } else { opts.dither };
        progress(Progress::Stage(if dither > 0.0 { "dither" } else { "remap" }));
        let t = Instant::now();
        let (palette, labels) = with_reserved(
            reserve,
            std::mem::take(&mut clustered.palette),
            std::mem::take(&mut clustered.labels),
        );
        let mapped = self.remap(p, &palette, &labels, dither);
        timings.remap += t.elapsed();
        Ok(self.result(p, clustered, mapped, timings, total))
    }

    /// The seed stage.
    fn seed(&self, problem: &Problem<'_>, k: usize) -> Vec<Point> {
        match self.opts.init {
            Init::MedianCut => seed::median_cut(problem.points, problem.weights, k),
            Init::KMeansPlusPlus => {
                seed::kmeans_plus_plus(problem.points, problem.weights, k, self.opts.seed)
            }
        }
    }

    /// The remap stage over the whole image.
    fn remap(&self, p: &Prepared<'_>, palette: &[[u8; 4]], labels: &[u8], dither: f32) -> Mapped {
        let palette_points: Vec<Point> = palette.iter().map(|&c| self.opts.space.to_point(c)).collect();
        let source = Source {
            width: p.image.width() as usize,
            height: p.image.height() as usize,
            pixels: p.image.pixels(),
            hist: &p.hist,
            points: &p.points,
        };
        remap::map(&source, palette, &palette_points, labels, dither)
    }

    /// The result, from what the stages returned. `total` is the pixel count in grid units².
    fn result(&self, p: &Prepared<'_>, c: Clustered, m: Mapped, timings: Timings, total: f64) -> Quantized {
        let mut warnings = self.warnings.clone();
        warnings.extend(c.warnings);
        Quantized {
            width: p.image.width(),
            height: p.image.height(),
            palette: m.palette,
            counts: m.counts,
            indices: m.indices,
            unique_colors: p.hist.len(),
            iterations: c.iterations,
            converged: c.converged,
            mse: m.sse as f64 / (3.0 * p.image.pixels().len() as f64),
            objective: c.sse.iter().map(|&s| s as f64 / total).collect(),
            backend: c.backend,
            warnings,
            timings,
        }
    }
}
