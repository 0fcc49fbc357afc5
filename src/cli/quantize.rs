//! `kmquant quantize`: decode, quantize, encode, write, report; one bad input never stops the rest.
//! Inputs are processed one at a time, so memory stays bounded by the largest image.

use super::args::{BackendArg, FormatArg, PaletteOrderArg, QuantizeArgs};
use super::fit::{fit, Fitted};
use super::inputs::{expand_inputs, read_input};
use super::output::{self, Dest};
use super::report::{human_bytes, ms, psnr_rgb, Report, StageMs};
use anyhow::{bail, Context, Result};
use kmquant::decode::Decoded;
use kmquant::encode::{EncodeOptions, Format};
use kmquant::palette::{PaletteFormat, PaletteOrder};
use kmquant::{BackendChoice, ImageRef, Quantizer};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// What a batch prints and counts as it goes.
struct Batch<'a> {
    args: &'a QuantizeArgs,
    bar: Option<indicatif::ProgressBar>,
    failed: usize,
    done: usize,
    bytes_in: u64,
    bytes_out: u64,
}

impl Batch<'_> {
    /// Prints a line on stdout or stderr, around the progress bar.
    fn print(&self, line: &str, to_stderr: bool) {
        let out = || {
            if to_stderr {
                eprintln!("{line}")
            } else {
                println!("{line}")
            }
        };
        match &self.bar {
            Some(b) => b.suspend(out),
            None => out(),
        }
    }

    /// Reports one input's outcome.
    fn record(&mut self, input: &str, result: Result<(Report, bool)>) -> Result<()> {
        match result {
            Ok((report, to_stdout)) => {
                self.done += 1;
                self.bytes_in += report.input_bytes;
                self.bytes_out += report.output_bytes;
                for w in &report.warnings {
                    self.print(&format!("kmquant: warning: {input}: {w}"), true);
                }
                if self.args.json {
                    self.print(&serde_json::to_string(&report)?, to_stdout);
                } else if !self.args.quiet {
                    self.print(&report.text(), to_stdout);
                }
            }
            Err(e) => {
                self.failed += 1;
                self.print(&format!("kmquant: {input}: {}", one_line(&e)), true);
            }
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        Ok(())
    }

    /// The summary line after several inputs.
    fn summary(&self, inputs: usize) -> String {
        let saved = if self.bytes_in > 0 {
            100.0 * (1.0 - self.bytes_out as f64 / self.bytes_in as f64)
        } else {
            0.0
        };
        format!(
            "\nsummary: {} files, {} written, {} failed; {} -> {} ({saved:.0}% smaller)",
            inputs,
            self.done,
            self.failed,
            human_bytes(self.bytes_in),
            human_bytes(self.bytes_out)
        )
    }
}

fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::new(len as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files, {elapsed} {wide_msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &QuantizeArgs) -> Result<i32> {
    let inputs = expand_inputs(args);
    if args.output.is_some() && inputs.len() > 1 {
        bail!("-o/--output takes one input; use --out-dir for several");
    }
    if let Some(d) = &args.out_dir {
        std::fs::create_dir_all(d)
            .with_context(|| format!("cannot create the output folder {}", d.display()))?;
    }
    let quantizer = Quantizer::new(args.kmeans.options(run_backend(args.backend, &inputs))?)?;
    let run_start = Instant::now();
    let several = inputs.len() > 1;
    let mut batch = Batch {
        args,
        bar: (several && !args.quiet && std::io::stderr().is_terminal()).then(|| progress_bar(inputs.len())),
        failed: 0,
        done: 0,
        bytes_in: 0,
        bytes_out: 0,
    };
    // The first input's time counts from the start of the run, device start included.
    let mut job_start = run_start;
    for (input, pre_error) in &inputs {
        if let Some(b) = &batch.bar {
            b.set_message(input.clone());
        }
        let result = match pre_error {
            Some(e) => Err(anyhow::anyhow!("{e:#}")),
            None => Job::plan(args, input, several).and_then(|job| job.run(&quantizer, job_start)),
        };
        batch.record(input, result)?;
        job_start = Instant::now();
    }
    if let Some(b) = batch.bar.take() {
        b.finish_and_clear();
    }
    if several && !args.json && !args.quiet {
        println!("{}", batch.summary(inputs.len()));
    }
    let code = if batch.failed > 0 { 1 } else { 0 };
    if quantizer.device_opening() {
        // Every output is written; nothing the device thread does matters any more.
        super::exit_now(code);
    }
    Ok(code)
}

/// The backend for the run: `auto` becomes `cpu` when the inputs are too small for a device to
/// pay for its start ([`kmquant::policy::worth_starting`]); headers are read, not images.
fn run_backend(b: BackendArg, inputs: &[(String, Option<anyhow::Error>)]) -> BackendChoice {
    if b != BackendArg::Auto {
        return backend_choice(b);
    }
    let files = inputs.iter().filter(|(_, e)| e.is_none()).count();
    let pixels: u64 = inputs
        .iter()
        .filter(|(i, e)| e.is_none() && i != "-")
        .take(16)
        .filter_map(|(i, _)| kmquant::decode::peek_dimensions(Path::new(i)))
        .map(|(w, h)| w as u64 * h as u64)
        .sum();
    let stdin = inputs.iter().any(|(i, _)| i == "-");
    if stdin || kmquant::policy::worth_starting(pixels, files) {
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
struct Job<'a> {
    args: &'a QuantizeArgs,
    input: &'a str,
    dest: Dest,
    format: Format,
    plot: Option<PathBuf>,
    palette: Option<(PathBuf, PaletteFormat)>,
}

impl<'a> Job<'a> {
    /// Chooses the destinations and refuses, before any work, to write over the input or over an
    /// existing file without --force.
    fn plan(args: &'a QuantizeArgs, input: &'a str, several: bool) -> Result<Self> {
        let format = args.format.map(|f| match f {
            FormatArg::Png => Format::Png,
            FormatArg::Gif => Format::Gif,
            FormatArg::Jpg => Format::Jpeg,
        });
        let (dest, format) = output::plan(
            input,
            args.output.as_deref(),
            args.out_dir.as_deref(),
            format,
            args.kmeans.k,
        )?;
        output::check(input, &dest, args.force)?;
        let plot = args.plot.as_deref().map(|p| side_path(p, input, several));
        let palette = match args.palette.as_deref() {
            Some(p) => {
                let f = PaletteFormat::from_path(p)
                    .with_context(|| format!("--palette {p}: use a .png, .json, .gpl or .txt name"))?;
                Some((side_path(p, input, several), f))
            }
            None => None,
        };
        for side in plot.iter().chain(palette.iter().map(|(p, _)| p)) {
            output::check(input, &Dest::File(side.clone()), args.force)?;
        }
        Ok(Job {
            args,
            input,
            dest,
            format,
            plot,
            palette,
        })
    }

    /// Decodes, quantizes (or searches for the size), writes every output; returns the report and
    /// whether the image went to standard output. `t0` is when this input's time starts.
    fn run(&self, quantizer: &Quantizer, t0: Instant) -> Result<(Report, bool)> {
        let bytes = read_input(self.input)?;
        let decoded = kmquant::decode::decode(&bytes, Some(self.input), self.args.kmeans.max_pixels)?;
        let decode = t0.elapsed();
        let t = Instant::now();
        let fitted = self.quantize(quantizer, &decoded)?;
        let work = t.elapsed();
        output::write(&self.dest, &fitted.bytes, self.args.force)?;
        self.write_extras(&decoded, &fitted)?;
        let stages = Stages {
            decode,
            work,
            total: t0.elapsed(),
            device_start: quantizer.device_start_time(),
        };
        Ok((
            self.report(&bytes, &decoded, fitted, stages)?,
            self.dest == Dest::Stdout,
        ))
    }

    fn quantize(&self, quantizer: &Quantizer, d: &Decoded) -> Result<Fitted> {
        let image = ImageRef::new(d.width, d.height, &d.pixels)?;
        let enc = EncodeOptions {
            quality: self.args.quality,
            png_level: self.args.png_level,
        };
        if let Some(max) = self.args.max_bytes {
            return fit(quantizer, image, self.format, enc, self.args.kmeans.k, max);
        }
        let q = quantizer.quantize(image, &mut |_| {})?;
        let bytes = kmquant::encode::encode(&q, self.format, &enc)?;
        Ok(Fitted {
            q,
            bytes,
            chosen_k: None,
            chosen_quality: None,
        })
    }

    /// The --plot and --palette files.
    fn write_extras(&self, d: &Decoded, f: &Fitted) -> Result<()> {
        if let Some(p) = &self.plot {
            let png = kmquant::plot::color_space(&d.pixels, &f.q, 6000)?;
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
            let data = kmquant::palette::export(&f.q, *format, order, name)?;
            output::write(&Dest::File(p.clone()), &data, self.args.force)?;
        }
        Ok(())
    }

    /// MSE and PSNR of the written file. For JPEG the written pixels are not the palette colors,
    /// so the file is decoded and measured.
    fn measured_quality(
        &self,
        decoded: &Decoded,
        encoded: &[u8],
        q: &kmquant::Quantized,
    ) -> Result<(f64, f64)> {
        if self.format != Format::Jpeg {
            return Ok((q.mse, q.psnr()));
        }
        let back = kmquant::decode::decode(encoded, None, u64::MAX)?;
        let p = psnr_rgb(&decoded.pixels, &back.pixels);
        Ok((255.0f64 * 255.0 / 10f64.powf(p / 10.0), p))
    }

    fn report(&self, input: &[u8], decoded: &Decoded, fitted: Fitted, stages: Stages) -> Result<Report> {
        let Fitted {
            q,
            bytes: encoded,
            chosen_k,
            chosen_quality,
        } = fitted;
        let tm = &q.timings;
        let quantize_time = tm.device + tm.histogram + tm.setup + tm.seed + tm.kmeans + tm.remap;
        let (mse, psnr) = self.measured_quality(decoded, &encoded, &q)?;
        let adapter = match &q.backend.adapter {
            Some(a) => a.to_string(),
            None => format!("{} threads", rayon::current_num_threads()),
        };
        Ok(Report {
            input: self.input.to_string(),
            output: self.dest.to_string(),
            format: self.format,
            width: q.width,
            height: q.height,
            k: self.args.kmeans.k,
            colors_used: q.palette.len(),
            unique_colors: q.unique_colors,
            backend: q.backend.kind,
            adapter,
            gpu_chunks: q.backend.chunks,
            iterations: q.iterations,
            converged: q.converged,
            mse,
            psnr: psnr.is_finite().then_some(psnr),
            input_bytes: input.len() as u64,
            output_bytes: encoded.len() as u64,
            saved_percent: 100.0 * (1.0 - encoded.len() as f64 / input.len() as f64),
            max_bytes: self.args.max_bytes,
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
            warnings: q.warnings.clone(),
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
