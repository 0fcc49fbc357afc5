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

/// Paint far points first so near ones stay visible: the depth of a color in the chart's
/// projection, larger for nearer points.
fn depth(chart: &Chart<'_, '_>, c: [u8; 4]) -> i32 {
    use plotters::coord::CoordTranslate;
    chart
        .as_coord_spec()
        .depth(&(c[0] as f64, c[1] as f64, c[2] as f64))
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

type Panel<'b> = DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>;

/// A camera on the RGB cube: its name, and plotters' yaw (about the green axis, which points
/// up) and pitch.
struct View {
    name: &'static str,
    yaw: f64,
    pitch: f64,
}

/// Three cameras, so the cloud's shape can be read in depth: the cube turned to show three
/// sides, facing the R-G plane (B going away), and looking down the G axis (R and B spread out).
const VIEWS: [View; 3] = [
    View {
        name: "three sides",
        yaw: 0.75,
        pitch: 0.35,
    },
    View {
        name: "facing R and G",
        yaw: 0.12,
        pitch: 0.12,
    },
    View {
        name: "down the G axis",
        yaw: 0.75,
        pitch: 1.2,
    },
];

/// Panel size in pixels; the picture is three panels wide and two high (before, after).
const PANEL: (u32, u32) = (600, 560);

/// A piece of text placed on a panel: its position (centre), its box and its style.
#[derive(Debug, Clone)]
struct Label {
    text: String,
    center: (i32, i32),
    /// Half width and half height, from the font's measured extent.
    half: (i32, i32),
    size: f64,
    color: RGBColor,
}

impl Label {
    fn overlaps(&self, o: &Label, pad: i32) -> bool {
        (self.center.0 - o.center.0).abs() < self.half.0 + o.half.0 + pad
            && (self.center.1 - o.center.1).abs() < self.half.1 + o.half.1 + pad
    }

    fn inside(&self, x0: i32, y0: i32, x1: i32, y1: i32) -> bool {
        self.center.0 - self.half.0 >= x0
            && self.center.0 + self.half.0 <= x1
            && self.center.1 - self.half.1 >= y0
            && self.center.1 + self.half.1 <= y1
    }
}

/// The axis names R, G and B beyond the end of each axis, in their color, and the tick values
/// 0 (once, at the black corner), 255 and 128 on each axis, pushed away from the cube's centre.
/// Candidates are kept in that order of importance, each only where it overlaps no label kept
/// before it and stays inside the panel below its caption, so no two labels ever overlap (an
/// axis name that does not fit beyond its axis moves in along it).
fn axis_labels(chart: &Chart<'_, '_>, area: &Panel<'_>) -> Result<Vec<Label>> {
    let spec = chart.as_coord_spec();
    let at = |p: (f64, f64, f64)| spec.translate(&p);
    let centre = at((127.5, 127.5, 127.5));
    let away = |p: (i32, i32), by: f64| {
        let (dx, dy) = ((p.0 - centre.0) as f64, (p.1 - centre.1) as f64);
        let n = (dx * dx + dy * dy).sqrt().max(1.0);
        (p.0 + (dx / n * by) as i32, p.1 + (dy / n * by) as i32)
    };
    let axes = [
        ("R", RGBColor(200, 0, 0), (1.0, 0.0, 0.0)),
        ("G", RGBColor(0, 140, 0), (0.0, 1.0, 0.0)),
        ("B", RGBColor(0, 0, 220), (0.0, 0.0, 1.0)),
    ];
    let point = |d: (f64, f64, f64), v: f64| (d.0 * v, d.1 * v, d.2 * v);
    // Each candidate with the places to try, best first: a name moves in along its axis until
    // it fits.
    // (text, places to try, font size, color).
    type Wanted = (String, Vec<(i32, i32)>, f64, RGBColor);
    let mut wanted: Vec<Wanted> = Vec::new();
    for (name, color, d) in axes {
        let places = [300.0, 285.0, 270.0, 255.0, 240.0]
            .iter()
            .map(|&v| away(at(point(d, v)), 6.0))
            .collect();
        wanted.push((name.into(), places, 28.0, color));
    }
    let grey = RGBColor(90, 90, 90);
    wanted.push(("0".into(), vec![away(at((0.0, 0.0, 0.0)), 16.0)], 15.0, grey));
    for v in [255.0, 128.0] {
        for (_, _, d) in axes {
            wanted.push((format!("{v:.0}"), vec![away(at(point(d, v)), 16.0)], 15.0, grey));
        }
    }
    // Below the caption, inside the panel.
    let (x0, _) = area.get_base_pixel();
    let top = chart.plotting_area().get_base_pixel().1;
    let (w, h) = area.dim_in_pixel();
    let bottom = area.get_base_pixel().1 + h as i32;
    let mut kept: Vec<Label> = Vec::new();
    for (text, places, size, color) in wanted {
        let (tw, th) = area
            .estimate_text_size(&text, &("sans-serif", size).into_font().into())
            .map_err(err)?;
        let fits = places.into_iter().map(|center| Label {
            text: text.clone(),
            center,
            half: ((tw as i32 + 1) / 2, (th as i32 + 1) / 2),
            size,
            color,
        });
        let mut fits = fits
            .filter(|l| l.inside(x0, top, x0 + w as i32, bottom) && kept.iter().all(|k| !l.overlaps(k, 2)));
        if let Some(l) = fits.next() {
            kept.push(l);
        }
    }
    Ok(kept)
}

/// An RGB cube with a title, seen from `view`, its axes named and labelled by [`axis_labels`].
fn cube<'a, 'b>(area: &'a Panel<'b>, title: String, view: &View) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .build_cartesian_3d(0.0..255.0, 0.0..255.0, 0.0..255.0)
        .map_err(err)?;
    let (yaw, pitch) = (view.yaw, view.pitch);
    chart.with_projection(|mut p| {
        p.yaw = yaw;
        p.pitch = pitch;
        p.scale = 0.7;
        p.into_matrix()
    });
    let none = |_: &f64| String::new();
    chart
        .configure_axes()
        .light_grid_style(RGBColor(230, 230, 230))
        .max_light_lines(3)
        .x_labels(3)
        .y_labels(3)
        .z_labels(3)
        .x_formatter(&none)
        .y_formatter(&none)
        .z_formatter(&none)
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Draws the labels [`axis_labels`] keeps.
fn draw_labels(chart: &Chart<'_, '_>, area: &Panel<'_>) -> Result<()> {
    for l in axis_labels(chart, area)? {
        let (x0, y0) = area.get_base_pixel();
        let style =
            ("sans-serif", l.size)
                .into_font()
                .color(&l.color)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
        area.draw(&Text::new(l.text, (l.center.0 - x0, l.center.1 - y0), style))
            .map_err(err)?;
    }
    Ok(())
}

/// Each palette entry as a disc of its own color, area proportional to its share.
fn draw_palette(chart: &mut Chart<'_, '_>, q: &Quantized) -> Result<()> {
    let total: u64 = q.counts.iter().sum::<u64>().max(1);
    let mut entries: Vec<([u8; 4], u64)> = q.palette.iter().copied().zip(q.counts.iter().copied()).collect();
    entries.sort_by_key(|&(c, _)| depth(chart, c));
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
    pts.sort_by_key(|&c| depth(chart, c));
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

/// The image's colors (a count-weighted sample of `samples` pixels, each point in its own
/// color) above, and the palette below (every entry a disc of its color sized by its
/// population), each seen from the three [`VIEWS`], with the axes named R, G and B.
pub fn color_space(original: &[[u8; 4]], q: &Quantized, samples: usize) -> Result<Vec<u8>> {
    fonts();
    let (w, h) = (PANEL.0 * VIEWS.len() as u32, PANEL.1 * 2);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let panels = root.split_evenly((2, VIEWS.len()));
        let picks: Vec<[u8; 4]> = sample(original.len(), samples).map(|i| original[i]).collect();
        for (i, view) in VIEWS.iter().enumerate() {
            let title = format!(
                "before, {}: {} colors ({} shown)",
                view.name,
                q.unique_colors,
                picks.len()
            );
            let mut chart = cube(&panels[i], title, view)?;
            draw_pixels(&mut chart, picks.clone())?;
            draw_labels(&chart, &panels[i])?;
            let title = format!("after, {}: {} colors (area = share)", view.name, q.palette.len());
            let below = &panels[VIEWS.len() + i];
            let mut chart = cube(below, title, view)?;
            draw_palette(&mut chart, q)?;
            draw_labels(&chart, below)?;
        }
        root.present().map_err(err)?;
    }
    png(buf, w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_names_its_three_axes_with_no_label_overlapping_another() {
        fonts();
        let (w, h) = PANEL;
        let mut buf = vec![255u8; (w * h * 3) as usize];
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        for view in &VIEWS {
            let chart = cube(
                &root,
                "a title as long as the real ones, 123456 colors".into(),
                view,
            )
            .unwrap();
            let labels = axis_labels(&chart, &root).unwrap();
            let names: Vec<&str> = labels
                .iter()
                .map(|l| l.text.as_str())
                .filter(|t| t.len() == 1 && *t != "0")
                .collect();
            assert_eq!(names, ["R", "G", "B"], "{}", view.name);
            // Most tick values fit too.
            assert!(labels.len() >= 8, "{}: {} labels", view.name, labels.len());
            let top = chart.plotting_area().get_base_pixel().1;
            for (i, a) in labels.iter().enumerate() {
                assert!(a.inside(0, top, w as i32, h as i32), "{}: {a:?}", view.name);
                for b in &labels[i + 1..] {
                    assert!(!a.overlaps(b, 0), "{}: {a:?} and {b:?}", view.name);
                }
            }
        }
    }

    #[test]
    fn the_plot_has_two_rows_of_three_views() {
        let px: Vec<[u8; 4]> = (0..4096u32)
            .map(|i| [(i % 256) as u8, (i / 16) as u8, 255 - (i % 256) as u8, 255])
            .collect();
        let image = crate::ImageRef::new(64, 64, &px).unwrap();
        let q = crate::quantize(
            image,
            &crate::Options::new(8)
                .unwrap()
                .with_backend(crate::BackendChoice::Cpu),
        )
        .unwrap();
        let png = color_space(&px, &q, 500).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (PANEL.0 * 3, PANEL.1 * 2));
        // Each panel has its pure red R name drawn somewhere.
        for row in 0..2 {
            for col in 0..3 {
                let red = (0..PANEL.1)
                    .flat_map(|y| (0..PANEL.0).map(move |x| (x, y)))
                    .filter(|&(x, y)| img.get_pixel(col * PANEL.0 + x, row * PANEL.1 + y).0 == [200, 0, 0])
                    .count();
                assert!(red > 20, "panel {row},{col}: {red} red pixels");
            }
        }
    }
}
