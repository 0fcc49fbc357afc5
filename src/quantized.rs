//! What the library returns: the quantized image with its palette and measurements, the time per
//! stage, and the progress events reported on the way.

use crate::backend::BackendUsed;
use std::time::Duration;

/// Time spent in each stage.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timings {
    /// Waiting for the device to finish opening (only `BackendChoice::Gpu` waits).
    pub device: Duration,
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
    /// Whether the indices were dithered.
    pub dithered: bool,
    /// Mean squared error of the output against the input, per RGB channel, in 8-bit levels².
    /// Fully transparent pixels count as one color, whatever RGB they hide.
    pub mse: f64,
    /// Mean squared error of the alpha channel, in 8-bit levels² (0 for opaque images).
    pub alpha_mse: f64,
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
