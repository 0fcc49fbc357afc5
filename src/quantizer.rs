//! The orchestration: one image through histogram, seed, cluster and remap, top to bottom.
//!
//! Each stage is its own module with a plain value in and out:
//! [`Histogram`] → [`crate::seed`] → [`crate::cluster`] → [`crate::remap`]. This module only
//! calls them in order, asks [`crate::policy`] where each may run, times them and reports
//! progress. Decoding and encoding are the caller's ([`crate::decode`], [`crate::encode`]).

use crate::backend::{AdapterSummary, BackendKind, BackendUsed};
use crate::cluster::{self, Clustered, Problem};
use crate::error::{Error, Result};
use crate::gpu::{can_count, GpuContext, GpuPixels};
use crate::grid::{Point, GRID_SCALE};
use crate::histogram::Histogram;
use crate::image::ImageRef;
use crate::options::{Init, Options, MAX_COLORS};
use crate::policy::{Devices, Stage};
use crate::quantized::{Progress, Quantized, Timings};
use crate::remap::{self, Mapped, Source};
use crate::seed::{self, MedianCut, Seeds};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    /// The pixels and count table on the GPU, when the histogram ran there.
    gpu: Option<GpuPixels>,
    /// Histogram time, time spent waiting for the device, and warnings so far.
    histogram_time: Duration,
    waited: Duration,
    warnings: Vec<String>,
    /// The median cut of the last problem seeded (keyed by whether the transparent color was
    /// left out), kept so that trying many K (`--max-bytes`, the explorer) splits once.
    median_cut: Mutex<Option<(bool, MedianCut)>>,
}

impl Prepared<'_> {
    /// The image's width in pixels.
    pub(crate) fn width(&self) -> u32 {
        self.image.width()
    }

    /// The image's height in pixels.
    pub(crate) fn height(&self) -> u32 {
        self.image.height()
    }

    /// The pixel count in grid units², to report the objective per pixel.
    fn total(&self) -> f64 {
        self.image.pixels().len() as f64 * (GRID_SCALE as f64).powi(2)
    }

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

/// What [`Quantizer::quantize_prepared`] finds for one K before it maps the pixels: the palette
/// and each unique color's entry. The size search keeps these for every K it tries and maps the
/// pixels of few.
pub(crate) struct Clusters {
    /// The image has at most K colors: the palette is exact, and never dithered.
    exact: bool,
    /// The palette in centroid order, with the reserved transparent entry when there is one.
    palette: Vec<[u8; 4]>,
    /// Each unique color's entry in `palette`.
    labels: Vec<u8>,
    /// The cluster stage's outcome (its palette and labels are the two above).
    clustered: Clustered,
    timings: Timings,
    warnings: Vec<String>,
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

/// A quantizer holding its options and, when a GPU may be used, the device (opened on its own
/// thread, see [`crate::policy`]).
pub struct Quantizer {
    opts: Options,
    devices: Devices,
}

impl Quantizer {
    /// A quantizer for `opts`. With `BackendChoice::Gpu` or `Auto` the device starts opening on
    /// its own thread at once; `Gpu` reports a missing adapter at the first image, `Auto` uses the
    /// CPU until (and unless) a hardware device is ready.
    pub fn new(opts: Options) -> Result<Self> {
        Ok(Quantizer {
            devices: Devices::new(opts.backend, opts.adapter.clone()),
            opts,
        })
    }

    /// Uses an already open device for every stage that can run on it (the backend choice in
    /// `opts` is ignored).
    pub fn with_context(opts: Options, ctx: Arc<GpuContext>) -> Self {
        Quantizer {
            opts,
            devices: Devices::ready(ctx),
        }
    }

    /// The adapter in use, once the device is open.
    pub fn adapter(&self) -> Option<&AdapterSummary> {
        self.devices.adapter()
    }

    /// How long opening the device took (on its own thread), once it has finished.
    pub fn device_start_time(&self) -> Option<Duration> {
        self.devices.start_time()
    }

    /// Whether the device is still opening on its own thread.
    pub fn device_opening(&self) -> bool {
        self.devices.opening()
    }

    /// Whether this quantizer asked for a device (it may be opening, open, or have failed).
    pub fn device_started(&self) -> bool {
        self.devices.started()
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Quantizes one image to at most `options().k()` colors, reporting progress.
    pub fn quantize(&self, image: ImageRef<'_>, progress: &mut dyn FnMut(Progress)) -> Result<Quantized> {
        let prepared = self.prepare(image, progress)?;
        self.quantize_prepared(&prepared, self.opts.k, progress)
    }

    /// The histogram stage: counts the image's colors and converts them to points, once. On the
    /// GPU the pixels stay there for the final indices.
    pub fn prepare<'a>(
        &self,
        image: ImageRef<'a>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Prepared<'a>> {
        progress(Progress::Stage("histogram"));
        let (mut waited, mut warnings) = (Duration::ZERO, Vec::new());
        let pixels = image.pixels();
        let device = self
            .devices
            .for_stage(Stage::Pixels, pixels.len() as u64, &mut waited, &mut warnings)?
            .filter(|ctx| can_count(&ctx.limits, pixels.len()));
        let t = Instant::now();
        let mut gpu = None;
        // The decoder's count, when it made one (the same table the CPU would count).
        let counts = image.take_counts();
        let hist = match device.map(|ctx| GpuPixels::histogram(ctx, pixels, self.opts.gpu_chunk_points)) {
            Some(Ok(Some((g, summary)))) => {
                gpu = Some(g);
                Histogram::from_summary(&summary)
            }
            Some(Err(e)) if !self.devices.may_fall_back() => return Err(e),
            Some(Err(e)) => {
                warnings.push(format!("{e}; counting colors on the CPU"));
                Histogram::counted(pixels, counts)
            }
            // No device, or an image with alpha: the CPU histogram.
            Some(Ok(None)) | None => Histogram::counted(pixels, counts),
        };
        let points = hist.colors.iter().map(|&c| self.opts.space.to_point(c)).collect();
        Ok(Prepared {
            image,
            hist,
            points,
            gpu,
            histogram_time: t.elapsed(),
            waited,
            warnings,
            median_cut: Mutex::new(None),
        })
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
        let c = self.clusters(p, k, progress)?;
        self.finish(p, &c, progress)
    }

    /// The seed and cluster stages for `k` colors: everything [`Quantizer::quantize_prepared`]
    /// does before it maps the pixels.
    pub(crate) fn clusters(
        &self,
        p: &Prepared<'_>,
        k: u32,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Clusters> {
        if !(1..=MAX_COLORS).contains(&k) {
            return Err(Error::invalid("number of colors", k, "an integer from 1 to 256"));
        }
        let k = k as usize;
        let mut timings = Timings {
            histogram: p.histogram_time,
            device: p.waited,
            ..Timings::default()
        };
        let mut warnings = p.warnings.clone();
        let exact = p.hist.len() <= k;
        let reserve = p.reserves_transparent(k);
        let problem = p.problem(reserve, &self.opts);

        progress(Progress::Stage("seed"));
        let t = Instant::now();
        let init = if exact {
            Seeds {
                centroids: Vec::new(),
                hints: None,
            }
        } else {
            self.seed(p, &problem, reserve, k - reserve as usize)
        };
        timings.seed = t.elapsed();

        progress(Progress::Stage("kmeans"));
        let mut clustered = if exact {
            cluster::exact(&p.hist.colors)
        } else {
            let total = p.total();
            self.cluster(&problem, &init, k, total, &mut timings, &mut warnings, progress)?
        };
        warnings.append(&mut clustered.warnings);
        let (palette, labels) = with_reserved(
            reserve,
            std::mem::take(&mut clustered.palette),
            std::mem::take(&mut clustered.labels),
        );
        Ok(Clusters {
            exact,
            palette,
            labels,
            clustered,
            timings,
            warnings,
        })
    }

    /// The remap stage: maps every pixel onto the palette of `c` (dithered when the options ask
    /// for it), and the result.
    pub(crate) fn finish(
        &self,
        p: &Prepared<'_>,
        c: &Clusters,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Quantized> {
        let (mut timings, mut warnings) = (c.timings, c.warnings.clone());
        let dither = if c.exact { 0.0 } else { self.opts.dither };
        let run_bias = self.run_bias(c);
        progress(Progress::Stage(if dither > 0.0 { "dither" } else { "remap" }));
        let t = Instant::now();
        let (mapped, indices_on_gpu) =
            self.remap(p, &c.palette, &c.labels, dither, run_bias, &mut warnings)?;
        timings.remap += t.elapsed();
        let backend = self.backend_used(p, &c.clustered, indices_on_gpu);
        let pixels = p.image.pixels().len() as f64;
        Ok(Quantized {
            width: p.image.width(),
            height: p.image.height(),
            palette: mapped.palette,
            counts: mapped.counts,
            indices: mapped.indices,
            unique_colors: p.hist.len(),
            iterations: c.clustered.iterations,
            converged: c.clustered.converged,
            dithered: dither > 0.0,
            mse: mapped.sse as f64 / (3.0 * pixels),
            alpha_mse: mapped.sse_alpha as f64 / pixels,
            objective: c.clustered.sse.iter().map(|&s| s as f64 / p.total()).collect(),
            backend,
            warnings,
            timings,
        })
    }

    /// The palette of `c` in its final order and the indices of the given rows alone, stacked, on
    /// the CPU: what [`Quantizer::finish`] would give those rows, for a size estimate that need not
    /// map the rest. None when the result is dithered (a row's indices then depend on the rows
    /// above it).
    pub(crate) fn sampled(
        &self,
        p: &Prepared<'_>,
        c: &Clusters,
        rows: &[std::ops::Range<usize>],
    ) -> Option<(Vec<[u8; 4]>, Vec<u8>)> {
        if !c.exact && self.opts.dither > 0.0 {
            return None;
        }
        let o = remap::order(&p.hist, &c.palette, &c.labels);
        let w = p.image.width() as usize;
        let pixels: Vec<[u8; 4]> = rows
            .iter()
            .flat_map(|r| &p.image.pixels()[r.start * w..r.end * w])
            .copied()
            .collect();
        let mut indices = remap::expand(&p.hist, &pixels, &o.finals);
        // Rows are independent in the run pass, so these rows come out as in the whole image
        // (up to the palette's order, which no size depends on).
        let run_bias = self.run_bias(c);
        if run_bias > 0 {
            remap::extend_runs(w, &pixels, &o.palette, &mut indices, run_bias);
        }
        Some((o.palette, indices))
    }

    /// The run bias for the palette of `c`: none for an exact palette, which has no error to
    /// trade for runs.
    fn run_bias(&self, c: &Clusters) -> u32 {
        if c.exact {
            0
        } else {
            self.opts.run_bias
        }
    }

    /// The cluster stage, on the device when the policy gives one. `total` is the pixel count in
    /// grid units², to report the objective per pixel.
    #[allow(clippy::too_many_arguments)]
    fn cluster(
        &self,
        problem: &Problem<'_>,
        init: &Seeds,
        k: usize,
        total: f64,
        timings: &mut Timings,
        warnings: &mut Vec<String>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Clustered> {
        let work = problem.points.len() as u64 * k as u64;
        let device = self
            .devices
            .for_stage(Stage::Kmeans, work, &mut timings.device, warnings)?;
        let max_iter = self.opts.max_iter;
        let mut on_step = |s: cluster::Step| {
            progress(Progress::Iteration {
                iteration: s.iteration,
                max_iter,
                moved: s.moved,
                objective: s.sse as f64 / total,
            })
        };
        let fall_back = self.devices.may_fall_back();
        cluster::cluster(
            device.as_deref(),
            fall_back,
            problem,
            init,
            &self.opts,
            timings,
            &mut on_step,
        )
    }

    /// The seed stage. The median cut is kept in `p` for the next K.
    fn seed(&self, p: &Prepared<'_>, problem: &Problem<'_>, reserve: bool, k: usize) -> Seeds {
        match self.opts.init {
            Init::MedianCut => {
                // A poisoned lock means a seeding panicked half way: start the cut again.
                let mut kept = p.median_cut.lock().unwrap_or_else(|poisoned| {
                    let mut kept = poisoned.into_inner();
                    *kept = None;
                    kept
                });
                if kept.as_ref().is_some_and(|(r, _)| *r != reserve) {
                    *kept = None;
                }
                let (_, cut) =
                    kept.get_or_insert_with(|| (reserve, MedianCut::new(problem.points, problem.weights)));
                cut.seeds(problem.points, problem.weights, k)
            }
            Init::KMeansPlusPlus => Seeds {
                centroids: seed::kmeans_plus_plus(problem.points, problem.weights, k, self.opts.seed),
                hints: None,
            },
        }
    }

    /// The remap stage over the whole image; the per-pixel indices come from the GPU when the
    /// pixels are there. Returns the mapping and whether the GPU made the indices.
    fn remap(
        &self,
        p: &Prepared<'_>,
        palette: &[[u8; 4]],
        labels: &[u8],
        dither: f32,
        run_bias: u32,
        warnings: &mut Vec<String>,
    ) -> Result<(Mapped, bool)> {
        let palette_points: Vec<Point> = palette.iter().map(|&c| self.opts.space.to_point(c)).collect();
        let source = Source {
            width: p.image.width() as usize,
            height: p.image.height() as usize,
            pixels: p.image.pixels(),
            hist: &p.hist,
            points: &p.points,
            space: self.opts.space,
        };
        let mut on_gpu = false;
        let mut expand = |final_labels: &[u8]| -> Result<Vec<u8>> {
            if let Some(g) = &p.gpu {
                match g.expand(final_labels) {
                    Ok(v) => {
                        on_gpu = true;
                        return Ok(v);
                    }
                    Err(e) if !self.devices.may_fall_back() => return Err(e),
                    Err(e) => warnings.push(format!("{e}; mapping the pixels on the CPU")),
                }
            }
            Ok(remap::expand(source.hist, source.pixels, final_labels))
        };
        let mapped = remap::map(
            &source,
            palette,
            &palette_points,
            labels,
            dither,
            run_bias,
            &mut expand,
        )?;
        Ok((mapped, on_gpu))
    }

    /// Which backend ran: the GPU when any stage ran there, with the stages named.
    fn backend_used(&self, p: &Prepared<'_>, c: &Clustered, indices_on_gpu: bool) -> BackendUsed {
        let mut used = c.backend.clone();
        let stages = [
            ("histogram", p.gpu.is_some()),
            ("kmeans", c.backend.kind == BackendKind::Gpu),
            ("indices", indices_on_gpu),
        ];
        used.gpu_stages = stages.iter().filter(|s| s.1).map(|s| s.0).collect();
        if !used.gpu_stages.is_empty() {
            used.kind = BackendKind::Gpu;
            used.adapter = self.devices.adapter().cloned();
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BackendChoice;

    #[test]
    fn sampled_rows_are_the_whole_images_rows_with_runs_extended() {
        let (w, h, px) = crate::testutil::fixture("chelsea.png");
        let image = ImageRef::new(w, h, &px).unwrap();
        for bias in [0, 15, 100] {
            let opts = Options::new(48)
                .unwrap()
                .with_backend(BackendChoice::Cpu)
                .with_run_bias(bias)
                .unwrap();
            let q = Quantizer::new(opts).unwrap();
            let p = q.prepare(image, &mut |_| {}).unwrap();
            let c = q.clusters(&p, 48, &mut |_| {}).unwrap();
            let whole = q.finish(&p, &c, &mut |_| {}).unwrap();
            let rows = [0..3, 40..41, h as usize - 5..h as usize];
            let (palette, sample) = q.sampled(&p, &c, &rows).unwrap();
            // The same colors row for row; the palette's order may differ (it follows the whole
            // image's counts), so compare colors, not indices.
            let w = w as usize;
            let want: Vec<[u8; 4]> = rows
                .iter()
                .flat_map(|r| &whole.indices[r.start * w..r.end * w])
                .map(|&i| whole.palette[i as usize])
                .collect();
            let got: Vec<[u8; 4]> = sample.iter().map(|&i| palette[i as usize]).collect();
            assert_eq!(got, want, "run bias {bias}");
        }
    }

    /// The median cut is kept in the prepared image between K: a K quantized after others, larger
    /// and smaller, transparent color reserved or not, is the K of a fresh prepared image.
    #[test]
    fn a_k_after_other_ks_is_the_k_of_a_fresh_image() {
        let (w, h, mut px) = crate::testutil::fixture("coffee.png");
        let q = Quantizer::new(Options::new(16).unwrap().with_backend(BackendChoice::Cpu)).unwrap();
        let fresh = |px: &[[u8; 4]], k: u32| {
            let p = q.prepare(ImageRef::new(w, h, px).unwrap(), &mut |_| {}).unwrap();
            q.quantize_prepared(&p, k, &mut |_| {}).unwrap()
        };
        let opaque = px.clone();
        // A few fully transparent pixels: K >= 2 reserves an entry for them, K = 1 does not.
        for p in px.iter_mut().step_by(97) {
            *p = [0, 0, 0, 0];
        }
        for image in [&opaque, &px] {
            let p = q
                .prepare(ImageRef::new(w, h, image).unwrap(), &mut |_| {})
                .unwrap();
            for k in [200, 9, 1, 64, 10, 2, 256] {
                let kept = q.quantize_prepared(&p, k, &mut |_| {}).unwrap();
                let want = fresh(image, k);
                assert_eq!(kept.palette, want.palette, "K={k}");
                assert_eq!(kept.indices, want.indices, "K={k}");
                assert_eq!(kept.iterations, want.iterations, "K={k}");
            }
        }
    }
}
