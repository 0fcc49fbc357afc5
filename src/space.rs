//! Color spaces: how an RGBA color becomes a k-means point and how a centroid becomes a color.
//!
//! A point is four integer coordinates in `0..=GRID_MAX` (2040 = 255 * 8). In sRGB the
//! coordinates are the channel values times 8, so a centroid on the integer grid has 1/8-level
//! resolution. This conversion runs on the host, once, for both backends, so the GPU and the CPU
//! see the same integers.

/// Largest coordinate value (255 * 8).
pub const GRID_MAX: u32 = 2040;
/// Grid units per 8-bit level in sRGB.
pub const GRID_SCALE: u32 = 8;

/// The space k-means runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorSpace {
    /// Plain sRGB channel values (and alpha), the space PSNR is measured in.
    #[default]
    Srgb,
}

impl ColorSpace {
    /// The point for an RGBA color.
    pub fn to_point(self, c: [u8; 4]) -> [u16; 4] {
        match self {
            ColorSpace::Srgb => c.map(|v| v as u16 * GRID_SCALE as u16),
        }
    }

    /// The RGBA color for a centroid (coordinates in `0..=GRID_MAX`), rounded to the nearest level.
    pub fn to_color(self, p: [u32; 4]) -> [u8; 4] {
        match self {
            ColorSpace::Srgb => p.map(|v| ((v.min(GRID_MAX) + GRID_SCALE / 2) / GRID_SCALE) as u8),
        }
    }
}
