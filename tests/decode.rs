//! Decoding: every PNG color type (the direct RGBA path and the generic one) gives the pixels the
//! image crate gives, and a JPEG's EXIF orientation is applied.

use image::{DynamicImage, ImageFormat};

fn limit(max_pixels: u64) -> kmquant::decode::DecodeOptions {
    kmquant::decode::DecodeOptions {
        max_pixels,
        ..Default::default()
    }
}

fn encoded(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format).unwrap();
    out
}

fn sample(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 7) as u8, (y * 11) as u8, (x * y) as u8, (x * 3 + y) as u8])
    })
}

#[test]
fn png_in_every_color_type_decodes_to_the_same_rgba_as_the_image_crate() {
    let base = DynamicImage::ImageRgba8(sample(37, 23));
    let variants = [
        base.clone(),
        DynamicImage::ImageRgb8(base.to_rgb8()),
        DynamicImage::ImageLuma8(base.to_luma8()),
        DynamicImage::ImageLumaA8(base.to_luma_alpha8()),
        DynamicImage::ImageRgb16(base.to_rgb16()),
        DynamicImage::ImageRgba16(base.to_rgba16()),
        DynamicImage::ImageLuma16(base.to_luma16()),
    ];
    for img in variants {
        let bytes = encoded(&img, ImageFormat::Png);
        let d = kmquant::decode::decode(&bytes, None, &limit(1 << 20)).unwrap();
        let want = image::load_from_memory(&bytes).unwrap().to_rgba8();
        assert_eq!((d.width, d.height), want.dimensions(), "{:?}", img.color());
        let got: Vec<u8> = d.pixels.iter().flatten().copied().collect();
        assert_eq!(got, want.into_raw(), "{:?}", img.color());
        assert_eq!(
            d.has_alpha(),
            img.color().has_alpha() && d.pixels.iter().any(|p| p[3] != 255)
        );
    }
}

#[test]
fn png_over_the_pixel_limit_is_refused() {
    let bytes = encoded(&DynamicImage::ImageRgba8(sample(40, 30)), ImageFormat::Png);
    let e = kmquant::decode::decode(&bytes, None, &limit(1000)).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
}

/// Inserts an APP1 EXIF segment with Orientation = `o` right after SOI.
fn with_orientation(jpeg: &[u8], o: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec(); // little-endian TIFF, IFD at offset 8
    tiff.extend(1u16.to_le_bytes()); // one entry
    tiff.extend(0x0112u16.to_le_bytes()); // Orientation
    tiff.extend(3u16.to_le_bytes()); // SHORT
    tiff.extend(1u32.to_le_bytes()); // count
    tiff.extend(o.to_le_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    // Left half dark, right half light, 64 x 32.
    let img = image::RgbImage::from_fn(64, 32, |x, _| {
        if x < 32 {
            image::Rgb([20, 20, 20])
        } else {
            image::Rgb([230, 230, 230])
        }
    });
    let jpeg = encoded(&DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
    let plain = kmquant::decode::decode(&jpeg, None, &limit(1 << 20)).unwrap();
    assert_eq!((plain.width, plain.height), (64, 32));
    // Orientation 6: rotate 90 degrees clockwise, so the dark half ends up on top.
    let rotated = kmquant::decode::decode(&with_orientation(&jpeg, 6), None, &limit(1 << 20)).unwrap();
    assert_eq!((rotated.width, rotated.height), (32, 64));
    let top = rotated.pixels[5 * 32 + 16];
    let bottom = rotated.pixels[58 * 32 + 16];
    assert!(top[0] < 80 && bottom[0] > 180, "top {top:?}, bottom {bottom:?}");
}
