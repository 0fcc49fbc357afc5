//! The per-file report: one human-readable summary, or one JSON object.

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

/// Everything printed about one input.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub input: String,
    pub output: String,
    pub format: kmquant::encode::Format,
    pub width: u32,
    pub height: u32,
    pub k: u32,
    pub colors_used: usize,
    pub unique_colors: usize,
    pub backend: kmquant::BackendKind,
    pub adapter: String,
    /// Chunks the GPU split the unique colors into (1 on the CPU).
    pub gpu_chunks: usize,
    /// The stages that ran on the GPU: histogram, kmeans, indices.
    pub gpu_stages: Vec<&'static str>,
    pub iterations: u32,
    pub converged: bool,
    pub mse: f64,
    /// PSNR in dB; null for an exact result (infinite).
    pub psnr: Option<f64>,
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub saved_percent: f64,
    /// --max-bytes, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// The K that --max-bytes chose (PNG, GIF).
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
        let psnr = self
            .psnr
            .map_or("exact (lossless)".to_string(), |p| format!("PSNR {p:.2} dB"));
        let t = &self.timings_ms;
        let k = self.chosen_k.unwrap_or(self.k);
        let backend = match self.backend {
            kmquant::BackendKind::Cpu => "cpu:",
            kmquant::BackendKind::Gpu => "gpu:",
        };
        let device = match t.device_start {
            Some(d) if t.device_wait > 0.0 => format!("device {d:.0} ms (waited {:.0} ms), ", t.device_wait),
            Some(d) => format!("device {d:.0} ms (while decoding), "),
            None => String::new(),
        };
        let backend = match self.backend {
            kmquant::BackendKind::Gpu if !self.gpu_stages.is_empty() => {
                format!("{backend} {} [{}]", self.adapter, self.gpu_stages.join(", "))
            }
            _ => format!("{backend} {}", self.adapter),
        };
        let encode = if self.max_bytes.is_some() {
            "size search + encode"
        } else {
            "encode"
        };
        format!(
            "{} -> {}  {}x{}, {k} colors\n  size     {} -> {} ({saved})\n  quality  {psnr} (MSE {:.2}), {} of {k} colors used, {} unique in the input\n  k-means  {}\n  backend  {backend}\n  time     {device}decode {:.0} ms, histogram {:.0} ms, k-means {:.0} ms, remap {:.0} ms, {encode} {:.0} ms, total {:.0} ms{}",
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
        for (what, p) in [("plot", &self.plot), ("palette", &self.palette)] {
            if let Some(p) = p {
                extra += &format!("\n  {what:<8} {p}");
            }
        }
        extra
    }
}

/// PSNR (dB) over the RGB channels of two equally sized images.
pub fn psnr_rgb(a: &[[u8; 4]], b: &[[u8; 4]]) -> f64 {
    let sse: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| {
            (0..3)
                .map(|i| (x[i] as i64 - y[i] as i64).pow(2) as u64)
                .sum::<u64>()
        })
        .sum();
    kmquant::psnr(sse as f64 / (3.0 * a.len() as f64))
}
