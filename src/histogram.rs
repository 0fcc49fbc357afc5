//! The histogram stage: unique colors and how often each occurs. The k-means works on these
//! weighted points, which gives the same clustering as running over every pixel, only cheaper,
//! and the remap stage finds each pixel's unique color again through [`Histogram::index_of`].
//!
//! Colors are listed in ascending order of their packed value (`r | g << 8 | b << 16 | a << 24`),
//! so the list, and everything computed from it, is deterministic. Fully transparent pixels
//! (alpha 0) all count as one color, `[0, 0, 0, 0]`.
//!
//! Opaque images of a megapixel and more: a count table over the 2^24 RGB values, then
//! compaction in key order; on the GPU by `shaders/histogram.wgsl`, on the CPU by its twin
//! `src/cpu/histogram.rs`. Both give the same list. A large PNG decoded on two threads comes
//! with that table already counted ([`Counted`]), made on the decoder's inflating thread while
//! the other unfilters; the CPU histogram then only compacts it. Images with alpha, and small
//! images: a parallel sort of the packed colors, on the CPU, which gives the same list too.

use crate::cpu::histogram as twin;
use crate::gpu::layout::TABLE_LEN;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

/// The distinct colors of an image with their pixel counts.
#[derive(Debug)]
pub(crate) struct Histogram {
    /// Distinct colors, ascending by packed value.
    pub colors: Vec<[u8; 4]>,
    /// `counts[i]` pixels have color `colors[i]`.
    pub counts: Vec<u32>,
    /// From a pixel to its color's index; built on first use when the GPU made the list.
    lookup: OnceLock<Lookup>,
}

#[derive(Debug)]
enum Lookup {
    /// Every pixel is opaque: a direct table indexed by the 24-bit RGB value.
    Rgb(Vec<u32>),
    /// Some pixels have alpha: a hash map from packed color to index.
    Map(FxHashMap<u32, u32>),
}

/// The count table of an opaque image's colors (as [`crate::cpu::histogram::count_direct`]
/// makes it), made by the decoder on a thread that was waiting anyway, and taken once by the
/// histogram stage. A clone is empty: the stage then counts again.
#[derive(Default)]
pub(crate) struct Counted(std::sync::Mutex<Option<Vec<u32>>>);

impl Counted {
    pub(crate) fn new(table: Option<Vec<u32>>) -> Self {
        Counted(std::sync::Mutex::new(table))
    }

    /// The table, once.
    pub(crate) fn take(&self) -> Option<Vec<u32>> {
        self.0.lock().ok().and_then(|mut t| t.take())
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::default()
    }
}

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Counted(..)")
    }
}

/// Smallest image the count table serves (1 Mi pixels).
pub(crate) const TABLE_MIN_PIXELS: usize = 1 << 20;

/// The packed value of a color, with every fully transparent color as 0.
fn key(c: [u8; 4]) -> u32 {
    if c[3] == 0 {
        0
    } else {
        u32::from_le_bytes(c)
    }
}

impl Histogram {
    /// Counts the colors of `pixels` on the CPU. The caller guarantees fewer than 2^32 pixels.
    /// Images under [`TABLE_MIN_PIXELS`] are sorted instead of counted in the 64 MiB table: as
    /// fast there, and memory in proportion to the image. Both give the same list.
    /// `counts` is the count table already made (by the decoder, [`Counted`]) when it holds
    /// one: the table of these opaque pixels, of at least [`TABLE_MIN_PIXELS`].
    pub fn counted(pixels: &[[u8; 4]], counts: Option<Vec<u32>>) -> Self {
        if pixels.len() < TABLE_MIN_PIXELS {
            return Self::sorted(pixels);
        }
        if let Some(table) = counts.filter(|t| t.len() == TABLE_LEN as usize) {
            let (table, summary) = twin::compacted(table);
            return Self::from_table(table, &summary);
        }
        match twin::opaque(pixels) {
            Some((table, summary)) => Self::from_table(table, &summary),
            None => Self::sorted(pixels),
        }
    }

    /// The histogram of an opaque image from its (key, count) list, as the GPU returns it; the
    /// lookup table is built if a CPU stage needs it.
    pub fn from_summary(summary: &[(u32, u32)]) -> Self {
        let (colors, counts) = split(summary);
        Histogram {
            colors,
            counts,
            lookup: OnceLock::new(),
        }
    }

    fn from_table(table: Vec<u32>, summary: &[(u32, u32)]) -> Self {
        let (colors, counts) = split(summary);
        Histogram {
            colors,
            counts,
            lookup: OnceLock::from(Lookup::Rgb(table)),
        }
    }

    fn sorted(pixels: &[[u8; 4]]) -> Self {
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
            lookup: OnceLock::from(Lookup::Map(map)),
        }
    }

    /// Number of distinct colors.
    pub fn len(&self) -> usize {
        self.colors.len()
    }

    fn lookup(&self) -> &Lookup {
        self.lookup.get_or_init(|| {
            // Only opaque images come from the GPU.
            let mut table = vec![0u32; TABLE_LEN as usize];
            for (i, &c) in self.colors.iter().enumerate() {
                table[twin::key(c)] = i as u32;
            }
            Lookup::Rgb(table)
        })
    }

    /// The table from a pixel's 24-bit color to its color's index, for an opaque image.
    pub fn rgb_table(&self) -> Option<&[u32]> {
        match self.lookup() {
            Lookup::Rgb(t) => Some(t),
            Lookup::Map(_) => None,
        }
    }

    /// Index in [`Histogram::colors`] of a pixel's color. The pixel must come from the image the
    /// histogram was built from.
    #[inline]
    pub fn index_of(&self, p: [u8; 4]) -> usize {
        match self.lookup() {
            Lookup::Rgb(table) => table[twin::key(p)] as usize,
            Lookup::Map(map) => map.get(&key(p)).copied().unwrap_or(0) as usize,
        }
    }
}

/// Colors (opaque) and counts from a (24-bit key, count) list.
fn split(summary: &[(u32, u32)]) -> (Vec<[u8; 4]>, Vec<u32>) {
    summary
        .iter()
        .map(|&(k, n)| {
            let [r, g, b, _] = k.to_le_bytes();
            ([r, g, b, 255], n)
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_sort_give_the_same_colors_counts_and_lookup() {
        let mut rng = crate::testutil::Rng(17);
        let px: Vec<[u8; 4]> = (0..TABLE_MIN_PIXELS + 1000)
            .map(|_| {
                let v = rng.below(40_000) * 419;
                [v as u8, (v >> 8) as u8, (v >> 16) as u8, 255]
            })
            .collect();
        let (table, sorted) = (Histogram::counted(&px, None), Histogram::sorted(&px));
        assert!(table.rgb_table().is_some(), "a megapixel and more uses the table");
        assert_eq!(table.colors, sorted.colors);
        assert_eq!(table.counts, sorted.counts);
        for p in px.iter().step_by(997) {
            assert_eq!(table.index_of(*p), sorted.index_of(*p));
        }
    }
}
