//! Writing a [`Quantized`] image as indexed PNG, GIF or JPEG.
//!
//! - PNG: color type 3 (indexed) at the smallest bit depth that holds the palette (1, 2, 4 or 8
//!   bits), a tRNS chunk only when some entry is not opaque (cut after the last such entry), no
//!   row filter (filters rarely help palette indices), deflated on every core (see
//!   `indexed_png.rs`).
//! - GIF: one frame with a global palette, its LZW coded on every core (see `lzw.rs`). GIF
//!   transparency is on/off, so entries with alpha below 128 become the single transparent
//!   index and others are shown opaque.
//! - JPEG: the palette colors at the given quality (1..=100); alpha is dropped.

mod indexed_png;
mod lzw;

#[cfg(test)]
pub(crate) use indexed_png::chunk;

use crate::error::{Error, Result};
use crate::Quantized;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Indexed PNG.
    Png,
    /// GIF.
    Gif,
    /// JPEG (`"jpg"` in JSON, as `--format` spells it).
    #[serde(rename = "jpg")]
    Jpeg,
}

impl Format {
    /// The format for a file name's extension (`png`, `gif`, `jpg`/`jpeg`), if known.
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = std::path::Path::new(path)
            .extension()?
            .to_str()?
            .to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(Format::Png),
            "gif" => Some(Format::Gif),
            "jpg" | "jpeg" => Some(Format::Jpeg),
            _ => None,
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Jpeg => "jpg",
        }
    }
}

/// Encoder settings.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// PNG deflate level, 1 (fastest) to 9 (smallest); None picks by palette and image size
    /// ([`default_png_level`]).
    pub png_level: Option<u8>,
    /// The ICC profile, color chunks and density to write ([`crate::metadata`] says which
    /// format keeps what); None writes none.
    pub metadata: Option<std::sync::Arc<crate::Metadata>>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            quality: 90,
            png_level: None,
            metadata: None,
        }
    }
}

/// What the encoders read: an indexed image, possibly a few rows of a larger one.
struct View<'a> {
    width: u32,
    height: u32,
    palette: &'a [[u8; 4]],
    indices: &'a [u8],
    dithered: bool,
    /// Pixels of the whole image the view stands for (a sample's default deflate level is the
    /// whole image's).
    pixels: u64,
}

impl<'a> View<'a> {
    fn of(q: &'a Quantized) -> Self {
        View {
            width: q.width,
            height: q.height,
            palette: &q.palette,
            indices: &q.indices,
            dithered: q.dithered,
            pixels: q.width as u64 * q.height as u64,
        }
    }

    fn encode(&self, format: Format, opts: &EncodeOptions) -> Result<Vec<u8>> {
        match format {
            Format::Png => png(self, opts),
            Format::Gif => gif(self),
            Format::Jpeg => jpeg(self, opts),
        }
    }
}

/// Encodes `q` in the format of `path`'s extension (`.png`, `.gif`, `.jpg`/`.jpeg`) and writes it
/// there, completely or not at all: to a temporary file beside it, then renamed into place.
/// Returns the number of bytes written.
pub fn save(q: &Quantized, path: impl AsRef<std::path::Path>, opts: &EncodeOptions) -> Result<u64> {
    let path = path.as_ref();
    let format = path
        .to_str()
        .and_then(Format::from_path)
        .ok_or_else(|| Error::InvalidOption {
            name: "output",
            value: path.display().to_string(),
            expected: "a file name ending in .png, .gif, .jpg or .jpeg",
        })?;
    let bytes = encode(q, format, opts)?;
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(bytes.len() as u64)
}

/// Encodes `q` in `format`.
pub fn encode(q: &Quantized, format: Format, opts: &EncodeOptions) -> Result<Vec<u8>> {
    View::of(q).encode(format, opts)
}

/// Rows per sampled block of [`estimate`] for PNG and GIF. Small blocks spread the sample over
/// the image: the error of the estimate then moves less from one K to the next (on the corpus
/// photos at K 49 to 100, within 0.9% over 8 values of K against 3.8% with blocks of 32 rows).
const SAMPLE_ROWS: usize = 4;
/// Rows per sampled block for JPEG: its 16-row MCUs stay whole.
const SAMPLE_ROWS_JPEG: usize = 32;
/// [`estimate`] encodes one block of rows in this many.
const SAMPLE_EVERY: usize = 8;

/// Below this many pixels [`estimate`] encodes the whole image: it costs a few milliseconds.
const EXACT_BELOW: usize = 1 << 20;

/// An estimate of `encode(q, format, opts).len()` from an eighth of the rows: every eighth block
/// of 4 rows (32 for JPEG), stacked into a smaller image of the same width and encoded the
/// same way. The file of the first row alone stands for the fixed part (headers, palette,
/// tables); the rest is scaled by the row count. Exact for images under a megapixel or 256 rows.
/// Used to search for a file size without encoding every try in full.
pub fn estimate(q: &Quantized, format: Format, opts: &EncodeOptions) -> Result<f64> {
    let w = q.width as usize;
    match sampled_rows(q.width, q.height, format) {
        None => Ok(encode(q, format, opts)?.len() as f64),
        Some(rows) => {
            let sample: Vec<u8> = rows
                .into_iter()
                .flat_map(|r| &q.indices[r.start * w..r.end * w])
                .copied()
                .collect();
            estimate_sampled(q.width, q.height, &q.palette, &sample, q.dithered, format, opts)
        }
    }
}

/// Whether [`estimate`] samples a `width` x `height` image rather than encoding it whole: from a
/// megapixel and 256 rows, in every format.
pub(crate) fn is_sampled(width: u32, height: u32) -> bool {
    let (w, h) = (width as usize, height as usize);
    h >= SAMPLE_ROWS_JPEG * SAMPLE_EVERY && w * h >= EXACT_BELOW
}

/// The rows [`estimate`] encodes in `format`, as ranges of row numbers: every eighth block of 4
/// rows (of 32 for JPEG). None when the image is small enough to be encoded whole.
pub(crate) fn sampled_rows(width: u32, height: u32, format: Format) -> Option<Vec<std::ops::Range<usize>>> {
    if !is_sampled(width, height) {
        return None;
    }
    let h = height as usize;
    let block = match format {
        Format::Jpeg => SAMPLE_ROWS_JPEG,
        Format::Png | Format::Gif => SAMPLE_ROWS,
    };
    Some(
        (0..h)
            .step_by(block * SAMPLE_EVERY)
            .map(|y| y..(y + block).min(h))
            .collect(),
    )
}

/// [`estimate`] from the indices of the [`sampled_rows`] alone, stacked, of a `width` x `height`
/// image with this palette: the caller need not map the other rows.
pub(crate) fn estimate_sampled(
    width: u32,
    height: u32,
    palette: &[[u8; 4]],
    sample: &[u8],
    dithered: bool,
    format: Format,
    opts: &EncodeOptions,
) -> Result<f64> {
    let w = width as usize;
    let rows = sample.len() / w.max(1);
    let view = |rows: usize| View {
        width,
        height: rows as u32,
        palette,
        indices: &sample[..rows * w],
        dithered,
        pixels: width as u64 * height as u64,
    };
    let fixed = view(1).encode(format, opts)?.len() as f64;
    let sampled = view(rows).encode(format, opts)?.len() as f64;
    Ok(fixed + (sampled - fixed).max(0.0) * height as f64 / rows as f64)
}

/// The smallest PNG bit depth that holds `n` palette entries.
pub fn bit_depth(n: usize) -> u8 {
    match n {
        0..=2 => 1,
        3..=4 => 2,
        5..=16 => 4,
        _ => 8,
    }
}

fn enc_err(e: impl std::fmt::Display) -> Error {
    Error::Encode(e.to_string())
}

/// Below this many pixels a palette of 16 colors or fewer is deflated at level 9: it costs at most
/// a few tens of milliseconds there (3 to 14 ms on 0.1 to 0.4 MP photos, 2 cores). See
/// [`default_png_level`].
const LEVEL_9_BELOW: u64 = 1 << 21;

/// The PNG deflate level used when none is given, for an image of `pixels` pixels: 6 for dithered
/// images (their noise leaves deflate little to find: level 9 is 0.7% smaller at 4 times the
/// time), otherwise 7, and 9 for palettes of 16 colors or fewer (4-bit data) under two megapixels.
/// Level 9 costs 2 to 4 times the time of level 7: 250 against 114 ms on a 20 MP photo at K=16 on
/// 2 cores, for a file 2 to 9% smaller. See BENCHMARKS.md.
pub fn default_png_level(colors: usize, dithered: bool, pixels: u64) -> u8 {
    match (dithered, colors <= 16 && pixels < LEVEL_9_BELOW) {
        (true, _) => 6,
        (false, true) => 9,
        (false, false) => 7,
    }
}

fn png(q: &View<'_>, opts: &EncodeOptions) -> Result<Vec<u8>> {
    let level = opts
        .png_level
        .unwrap_or_else(|| default_png_level(q.palette.len(), q.dithered, q.pixels));
    let ancillary = match &opts.metadata {
        Some(m) => m.png_chunks()?,
        None => Vec::new(),
    };
    let plte: Vec<u8> = q.palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
    let trns: Vec<u8> = match q.palette.iter().rposition(|c| c[3] != 255) {
        Some(last) => q.palette[..=last].iter().map(|c| c[3]).collect(),
        None => Vec::new(),
    };
    indexed_png::write(&indexed_png::Indexed {
        width: q.width,
        height: q.height,
        depth: bit_depth(q.palette.len()),
        plte: &plte,
        trns: &trns,
        indices: q.indices,
        level,
        ancillary: &ancillary,
    })
}

fn gif(q: &View<'_>) -> Result<Vec<u8>> {
    let (w, h) = (
        u16::try_from(q.width).map_err(|_| Error::Encode("GIF is limited to 65535 pixels a side".into()))?,
        u16::try_from(q.height).map_err(|_| Error::Encode("GIF is limited to 65535 pixels a side".into()))?,
    );
    // GIF needs a power-of-two palette of at least 2 entries; pad with black.
    let size = q.palette.len().next_power_of_two().max(2);
    let mut pal: Vec<u8> = q.palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
    pal.resize(size * 3, 0);
    let transparent = q.palette.iter().position(|c| c[3] < 128);
    let indices: std::borrow::Cow<'_, [u8]> = match transparent {
        None => q.indices.into(),
        Some(t) => {
            // Every entry GIF cannot show as translucent maps to the one transparent index.
            let map: Vec<u8> = q
                .palette
                .iter()
                .enumerate()
                .map(|(i, c)| if c[3] < 128 { t as u8 } else { i as u8 })
                .collect();
            q.indices.iter().map(|&i| map[i as usize]).collect()
        }
    };
    let min_code_size = lzw::min_code_size(q.palette.len());
    let mut frame = gif::Frame {
        width: w,
        height: h,
        transparent: transparent.map(|t| t as u8),
        ..Default::default()
    };
    frame.buffer = std::borrow::Cow::Owned(lzw::encode(&indices, min_code_size));
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w, h, &pal).map_err(enc_err)?;
        enc.write_lzw_pre_encoded_frame(&frame).map_err(enc_err)?;
    }
    Ok(out)
}

/// JPEG through the jpeg-encoder crate (baseline, 4:2:0 chroma; pure Rust without its SIMD
/// paths, so every machine writes the same bytes).
fn jpeg(q: &View<'_>, opts: &EncodeOptions) -> Result<Vec<u8>> {
    let side =
        |v: u32| u16::try_from(v).map_err(|_| Error::Encode("JPEG is limited to 65535 pixels a side".into()));
    let (w, h) = (side(q.width)?, side(q.height)?);
    let rgb: Vec<u8> = q
        .indices
        .iter()
        .flat_map(|&i| {
            let c = q.palette[i as usize];
            [c[0], c[1], c[2]]
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, opts.quality.clamp(1, 100));
    if let Some(m) = &opts.metadata {
        if let Some(p) = &m.icc_profile {
            encoder.add_icc_profile(p).map_err(enc_err)?;
        }
        if let Some(d) = m.jpeg_density() {
            encoder.set_density(d);
        }
    }
    encoder
        .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(enc_err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    #[test]
    fn the_default_png_level_follows_dithering_palette_size_and_image_size() {
        let big = LEVEL_9_BELOW;
        assert_eq!(default_png_level(16, false, big - 1), 9);
        assert_eq!(default_png_level(2, false, 64), 9);
        assert_eq!(default_png_level(16, false, big), 7);
        assert_eq!(default_png_level(17, false, 64), 7);
        assert_eq!(default_png_level(256, false, big), 7);
        assert_eq!(default_png_level(16, true, 64), 6);
        assert_eq!(default_png_level(256, true, big), 6);
    }

    /// A sample stands for the whole image, so it is deflated at the whole image's level: the
    /// estimate of a 16-color image of two megapixels (level 7) is not that of its sampled rows
    /// alone, which are under two megapixels (level 9).
    #[test]
    fn a_sampled_estimate_uses_the_whole_images_default_level() {
        let (w, h) = (2048u32, 1024u32);
        assert!(is_sampled(w, h) && w as u64 * h as u64 >= LEVEL_9_BELOW);
        let palette: Vec<[u8; 4]> = (0..16u8).map(|i| [i * 16, 255 - i * 16, i, 255]).collect();
        let rows = sampled_rows(w, h, Format::Png).expect("sampled");
        let n: usize = rows.iter().map(|r| r.len()).sum::<usize>() * w as usize;
        // Runs of random length and index: deflate finds more in them the harder it looks.
        let mut rng = Rng(7);
        let mut sample = Vec::with_capacity(n);
        while sample.len() < n {
            let (v, run) = (rng.below(16) as u8, 1 + rng.below(6) as usize);
            sample.extend(std::iter::repeat_n(v, run.min(n - sample.len())));
        }
        let at = |level: Option<u8>| {
            let opts = EncodeOptions {
                png_level: level,
                ..Default::default()
            };
            estimate_sampled(w, h, &palette, &sample, false, Format::Png, &opts).expect("estimate")
        };
        let (default, seven, nine) = (at(None), at(Some(7)), at(Some(9)));
        assert_ne!(
            seven, nine,
            "the levels must differ on this data for the test to mean anything"
        );
        assert_eq!(default, seven);
    }
}
