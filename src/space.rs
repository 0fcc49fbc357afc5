//! Color spaces: how an RGBA color becomes a k-means point and how a centroid becomes a color.
//!
//! A [`Point`] is four integer coordinates in `0..=GRID_MAX` (2040 = 255 * 8; see [`crate::grid`]).
//! This conversion runs on the host, once per distinct color, for every backend, so the GPU and
//! the CPU see the same integers and the exactness argument of the crate docs holds in either
//! space.
//!
//! - [`ColorSpace::Srgb`]: each channel value times 8, so centroids have 1/8-level resolution.
//! - [`ColorSpace::Oklab`]: Björn Ottosson's Oklab (L in 0..1, a and b within ±0.32) scaled by
//!   2040 with a and b offset by 0.5, the same factor on every axis so that Euclidean distance
//!   stays Oklab's. Alpha is the fourth coordinate in both spaces (alpha times 8), so a full step
//!   of opacity weighs as much as black to white.

use crate::grid::{Point, GRID_MAX, GRID_SCALE};

/// The space k-means runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorSpace {
    /// Plain sRGB channel values (and alpha), the space PSNR is measured in.
    #[default]
    Srgb,
    /// Oklab, a perceptual space: equal distances look about equally different.
    Oklab,
}

fn srgb_to_linear(v: u8) -> f64 {
    let c = v as f64 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(c: f64) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let v = if c <= 0.003_130_8 {
        12.92 * c
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    };
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Oklab (L, a, b) of an sRGB color.
pub(crate) fn oklab(c: [u8; 4]) -> [f64; 3] {
    let (r, g, b) = (srgb_to_linear(c[0]), srgb_to_linear(c[1]), srgb_to_linear(c[2]));
    let l = (0.412_221_470_8 * r + 0.536_332_536_3 * g + 0.051_445_992_9 * b).cbrt();
    let m = (0.211_903_498_2 * r + 0.680_699_545_1 * g + 0.107_396_956_6 * b).cbrt();
    let s = (0.088_302_461_9 * r + 0.281_718_837_6 * g + 0.629_978_700_5 * b).cbrt();
    [
        0.210_454_255_3 * l + 0.793_617_785_0 * m - 0.004_072_046_8 * s,
        1.977_998_495_1 * l - 2.428_592_205_0 * m + 0.450_593_709_9 * s,
        0.025_904_037_1 * l + 0.782_771_766_2 * m - 0.808_675_766_0 * s,
    ]
}

/// The sRGB color (rounded, clamped to the gamut) of an Oklab color.
pub(crate) fn from_oklab(lab: [f64; 3]) -> [u8; 3] {
    let [ll, a, b] = lab;
    let l = (ll + 0.396_337_777_4 * a + 0.215_803_757_3 * b).powi(3);
    let m = (ll - 0.105_561_345_8 * a - 0.063_854_172_8 * b).powi(3);
    let s = (ll - 0.089_484_177_5 * a - 1.291_485_548_0 * b).powi(3);
    [
        linear_to_srgb(4.076_741_662_1 * l - 3.307_711_591_3 * m + 0.230_969_929_2 * s),
        linear_to_srgb(-1.268_438_004_6 * l + 2.609_757_401_1 * m - 0.341_319_396_5 * s),
        linear_to_srgb(-0.004_196_086_3 * l - 0.703_418_614_7 * m + 1.707_614_701_0 * s),
    ]
}

const OKLAB_SCALE: f64 = GRID_MAX as f64;

impl ColorSpace {
    /// The point for an RGBA color.
    pub(crate) fn to_point(self, c: [u8; 4]) -> Point {
        match self {
            ColorSpace::Srgb => Point(c.map(|v| v as u16 * GRID_SCALE)),
            ColorSpace::Oklab => {
                let [l, a, b] = oklab(c);
                let q = |v: f64| (v * OKLAB_SCALE).round().clamp(0.0, GRID_MAX as f64) as u16;
                Point([q(l), q(a + 0.5), q(b + 0.5), c[3] as u16 * GRID_SCALE])
            }
        }
    }

    /// The RGBA color for a centroid, rounded to the nearest level.
    pub(crate) fn to_color(self, p: Point) -> [u8; 4] {
        let level = |v: u16| ((v.min(GRID_MAX) + GRID_SCALE / 2) / GRID_SCALE) as u8;
        match self {
            ColorSpace::Srgb => p.0.map(level),
            ColorSpace::Oklab => {
                let f = |v: u16| v as f64 / OKLAB_SCALE;
                let [r, g, b] = from_oklab([f(p.0[0]), f(p.0[1]) - 0.5, f(p.0[2]) - 0.5]);
                [r, g, b, level(p.0[3])]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oklab_round_trips_every_gray_and_the_primaries() {
        let mut colors: Vec<[u8; 4]> = (0..=255).map(|v| [v, v, v, 255]).collect();
        colors.extend([
            [255, 0, 0, 255],
            [0, 255, 0, 255],
            [0, 0, 255, 255],
            [255, 255, 0, 255],
            [12, 200, 77, 255],
        ]);
        for c in colors {
            let back = from_oklab(oklab(c));
            assert_eq!(back, [c[0], c[1], c[2]], "{c:?}");
            let p = ColorSpace::Oklab.to_point(c);
            let q = ColorSpace::Oklab.to_color(p);
            for i in 0..3 {
                assert!(q[i].abs_diff(c[i]) <= 2, "{c:?} -> {p:?} -> {q:?}");
            }
        }
        // White is L = 1, gray has a = b = 0.
        let w = oklab([255, 255, 255, 255]);
        assert!((w[0] - 1.0).abs() < 1e-6 && w[1].abs() < 1e-6 && w[2].abs() < 1e-6);
    }
}
