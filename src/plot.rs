//! Pictures: the color space as 3-D point clouds before and after quantization, and palette
//! swatches. Drawn with plotters into a memory bitmap (text in DejaVu Sans, embedded), encoded as
//! RGB PNG.

use crate::error::{Error, Result};
use crate::palette::Entry;
use crate::Quantized;
use plotters::prelude::*;
use std::sync::Once;

fn err(e: impl std::fmt::Display) -> Error {
    Error::Encode(format!("drawing: {e}"))
}

fn fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; a failure would only lose text, never panic.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

fn png(buf: Vec<u8>, w: u32, h: u32) -> Result<Vec<u8>> {
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

/// Two 3-D RGB point clouds side by side: the image's colors (a count-weighted sample of
/// `samples` pixels, each point in its own color), and the same pixels in their quantized colors
/// with every palette entry drawn as a ring sized by its population.
pub fn color_space(original: &[[u8; 4]], q: &Quantized, samples: usize) -> Result<Vec<u8>> {
    fonts();
    let (w, h) = (1600u32, 820u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (left, right) = root.split_horizontally(w / 2);
        let picks: Vec<usize> = sample(original.len(), samples).collect();
        // Paint far points first so near ones stay visible (depth along the viewing direction).
        let depth = |c: [u8; 4]| -(c[0] as i32) - (c[2] as i32);
        let total: u64 = q.counts.iter().sum::<u64>().max(1);
        for (area, after) in [(left, false), (right, true)] {
            let title = if after {
                format!("after: {} colors (area = share of pixels)", q.palette.len())
            } else {
                format!(
                    "before: {} distinct colors ({} sampled)",
                    q_unique(q),
                    picks.len()
                )
            };
            let mut chart = ChartBuilder::on(&area)
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
            if after {
                // Each palette entry as a disc of its own color, area proportional to its share.
                let mut entries: Vec<([u8; 4], u64)> =
                    q.palette.iter().copied().zip(q.counts.iter().copied()).collect();
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
            } else {
                let mut pts: Vec<[u8; 4]> = picks.iter().map(|&i| original[i]).collect();
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
            }
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

fn q_unique(q: &Quantized) -> usize {
    q.unique_colors
}

/// A strip of swatches, eight to a row, each labelled with its hex code and share in percent.
pub fn swatches(entries: &[Entry]) -> Result<Vec<u8>> {
    fonts();
    let per_row = entries.len().clamp(1, 8);
    let rows = entries.len().div_ceil(per_row).max(1);
    let (cell_w, cell_h, label_h) = (120u32, 80u32, 44u32);
    let (w, h) = (cell_w * per_row as u32, (cell_h + label_h) * rows as u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        for (i, e) in entries.iter().enumerate() {
            let (col, row) = ((i % per_row) as i32, (i / per_row) as i32);
            let (x, y) = (col * cell_w as i32, row * (cell_h + label_h) as i32);
            let c = e.rgba;
            // Translucent entries are shown over white, as a viewer would.
            let a = c[3] as u32;
            let over = |v: u8| ((v as u32 * a + 255 * (255 - a)) / 255) as u8;
            let color = RGBColor(over(c[0]), over(c[1]), over(c[2]));
            root.draw(&Rectangle::new(
                [(x + 4, y + 4), (x + cell_w as i32 - 4, y + cell_h as i32)],
                color.filled(),
            ))
            .map_err(err)?;
            root.draw(&Rectangle::new(
                [(x + 4, y + 4), (x + cell_w as i32 - 4, y + cell_h as i32)],
                RGBColor(160, 160, 160).stroke_width(1),
            ))
            .map_err(err)?;
            let text = ("sans-serif", 15).into_font().color(&BLACK);
            root.draw(&Text::new(
                e.hex.clone(),
                (x + 6, y + cell_h as i32 + 4),
                text.clone(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                format!("{:.2}%", 100.0 * e.share),
                (x + 6, y + cell_h as i32 + 22),
                text,
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    png(buf, w, h)
}
