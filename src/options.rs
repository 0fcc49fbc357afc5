//! Validated options for [`crate::quantize`].

use crate::error::{Error, Result};
use crate::space::ColorSpace;

/// Largest palette the library produces (indexed PNG and GIF hold at most 256 entries).
pub const MAX_COLORS: u32 = 256;

/// Which compute backend runs the k-means stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// The GPU when an adapter can be opened, else the CPU; the result says which ran.
    #[default]
    Auto,
    /// The GPU; an error when no adapter can be opened.
    Gpu,
    /// The CPU reference backend (always available).
    Cpu,
}

/// How the initial centroids are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// Weighted median cut on the color histogram: deterministic, close to the answer, so Lloyd
    /// needs few iterations. Ignores the seed.
    #[default]
    MedianCut,
    /// Weighted k-means++ (D² sampling) driven by the seed.
    KMeansPlusPlus,
}

/// Options for one quantization. Build with [`Options::new`] and the `with_*` methods; every
/// value is checked when it is set, so a built `Options` is always valid.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) k: u32,
    pub(crate) max_iter: u32,
    pub(crate) tolerance: f64,
    pub(crate) seed: u64,
    pub(crate) backend: BackendChoice,
    pub(crate) init: Init,
    pub(crate) space: ColorSpace,
    pub(crate) gpu_chunk_points: Option<u32>,
    pub(crate) dither: f32,
    pub(crate) run_bias: u32,
    pub(crate) adapter: Option<AdapterPin>,
}

/// One adapter picked out of the list [`crate::list_adapters`] returns (the list `kmquant
/// adapters` prints): by its position in that list, or by a case-insensitive part of its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterPin {
    /// The adapter at this position in the list.
    Index(usize),
    /// The first usable adapter whose name contains this text (any case).
    Name(String),
}

impl std::str::FromStr for AdapterPin {
    type Err = Error;
    /// Digits are a position, anything else a part of a name; an empty text is an error.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::invalid(
                "adapter",
                "''",
                "an index from `kmquant adapters` or a part of an adapter's name",
            ));
        }
        Ok(match s.parse::<usize>() {
            Ok(i) => AdapterPin::Index(i),
            Err(_) => AdapterPin::Name(s.to_string()),
        })
    }
}

impl std::fmt::Display for AdapterPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterPin::Index(i) => write!(f, "{i}"),
            AdapterPin::Name(n) => write!(f, "{n:?}"),
        }
    }
}

impl Options {
    /// Default iteration cap.
    pub const DEFAULT_MAX_ITER: u32 = 64;
    /// Default convergence tolerance, in 8-bit color levels.
    pub const DEFAULT_TOLERANCE: f64 = 0.5;
    /// Default run bias, in percent: see [`Options::with_run_bias`].
    pub const DEFAULT_RUN_BIAS: u32 = 15;

    /// Options for a palette of at most `k` colors (1..=256) with every other value at its default.
    pub fn new(k: u32) -> Result<Self> {
        if !(1..=MAX_COLORS).contains(&k) {
            return Err(Error::invalid("number of colors", k, "an integer from 1 to 256"));
        }
        Ok(Options {
            k,
            max_iter: Self::DEFAULT_MAX_ITER,
            tolerance: Self::DEFAULT_TOLERANCE,
            seed: 0,
            backend: BackendChoice::Auto,
            init: Init::MedianCut,
            space: ColorSpace::Srgb,
            gpu_chunk_points: None,
            dither: 0.0,
            run_bias: Self::DEFAULT_RUN_BIAS,
            adapter: None,
        })
    }

    /// Caps the number of Lloyd iterations (1..=10000).
    pub fn with_max_iter(mut self, max_iter: u32) -> Result<Self> {
        if !(1..=10_000).contains(&max_iter) {
            return Err(Error::invalid("max-iter", max_iter, "an integer from 1 to 10000"));
        }
        self.max_iter = max_iter;
        Ok(self)
    }

    /// Stops once no centroid moves by more than `tolerance` 8-bit color levels (Euclidean) in an
    /// iteration. 0 runs until the assignment stops changing. Must be finite and in 0..=255.
    pub fn with_tolerance(mut self, tolerance: f64) -> Result<Self> {
        if !tolerance.is_finite() || !(0.0..=255.0).contains(&tolerance) {
            return Err(Error::invalid("tolerance", tolerance, "a number from 0 to 255"));
        }
        self.tolerance = tolerance;
        Ok(self)
    }

    /// Seed for the k-means++ initialisation. The same seed gives the same result on every backend.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Chooses the backend.
    pub fn with_backend(mut self, backend: BackendChoice) -> Self {
        self.backend = backend;
        self
    }

    /// Chooses the initialisation.
    pub fn with_init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Chooses the color space the clustering runs in.
    pub fn with_space(mut self, space: ColorSpace) -> Self {
        self.space = space;
        self
    }

    /// Limits how many points one GPU dispatch (and one storage binding) covers. The device's own
    /// limits always apply too; a smaller value forces chunking, which tests use on small images.
    pub fn with_gpu_chunk_points(mut self, points: u32) -> Result<Self> {
        if points < 1024 || !points.is_multiple_of(1024) {
            return Err(Error::invalid(
                "gpu chunk size",
                points,
                "a positive multiple of 1024",
            ));
        }
        self.gpu_chunk_points = Some(points);
        Ok(self)
    }

    /// Serpentine Floyd–Steinberg dithering at `strength` (0 = off, 1 = full error diffusion).
    pub fn with_dither(mut self, strength: f32) -> Result<Self> {
        if !strength.is_finite() || !(0.0..=1.0).contains(&strength) {
            return Err(Error::invalid(
                "dither strength",
                strength,
                "a number from 0 to 1",
            ));
        }
        self.dither = strength;
        Ok(self)
    }

    /// Lets a pixel continue the run of its left neighbour's palette entry instead of taking its
    /// nearest one, when the neighbour's entry is at most `percent`% worse for it in squared error
    /// (0..=100; 0 maps every pixel to its nearest entry). Longer runs of one index make PNG and
    /// GIF files smaller for very little error: near-ties alone move. Unused when dithering, which
    /// places every pixel by its own error.
    pub fn with_run_bias(mut self, percent: u32) -> Result<Self> {
        if percent > 100 {
            return Err(Error::invalid("run bias", percent, "a percentage from 0 to 100"));
        }
        self.run_bias = percent;
        Ok(self)
    }

    /// Runs the GPU stages on this adapter only, so that a machine with several GPUs can run one
    /// worker per GPU. With [`BackendChoice::Auto`] a pinned adapter is used as with
    /// [`BackendChoice::Gpu`]: an adapter that cannot be found or opened is an error, not a quiet
    /// fall back to the CPU. With [`BackendChoice::Cpu`] the pin is unused.
    pub fn with_adapter(mut self, adapter: AdapterPin) -> Self {
        self.adapter = Some(adapter);
        self
    }

    /// The pinned adapter, if any.
    pub fn adapter(&self) -> Option<&AdapterPin> {
        self.adapter.as_ref()
    }

    /// The dithering strength (0 = off).
    pub fn dither(&self) -> f32 {
        self.dither
    }

    /// The run bias in percent (0 = every pixel takes its nearest entry).
    pub fn run_bias(&self) -> u32 {
        self.run_bias
    }

    /// The palette size asked for.
    pub fn k(&self) -> u32 {
        self.k
    }
    /// The iteration cap.
    pub fn max_iter(&self) -> u32 {
        self.max_iter
    }
    /// The convergence tolerance in 8-bit color levels.
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The backend choice.
    pub fn backend(&self) -> BackendChoice {
        self.backend
    }
    /// The initialisation.
    pub fn init(&self) -> Init {
        self.init
    }
    /// The color space.
    pub fn space(&self) -> ColorSpace {
        self.space
    }
}
