//! `peer TOOL INPUT K OUTPUT`: quantize INPUT to at most K colors with a peer library,
//! without dithering, and write an indexed (palette) PNG.
//!
//! TOOL is `imagequant` (libimagequant, default speed, dithering level 0) or
//! `quantette` (k-means in Oklab, no dithering, parallel).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;

type Error = Box<dyn std::error::Error>;

/// An indexed image ready to be written: row-major palette indices plus an RGB palette.
struct Indexed {
    width: u32,
    height: u32,
    palette: Vec<[u8; 3]>,
    indices: Vec<u8>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: peer imagequant|quantette INPUT K OUTPUT");
        return ExitCode::from(2);
    }
    match run(&args[1], Path::new(&args[2]), &args[3], Path::new(&args[4])) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer {}: {}: {e}", args[1], args[2]);
            ExitCode::FAILURE
        }
    }
}

fn run(tool: &str, input: &Path, k: &str, output: &Path) -> Result<(), Error> {
    let k: u32 = k
        .parse()
        .map_err(|_| format!("K must be an integer, got {k:?}"))?;
    if !(2..=256).contains(&k) {
        return Err(format!("K must be in 2..=256, got {k}").into());
    }
    let quantize = match tool {
        "imagequant" => with_imagequant,
        "quantette" => with_quantette,
        other => return Err(format!("unknown tool {other:?} (imagequant|quantette)").into()),
    };
    let img = image::open(input)?.into_rgba8();
    let indexed = quantize(img, k)?;
    write_png(&indexed, output)
}

fn with_imagequant(img: image::RgbaImage, k: u32) -> Result<Indexed, Error> {
    let (width, height) = img.dimensions();
    let pixels: Vec<imagequant::RGBA> = img
        .pixels()
        .map(|p| imagequant::RGBA::new(p[0], p[1], p[2], p[3]))
        .collect();
    drop(img);
    let mut attr = imagequant::new();
    attr.set_max_colors(k)?;
    let mut liq_img = attr.new_image(pixels, width as usize, height as usize, 0.0)?;
    let mut res = attr.quantize(&mut liq_img)?;
    res.set_dithering_level(0.0)?;
    let (palette, indices) = res.remapped(&mut liq_img)?;
    Ok(Indexed {
        width,
        height,
        palette: palette.iter().map(|c| [c.r, c.g, c.b]).collect(),
        indices,
    })
}

fn with_quantette(img: image::RgbaImage, k: u32) -> Result<Indexed, Error> {
    use quantette::{ImageBuf, PaletteSize, Pipeline, QuantizeMethod};

    // Photos are opaque: drop alpha, quantette works on sRGB8 triples.
    let rgb = image::DynamicImage::ImageRgba8(img).into_rgb8();
    let img = ImageBuf::try_from(rgb)?;
    let size = PaletteSize::try_from(u16::try_from(k)?)?;
    // Pipeline always quantizes in Oklab; k-means is seeded by Wu's method.
    let indexed = Pipeline::new()
        .palette_size(size)
        .ditherer(None)
        .quantize_method(QuantizeMethod::kmeans())
        .parallel(true)
        .input_image(img.as_ref())
        .output_srgb8_indexed_image();
    let (width, height) = indexed.dimensions();
    let (palette, indices) = indexed.into_parts();
    if palette.is_empty() {
        return Err("quantette returned an empty image".into());
    }
    Ok(Indexed {
        width,
        height,
        palette: palette.iter().map(|c| [c.red, c.green, c.blue]).collect(),
        indices,
    })
}

fn write_png(img: &Indexed, output: &Path) -> Result<(), Error> {
    if img.palette.is_empty() || img.palette.len() > 256 {
        return Err(format!("palette has {} colors", img.palette.len()).into());
    }
    let file = BufWriter::new(File::create(output)?);
    let mut enc = png::Encoder::new(file, img.width, img.height);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(img.palette.iter().flatten().copied().collect::<Vec<u8>>());
    let mut writer = enc.write_header()?;
    writer.write_image_data(&img.indices)?;
    writer.finish()?;
    Ok(())
}
