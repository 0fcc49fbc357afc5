//! Makes a test photo of a given size from a real one, for the scaling benchmark
//! (`bench/scale.sh`): smaller sizes are resized (Lanczos), larger ones are tiled with
//! alternate tiles mirrored so there are no hard seams.
//!
//!     cargo run --release --example scale_input -- INPUT MEGAPIXELS OUTPUT.png

use image::imageops::{self, FilterType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: scale_input INPUT MEGAPIXELS OUTPUT.png".into());
    }
    let src = image::open(&args[1])?.to_rgb8();
    let target: f64 = args[2].parse::<f64>()? * 1e6;
    let (w, h) = (src.width() as f64, src.height() as f64);
    let scale = (target / (w * h)).sqrt();
    let (tw, th) = ((w * scale).round() as u32, (h * scale).round() as u32);
    let out = if scale <= 1.0 {
        imageops::resize(&src, tw, th, FilterType::Lanczos3)
    } else {
        let mut out = image::RgbImage::new(tw, th);
        let (sw, sh) = src.dimensions();
        for ty in 0..th.div_ceil(sh) {
            for tx in 0..tw.div_ceil(sw) {
                let mut tile = src.clone();
                if tx % 2 == 1 {
                    imageops::flip_horizontal_in_place(&mut tile);
                }
                if ty % 2 == 1 {
                    imageops::flip_vertical_in_place(&mut tile);
                }
                imageops::replace(&mut out, &tile, (tx * sw) as i64, (ty * sh) as i64);
            }
        }
        out
    };
    out.save(&args[3])?;
    println!(
        "{} {}x{} ({:.1} MP)",
        args[3],
        out.width(),
        out.height(),
        out.width() as f64 * out.height() as f64 / 1e6
    );
    Ok(())
}
