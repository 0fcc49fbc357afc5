//! Pictures: the color space as 3-D point clouds before and after quantization, drawn with
//! plotters into a memory bitmap (text in DejaVu Sans, embedded) and encoded as RGB PNG. The
//! palette's swatch image ([`crate::palette`]) uses the same helpers.

use crate::error::{Error, Result};
use crate::Quantized;
use plotters::prelude::*;
use std::sync::Once;

pub(crate) fn err(e: impl std::fmt::Display) -> Error {
    Error::Encode(format!("drawing: {e}"))
}

pub(crate) fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; a failure would only lose text, never panic.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

pub(crate) fn png(buf: Vec<u8>, w: u32, h: u32) -> Result<Vec<u8>> {
    let img = image::RgbImage::from_raw(w, h, buf).ok_or_else(|| err("bitmap size"))?;
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(err)?;
    Ok(out)
}

/// At most `n` pixel positions, evenly spaced: a sample of the colors weighted by their counts.
fn sample(len: usize, n: usize) -> impl Iterator<Item = usize> {
    let step = (len as f64 / n as f64).max(1.0);
    (0..n.min(len)).map(move |i| ((i as f64 + 0.5) * step) as usize)
}

/// Paint far points first so near ones stay visible (depth along the viewing direction).
fn depth(c: [u8; 4]) -> i32 {
    -(c[0] as i32) - (c[2] as i32)
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    plotters::coord::cartesian::Cartesian3d<
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
        plotters::coord::types::RangedCoordf64,
    >,
>;

/// An RGB cube with a title, seen from the fixed camera, its axes labelled in 8-bit levels.
fn cube<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: String,
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(10)
        .build_cartesian_3d(0.0..255.0, 0.0..255.0, 0.0..255.0)
        .map_err(err)?;
    chart.with_projection(|mut p| {
        p.yaw = 0.75;
        p.pitch = 0.35;
        p.scale = 0.82;
        p.into_matrix()
    });
    let whole = |v: &f64| format!("{v:.0}");
    chart
        .configure_axes()
        .light_grid_style(RGBColor(225, 225, 225))
        .max_light_lines(4)
        .x_labels(6)
        .y_labels(6)
        .z_labels(6)
        .x_formatter(&whole)
        .y_formatter(&whole)
        .z_formatter(&whole)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Each palette entry as a disc of its own color, area proportional to its share.
fn draw_palette(chart: &mut Chart<'_, '_>, q: &Quantized) -> Result<()> {
    let total: u64 = q.counts.iter().sum::<u64>().max(1);
    let mut entries: Vec<([u8; 4], u64)> = q.palette.iter().copied().zip(q.counts.iter().copied()).collect();
    entries.sort_by_key(|&(c, _)| depth(c));
    for (c, n) in entries {
        let r = (3.0 + 70.0 * (n as f64 / total as f64).sqrt()) as i32;
        let at = (c[0] as f64, c[1] as f64, c[2] as f64);
        chart
            .draw_series([
                Circle::new(at, r, RGBColor(c[0], c[1], c[2]).filled()),
                Circle::new(at, r, RGBColor(40, 40, 40).stroke_width(1)),
            ])
            .map_err(err)?;
    }
    Ok(())
}

/// Sampled pixel colors, each a dot of its own color.
fn draw_pixels(chart: &mut Chart<'_, '_>, mut pts: Vec<[u8; 4]>) -> Result<()> {
    pts.sort_by_key(|&c| depth(c));
    chart
        .draw_series(pts.iter().map(|c| {
            Circle::new(
                (c[0] as f64, c[1] as f64, c[2] as f64),
                2,
                RGBColor(c[0], c[1], c[2]).filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

/// Two 3-D RGB point clouds side by side: the image's colors (a count-weighted sample of
/// `samples` pixels, each point in its own color), and the palette, every entry a disc of its
/// color sized by its population.
pub fn color_space(original: &[[u8; 4]], q: &Quantized, samples: usize) -> Result<Vec<u8>> {
    fonts();
    let (w, h) = (1600u32, 820u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(w / 2);
        let picks: Vec<[u8; 4]> = sample(original.len(), samples).map(|i| original[i]).collect();
        let title = format!(
            "before: {} distinct colors ({} sampled)",
            q.unique_colors,
            picks.len()
        );
        draw_pixels(&mut cube(&left, title)?, picks)?;
        let title = format!("after: {} colors (area = share of pixels)", q.palette.len());
        draw_palette(&mut cube(&right, title)?, q)?;
        for area in [&left, &right] {
            area.draw(&Text::new(
                "x: red   y: green   z: blue",
                (20, h as i32 - 28),
                ("sans-serif", 16),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    png(buf, w, h)
}
