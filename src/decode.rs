//! Decoding any image the `image` crate reads into 8-bit RGBA, with a pixel limit checked from the
//! header before anything large is allocated, and the EXIF orientation applied.
//!
//! Conversions: 16-bit channels are scaled to 8 bits (`v * 255 / 65535`, rounded); grayscale is
//! replicated to R, G and B; images without alpha get alpha 255; GIF and other animated formats
//! give their first frame. ICC profiles are ignored (values are taken as sRGB).

use crate::error::{Error, Result};
use image::{ImageDecoder, ImageReader};
use std::io::Cursor;

/// Default largest image, in pixels (256 Mi): about 1 GiB as RGBA.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 28;

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
}

impl Decoded {
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
    }))
}

/// Decodes `bytes` (the format is detected from the content, `hint` being a file name whose
/// extension is used when detection fails). Refuses images over `max_pixels` before decoding.
pub fn decode(bytes: &[u8], hint: Option<&str>, max_pixels: u64) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::Decode("the file is empty".into()));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
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
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 << 20));
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
