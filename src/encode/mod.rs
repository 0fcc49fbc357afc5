//! Writing a [`Quantized`] image as indexed PNG, GIF or JPEG.
//!
//! - PNG: color type 3 (indexed) at the smallest bit depth that holds the palette (1, 2, 4 or 8
//!   bits), a tRNS chunk only when some entry is not opaque (cut after the last such entry), no
//!   row filter (filters rarely help palette indices), deflated on every core (see
//!   `indexed_png.rs`).
//! - GIF: one frame with a global palette. GIF transparency is on/off, so entries with alpha
//!   below 128 become the single transparent index and others are shown opaque.
//! - JPEG: the palette colors at the given quality (1..=100); alpha is dropped.

mod indexed_png;

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
    /// JPEG.
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
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// PNG deflate level, 1 (fastest) to 9 (smallest); None picks by palette size
    /// ([`default_png_level`]).
    pub png_level: Option<u8>,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            quality: 90,
            png_level: None,
        }
    }
}

/// Encodes `q` in `format`.
pub fn encode(q: &Quantized, format: Format, opts: &EncodeOptions) -> Result<Vec<u8>> {
    match format {
        Format::Png => png(q, opts.png_level),
        Format::Gif => gif(q),
        Format::Jpeg => jpeg(q, opts.quality),
    }
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

/// The PNG deflate level used when none is given: 6 for dithered images (their noise leaves
/// deflate little to find: level 9 is 0.7% smaller at 4 times the time), otherwise 9 for palettes
/// of 16 colors or fewer (4-bit data, half the bytes, so the strongest level stays cheap) and 7
/// above (levels 8 and 9 cost 2 to 4 times the time for 2 to 6%). See BENCHMARKS.md.
pub fn default_png_level(colors: usize, dithered: bool) -> u8 {
    match (dithered, colors <= 16) {
        (true, _) => 6,
        (false, true) => 9,
        (false, false) => 7,
    }
}

fn png(q: &Quantized, level: Option<u8>) -> Result<Vec<u8>> {
    let level = level.unwrap_or_else(|| default_png_level(q.palette.len(), q.dithered));
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
        indices: &q.indices,
        level,
    })
}

fn gif(q: &Quantized) -> Result<Vec<u8>> {
    let (w, h) = (
        u16::try_from(q.width).map_err(|_| Error::Encode("GIF is limited to 65535 pixels a side".into()))?,
        u16::try_from(q.height).map_err(|_| Error::Encode("GIF is limited to 65535 pixels a side".into()))?,
    );
    // GIF needs a power-of-two palette of at least 2 entries; pad with black.
    let size = q.palette.len().next_power_of_two().max(2);
    let mut pal: Vec<u8> = q.palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
    pal.resize(size * 3, 0);
    let transparent = q.palette.iter().position(|c| c[3] < 128);
    let mut indices = q.indices.clone();
    if let Some(t) = transparent {
        // Every entry GIF cannot show as translucent maps to the one transparent index.
        let map: Vec<u8> = q
            .palette
            .iter()
            .enumerate()
            .map(|(i, c)| if c[3] < 128 { t as u8 } else { i as u8 })
            .collect();
        indices.iter_mut().for_each(|i| *i = map[*i as usize]);
    }
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w, h, &pal).map_err(enc_err)?;
        let mut frame = gif::Frame::from_indexed_pixels(w, h, indices, transparent.map(|t| t as u8));
        frame.palette = None;
        enc.write_frame(&frame).map_err(enc_err)?;
    }
    Ok(out)
}

fn jpeg(q: &Quantized, quality: u8) -> Result<Vec<u8>> {
    let rgb: Vec<u8> = q
        .indices
        .iter()
        .flat_map(|&i| {
            let c = q.palette[i as usize];
            [c[0], c[1], c[2]]
        })
        .collect();
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100));
    image::ImageEncoder::write_image(enc, &rgb, q.width, q.height, image::ExtendedColorType::Rgb8)
        .map_err(enc_err)?;
    Ok(out)
}
