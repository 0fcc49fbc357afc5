//! The per-file report: one human-readable summary, or one JSON object; and what a batch prints
//! as it goes (a progress bar on a terminal, failures, the summary).
//!
//! JSON (`--json`) is one object per line, each with `"schema": 1` and a `"kind"`: `"file"` for a
//! written input (every key of [`Report`]), `"failed"` for an input that failed (`input`,
//! `error`), and one `"summary"` at the end ([`Summary`]). The README documents every key.

use serde::Serialize;
use std::time::Duration;

/// Milliseconds per stage.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageMs {
    /// Opening the GPU device, on its own thread while the first input decodes; null when no
    /// device was started (or it was still opening).
    pub device_start: Option<f64>,
    /// Time this input waited for the device (only `--backend gpu` waits).
    pub device_wait: f64,
    pub decode: f64,
    pub histogram: f64,
    pub kmeans: f64,
    pub remap: f64,
    pub encode: f64,
    pub total: f64,
}

/// The version of the JSON objects' layout; it changes when a key changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Everything printed about one input.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: u32,
    /// "file".
    pub kind: &'static str,
    pub input: String,
    pub output: String,
    pub format: crate::encode::Format,
    pub width: u32,
    pub height: u32,
    pub k: u32,
    /// Distinct colors in the file as written (as a decoder gives them back).
    pub colors_used: usize,
    pub unique_colors: usize,
    pub backend: crate::BackendKind,
    pub adapter: String,
    /// Chunks the GPU split the unique colors into (1 on the CPU).
    pub gpu_chunks: usize,
    /// The stages that ran on the GPU: histogram, kmeans, indices.
    pub gpu_stages: Vec<&'static str>,
    pub iterations: u32,
    pub converged: bool,
    /// Whether the file, decoded, gives back every input pixel (fully transparent pixels count
    /// as one color).
    pub exact: bool,
    /// Mean squared error per RGB channel of the file against the input, in 8-bit levels².
    pub mse: f64,
    /// PSNR over RGB in dB; null when the RGB channels are exact (infinite PSNR).
    pub psnr: Option<f64>,
    /// Mean squared error of the alpha channel (0 when the input and the file are opaque).
    pub alpha_mse: f64,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub saved_percent: f64,
    /// --max-bytes, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// --target-psnr, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_psnr: Option<f64>,
    /// --min-psnr, when given (a file below it fails and is not written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_psnr: Option<f64>,
    /// Whether the K --target-psnr chose reaches it (false: no K up to -k does, and -k is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_reached: Option<bool>,
    /// How many palette sizes --target-psnr quantized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psnr_tries: Option<u32>,
    /// The K that --max-bytes or --target-psnr chose (PNG, GIF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen_k: Option<u32>,
    /// The JPEG quality that --max-bytes chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen_quality: Option<u8>,
    /// The --plot file written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot: Option<String>,
    /// The --palette file written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub palette: Option<String>,
    pub timings_ms: StageMs,
    pub warnings: Vec<String>,
}

pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// Bytes with a binary-free, human unit (kB = 1000 bytes, as file managers show).
pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}

impl Report {
    /// The text summary.
    pub fn text(&self) -> String {
        let saved = if self.saved_percent >= 0.0 {
            format!("{:.0}% smaller", self.saved_percent)
        } else {
            format!("{:.0}% larger", -self.saved_percent)
        };
        let psnr = match (self.exact, self.psnr) {
            (true, _) => "exact (lossless)".to_string(),
            (false, Some(p)) => format!("PSNR {p:.2} dB"),
            (false, None) => "RGB exact".to_string(),
        };
        let psnr = if self.alpha_mse > 0.0 {
            format!("{psnr}, alpha changed (alpha MSE {:.2})", self.alpha_mse)
        } else {
            psnr
        };
        let t = &self.timings_ms;
        let k = self.chosen_k.unwrap_or(self.k);
        let backend = match self.backend {
            crate::BackendKind::Cpu => "cpu:",
            crate::BackendKind::Gpu => "gpu:",
        };
        let device = match t.device_start {
            Some(d) if t.device_wait > 0.0 => format!("device {d:.0} ms (waited {:.0} ms), ", t.device_wait),
            Some(d) => format!("device {d:.0} ms (while decoding), "),
            None => String::new(),
        };
        let backend = match self.backend {
            crate::BackendKind::Gpu if !self.gpu_stages.is_empty() => {
                format!("{backend} {} [{}]", self.adapter, self.gpu_stages.join(", "))
            }
            _ => format!("{backend} {}", self.adapter),
        };
        let encode = if self.max_bytes.is_some() {
            "size search + encode"
        } else if self.target_psnr.is_some() {
            "quality search + encode"
        } else {
            "encode"
        };
        format!(
            "{} -> {}  {}x{}, {k} colors\n  size     {} -> {} ({saved})\n  quality  {psnr} (MSE {:.2}), {} colors used in the file (K = {k}), {} unique in the input\n  k-means  {}\n  backend  {backend}\n  time     {device}decode {:.0} ms, histogram {:.0} ms, k-means {:.0} ms, remap {:.0} ms, {encode} {:.0} ms, total {:.0} ms{}",
            self.input,
            self.output,
            self.width,
            self.height,
            human_bytes(self.input_bytes),
            human_bytes(self.output_bytes),
            self.mse,
            self.colors_used,
            self.unique_colors,
            self.run_text(),
            t.decode,
            t.histogram,
            t.kmeans,
            t.remap,
            t.encode,
            t.total,
            self.extra_lines(),
        )
    }

    /// How the k-means run ended.
    fn run_text(&self) -> String {
        if self.iterations == 0 {
            return "not needed: the input has no more colors than K".to_string();
        }
        format!(
            "{} iteration{}, {}",
            self.iterations,
            if self.iterations == 1 { "" } else { "s" },
            if self.converged {
                "converged"
            } else {
                "stopped at --max-iter"
            }
        )
    }

    /// The lines for --max-bytes, --plot and --palette, when used.
    fn extra_lines(&self) -> String {
        let mut extra = String::new();
        if let Some(m) = self.max_bytes {
            match (self.chosen_k, self.chosen_quality) {
                (Some(k), _) => {
                    extra += &format!("\n  fit      largest K within {}: K = {k}", human_bytes(m))
                }
                (_, Some(q)) => {
                    extra += &format!("\n  fit      highest JPEG quality within {}: {q}", human_bytes(m))
                }
                _ => {}
            }
        }
        if let (Some(t), Some(k), Some(n)) = (self.target_psnr, self.chosen_k, self.psnr_tries) {
            extra += &if self.target_reached == Some(true) {
                format!("\n  fit      fewest colors reaching {t} dB: K = {k} ({n} palette sizes tried)")
            } else {
                format!("\n  fit      no K up to {k} reaches {t} dB; K = {k} used")
            };
        }
        for (what, p) in [("plot", &self.plot), ("palette", &self.palette)] {
            if let Some(p) = p {
                extra += &format!("\n  {what:<8} {p}");
            }
        }
        extra
    }
}

/// What the written file holds, against the input: its RGB and alpha errors, its distinct
/// colors, and whether it is exact. Fully transparent pixels all count as one color, whatever
/// RGB they hide.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub mse: f64,
    pub alpha_mse: f64,
    pub colors: usize,
    pub exact: bool,
}

impl Quality {
    /// From the file's pixels as a decoder gives them.
    pub fn measure(original: &[[u8; 4]], written: &[[u8; 4]]) -> Quality {
        use rayon::prelude::*;
        let (rgb, alpha) = original
            .par_iter()
            .zip(written)
            .map(|(o, w)| {
                if o[3] == 0 && w[3] == 0 {
                    return (0u64, 0u64);
                }
                let rgb = (0..3)
                    .map(|i| (o[i] as i64 - w[i] as i64).pow(2) as u64)
                    .sum::<u64>();
                (rgb, (o[3] as i64 - w[3] as i64).pow(2) as u64)
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let mut keys: Vec<u32> = written
            .par_iter()
            .map(|p| if p[3] == 0 { 0 } else { u32::from_le_bytes(*p) })
            .collect();
        keys.par_sort_unstable();
        keys.dedup();
        let n = original.len().max(1) as f64;
        Quality {
            mse: rgb as f64 / (3.0 * n),
            alpha_mse: alpha as f64 / n,
            colors: keys.len(),
            exact: rgb == 0 && alpha == 0,
        }
    }

    /// From the quantized result, for a file that holds its palette colors exactly.
    pub fn of(q: &crate::Quantized) -> Quality {
        Quality {
            mse: q.mse,
            alpha_mse: q.alpha_mse,
            colors: q.palette.len(),
            exact: q.mse == 0.0 && q.alpha_mse == 0.0,
        }
    }

    /// PSNR over RGB, in dB; None when the RGB channels are exact.
    pub fn psnr(&self) -> Option<f64> {
        Some(crate::psnr(self.mse)).filter(|p| p.is_finite())
    }
}

/// An input that failed, as JSON.
#[derive(Serialize)]
struct Failed<'a> {
    schema: u32,
    kind: &'static str,
    input: &'a str,
    error: String,
}

/// An input left alone on purpose, as JSON.
#[derive(Serialize)]
struct SkippedJson<'a> {
    schema: u32,
    kind: &'static str,
    input: &'a str,
    reason: &'a str,
}

/// The last JSON object of a run.
#[derive(Serialize)]
pub struct Summary {
    pub schema: u32,
    pub kind: &'static str,
    /// Inputs (files found in folders included).
    pub files: usize,
    pub written: usize,
    pub failed: usize,
    /// Inputs left alone by --skip-existing or --skip-if-larger.
    pub skipped: usize,
    /// Bytes read and written, over the inputs written.
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub saved_percent: f64,
    /// Wall time of the whole run.
    pub wall_ms: f64,
}

/// What a batch prints and counts as it goes.
pub struct Batch<'a> {
    args: &'a super::args::QuantizeArgs,
    bar: Option<indicatif::ProgressBar>,
    inputs: usize,
    pub failed: usize,
    skipped: usize,
    done: usize,
    bytes_in: u64,
    bytes_out: u64,
}

impl<'a> Batch<'a> {
    /// A batch of `inputs` inputs; a progress bar when there are several and stderr is a terminal.
    pub fn new(args: &'a super::args::QuantizeArgs, inputs: usize) -> Self {
        use std::io::IsTerminal;
        let bar = (inputs > 1 && !args.quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(inputs as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files, {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        });
        Batch {
            args,
            bar,
            inputs,
            failed: 0,
            skipped: 0,
            done: 0,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

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

    /// Reports one input's outcome: its report (or JSON object), or its failure on one line
    /// (and, with --json, as a "failed" object).
    pub fn record(&mut self, input: &str, result: anyhow::Result<(Report, bool)>) -> anyhow::Result<()> {
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
            Err(e) if e.downcast_ref::<super::quantize::Skipped>().is_some() => {
                self.skipped += 1;
                let reason = e.to_string();
                if self.args.json {
                    let s = SkippedJson {
                        schema: SCHEMA,
                        kind: "skipped",
                        input,
                        reason: &reason,
                    };
                    self.print(
                        &serde_json::to_string(&s)?,
                        self.args.output.as_deref() == Some("-"),
                    );
                } else if !self.args.quiet {
                    self.print(&format!("kmquant: {input}: skipped: {reason}"), true);
                }
            }
            Err(e) => {
                self.failed += 1;
                let error = super::quantize::one_line(&e);
                self.print(&format!("kmquant: {input}: {error}"), true);
                if self.args.json {
                    let f = Failed {
                        schema: SCHEMA,
                        kind: "failed",
                        input,
                        error,
                    };
                    self.print(
                        &serde_json::to_string(&f)?,
                        self.args.output.as_deref() == Some("-"),
                    );
                }
            }
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        Ok(())
    }

    fn saved_percent(&self) -> f64 {
        if self.bytes_in > 0 {
            100.0 * (1.0 - self.bytes_out as f64 / self.bytes_in as f64)
        } else {
            0.0
        }
    }

    /// Ends the batch: the summary object (--json), or the summary line after several inputs.
    pub fn finish(&mut self, wall: Duration) -> anyhow::Result<()> {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if self.args.json {
            let s = Summary {
                schema: SCHEMA,
                kind: "summary",
                files: self.inputs,
                written: self.done,
                failed: self.failed,
                skipped: self.skipped,
                input_bytes: self.bytes_in,
                output_bytes: self.bytes_out,
                saved_percent: self.saved_percent(),
                wall_ms: ms(wall),
            };
            self.print(
                &serde_json::to_string(&s)?,
                self.args.output.as_deref() == Some("-"),
            );
        } else if self.inputs > 1 && !self.args.quiet {
            println!(
                "\nsummary: {} files, {} written, {} failed{}; {} -> {} ({:.0}% smaller)",
                self.inputs,
                self.done,
                self.failed,
                if self.skipped > 0 {
                    format!(", {} skipped", self.skipped)
                } else {
                    String::new()
                },
                human_bytes(self.bytes_in),
                human_bytes(self.bytes_out),
                self.saved_percent()
            );
        }
        Ok(())
    }
}
