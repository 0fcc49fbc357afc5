//! The input of the library: a borrowed 8-bit RGBA image, checked when it is made.

use crate::error::{Error, Result};

/// A borrowed 8-bit RGBA image.
#[derive(Debug, Clone, Copy)]
pub struct ImageRef<'a> {
    width: u32,
    height: u32,
    pixels: &'a [[u8; 4]],
    /// The decoder's count of these pixels' colors, when it made one.
    counted: Option<&'a crate::histogram::Counted>,
}

impl<'a> ImageRef<'a> {
    /// Checks that `pixels` holds `width * height` pixels, at least one, and fewer than 2^32.
    pub fn new(width: u32, height: u32, pixels: &'a [[u8; 4]]) -> Result<Self> {
        let n = width as u64 * height as u64;
        if n == 0 {
            return Err(Error::InvalidImage(format!("{width}x{height} has no pixels")));
        }
        if n >= u32::MAX as u64 {
            return Err(Error::TooLarge {
                width: width as u64,
                height: height as u64,
                pixels: n,
                limit: u32::MAX as u64 - 1,
            });
        }
        if pixels.len() as u64 != n {
            return Err(Error::InvalidImage(format!(
                "{width}x{height} needs {n} pixels, got {}",
                pixels.len()
            )));
        }
        Ok(ImageRef {
            width,
            height,
            pixels,
            counted: None,
        })
    }
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Pixels, row-major.
    pub fn pixels(&self) -> &'a [[u8; 4]] {
        self.pixels
    }
    /// With the decoder's count of these very pixels' colors.
    pub(crate) fn with_counted(self, counted: &'a crate::histogram::Counted) -> Self {
        ImageRef {
            counted: Some(counted),
            ..self
        }
    }
    /// The decoder's count table, once (the first stage to ask takes it).
    pub(crate) fn take_counts(&self) -> Option<Vec<u32>> {
        self.counted.and_then(|c| c.take())
    }
}
