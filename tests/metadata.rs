//! Color management: the ICC profile, sRGB/gAMA/cHRM and the pixel density go from the input to
//! the output by default, and `--strip` drops them.

mod common;

use common::{fixture_copy, kmquant};
use std::path::Path;

/// The chunk types and data of a PNG file, IDAT left out.
fn chunks(png: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let n = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned();
        if kind != "IDAT" {
            out.push((kind, png[at + 8..at + 8 + n].to_vec()));
        }
        at += 12 + n;
    }
    out
}

fn chunk(png: &[u8], kind: &str) -> Option<Vec<u8>> {
    chunks(png).into_iter().find(|(k, _)| k == kind).map(|(_, d)| d)
}

/// The fixture's sRGB profile with its red colorant moved: a profile that is not sRGB.
fn wide_gamut_profile(srgb: &[u8]) -> Vec<u8> {
    let mut p = srgb.to_vec();
    let count = u32::from_be_bytes(p[128..132].try_into().unwrap()) as usize;
    for i in 0..count {
        let at = 132 + 12 * i;
        if &p[at..at + 4] == b"rXYZ" {
            let off = u32::from_be_bytes(p[at + 4..at + 8].try_into().unwrap()) as usize;
            // X of red: 0.4361 -> 0.5151 (Display P3's red, adapted to D50).
            p[off + 8..off + 12].copy_from_slice(&((0.5151 * 65536.0) as i32).to_be_bytes());
        }
    }
    p
}

fn quantize(dir: &Path, input: &str, out: &str, extra: &[&str]) -> String {
    let o = kmquant()
        .current_dir(dir)
        .args([input, "-k", "16", "--backend", "cpu", "--force", "-o", out])
        .args(extra)
        .assert()
        .success();
    String::from_utf8_lossy(&o.get_output().stderr).into_owned()
}

#[test]
fn an_srgb_profile_becomes_the_srgb_chunk_and_the_density_stays() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let original = std::fs::read(dir.path().join(&input)).unwrap();
    assert!(chunk(&original, "iCCP").is_some() && chunk(&original, "pHYs").is_some());
    quantize(dir.path(), &input, "out.png", &[]);
    let out = std::fs::read(dir.path().join("out.png")).unwrap();
    assert_eq!(chunk(&out, "sRGB"), Some(vec![0]), "{:?}", chunks(&out));
    assert_eq!(chunk(&out, "iCCP"), None);
    assert_eq!(chunk(&out, "pHYs"), chunk(&original, "pHYs"));
    // Before PLTE, as the PNG specification requires.
    let order: Vec<String> = chunks(&out).into_iter().map(|c| c.0).collect();
    assert!(order.iter().position(|k| k == "sRGB") < order.iter().position(|k| k == "PLTE"));
    quantize(dir.path(), &input, "stripped.png", &["--strip"]);
    let stripped = std::fs::read(dir.path().join("stripped.png")).unwrap();
    let kinds: Vec<String> = chunks(&stripped).into_iter().map(|c| c.0).collect();
    assert_eq!(kinds, ["IHDR", "PLTE", "IEND"]);
}

#[test]
fn a_wide_gamut_profile_is_kept_byte_for_byte_in_png_and_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture_copy(dir.path(), "chelsea.png");
    let decoder = png::Decoder::new(std::io::Cursor::new(
        std::fs::read(dir.path().join(&src)).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let profile = wide_gamut_profile(&reader.info().icc_profile.clone().unwrap());
    let (w, h) = (reader.info().width, reader.info().height);
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut rgb).unwrap();
    // The same pixels, tagged with the wide-gamut profile, a gamma and 300 dpi.
    let mut info = png::Info::with_size(w, h);
    info.color_type = png::ColorType::Rgb;
    info.bit_depth = png::BitDepth::Eight;
    info.icc_profile = Some(profile.clone().into());
    info.source_gamma = Some(png::ScaledFloat::from_scaled(45455));
    info.pixel_dims = Some(png::PixelDimensions {
        xppu: 11811,
        yppu: 11811,
        unit: png::Unit::Meter,
    });
    let mut file = Vec::new();
    {
        let mut enc = png::Encoder::with_info(&mut file, info)
            .unwrap()
            .write_header()
            .unwrap();
        enc.write_image_data(&rgb).unwrap();
    }
    std::fs::write(dir.path().join("p3.png"), &file).unwrap();

    quantize(dir.path(), "p3.png", "out.png", &[]);
    let out = std::fs::read(dir.path().join("out.png")).unwrap();
    let back = png::Decoder::new(std::io::Cursor::new(out.clone()))
        .read_info()
        .unwrap();
    assert_eq!(back.info().icc_profile.as_deref(), Some(&profile[..]));
    assert_eq!(back.info().gama_chunk.map(|g| g.into_scaled()), Some(45455));
    assert_eq!(back.info().pixel_dims.map(|d| d.xppu), Some(11811));
    assert_eq!(chunk(&out, "sRGB"), None);

    // JPEG: the profile in APP2, the density as 300 dpi; then back from the JPEG into a PNG.
    quantize(dir.path(), "p3.png", "out.jpg", &[]);
    let jpg = std::fs::read(dir.path().join("out.jpg")).unwrap();
    let mut d = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(&jpg));
    d.decode_headers().unwrap();
    assert_eq!(d.icc_profile().as_deref(), Some(&profile[..]));
    // JFIF APP0 right after SOI: units 1 (dpi), 300 x 300.
    assert_eq!(&jpg[6..11], b"JFIF\0");
    assert_eq!(&jpg[13..18], &[1, 1, 44, 1, 44]);
    quantize(dir.path(), "out.jpg", "again.png", &[]);
    let again = std::fs::read(dir.path().join("again.png")).unwrap();
    let back = png::Decoder::new(std::io::Cursor::new(again))
        .read_info()
        .unwrap();
    assert_eq!(back.info().icc_profile.as_deref(), Some(&profile[..]));
    assert_eq!(
        back.info().pixel_dims.map(|d| (d.xppu, d.yppu)),
        Some((11811, 11811))
    );

    // GIF cannot hold a profile: a warning says so; --strip drops everything and says nothing.
    let err = quantize(dir.path(), "p3.png", "out.gif", &[]);
    assert!(err.contains("GIF cannot hold the input's ICC profile"), "{err}");
    let err = quantize(dir.path(), "p3.png", "s.gif", &["--strip"]);
    assert!(!err.contains("ICC"), "{err}");
    quantize(dir.path(), "p3.png", "s.jpg", &["--strip"]);
    let mut d = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(
        std::fs::read(dir.path().join("s.jpg")).unwrap(),
    ));
    d.decode_headers().unwrap();
    assert_eq!(d.icc_profile(), None);
}
