//! Command-line arguments (clap derive; the doc comments are the help text).

use crate::decode::DEFAULT_MAX_PIXELS;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  kmquant photo.jpg                      # photo-k256.png beside the input
  kmquant photo.jpg -k 16 -o small.png
  kmquant *.jpg -k 64 --out-dir out/ --json
  kmquant photos/ -r --ext .png --force  # in place: each PNG replaced by its quantized self
  kmquant photo.jpg --max-bytes 500k     # the largest K whose PNG fits in 500 kB
  kmquant photo.jpg --target-psnr 38 --min-psnr 32  # fewest colors reaching 38 dB; under 32, fail
  kmquant compare photo.jpg -k 16        # GPU and CPU must agree bit for bit
  kmquant adapters
  kmquant explore photo.jpg              # choose K by eye in a local page
  kmquant completions bash > ~/.local/share/bash-completion/completions/kmquant

Exit status: 0 all inputs written; 1 at least one input failed (each failure is reported on
one line and the other inputs are still processed); 2 bad usage; 3 `compare` found a difference.";

const PALETTE: &str = "Palette";
const DITHER: &str = "Mapping and dithering";
const OUTPUT: &str = "Output";
const EXTRAS: &str = "Extras";
const INPUT: &str = "Inputs and batches";
const DEVICE: &str = "Device";
const REPORT: &str = "Report";

const QUANTIZE_EXAMPLES: &str = "\
Examples:
  kmquant quantize photo.jpg -k 16              # photo-k16.png beside the input
  kmquant quantize photo.jpg -k 64 -o out.gif --dither
  kmquant quantize photos/ -r -j 4 --out-dir small/ --skip-existing
  kmquant quantize photos/ -r --ext .png --force       # replace each image in place
  kmquant quantize photo.jpg --max-bytes 1.5MB -o photo.jpg.png
  kmquant quantize photo.png --target-psnr 40 --min-psnr 35 --ext -q.png
  kmquant quantize photo.jpg -o small.jpg --quality 80 --skip-if-larger
  kmquant quantize photo.jpg --plot clouds.png --palette colors.gpl
  find photos -name '*.jpg' -print0 | kmquant quantize --files-from - -0 --out-dir small/
  kmquant quantize -r photos/ --out-dir small/ --shard 3/16 --skip-existing   # worker 3 of 16";

/// Reduce photos to at most K colors with k-means, on the GPU (WGSL via wgpu: Vulkan, Metal,
/// DX12, GL) or the CPU, with bit-identical results on both.
///
/// Running `kmquant INPUT...` without a subcommand means `kmquant quantize INPUT...`.
#[derive(Debug, Parser)]
#[command(name = "kmquant", version, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// One value per process, parsed once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Quantize images to at most K colors and write indexed PNG, GIF or JPEG (the default).
    #[command(after_help = QUANTIZE_EXAMPLES)]
    Quantize(QuantizeArgs),
    /// List every wgpu adapter found and which one `--backend auto` uses.
    Adapters(AdaptersArgs),
    /// Run the same job on the GPU and on the CPU and check that the results are identical.
    Compare(CompareArgs),
    /// Choose K by eye: a local page with a live preview, a K slider, the palette and a 3-D
    /// color cloud.
    #[command(after_help = EXPLORE_EXAMPLES)]
    Explore(ExploreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) of kmquant or of one subcommand.
    Man(ManArgs),
}

const EXPLORE_EXAMPLES: &str = "\
Examples:
  kmquant explore photo.jpg                 # prints the address and opens the browser
  kmquant explore photo.jpg --no-open --port 8642

The first line on standard output is the page's address, with a random token that every request
must carry. The server listens on 127.0.0.1 only unless --listen names another address, writes no
files, and stops on Ctrl-C.";

/// `kmquant explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The photo.
    #[arg(value_name = "PHOTO")]
    pub input: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub port: u16,
    /// Address to listen on, e.g. 0.0.0.0 to be reached from other machines (the token is still
    /// required). Default: 127.0.0.1 only.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Do not open the browser; just print the address.
    #[arg(long)]
    pub no_open: bool,
    /// Where the stages run, as for quantize.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,
    /// Refuse images with more pixels than this.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,
}

/// `kmquant completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `kmquant man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand (quantize, compare, adapters, completions); default: kmquant itself.
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// Options shared by `quantize` and `compare`.
#[derive(Debug, Args, Clone)]
pub struct KmeansArgs {
    /// Number of colors in the palette, 1 to 256.
    #[arg(short = 'k', long = "colors", value_name = "K", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=256), help_heading = PALETTE)]
    pub k: u32,
    /// Seed for `--init kmeans++` (default 0); the same seed gives the same result on every backend.
    #[arg(long, value_name = "N", help_heading = PALETTE)]
    pub seed: Option<u64>,
    /// Most k-means iterations to run.
    #[arg(long, value_name = "N", default_value_t = crate::Options::DEFAULT_MAX_ITER,
          value_parser = clap::value_parser!(u32).range(1..=10000), help_heading = PALETTE)]
    pub max_iter: u32,
    /// Stop once no centroid moves by more than this many 8-bit levels (0 to 255); 0 runs to a
    /// fixed point.
    #[arg(long, value_name = "X", default_value_t = crate::Options::DEFAULT_TOLERANCE,
          value_parser = float_in(0.0, 255.0), allow_negative_numbers = true, help_heading = PALETTE)]
    pub tolerance: f64,
    /// How the first centroids are chosen.
    #[arg(long, value_enum, default_value_t = InitArg::MedianCut, help_heading = PALETTE)]
    pub init: InitArg,
    /// The color space k-means measures distances in.
    #[arg(long, value_enum, default_value_t = SpaceArg::Srgb, help_heading = PALETTE)]
    pub space: SpaceArg,
    /// Serpentine Floyd–Steinberg dithering (CPU, after the palette is found).
    #[arg(long, help_heading = DITHER)]
    pub dither: bool,
    /// Dithering level, 0 (none) to 1 (full error diffusion); needs --dither.
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "dither",
          value_parser = float_in(0.0, 1.0), allow_negative_numbers = true, help_heading = DITHER)]
    pub dither_strength: f64,
    /// Let a pixel continue its left neighbour's color when that color's squared error for it is
    /// at most PERCENT% above its nearest color's (0 to 100). Longer runs make PNG files smaller
    /// (0.6-15% on photos at the default, least at K=256) for 0.01-0.02 dB of PSNR; 0 maps every
    /// pixel to its nearest color. Unused with --dither.
    #[arg(long, value_name = "PERCENT", default_value_t = crate::Options::DEFAULT_RUN_BIAS,
          value_parser = clap::value_parser!(u32).range(0..=100), allow_negative_numbers = true,
          help_heading = DITHER)]
    pub run_bias: u32,
    /// Refuse images with more pixels than this (decompression-bomb guard), checked from the header.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS, help_heading = INPUT)]
    pub max_pixels: u64,
    /// Decode a damaged or truncated JPEG as far as possible (the missing part comes out gray)
    /// instead of refusing it.
    #[arg(long, help_heading = INPUT)]
    pub accept_damaged: bool,
    /// Most unique colors per GPU dispatch (a multiple of 1024); smaller values force chunking,
    /// for testing. Default: as many as the device's limits allow.
    #[arg(long, value_name = "N", hide_short_help = true, help_heading = DEVICE)]
    pub gpu_chunk_points: Option<u32>,
    /// Run the GPU stages on this adapter only: its number in `kmquant adapters`, or a part of
    /// its name (e.g. "H100"). One worker per GPU on a machine with several. Implies --backend
    /// gpu unless --backend cpu is given; an adapter that is missing or cannot run is an error.
    #[arg(long, value_name = "INDEX|NAME", value_parser = parse_adapter, help_heading = DEVICE)]
    pub adapter: Option<crate::AdapterPin>,
}

fn parse_adapter(s: &str) -> Result<crate::AdapterPin, String> {
    s.parse().map_err(|e: crate::Error| e.to_string())
}

/// `kmquant quantize`.
#[derive(Debug, Args)]
pub struct QuantizeArgs {
    /// Input images: JPEG, PNG, WebP, TIFF, BMP or GIF (first frame); `-` reads standard input.
    #[arg(required_unless_present = "files_from", value_name = "INPUT")]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub kmeans: KmeansArgs,
    /// Output file (one input only); `-` writes to standard output. Default: INPUT-kK.png beside the input.
    #[arg(short, long, value_name = "PATH", help_heading = OUTPUT)]
    pub output: Option<String>,
    /// Write outputs into this folder (created if missing) instead of beside each input.
    #[arg(long, value_name = "DIR", conflicts_with = "output", help_heading = OUTPUT)]
    pub out_dir: Option<PathBuf>,
    /// Output format; default: from the output's extension, else png.
    #[arg(long, value_enum, help_heading = OUTPUT)]
    pub format: Option<FormatArg>,
    /// Where the stages run: auto (a hardware GPU for the stages where it pays, once it is open;
    /// otherwise the CPU), gpu (wait for a device, software ones included), or cpu.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, help_heading = DEVICE)]
    pub backend: BackendArg,
    /// JPEG quality, 1 to 100 (default 90; JPEG output only).
    #[arg(long, value_name = "Q", value_parser = clap::value_parser!(u8).range(1..=100), help_heading = OUTPUT)]
    pub quality: Option<u8>,
    /// PNG compression effort, 1 (fastest) to 9 (smallest file). Default: 6 for dithered images,
    /// else 7, and 9 for 16 colors or fewer under 2 megapixels.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=9), help_heading = OUTPUT)]
    pub png_level: Option<u8>,
    /// Largest output file, e.g. 500k, 1.5MB, 2MiB or 123456 (bytes). PNG/GIF: the largest K up to
    /// -k that fits; JPEG: the highest --quality that fits. An error, and no file, when nothing fits.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = OUTPUT)]
    pub max_bytes: Option<u64>,
    /// The fewest colors, up to -k, whose PSNR reaches DB dB (PNG and GIF output; like pngquant's
    /// --quality). When no K reaches it, -k is used and the report warns.
    #[arg(long, value_name = "DB", value_parser = float_in(1.0, 100.0), conflicts_with = "max_bytes", help_heading = PALETTE)]
    pub target_psnr: Option<f64>,
    /// Fail, writing nothing, when the file's PSNR (as written, JPEG loss included) is below DB dB.
    #[arg(long, value_name = "DB", value_parser = float_in(1.0, 100.0), help_heading = OUTPUT)]
    pub min_psnr: Option<f64>,
    /// Also draw the colors as 3-D RGB point clouds, before and after, into this PNG.
    #[arg(long, value_name = "FILE.png", help_heading = EXTRAS)]
    pub plot: Option<String>,
    /// Also write the palette: .png (swatches with shares), .json, .gpl (GIMP) or .txt (hex per line).
    #[arg(long, value_name = "FILE", help_heading = EXTRAS)]
    pub palette: Option<String>,
    /// Order of the exported palette.
    #[arg(long, value_enum, default_value_t = PaletteOrderArg::Population, help_heading = EXTRAS)]
    pub palette_order: PaletteOrderArg,
    /// Process image files inside folders given as inputs, and their subfolders.
    #[arg(short, long, help_heading = INPUT)]
    pub recursive: bool,
    /// Also take the inputs named in FILE, one path per line (`-`: standard input); with -r a
    /// listed folder is walked.
    #[arg(long, value_name = "FILE", help_heading = INPUT)]
    pub files_from: Option<String>,
    /// The --files-from list is NUL-separated (as `find -print0` writes it).
    #[arg(short = '0', long = "null", requires = "files_from", help_heading = INPUT)]
    pub null: bool,
    /// Process only shard I of N (I from 0 to N-1): the inputs whose name hashes to I. The split
    /// depends only on the names (below the walked folder under -r), so N workers, on one machine
    /// or many, given 0/N to N-1/N, process every input exactly once. Add --skip-existing to rerun
    /// a shard without redoing its finished files.
    #[arg(long, value_name = "I/N", help_heading = INPUT)]
    pub shard: Option<super::inputs::Shard>,
    /// Files processed side by side. Default: one per core, within --memory. Reports, JSON lines
    /// and the exit status come in input order whatever the number.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024), help_heading = INPUT)]
    pub jobs: Option<u32>,
    /// Most memory the files processed side by side may take together, e.g. 4GiB (a file's need
    /// is estimated from its size: 10 bytes a pixel and 64 MiB). Default: half of the available
    /// memory. A file larger than the budget runs alone.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = INPUT)]
    pub memory: Option<u64>,
    /// Drop the ICC profile, the sRGB, gAMA and cHRM chunks and the pixel density instead of
    /// copying them from the input (viewers then take the colors as sRGB).
    #[arg(long, help_heading = OUTPUT)]
    pub strip: bool,
    /// Overwrite existing output files (the input itself only with --ext, for in-place runs).
    #[arg(long, help_heading = OUTPUT)]
    pub force: bool,
    /// Name outputs INPUT-STEM + SUFFIX instead of INPUT-kK.png, e.g. `--ext -small.png`;
    /// `--ext .png --force` replaces each PNG input in place. The format follows the suffix.
    #[arg(long, value_name = "SUFFIX", conflicts_with = "output", allow_hyphen_values = true, help_heading = OUTPUT)]
    pub ext: Option<String>,
    /// Leave an input alone when its output already exists (for re-running a batch).
    #[arg(long, conflicts_with = "force", help_heading = OUTPUT)]
    pub skip_existing: bool,
    /// Write nothing for an input whose output would not be smaller than the input file.
    #[arg(long, help_heading = OUTPUT)]
    pub skip_if_larger: bool,
    /// Print one JSON object per input instead of the text report.
    #[arg(long, help_heading = REPORT)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(short, long, help_heading = REPORT)]
    pub quiet: bool,
}

/// `kmquant adapters`.
#[derive(Debug, Args)]
pub struct AdaptersArgs {
    /// Print JSON.
    #[arg(long, help_heading = REPORT)]
    pub json: bool,
}

/// `kmquant compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Input image.
    #[arg(value_name = "INPUT")]
    pub input: String,
    #[command(flatten)]
    pub kmeans: KmeansArgs,
    /// Print JSON (with a boolean key `identical`).
    #[arg(long, help_heading = REPORT)]
    pub json: bool,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BackendArg {
    /// A hardware GPU for the stages where it pays, once it is open; otherwise the CPU.
    Auto,
    /// The GPU adapter wgpu picks (software ones included); an error if none opens.
    Gpu,
    /// The CPU.
    Cpu,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// Indexed PNG at the smallest bit depth.
    Png,
    /// GIF.
    Gif,
    /// JPEG at --quality.
    #[value(alias = "jpeg")]
    Jpg,
}

/// `--space`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SpaceArg {
    /// sRGB values: minimises the squared error PSNR measures.
    Srgb,
    /// Oklab: a perceptual space.
    Oklab,
}

/// `--palette-order`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum PaletteOrderArg {
    /// Most used first.
    Population,
    /// Darkest first.
    Lightness,
}

/// A parser for a finite number from `lo` to `hi`.
fn float_in(lo: f64, hi: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number from {lo} to {hi}")),
    }
}

/// Parses 500k, 1.5MB, 2MiB, 123456: k/M/G are powers of 1000, Ki/Mi/Gi powers of 1024, a
/// trailing B is optional.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size like 500k, 1.5MB or 123456"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let mult = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("'{s}': unknown unit (use k, M, G, KiB, MiB or GiB)")),
    };
    let v = (n * mult).floor();
    if !(1.0..=1e15).contains(&v) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(v as u64)
}

/// `--init`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum InitArg {
    /// Variance-minimising median cut (deterministic, ignores --seed).
    MedianCut,
    /// Weighted k-means++ driven by --seed.
    #[value(name = "kmeans++")]
    KmeansPlusPlus,
}

impl KmeansArgs {
    /// How inputs are decoded.
    pub fn decode_options(&self) -> crate::decode::DecodeOptions {
        crate::decode::DecodeOptions {
            max_pixels: self.max_pixels,
            accept_damaged: self.accept_damaged,
        }
    }

    /// The library options these arguments describe.
    pub fn options(&self, backend: crate::BackendChoice) -> crate::Result<crate::Options> {
        let mut o = crate::Options::new(self.k)?;
        if let Some(n) = self.gpu_chunk_points {
            o = o.with_gpu_chunk_points(n)?;
        }
        let o = o
            .with_max_iter(self.max_iter)?
            .with_tolerance(self.tolerance)?
            .with_seed(self.seed.unwrap_or(0))
            .with_init(match self.init {
                InitArg::MedianCut => crate::Init::MedianCut,
                InitArg::KmeansPlusPlus => crate::Init::KMeansPlusPlus,
            })
            .with_space(match self.space {
                SpaceArg::Srgb => crate::ColorSpace::Srgb,
                SpaceArg::Oklab => crate::ColorSpace::Oklab,
            })
            .with_dither(if self.dither {
                self.dither_strength as f32
            } else {
                0.0
            })?
            .with_run_bias(self.run_bias)?
            .with_backend(backend);
        Ok(match &self.adapter {
            Some(pin) => o.with_adapter(pin.clone()),
            None => o,
        })
    }
}

/// The subcommand names, for "no subcommand means quantize".
pub const SUBCOMMANDS: [&str; 7] = [
    "quantize",
    "adapters",
    "compare",
    "explore",
    "completions",
    "man",
    "help",
];

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(parse_size("123456"), Ok(123_456));
        assert_eq!(parse_size("500k"), Ok(500_000));
        assert_eq!(parse_size("500kB"), Ok(500_000));
        assert_eq!(parse_size("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_size("1M"), Ok(1_000_000));
        assert_eq!(parse_size("2MiB"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        for bad in ["", "abc", "12 parsecs", "0", "-5k", "1.2.3M"] {
            assert!(parse_size(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
