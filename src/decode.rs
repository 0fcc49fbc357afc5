//! Decoding any image the `image` crate reads into 8-bit RGBA, with a pixel limit checked from the
//! header before anything large is allocated, and the EXIF orientation applied.
//!
//! Damaged input is an error: a PNG, GIF, WebP, TIFF or BMP that ends early fails in its decoder,
//! and JPEG is decoded in zune-jpeg's strict mode, which refuses a premature end of data and
//! corrupt entropy-coded data instead of filling the rest with gray. [`DecodeOptions::accept_damaged`]
//! turns that tolerance back on, for JPEG, when asked for.
//!
//! Conversions: 16-bit channels are scaled to 8 bits (`v * 255 / 65535`, rounded); grayscale is
//! replicated to R, G and B; images without alpha get alpha 255; GIF and other animated formats
//! give their first frame. The values are kept as stored, in the input's color space; its ICC
//! profile, PNG color chunks and pixel density are read into [`Decoded::metadata`] for the
//! encoder to carry over ([`crate::metadata`]).

use crate::error::{Error, Result};
use image::{ImageDecoder, ImageReader};
use std::io::Cursor;

/// Default largest image, in pixels (256 Mi): about 1 GiB as RGBA.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 28;

/// How to decode.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Refuse images with more pixels than this, from the header, before decoding.
    pub max_pixels: u64,
    /// Decode a damaged or truncated JPEG as far as possible (the rest comes out gray) instead
    /// of refusing it.
    pub accept_damaged: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: DEFAULT_MAX_PIXELS,
            accept_damaged: false,
        }
    }
}

fn too_large(w: u64, h: u64, limit: u64) -> Error {
    Error::TooLarge {
        width: w,
        height: h,
        pixels: w * h,
        limit,
    }
}

/// JPEG through zune-jpeg, as the image crate calls it but strict unless damage is accepted:
/// RGB, RGBA, gray and gray+alpha stay as they are and every other color space becomes RGB;
/// then RGBA, and the EXIF orientation.
fn decode_jpeg(bytes: &[u8], opts: &DecodeOptions) -> Result<Decoded> {
    match decode_jpeg_with(bytes, opts, true) {
        Err(Error::Decode(m)) if opts.accept_damaged && m.starts_with("damaged") => {
            let mut d = decode_jpeg_with(bytes, opts, false)?;
            d.damage = Some(m);
            Ok(d)
        }
        r => r,
    }
}

/// One JPEG decode, strict (any damage is an error) or lenient (the rest is filled in).
fn decode_jpeg_with(bytes: &[u8], opts: &DecodeOptions, strict: bool) -> Result<Decoded> {
    use zune_core::colorspace::ColorSpace as Zc;
    let options = zune_core::options::DecoderOptions::default()
        .set_strict_mode(strict)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX);
    let err = |e: zune_jpeg::errors::DecodeErrors| Error::Decode(format!("damaged or truncated JPEG: {e}"));
    let mut d = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
    d.decode_headers().map_err(err)?;
    let metadata = crate::metadata::Metadata::from_jpeg(bytes, &d);
    let (w, h) = d
        .dimensions()
        .ok_or_else(|| Error::Decode("JPEG without dimensions".into()))?;
    if w as u64 * h as u64 > opts.max_pixels {
        return Err(too_large(w as u64, h as u64, opts.max_pixels));
    }
    let input = d
        .input_colorspace()
        .ok_or_else(|| Error::Decode("JPEG without a color space".into()))?;
    let out = match input {
        Zc::RGB | Zc::RGBA | Zc::Luma | Zc::LumaA => input,
        _ => Zc::RGB,
    };
    d.set_options(d.options().jpeg_set_out_colorspace(out));
    let orientation = d
        .exif()
        .and_then(|e| image::metadata::Orientation::from_exif_chunk(e));
    let raw = d.decode().map_err(err)?;
    let (w32, h32) = (w as u32, h as u32);
    let bad = || Error::Decode("JPEG decoded to an unexpected size".into());
    let img = match out {
        Zc::RGBA => {
            image::DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w32, h32, raw).ok_or_else(bad)?)
        }
        Zc::Luma => {
            image::DynamicImage::ImageLuma8(image::GrayImage::from_raw(w32, h32, raw).ok_or_else(bad)?)
        }
        Zc::LumaA => {
            image::DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_raw(w32, h32, raw).ok_or_else(bad)?)
        }
        _ => image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(w32, h32, raw).ok_or_else(bad)?),
    };
    let color = format!("{:?}", img.color());
    let mut img = img;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let rgba = img.into_rgba8();
    let (width, height) = rgba.dimensions();
    Ok(Decoded {
        width,
        height,
        pixels: bytemuck::cast_vec(rgba.into_raw()),
        format: "Jpeg".into(),
        color,
        damage: None,
        metadata,
        counted: Default::default(),
    })
}

/// Reads and decodes the image file at `path` ([`decode`] with the file name as the format hint).
pub fn open(path: impl AsRef<std::path::Path>, opts: &DecodeOptions) -> Result<Decoded> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    decode(&bytes, path.to_str(), opts)
}

/// A decoded image.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Width in pixels, after orientation.
    pub width: u32,
    /// Height in pixels, after orientation.
    pub height: u32,
    /// RGBA pixels, row-major.
    pub pixels: Vec<[u8; 4]>,
    /// The container format, e.g. "Jpeg".
    pub format: String,
    /// The source color type, e.g. "Rgb8", "La16".
    pub color: String,
    /// What was wrong with a damaged file decoded anyway ([`DecodeOptions::accept_damaged`]);
    /// None for a sound file.
    pub damage: Option<String>,
    /// The ICC profile, PNG color chunks and pixel density, for the output.
    pub metadata: crate::Metadata,
    /// The count of the colors, when the decoder made it ([`decode_counting`]).
    pub(crate) counted: crate::histogram::Counted,
}

impl Decoded {
    /// The pixels as an [`ImageRef`](crate::ImageRef), ready for [`quantize`](crate::quantize).
    pub fn image(&self) -> Result<crate::ImageRef<'_>> {
        Ok(crate::ImageRef::new(self.width, self.height, &self.pixels)?.with_counted(&self.counted))
    }

    /// True when some pixel has alpha below 255 (a scan of the pixels, on demand).
    pub fn has_alpha(&self) -> bool {
        self.pixels.iter().any(|p| p[3] != 255)
    }
}

/// PNG straight into RGBA rows, skipping the RGB buffer and conversion of the generic path.
/// Returns None (use the generic path) for anything unusual: an EXIF chunk (orientation), a
/// color type that does not expand to RGBA, or a header the png crate rejects (the generic path
/// then reports the error).
fn decode_png_rgba(bytes: &[u8], max_pixels: u64) -> Option<Result<Decoded>> {
    let mut d = png::Decoder::new(Cursor::new(bytes));
    d.set_transformations(
        png::Transformations::EXPAND | png::Transformations::ALPHA | png::Transformations::STRIP_16,
    );
    d.set_limits(png::Limits {
        bytes: max_pixels.saturating_mul(8).min(usize::MAX as u64) as usize,
    });
    let mut reader = d.read_info().ok()?;
    let info = reader.info();
    if info.exif_metadata.is_some() {
        return None;
    }
    let (w, h) = (info.width, info.height);
    let color = format!("{:?}{}", info.color_type, info.bit_depth as u8);
    let metadata = crate::Metadata::from_png_info(info);
    let n = w as u64 * h as u64;
    if n > max_pixels {
        return Some(Err(Error::TooLarge {
            width: w as u64,
            height: h as u64,
            pixels: n,
            limit: max_pixels,
        }));
    }
    if reader.output_color_type() != (png::ColorType::Rgba, png::BitDepth::Eight) {
        return None;
    }
    let mut buf = vec![0u8; reader.output_buffer_size()?];
    if let Err(e) = reader.next_frame(&mut buf) {
        return Some(Err(Error::Decode(format!("Format error decoding Png: {e}"))));
    }
    buf.truncate(n as usize * 4);
    Some(Ok(Decoded {
        width: w,
        height: h,
        pixels: bytemuck::cast_vec(buf),
        format: "Png".into(),
        color,
        damage: None,
        metadata,
        counted: Default::default(),
    }))
}

/// A large 8-bit RGB(A) PNG decoded on two threads ([`crate::png_split`]), the png crate
/// reading its header and color chunks as [`decode_png_rgba`] does. None when the file does not
/// take that path (an RGB image with a tRNS color key included) or a fault was found in it.
fn decode_png_split(bytes: &[u8], max_pixels: u64, count: bool) -> Option<Decoded> {
    let reader = png::Decoder::new(Cursor::new(bytes)).read_info().ok()?;
    let info = reader.info();
    if info.exif_metadata.is_some() || info.trns.is_some() {
        return None;
    }
    let color = format!("{:?}{}", info.color_type, info.bit_depth as u8);
    let metadata = crate::Metadata::from_png_info(info);
    let split = crate::png_split::decode_split(bytes, max_pixels, count)?;
    Some(Decoded {
        width: split.width,
        height: split.height,
        pixels: bytemuck::cast_vec(split.pixels),
        format: "Png".into(),
        color,
        damage: None,
        metadata,
        counted: crate::histogram::Counted::new(split.counts),
    })
}

/// Decodes `bytes` (the format is detected from the content, `hint` being a file name whose
/// extension is used when detection fails). Refuses images over `opts.max_pixels` before
/// decoding, damaged ones (see the module docs), and images without pixels (a zero width or
/// height, which some GIF and TIFF headers declare).
pub fn decode(bytes: &[u8], hint: Option<&str>, opts: &DecodeOptions) -> Result<Decoded> {
    decode_checked(bytes, hint, opts, Path::Split)
}

/// [`decode`], and for a PNG that takes the two-thread path, the count of its colors for the
/// histogram stage, made while the second thread unfilters ([`crate::png_split`]): the
/// quantizer then counts nothing again. For the command line, which never alters the pixels.
pub(crate) fn decode_counting(bytes: &[u8], hint: Option<&str>, opts: &DecodeOptions) -> Result<Decoded> {
    decode_checked(bytes, hint, opts, Path::SplitCounting)
}

/// How a large 8-bit RGB(A) PNG is decoded.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    OneThread,
    Split,
    SplitCounting,
}

fn decode_checked(bytes: &[u8], hint: Option<&str>, opts: &DecodeOptions, path: Path) -> Result<Decoded> {
    let d = decode_with(bytes, hint, opts, path)?;
    if d.width == 0 || d.height == 0 {
        return Err(Error::Decode(format!(
            "the image has no pixels ({}x{})",
            d.width, d.height
        )));
    }
    Ok(d)
}

/// [`decode`], with or without the two-thread PNG path.
fn decode_with(bytes: &[u8], hint: Option<&str>, opts: &DecodeOptions, path: Path) -> Result<Decoded> {
    let max_pixels = opts.max_pixels;
    if bytes.is_empty() {
        return Err(Error::Decode("the file is empty".into()));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return decode_jpeg(bytes, opts);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        // A large 8-bit RGB(A) PNG: inflating and unfiltering on two threads. Anything that goes
        // wrong there is decoded again below, which says what is wrong in the usual words.
        if path != Path::OneThread {
            if let Some(d) = decode_png_split(bytes, max_pixels, path == Path::SplitCounting) {
                return Ok(d);
            }
        }
        if let Some(r) = decode_png_rgba(bytes, max_pixels) {
            return r;
        }
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Decode(e.to_string()))?;
    if reader.format().is_none() {
        if let Some(f) = hint.and_then(|h| image::ImageFormat::from_path(h).ok()) {
            reader.set_format(f);
        }
    }
    let format = match reader.format() {
        Some(f) => format!("{f:?}"),
        None => return Err(Error::Decode("unrecognised or unsupported image format".into())),
    };
    let mut limits = image::Limits::default();
    // Room for the largest decoded buffer (16-bit RGBA) of an image within the limit.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(16 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| Error::Decode(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    let n = w as u64 * h as u64;
    if n > max_pixels {
        return Err(Error::TooLarge {
            width: w as u64,
            height: h as u64,
            pixels: n,
            limit: max_pixels,
        });
    }
    let color = format!("{:?}", decoder.color_type());
    let orientation = decoder.orientation().ok();
    let metadata = if format == "Png" {
        crate::Metadata::from_png(bytes)
    } else {
        crate::Metadata {
            icc_profile: decoder.icc_profile().ok().flatten(),
            ..crate::Metadata::default()
        }
    };
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| Error::Decode(e.to_string()))?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let rgba = img.into_rgba8();
    let (width, height) = rgba.dimensions();
    // Same bytes, viewed as pixels: no copy.
    let pixels: Vec<[u8; 4]> = bytemuck::cast_vec(rgba.into_raw());
    Ok(Decoded {
        width,
        height,
        pixels,
        format,
        color,
        damage: None,
        metadata,
        counted: Default::default(),
    })
}

/// The dimensions in a file's header, read without decoding the image; None when the file
/// cannot be read or its format is not recognised (decoding it will say why).
pub fn peek_dimensions(path: &std::path::Path) -> Option<(u32, u32)> {
    ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// [`decode`] on one thread, as it was before the two-thread PNG path.
    pub(crate) fn decode_one_thread(bytes: &[u8]) -> Result<Decoded> {
        decode_with(bytes, None, &DecodeOptions::default(), Path::OneThread)
    }

    /// The two-thread path alone: None when the file does not take it.
    pub(crate) fn decode_split(bytes: &[u8]) -> Option<Decoded> {
        decode_png_split(bytes, DEFAULT_MAX_PIXELS, false)
    }

    /// The two-thread path, counting the colors: None when the file does not take it.
    pub(crate) fn decode_split_counting(bytes: &[u8]) -> Option<Decoded> {
        decode_png_split(bytes, DEFAULT_MAX_PIXELS, true)
    }
}
