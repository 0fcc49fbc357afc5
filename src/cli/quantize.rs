//! `kmquant quantize`: decode, quantize, encode, write, report; one bad input never stops the rest.
//! Inputs are processed one at a time, so memory stays bounded by the largest image.

use super::args::{BackendArg, FormatArg, InitArg, PaletteOrderArg, QuantizeArgs};
use super::batch;
use super::fit::{fit, Fitted, Goal};
use super::inputs::{expand_inputs, read_input, Input};
use super::output::{self, Dest};
use super::report::{ms, Batch, Quality, Report, StageMs, SCHEMA};
use super::{usage, UsageError};
use crate::decode::Decoded;
use crate::encode::{EncodeOptions, Format};
use crate::palette::{PaletteFormat, PaletteOrder};
use crate::{BackendChoice, Quantizer};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// JPEG quality when --quality is not given.
const DEFAULT_QUALITY: u8 = 90;

/// An input left alone on purpose (--skip-existing, --skip-if-larger): reported, not a failure.
#[derive(Debug)]
pub struct Skipped(pub String);

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skipped {}

/// Options given that do nothing for an output in `format`: each a warning in the report.
fn ignored_options(args: &QuantizeArgs, format: Format) -> Vec<String> {
    let km = &args.kmeans;
    let mut notes = Vec::new();
    if args.quality.is_some() && format != Format::Jpeg {
        notes.push(format!(
            "--quality has no effect on {} output (JPEG only)",
            format.extension()
        ));
    }
    if args.png_level.is_some() && format != Format::Png {
        notes.push(format!(
            "--png-level has no effect on {} output (PNG only)",
            format.extension()
        ));
    }
    if km.adapter.is_some() && args.backend == BackendArg::Cpu {
        notes.push("--adapter has no effect with --backend cpu".into());
    }
    if km.seed.is_some() && km.init != InitArg::KmeansPlusPlus {
        notes.push("--seed has no effect without --init kmeans++".into());
    }
    if args.palette.is_none() && args.palette_order != PaletteOrderArg::Population {
        notes.push("--palette-order has no effect without --palette".into());
    }
    notes
}

pub fn backend_choice(b: BackendArg) -> BackendChoice {
    match b {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Gpu => BackendChoice::Gpu,
        BackendArg::Cpu => BackendChoice::Cpu,
    }
}

/// An error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &QuantizeArgs) -> Result<i32> {
    let inputs = expand_inputs(args)?;
    if args.output.is_some() && inputs.len() > 1 {
        return Err(usage("--output takes one input; use --out-dir for several"));
    }
    let several = inputs.len() > 1;
    // Every job is planned before any work: a usage mistake, or two inputs that would write one
    // file, stops the run before anything is written.
    let plans = plan_all(args, &inputs, several)?;
    if let Some(d) = &args.out_dir {
        std::fs::create_dir_all(d)
            .with_context(|| format!("cannot create the output folder {}", d.display()))?;
    }
    let backend = run_backend(args, &inputs);
    // This worker's share: every input is planned above (so names and clashes are decided on the
    // whole list, the same in every shard), then only the shard's own are run.
    let mine: Vec<usize> = (0..inputs.len())
        .filter(|&i| args.shard.is_none_or(|s| s.owns(&inputs[i].shard_key())))
        .collect();
    if let (Some(s), false) = (args.shard, args.quiet || args.json) {
        eprintln!("kmquant: shard {s}: {} of {} inputs", mine.len(), inputs.len());
    }
    let quantizer = Quantizer::new(args.kmeans.options(backend)?)?;
    let run_start = Instant::now();
    let mut batch = Batch::new(args, mine.len());
    let jobs = args.jobs.map_or_else(batch::default_jobs, |j| j as usize);
    let budget = args.memory.unwrap_or_else(batch::default_budget);
    let estimate = |j: usize| {
        let dims = crate::decode::peek_dimensions(Path::new(&inputs[mine[j]].path));
        batch::peak_bytes(dims.map_or(0, |(w, h)| w as u64 * h as u64))
    };
    let work = |j: usize| {
        // The first input's time counts from the start of the run, device start included.
        let start = if j == 0 { run_start } else { Instant::now() };
        match &plans[mine[j]] {
            Ok(job) => job.run(&quantizer, start),
            Err(e) => Err(anyhow::anyhow!("{e:#}")),
        }
    };
    let mut record_error = None;
    batch::run(mine.len(), jobs, budget, estimate, work, |j, result| {
        if let Err(e) = batch.record(&inputs[mine[j]].path, result) {
            record_error.get_or_insert(e);
        }
    });
    if let Some(e) = record_error {
        return Err(e);
    }
    batch.finish(run_start.elapsed())?;
    let code = if batch.failed > 0 { 1 } else { 0 };
    if quantizer.device_started() {
        // Every output is written and closed; nothing the device does matters any more. Tearing
        // it down (or waiting for it to finish opening) took about 40 ms on an NVIDIA H100.
        super::exit_now(code);
    }
    Ok(code)
}

/// Plans every input's job. A usage mistake in any of them, or two that would write the same file
/// (or over another input), is an error for the whole run.
fn plan_all<'a>(args: &'a QuantizeArgs, inputs: &'a [Input], several: bool) -> Result<Vec<Result<Job<'a>>>> {
    let mut plans = Vec::with_capacity(inputs.len());
    for input in inputs {
        let plan = match &input.error {
            Some(e) => Err(anyhow::anyhow!("{e:#}")),
            None => Job::plan(args, input, several),
        };
        if let Err(e) = &plan {
            if let Some(u) = e.downcast_ref::<UsageError>() {
                return Err(usage(u.0.clone()));
            }
        }
        plans.push(plan);
    }
    let mut writers: HashMap<PathBuf, &str> = HashMap::new();
    let given: HashMap<PathBuf, &str> = inputs
        .iter()
        .filter(|i| i.path != "-")
        .map(|i| (output::normalized(Path::new(&i.path)), i.path.as_str()))
        .collect();
    for job in plans.iter().flatten() {
        for file in job.files() {
            let key = output::normalized(&file);
            if let Some(other) = writers.insert(key.clone(), job.input) {
                return Err(usage(format!(
                    "{other} and {} would both be written to {}; use -r --out-dir to keep their folders apart, or other names",
                    job.input,
                    file.display()
                )));
            }
            if let Some(&input) = given.get(&key).filter(|&&i| i != job.input) {
                return Err(usage(format!(
                    "{}'s output {} is another input, {input}; it would be overwritten",
                    job.input,
                    file.display()
                )));
            }
        }
    }
    Ok(plans)
}

/// The backend for the run: `auto` with `--adapter` is `gpu` (a pinned adapter is used, not
/// second-guessed); `auto` becomes `cpu` when the inputs are too small, or K too small for this
/// many CPU threads, for a device to pay for its start ([`crate::policy::worth_starting`]);
/// headers are read, not images.
pub(crate) fn run_backend(args: &QuantizeArgs, inputs: &[Input]) -> BackendChoice {
    match (args.backend, &args.kmeans.adapter) {
        (BackendArg::Auto, Some(_)) => return BackendChoice::Gpu,
        (BackendArg::Auto, None) => {}
        (b, _) => return backend_choice(b),
    }
    let files = inputs.iter().filter(|i| i.error.is_none()).count();
    let pixels: u64 = inputs
        .iter()
        .filter(|i| i.error.is_none() && i.path != "-")
        .take(16)
        .filter_map(|i| crate::decode::peek_dimensions(Path::new(&i.path)))
        .map(|(w, h)| w as u64 * h as u64)
        .sum();
    let stdin = inputs.iter().any(|i| i.path == "-");
    if stdin || crate::policy::worth_starting(pixels, files, args.kmeans.k) {
        BackendChoice::Auto
    } else {
        BackendChoice::Cpu
    }
}

/// `path` as given for one input; with several inputs, `-STEM` goes before the extension.
fn side_path(path: &str, input: &str, several: bool) -> PathBuf {
    if !several {
        return PathBuf::from(path);
    }
    let p = Path::new(path);
    let stem = Path::new(input)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stdin");
    let name = match (
        p.file_stem().and_then(|s| s.to_str()),
        p.extension().and_then(|e| e.to_str()),
    ) {
        (Some(s), Some(e)) => format!("{s}-{stem}.{e}"),
        (Some(s), None) => format!("{s}-{stem}"),
        _ => stem.to_string(),
    };
    p.with_file_name(name)
}

/// One input's work, planned before anything is read: where each output goes.
pub(crate) struct Job<'a> {
    args: &'a QuantizeArgs,
    input: &'a str,
    dest: Dest,
    format: Format,
    plot: Option<PathBuf>,
    palette: Option<(PathBuf, PaletteFormat)>,
    /// Why this input is left alone (--skip-existing), decided when it is planned.
    skip: Option<String>,
    /// Options that have no effect on this output, for the report's warnings.
    notes: Vec<String>,
}

impl<'a> Job<'a> {
    /// Chooses the destinations and refuses, before any work, to write over the input or over an
    /// existing file without --force.
    pub(crate) fn plan(args: &'a QuantizeArgs, given: &'a Input, several: bool) -> Result<Self> {
        let input = given.path.as_str();
        let format = args.format.map(|f| match f {
            FormatArg::Png => Format::Png,
            FormatArg::Gif => Format::Gif,
            FormatArg::Jpg => Format::Jpeg,
        });
        let naming = output::Naming {
            output: args.output.as_deref(),
            out_dir: args.out_dir.as_deref(),
            format,
            ext: args.ext.as_deref(),
            k: args.kmeans.k,
        };
        let (dest, format) = output::plan(input, given.root.as_deref(), &naming)?;
        let in_place = args.ext.is_some() && args.force;
        let skip = match &dest {
            Dest::File(p) if args.skip_existing && p.symlink_metadata().is_ok() => {
                Some(format!("{} already exists (--skip-existing)", p.display()))
            }
            _ => None,
        };
        if skip.is_none() {
            output::check(input, &dest, args.force, in_place)?;
        }
        if let Some(p) = args.plot.as_deref() {
            if Format::from_path(p) != Some(Format::Png) {
                return Err(usage(format!(
                    "--plot {p}: the plot is a PNG; give a name ending in .png"
                )));
            }
        }
        if args.target_psnr.is_some() && format == Format::Jpeg {
            return Err(usage(
                "--target-psnr picks K for PNG or GIF output; for JPEG, whose own loss comes on top, use --quality (and --min-psnr to check the result)",
            ));
        }
        let plot = args.plot.as_deref().map(|p| side_path(p, input, several));
        let palette = match args.palette.as_deref() {
            Some(p) => {
                let f = PaletteFormat::from_path(p)
                    .ok_or_else(|| usage(format!("--palette {p}: use a .png, .json, .gpl or .txt name")))?;
                Some((side_path(p, input, several), f))
            }
            None => None,
        };
        if skip.is_none() {
            for side in plot.iter().chain(palette.iter().map(|(p, _)| p)) {
                output::check(input, &Dest::File(side.clone()), args.force, false)?;
            }
        }
        let notes = ignored_options(args, format);
        Ok(Job {
            args,
            input,
            dest,
            format,
            plot,
            palette,
            skip,
            notes,
        })
    }

    /// Every file this job writes.
    fn files(&self) -> Vec<PathBuf> {
        let main = match &self.dest {
            Dest::File(p) => Some(p.clone()),
            Dest::Stdout => None,
        };
        main.into_iter()
            .chain(self.plot.clone())
            .chain(self.palette.as_ref().map(|(p, _)| p.clone()))
            .collect()
    }

    /// Decodes, quantizes (or searches for the size), writes every output; returns the report and
    /// whether the image went to standard output. `t0` is when this input's time starts.
    pub(crate) fn run(&self, quantizer: &Quantizer, t0: Instant) -> Result<(Report, bool)> {
        if let Some(why) = &self.skip {
            return Err(Skipped(why.clone()).into());
        }
        let bytes = read_input(self.input)?;
        let decoded =
            crate::decode::decode_counting(&bytes, Some(self.input), &self.args.kmeans.decode_options())
                .map_err(|e| match e {
                    crate::Error::Decode(m) if m.starts_with("damaged") => {
                        anyhow::anyhow!("cannot decode image: {m} (--accept-damaged decodes what is there)")
                    }
                    e => e.into(),
                })?;
        let decode = t0.elapsed();
        let t = Instant::now();
        let fitted = self.quantize(quantizer, &decoded)?;
        let work = t.elapsed();
        if self.args.skip_if_larger && fitted.bytes.len() >= bytes.len() {
            return Err(Skipped(format!(
                "the output would be {} bytes, not smaller than the input's {} (--skip-if-larger)",
                fitted.bytes.len(),
                bytes.len()
            ))
            .into());
        }
        let quality = self.quality(&decoded, &fitted.bytes, &fitted.q)?;
        if let Some(min) = self.args.min_psnr {
            let psnr = quality.psnr().unwrap_or(f64::INFINITY);
            if psnr < min {
                anyhow::bail!(
                    "PSNR {psnr:.2} dB is below --min-psnr {min} dB (K = {}); nothing written",
                    fitted.chosen_k.unwrap_or(self.args.kmeans.k)
                );
            }
        }
        if let (Some(_), Dest::File(p)) = (&self.args.out_dir, &self.dest) {
            // The input's folder, mirrored under --out-dir.
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
        }
        output::write(&self.dest, &fitted.bytes, self.args.force)?;
        self.write_extras(&decoded, &fitted)?;
        let stages = Stages {
            decode,
            work,
            total: t0.elapsed(),
            device_start: quantizer.device_start_time(),
        };
        Ok((
            self.report(&bytes, &decoded, fitted, quality, stages),
            self.dest == Dest::Stdout,
        ))
    }

    fn quantize(&self, quantizer: &Quantizer, d: &Decoded) -> Result<Fitted> {
        let image = d.image()?;
        let enc = EncodeOptions {
            quality: self.args.quality.unwrap_or(DEFAULT_QUALITY),
            png_level: self.args.png_level,
            metadata: (!self.args.strip && !d.metadata.is_empty())
                .then(|| std::sync::Arc::new(d.metadata.clone())),
        };
        if let Some(max) = self.args.max_bytes {
            return fit(quantizer, image, self.format, enc, Goal::MaxBytes(max));
        }
        if let Some(t) = self.args.target_psnr {
            return fit(quantizer, image, self.format, enc, Goal::Psnr(t));
        }
        let q = quantizer.quantize(image, &mut |_| {})?;
        let bytes = crate::encode::encode(&q, self.format, &enc)?;
        Ok(Fitted {
            q,
            bytes,
            chosen_k: None,
            chosen_quality: None,
            target: None,
        })
    }

    /// The --plot and --palette files.
    fn write_extras(&self, d: &Decoded, f: &Fitted) -> Result<()> {
        if let Some(p) = &self.plot {
            let png = crate::plot::color_space(&d.pixels, &f.q, 6000)?;
            output::write(&Dest::File(p.clone()), &png, self.args.force)?;
        }
        if let Some((p, format)) = &self.palette {
            let order = match self.args.palette_order {
                PaletteOrderArg::Population => PaletteOrder::Population,
                PaletteOrderArg::Lightness => PaletteOrder::Lightness,
            };
            let name = Path::new(self.input)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("kmquant");
            let data = crate::palette::export(&f.q, *format, order, name)?;
            output::write(&Dest::File(p.clone()), &data, self.args.force)?;
        }
        Ok(())
    }

    /// What the written file holds. PNG, and GIF without translucent entries, hold the palette
    /// colors exactly; a JPEG, and a GIF whose translucent entries became opaque or transparent,
    /// are decoded and measured as a viewer would see them.
    fn quality(&self, decoded: &Decoded, encoded: &[u8], q: &crate::Quantized) -> Result<Quality> {
        let lossy = match self.format {
            Format::Png => false,
            Format::Gif => q.palette.iter().any(|c| c[3] != 255),
            Format::Jpeg => true,
        };
        if !lossy {
            return Ok(Quality::of(q));
        }
        let all = crate::decode::DecodeOptions {
            max_pixels: u64::MAX,
            accept_damaged: false,
        };
        let back = crate::decode::decode(encoded, None, &all)?;
        Ok(Quality::measure(&decoded.pixels, &back.pixels))
    }

    fn report(
        &self,
        input: &[u8],
        decoded: &Decoded,
        fitted: Fitted,
        quality: Quality,
        stages: Stages,
    ) -> Report {
        let Fitted {
            q,
            bytes: encoded,
            chosen_k,
            chosen_quality,
            target,
        } = fitted;
        let tm = &q.timings;
        let quantize_time = tm.device + tm.histogram + tm.setup + tm.seed + tm.kmeans + tm.remap;
        let adapter = q.backend.device_name();
        let missed = match (self.args.target_psnr, target) {
            (Some(t), Some((false, _))) => Some(format!(
                "no K up to {} reaches --target-psnr {t} dB; K = {} gives {}",
                self.args.kmeans.k,
                self.args.kmeans.k,
                quality
                    .psnr()
                    .map_or("an exact image".into(), |p| format!("{p:.2} dB"))
            )),
            _ => None,
        };
        Report {
            schema: SCHEMA,
            kind: "file",
            input: self.input.to_string(),
            output: self.dest.to_string(),
            format: self.format,
            width: q.width,
            height: q.height,
            k: self.args.kmeans.k,
            colors_used: quality.colors,
            unique_colors: q.unique_colors,
            backend: q.backend.kind,
            adapter,
            gpu_chunks: q.backend.chunks,
            iterations: q.iterations,
            converged: q.converged,
            exact: quality.exact,
            mse: quality.mse,
            psnr: quality.psnr(),
            alpha_mse: quality.alpha_mse,
            input_bytes: input.len() as u64,
            output_bytes: encoded.len() as u64,
            saved_percent: 100.0 * (1.0 - encoded.len() as f64 / input.len() as f64),
            max_bytes: self.args.max_bytes,
            target_psnr: self.args.target_psnr,
            min_psnr: self.args.min_psnr,
            target_reached: target.map(|t| t.0),
            psnr_tries: target.map(|t| t.1),
            chosen_k,
            chosen_quality,
            plot: self.plot.as_ref().map(|p| p.to_string_lossy().into_owned()),
            palette: self
                .palette
                .as_ref()
                .map(|(p, _)| p.to_string_lossy().into_owned()),
            gpu_stages: q.backend.gpu_stages.clone(),
            timings_ms: StageMs {
                device_start: stages.device_start.map(ms),
                device_wait: ms(tm.device),
                decode: ms(stages.decode),
                histogram: ms(tm.histogram),
                kmeans: ms(tm.setup + tm.seed + tm.kmeans),
                remap: ms(tm.remap),
                encode: ms(stages.work.saturating_sub(quantize_time)),
                total: ms(stages.total),
            },
            warnings: decoded
                .damage
                .iter()
                .map(|d| format!("the input is damaged and was decoded as far as it goes ({d})"))
                .chain(self.notes.iter().cloned())
                .chain(self.dropped_profile(decoded))
                .chain(missed)
                .chain(q.warnings.iter().cloned())
                .collect(),
        }
    }
}

impl Job<'_> {
    /// The warning for an ICC profile the output format cannot hold (GIF), unless it is sRGB's,
    /// which viewers assume anyway.
    fn dropped_profile(&self, decoded: &Decoded) -> Option<String> {
        let profile = decoded.metadata.icc_profile.as_deref();
        let not_srgb = profile.is_some_and(|p| !crate::metadata::is_srgb_profile(p));
        (self.format == Format::Gif && !self.args.strip && not_srgb).then(|| {
            "GIF cannot hold the input's ICC profile; it was dropped, so viewers show the colors as sRGB (PNG and JPEG keep it)".to_string()
        })
    }
}

/// Wall times of one job: decoding, quantizing plus encoding, and the whole job; and how long
/// the device took to open, on its own thread, once it has.
struct Stages {
    decode: Duration,
    work: Duration,
    total: Duration,
    device_start: Option<Duration>,
}
