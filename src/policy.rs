//! Where each stage runs. Results are bit-identical on every backend, so the choice is only about
//! speed.
//!
//! - `cpu`: every stage on the CPU; no driver is loaded.
//! - `gpu`: the device starts opening on its own thread when the [`crate::Quantizer`] is built,
//!   and the first stage that needs it waits for it. The histogram, k-means and the final
//!   per-pixel indices run on it (images with alpha count their colors on the CPU).
//! - `auto`: the device starts opening on its own thread too, but only when a hardware GPU could
//!   exist (on Linux, a GPU device node; see `src/gpu/adapter.rs`), and only hardware Vulkan,
//!   Metal or DX12 adapters that pass the engine's checks are taken. Nothing ever waits for it:
//!   each stage that could use it asks whether it is open *now*, and runs on the CPU if not. A
//!   stage also stays on the CPU when the GPU would not be faster at it:
//!   - the pixel stages (histogram and per-pixel indices) need [`AUTO_MIN_PIXELS`] and a CPU
//!     with at most [`AUTO_GPU_PIXELS_MAX_THREADS`] threads: their cost on a GPU is mostly the
//!     upload of the pixels, which a CPU pass over them beats from two threads on;
//!   - k-means needs `unique colors × K` of at least [`AUTO_MIN_KMEANS_WORK`] per iteration (a
//!     submit and read-back per call costs about 0.15 to 0.4 ms on an NVIDIA H100).
//!
//!   So `auto` starts on the CPU and hands over to the device once it is ready: on a machine
//!   without a GPU it costs nothing, and on one with a GPU it is never slower than the CPU by more
//!   than the device thread's share of the cores.
//!
//!   Opening a device takes 150 to 320 ms on an NVIDIA H100, longer than the whole CPU run for a
//!   photo below about 8 megapixels, and an open device costs the process about 40 ms more at
//!   exit. The command line therefore starts the device under `auto` only when the run has at
//!   least [`AUTO_MIN_RUN_PIXELS`] to do, and, where the pixel stages stay on the CPU, only when
//!   K is at least [`AUTO_MIN_K_PER_THREAD`] per CPU thread ([`worth_starting`]): the Lloyd loop
//!   is then all the device can speed up, and what it saves grows with K over the threads.

use crate::backend::AdapterSummary;
use crate::error::{Error, Result};
use crate::gpu::{DeviceStart, GpuContext};
use crate::options::{AdapterPin, BackendChoice};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Smallest image, in pixels, whose histogram and indices `auto` computes on the GPU. Below it
/// the upload and the fixed costs outweigh a CPU pass over the pixels.
pub const AUTO_MIN_PIXELS: u64 = 4_000_000;

/// Most CPU threads with which `auto` runs the pixel stages on the GPU. Measured at 20 MP
/// (BENCHMARKS.md, "On a real GPU"): on an NVIDIA H100 through Vulkan the histogram and the
/// per-pixel indices took 3.7 ns per pixel together, 30 to 38 ms of the histogram's 52 to 62 being
/// the upload; on the CPU they take 4.2 ns on one thread, 3.1 on two and 1.5 on sixteen. The
/// Lloyd loop is another matter (5 to 20 times faster there), so only these two stay home.
pub const AUTO_GPU_PIXELS_MAX_THREADS: usize = 1;

/// Smallest `unique colors × K` for which `auto` runs k-means on the GPU. At 2^21 a CPU iteration
/// with the pruned search takes about as long as one GPU round trip on a many-core machine.
pub const AUTO_MIN_KMEANS_WORK: u64 = 1 << 21;

/// Fewest pixels in a whole run (one large photo, or a batch) for which `auto` starts a device.
pub const AUTO_MIN_RUN_PIXELS: u64 = 8_000_000;

/// Fewest palette colors per CPU thread for which `auto` starts a device when the pixel stages
/// stay on the CPU. Measured on an NVIDIA H100 with 16 threads, 20 MP (BENCHMARKS.md): the device
/// saved 10 ms of Lloyd loop at K=16 and lost 40 to 50 ms to its start and exit (`auto` 1.11x to
/// 1.13x the CPU run), saved 25 to 75 ms at K=64 and 85 to 120 ms at K=256.
pub const AUTO_MIN_K_PER_THREAD: usize = 4;

/// Whether `auto` should start a device for a run over `pixels` pixels in `files` files (a batch
/// of 16 files or more counts as enough pixels: the one device serves them all) at up to `k`
/// colors, on this process's CPU threads.
pub fn worth_starting(pixels: u64, files: usize, k: u32) -> bool {
    worth_starting_on(pixels, files, k, rayon::current_num_threads())
}

fn worth_starting_on(pixels: u64, files: usize, k: u32, threads: usize) -> bool {
    let enough = pixels >= AUTO_MIN_RUN_PIXELS || files >= 16;
    let gains = pixel_stages_may_use_gpu(threads) || k as usize >= AUTO_MIN_K_PER_THREAD * threads;
    enough && gains
}

/// A stage that can run on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Histogram and per-pixel indices; work = pixels.
    Pixels,
    /// The Lloyd loop and the remap of unique colors; work = unique colors × K.
    Kmeans,
}

/// The device a quantizer may use, and the rule for using it.
pub(crate) struct Devices {
    choice: BackendChoice,
    start: Option<DeviceStart>,
}

impl Devices {
    /// Starts opening a device on its own thread when `choice` may use one; a pinned adapter
    /// (unless the CPU was chosen) is opened as if the GPU had been asked for.
    pub fn new(choice: BackendChoice, pin: Option<AdapterPin>) -> Self {
        if let (Some(pin), BackendChoice::Auto | BackendChoice::Gpu) = (pin, choice) {
            return Devices {
                choice: BackendChoice::Gpu,
                start: Some(DeviceStart::spawn(move || GpuContext::pinned(&pin))),
            };
        }
        let start = match choice {
            BackendChoice::Cpu => None,
            BackendChoice::Gpu => Some(DeviceStart::spawn(|| GpuContext::new(false))),
            BackendChoice::Auto => {
                crate::gpu::hardware_may_exist().then(|| DeviceStart::spawn(|| GpuContext::new(true)))
            }
        };
        Devices { choice, start }
    }

    /// An already open device, used for every stage.
    pub fn ready(ctx: Arc<GpuContext>) -> Self {
        Devices {
            choice: BackendChoice::Gpu,
            start: Some(DeviceStart::ready(ctx)),
        }
    }

    /// The adapter, once the device is open.
    pub fn adapter(&self) -> Option<&AdapterSummary> {
        match self.start.as_ref()?.get()?.result.as_ref() {
            Ok(ctx) => Some(ctx.adapter()),
            Err(_) => None,
        }
    }

    /// How long opening the device took, once it has finished (successfully or not).
    pub fn start_time(&self) -> Option<Duration> {
        Some(self.start.as_ref()?.get()?.took)
    }

    /// The device for a stage with `work` units, or None to run it on the CPU. With `gpu` this
    /// waits for the device (the wait is added to `waited`) and fails without one. With `auto` it
    /// never waits; a device that failed to open for a reason other than finding no adapter adds
    /// a warning.
    pub fn for_stage(
        &self,
        stage: Stage,
        work: u64,
        waited: &mut Duration,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Arc<GpuContext>>> {
        let Some(start) = &self.start else {
            return Ok(None);
        };
        match self.choice {
            BackendChoice::Cpu => Ok(None),
            BackendChoice::Gpu => {
                let t = Instant::now();
                let started = start.wait();
                *waited += t.elapsed();
                started.device().map(Some)
            }
            BackendChoice::Auto => match start.get().map(|s| s.device()) {
                Some(Ok(ctx)) if gpu_pays(stage, work, rayon::current_num_threads()) => Ok(Some(ctx)),
                Some(Err(e)) if !matches!(e, Error::NoAdapter(_)) => {
                    let w = format!("{e}; using the CPU");
                    if !warnings.contains(&w) {
                        warnings.push(w);
                    }
                    Ok(None)
                }
                _ => Ok(None),
            },
        }
    }

    /// Whether a device was asked for at all (opening, open, or failed to open).
    pub fn started(&self) -> bool {
        self.start.is_some()
    }

    /// Whether the device is still opening.
    pub fn opening(&self) -> bool {
        self.start.as_ref().is_some_and(|s| s.get().is_none())
    }

    /// Whether a failing GPU stage may fall back to the CPU (under `auto`) or must fail.
    pub fn may_fall_back(&self) -> bool {
        self.choice == BackendChoice::Auto
    }
}

/// Whether `auto` may run the pixel stages on a device with this many CPU threads; when not, the
/// Lloyd loop is all a device can speed up, which is what the start rule weighs.
fn pixel_stages_may_use_gpu(threads: usize) -> bool {
    threads <= AUTO_GPU_PIXELS_MAX_THREADS
}

/// Whether `auto` runs `stage`, with `work` units, on an open device, given the CPU's threads.
fn gpu_pays(stage: Stage, work: u64, threads: usize) -> bool {
    match stage {
        Stage::Pixels => work >= AUTO_MIN_PIXELS && pixel_stages_may_use_gpu(threads),
        Stage::Kmeans => work >= AUTO_MIN_KMEANS_WORK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_keeps_the_pixel_stages_on_a_cpu_with_two_threads_or_more() {
        let big = 20_000_000;
        assert!(gpu_pays(Stage::Pixels, big, 1));
        assert!(!gpu_pays(Stage::Pixels, big, 2));
        assert!(!gpu_pays(Stage::Pixels, big, 16));
        assert!(!gpu_pays(Stage::Pixels, AUTO_MIN_PIXELS - 1, 1));
        // k-means goes by its work alone, whatever the threads (the start rule weighs K).
        for threads in [1, 2, 16] {
            assert!(gpu_pays(Stage::Kmeans, AUTO_MIN_KMEANS_WORK, threads));
            assert!(!gpu_pays(Stage::Kmeans, AUTO_MIN_KMEANS_WORK - 1, threads));
        }
    }

    #[test]
    fn auto_starts_a_device_for_enough_pixels_and_enough_colors_per_thread() {
        let big = AUTO_MIN_RUN_PIXELS;
        assert!(!worth_starting_on(big - 1, 1, 256, 1));
        assert!(worth_starting_on(big, 1, 2, 1)); // one thread: the pixel stages go there too
        assert!(!worth_starting_on(big, 1, 63, 16));
        assert!(worth_starting_on(big, 1, 64, 16));
        assert!(worth_starting_on(big, 1, 8, 2));
        assert!(!worth_starting_on(big, 1, 7, 2));
        assert!(worth_starting_on(0, 16, 256, 16)); // a batch of 16 files
        assert!(!worth_starting_on(0, 16, 16, 16));
    }
}
