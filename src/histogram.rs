//! The histogram stage: unique colors and how often each occurs. The k-means works on these
//! weighted points, which gives the same clustering as running over every pixel, only cheaper,
//! and the remap stage finds each pixel's unique color again through [`Histogram::index_of`].
//!
//! Colors are listed in ascending order of their packed value (`r | g << 8 | b << 16 | a << 24`),
//! so the list, and everything computed from it, is deterministic. Fully transparent pixels
//! (alpha 0) all count as one color, `[0, 0, 0, 0]`.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The distinct colors of an image with their pixel counts.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    /// Distinct colors, ascending by packed value.
    pub colors: Vec<[u8; 4]>,
    /// `counts[i]` pixels have color `colors[i]`.
    pub counts: Vec<u32>,
    lookup: Lookup,
}

#[derive(Debug, Clone)]
enum Lookup {
    /// Every pixel is opaque: a direct table indexed by the 24-bit RGB value.
    Rgb(Vec<u32>),
    /// Some pixels have alpha: a hash map from packed color to index.
    Map(FxHashMap<u32, u32>),
}

const RGB_TABLE: usize = 1 << 24;

fn key(c: [u8; 4]) -> u32 {
    if c[3] == 0 {
        0
    } else {
        u32::from_le_bytes(c)
    }
}

impl Histogram {
    /// Counts the colors of `pixels`. The caller guarantees fewer than 2^32 pixels.
    pub fn new(pixels: &[[u8; 4]]) -> Self {
        if pixels.par_iter().all(|p| p[3] == 255) {
            Self::opaque(pixels)
        } else {
            Self::with_alpha(pixels)
        }
    }

    fn opaque(pixels: &[[u8; 4]]) -> Self {
        let mut table = vec![0u32; RGB_TABLE];
        for p in pixels {
            let i = u32::from_le_bytes([p[0], p[1], p[2], 0]) as usize;
            table[i] += 1;
        }
        let mut colors = Vec::new();
        let mut counts = Vec::new();
        for (rgb, slot) in table.iter_mut().enumerate() {
            if *slot != 0 {
                counts.push(*slot);
                let [r, g, b, _] = (rgb as u32).to_le_bytes();
                colors.push([r, g, b, 255]);
                // The table now maps a color to its index in `colors`.
                *slot = colors.len() as u32 - 1;
            }
        }
        Histogram {
            colors,
            counts,
            lookup: Lookup::Rgb(table),
        }
    }

    fn with_alpha(pixels: &[[u8; 4]]) -> Self {
        let mut keys: Vec<u32> = pixels.par_iter().map(|&p| key(p)).collect();
        keys.par_sort_unstable();
        let mut colors = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut map = FxHashMap::default();
        let mut prev = None;
        for k in keys {
            if prev == Some(k) {
                if let Some(c) = counts.last_mut() {
                    *c += 1;
                }
            } else {
                map.insert(k, colors.len() as u32);
                colors.push(k.to_le_bytes());
                counts.push(1);
                prev = Some(k);
            }
        }
        Histogram {
            colors,
            counts,
            lookup: Lookup::Map(map),
        }
    }

    /// Number of distinct colors.
    pub fn len(&self) -> usize {
        self.colors.len()
    }

    /// Index in [`Histogram::colors`] of a pixel's color. The pixel must come from the image the
    /// histogram was built from.
    pub fn index_of(&self, p: [u8; 4]) -> usize {
        match &self.lookup {
            Lookup::Rgb(table) => table[u32::from_le_bytes([p[0], p[1], p[2], 0]) as usize] as usize,
            Lookup::Map(map) => map.get(&key(p)).copied().unwrap_or(0) as usize,
        }
    }
}
