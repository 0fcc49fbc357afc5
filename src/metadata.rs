//! Color and resolution metadata, read from the input and written to the output: the ICC
//! profile, PNG's sRGB, gAMA and cHRM chunks, and the pixel density (PNG pHYs, JPEG JFIF).
//!
//! Quantization works on the pixel values as stored, so the palette colors are in the same color
//! space as the input's values; carrying the profile over keeps what a color-managed viewer
//! shows the same. Dropping it (`--strip`) makes viewers take the values as sRGB, which shifts
//! the colors of a wide-gamut (Display P3, Adobe RGB) photo.
//!
//! | from \ to | PNG | JPEG | GIF |
//! |---|---|---|---|
//! | ICC profile | iCCP (an sRGB profile: the sRGB chunk) | APP2 `ICC_PROFILE` | dropped (GIF has no color management) |
//! | sRGB, gAMA, cHRM | as they were | dropped (JPEG is read as sRGB without a profile) | dropped |
//! | density | pHYs | JFIF density | dropped |
//!
//! EXIF is not copied: its orientation is applied to the pixels when decoding, so copying the
//! tag would turn the image a second time.

use crate::error::{Error, Result};
use std::io::{Cursor, Write};

/// The unit of a pixel density.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DensityUnit {
    /// No unit: the two values give the pixel aspect ratio only.
    Aspect,
    /// Pixels per meter (PNG).
    PerMeter,
    /// Pixels per inch (JPEG).
    PerInch,
    /// Pixels per centimeter (JPEG).
    PerCentimeter,
}

/// A pixel density: horizontal and vertical pixels per `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Density {
    /// Horizontal pixels per unit.
    pub x: u32,
    /// Vertical pixels per unit.
    pub y: u32,
    /// The unit.
    pub unit: DensityUnit,
}

/// What is carried from the input to the output (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The ICC profile, uncompressed.
    pub icc_profile: Option<Vec<u8>>,
    /// PNG sRGB: the rendering intent, 0 to 3.
    pub srgb: Option<u8>,
    /// PNG gAMA: the gamma times 100000.
    pub gamma: Option<u32>,
    /// PNG cHRM: white point, red, green and blue x and y, times 100000.
    pub chromaticities: Option<[u32; 8]>,
    /// The pixel density.
    pub density: Option<Density>,
}

impl Metadata {
    /// True when there is nothing to carry.
    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }

    /// From a PNG's chunks before the image data; empty when the header cannot be read.
    pub(crate) fn from_png(bytes: &[u8]) -> Metadata {
        match png::Decoder::new(Cursor::new(bytes)).read_info() {
            Ok(reader) => Metadata::from_png_info(reader.info()),
            Err(_) => Metadata::default(),
        }
    }

    /// From a PNG header already read.
    pub(crate) fn from_png_info(info: &png::Info<'_>) -> Metadata {
        let chromaticities = info.chrm_chunk.map(|c| {
            let s = |v: png::ScaledFloat| v.into_scaled();
            [
                s(c.white.0),
                s(c.white.1),
                s(c.red.0),
                s(c.red.1),
                s(c.green.0),
                s(c.green.1),
                s(c.blue.0),
                s(c.blue.1),
            ]
        });
        Metadata {
            icc_profile: info.icc_profile.as_ref().map(|p| p.to_vec()),
            srgb: info.srgb.map(|i| i as u8),
            gamma: info.gama_chunk.map(|g| g.into_scaled()),
            chromaticities,
            density: info.pixel_dims.map(|d| Density {
                x: d.xppu,
                y: d.yppu,
                unit: match d.unit {
                    png::Unit::Meter => DensityUnit::PerMeter,
                    png::Unit::Unspecified => DensityUnit::Aspect,
                },
            }),
        }
    }

    /// From a JPEG: the ICC profile (from the decoder, whose headers are read) and the JFIF
    /// density (from the file's APP0 segment).
    pub(crate) fn from_jpeg<T: zune_core::bytestream::ZByteReaderTrait>(
        bytes: &[u8],
        d: &zune_jpeg::JpegDecoder<T>,
    ) -> Metadata {
        Metadata {
            icc_profile: d.icc_profile(),
            density: jfif_density(bytes),
            ..Metadata::default()
        }
    }

    /// The PNG chunks to write after IHDR: cHRM, gAMA, iCCP (sRGB instead for a profile that
    /// is sRGB's, [`is_srgb_profile`], or when there is no profile: the two should not both be
    /// present) and pHYs, as (type, data).
    pub(crate) fn png_chunks(&self) -> Result<Vec<([u8; 4], Vec<u8>)>> {
        let mut out = Vec::new();
        if let Some(c) = &self.chromaticities {
            out.push((*b"cHRM", c.iter().flat_map(|v| v.to_be_bytes()).collect()));
        }
        if let Some(g) = self.gamma {
            out.push((*b"gAMA", g.to_be_bytes().to_vec()));
        }
        match (&self.icc_profile, self.srgb) {
            (Some(profile), _) if is_srgb_profile(profile) => out.push((*b"sRGB", vec![0])),
            (Some(profile), _) => {
                let mut data = b"ICC profile\0\0".to_vec();
                let mut z = flate2::write::ZlibEncoder::new(data, flate2::Compression::best());
                z.write_all(profile)
                    .map_err(|e| Error::Encode(format!("compressing the ICC profile: {e}")))?;
                data = z
                    .finish()
                    .map_err(|e| Error::Encode(format!("compressing the ICC profile: {e}")))?;
                out.push((*b"iCCP", data));
            }
            (None, Some(intent)) => out.push((*b"sRGB", vec![intent])),
            (None, None) => {}
        }
        if let Some(d) = self.density {
            let (x, y, unit) = match d.unit {
                DensityUnit::Aspect => (d.x, d.y, 0u8),
                DensityUnit::PerMeter => (d.x, d.y, 1),
                DensityUnit::PerInch => (per_meter(d.x, 0.0254), per_meter(d.y, 0.0254), 1),
                DensityUnit::PerCentimeter => (d.x.saturating_mul(100), d.y.saturating_mul(100), 1),
            };
            let mut data = Vec::with_capacity(9);
            data.extend(x.to_be_bytes());
            data.extend(y.to_be_bytes());
            data.push(unit);
            out.push((*b"pHYs", data));
        }
        Ok(out)
    }

    /// The JFIF density for a JPEG: dpi or dots per cm as given, pixels per meter as dpi; None
    /// for an aspect ratio alone or values over 65535.
    pub(crate) fn jpeg_density(&self) -> Option<jpeg_encoder::Density> {
        let d = self.density?;
        let fit = |v: u32| u16::try_from(v).ok().filter(|&v| v > 0);
        match d.unit {
            DensityUnit::PerInch => Some(jpeg_encoder::Density::Inch {
                x: fit(d.x)?,
                y: fit(d.y)?,
            }),
            DensityUnit::PerCentimeter => Some(jpeg_encoder::Density::Centimeter {
                x: fit(d.x)?,
                y: fit(d.y)?,
            }),
            DensityUnit::PerMeter => Some(jpeg_encoder::Density::Inch {
                x: fit((d.x as f64 * 0.0254).round() as u32)?,
                y: fit((d.y as f64 * 0.0254).round() as u32)?,
            }),
            DensityUnit::Aspect => None,
        }
    }
}

/// True for an ICC profile that describes sRGB: an RGB profile whose description names sRGB
/// and whose red, green and blue colorants are sRGB's (D50-adapted, within 0.002). PNG writes
/// the 13-byte sRGB chunk for it instead of the profile (3 kB for the common
/// "sRGB IEC61966-2.1"), as the PNG specification recommends.
pub fn is_srgb_profile(icc: &[u8]) -> bool {
    let be32 = |at: usize| -> Option<u32> {
        icc.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if icc.get(16..20) != Some(b"RGB ") || icc.get(20..24) != Some(b"XYZ ") {
        return false;
    }
    let Some(count) = be32(128) else { return false };
    let tag = |sig: &[u8; 4]| -> Option<&[u8]> {
        (0..count.min(256) as usize).find_map(|i| {
            let at = 132 + 12 * i;
            (icc.get(at..at + 4)? == sig).then_some(())?;
            let (off, len) = (be32(at + 4)? as usize, be32(at + 8)? as usize);
            icc.get(off..off.checked_add(len)?)
        })
    };
    // The description: ASCII text ('desc', v2) or UTF-16BE records ('mluc', v4).
    let Some(desc) = tag(b"desc") else { return false };
    let text: String = match desc.get(0..4) {
        Some(b"desc") => desc.get(12..).unwrap_or(&[]).iter().map(|&b| b as char).collect(),
        Some(b"mluc") => desc
            .get(28..)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| char::from_u32(u16::from_be_bytes([c[0], c[1]]) as u32).unwrap_or('?'))
            .collect(),
        _ => return false,
    };
    if !text.contains("sRGB") {
        return false;
    }
    // s15Fixed16 XYZ of each colorant, against sRGB's primaries adapted to D50.
    let want = [
        (b"rXYZ", [0.4361, 0.2225, 0.0139]),
        (b"gXYZ", [0.3851, 0.7169, 0.0971]),
        (b"bXYZ", [0.1431, 0.0606, 0.7141]),
    ];
    want.iter().all(|(sig, xyz)| {
        tag(sig).is_some_and(|t| {
            (0..3).all(|i| {
                t.get(8 + 4 * i..12 + 4 * i)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as f64 / 65536.0)
                    .is_some_and(|v| (v - xyz[i]).abs() < 0.002)
            })
        })
    })
}

/// The density in a JPEG's JFIF segment (APP0), searched among the segments before the first
/// scan; None without one, and for JFIF's default, an aspect ratio of 1:1.
fn jfif_density(jpeg: &[u8]) -> Option<Density> {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        let body = jpeg.get(at + 4..at + 2 + len)?;
        if marker == 0xDA {
            return None;
        }
        if marker == 0xE0 && body.len() >= 12 && body.starts_with(b"JFIF\0") {
            let x = u16::from_be_bytes([body[8], body[9]]) as u32;
            let y = u16::from_be_bytes([body[10], body[11]]) as u32;
            let unit = match body[7] {
                1 => DensityUnit::PerInch,
                2 => DensityUnit::PerCentimeter,
                _ => DensityUnit::Aspect,
            };
            let default = unit == DensityUnit::Aspect && x == y;
            return (x > 0 && y > 0 && !default).then_some(Density { x, y, unit });
        }
        at += 2 + len;
    }
    None
}

/// Pixels per `meters` (a unit's length in meters) as pixels per meter, rounded.
fn per_meter(v: u32, meters: f64) -> u32 {
    (v as f64 / meters).round().min(u32::MAX as f64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::chunk;

    #[test]
    fn png_chunks_round_trip_through_the_png_crate() {
        let profile: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        let meta = Metadata {
            icc_profile: Some(profile.clone()),
            srgb: Some(0),
            gamma: Some(45455),
            chromaticities: Some([31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000]),
            density: Some(Density {
                x: 300,
                y: 150,
                unit: DensityUnit::PerInch,
            }),
        };
        // A 1x1 indexed PNG carrying the chunks, read back.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 3, 0, 0, 0]);
        for (kind, data) in meta.png_chunks().unwrap() {
            chunk(&mut png, &kind, &data);
        }
        chunk(&mut png, b"PLTE", &[1, 2, 3]);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&[0, 0]).unwrap();
        chunk(&mut png, b"IDAT", &z.finish().unwrap());
        chunk(&mut png, b"IEND", &[]);
        let back = Metadata::from_png(&png);
        assert_eq!(back.icc_profile, Some(profile));
        assert_eq!(back.srgb, None, "sRGB is left out beside a profile");
        assert_eq!(back.gamma, Some(45455));
        assert_eq!(back.chromaticities, meta.chromaticities);
        let d = back.density.unwrap();
        assert_eq!((d.x, d.y, d.unit), (11811, 5906, DensityUnit::PerMeter));
        // 11811 pixels per meter is 300 dpi again in a JPEG.
        assert!(matches!(
            back.jpeg_density(),
            Some(jpeg_encoder::Density::Inch { x: 300, y: 150 })
        ));
    }
}
