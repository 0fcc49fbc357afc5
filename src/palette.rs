//! Palette export: JSON, GIMP `.gpl`, plain text, and a PNG swatch strip with each color's share.
//!
//! Order: by population (most used first; the order of [`Quantized::palette`]), or by Oklab
//! lightness (darkest first; ties by population). Both orders are stable for a given result.

use crate::error::{Error, Result};
#[cfg(feature = "plot")]
use crate::plot::{err, fonts, png};
use crate::Quantized;
#[cfg(feature = "plot")]
use plotters::prelude::*;

/// The order of exported entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaletteOrder {
    /// Most used first.
    #[default]
    Population,
    /// Darkest first (Oklab L), ties by population.
    Lightness,
}

/// One exported entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// `#rrggbb`, or `#rrggbbaa` when translucent.
    pub hex: String,
    /// The color.
    pub rgba: [u8; 4],
    /// Pixels using it.
    pub count: u64,
    /// Share of all pixels, 0 to 1.
    pub share: f64,
}

/// The palette's entries in the chosen order.
pub fn entries(q: &Quantized, order: PaletteOrder) -> Vec<Entry> {
    let total: u64 = q.counts.iter().sum::<u64>().max(1);
    let mut idx: Vec<usize> = (0..q.palette.len()).collect();
    if order == PaletteOrder::Lightness {
        idx.sort_by(|&a, &b| {
            let (la, lb) = (
                crate::space::oklab(q.palette[a])[0],
                crate::space::oklab(q.palette[b])[0],
            );
            la.total_cmp(&lb).then(a.cmp(&b))
        });
    }
    idx.into_iter()
        .map(|i| {
            let c = q.palette[i];
            let hex = if c[3] == 255 {
                format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
            } else {
                format!("#{:02x}{:02x}{:02x}{:02x}", c[0], c[1], c[2], c[3])
            };
            Entry {
                hex,
                rgba: c,
                count: q.counts[i],
                share: q.counts[i] as f64 / total as f64,
            }
        })
        .collect()
}

/// Palette file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaletteFormat {
    /// A PNG swatch strip.
    Png,
    /// JSON: `{"colors": [{"hex", "rgba", "count", "share"}...]}`.
    Json,
    /// A GIMP palette.
    Gpl,
    /// One `#rrggbb` per line.
    Txt,
}

impl PaletteFormat {
    /// The format for a file name, by extension.
    pub fn from_path(path: &str) -> Option<Self> {
        match std::path::Path::new(path)
            .extension()?
            .to_str()?
            .to_ascii_lowercase()
            .as_str()
        {
            "png" => Some(Self::Png),
            "json" => Some(Self::Json),
            "gpl" => Some(Self::Gpl),
            "txt" => Some(Self::Txt),
            _ => None,
        }
    }
}

/// The bytes of a palette file.
pub fn export(q: &Quantized, format: PaletteFormat, order: PaletteOrder, name: &str) -> Result<Vec<u8>> {
    let e = entries(q, order);
    Ok(match format {
        PaletteFormat::Json => {
            #[derive(serde::Serialize)]
            struct Doc<'a> {
                name: &'a str,
                colors: &'a [Entry],
            }
            let mut s = serde_json::to_string_pretty(&Doc { name, colors: &e })
                .map_err(|x| Error::Encode(x.to_string()))?;
            s.push('\n');
            s.into_bytes()
        }
        PaletteFormat::Gpl => {
            let mut s = format!("GIMP Palette\nName: {name}\nColumns: 8\n#\n");
            for x in &e {
                let c = x.rgba;
                s.push_str(&format!(
                    "{:3} {:3} {:3}\t{} {:.2}%\n",
                    c[0],
                    c[1],
                    c[2],
                    x.hex,
                    100.0 * x.share
                ));
            }
            s.into_bytes()
        }
        PaletteFormat::Txt => e
            .iter()
            .map(|x| format!("{}\n", x.hex))
            .collect::<String>()
            .into_bytes(),
        #[cfg(feature = "plot")]
        PaletteFormat::Png => swatches(&e)?,
        #[cfg(not(feature = "plot"))]
        PaletteFormat::Png => return Err(Error::Encode("PNG swatches need the `plot` feature".into())),
    })
}

#[cfg(feature = "plot")]
/// A strip of swatches, eight to a row, each labelled with its hex code and share in percent.
fn swatches(entries: &[Entry]) -> Result<Vec<u8>> {
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
