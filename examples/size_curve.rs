//! The file size of an image for every palette size K (PNG and GIF) and every JPEG quality, and
//! the largest drop from one value to the next: the data behind `--max-bytes`'s search
//! (src/fit.rs).
//!
//!     cargo run --release --example size_curve -- IMAGE [KMAX] [TSV]
//!
//! With TSV, every K's exact PNG and GIF sizes and their estimates (`kmquant::encode::estimate`,
//! the sampled rows `--max-bytes` encodes) are written there, one line per K:
//! `image, k, png, png_estimate, gif, gif_estimate`; `examples/fit_check.rs` reads them.

use kmquant::encode::{encode, estimate, EncodeOptions, Format};
use kmquant::{BackendChoice, ImageRef, Options, Quantizer};
use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: size_curve IMAGE [KMAX] [TSV]")?;
    let kmax: u32 = args.get(2).map_or(Ok(256), |k| k.parse())?;
    let mut tsv = match args.get(3) {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    let bytes = std::fs::read(path)?;
    let d = kmquant::decode::decode(&bytes, Some(path), &Default::default())?;
    let quantizer = Quantizer::new(Options::new(kmax)?.with_backend(BackendChoice::Cpu))?;
    let prepared = quantizer.prepare(ImageRef::new(d.width, d.height, &d.pixels)?, &mut |_| {})?;
    let enc = EncodeOptions::default();
    let mut curves: Vec<(&str, Vec<u64>)> = vec![("png", Vec::new()), ("gif", Vec::new())];
    for k in 1..=kmax {
        let q = quantizer.quantize_prepared(&prepared, k, &mut |_| {})?;
        let png = encode(&q, Format::Png, &enc)?.len() as u64;
        let gif = encode(&q, Format::Gif, &enc)?.len() as u64;
        if let Some(t) = tsv.as_mut() {
            let pe = estimate(&q, Format::Png, &enc)?;
            let ge = estimate(&q, Format::Gif, &enc)?;
            writeln!(t, "{path}\t{k}\t{png}\t{pe:.0}\t{gif}\t{ge:.0}")?;
        }
        curves[0].1.push(png);
        curves[1].1.push(gif);
    }
    if let Some(mut t) = tsv {
        t.flush()?;
    }
    let q = quantizer.quantize_prepared(&prepared, kmax, &mut |_| {})?;
    let jpeg = (1..=100u8)
        .map(|quality| {
            encode(
                &q,
                Format::Jpeg,
                &EncodeOptions {
                    quality,
                    ..enc.clone()
                },
            )
            .map(|b| b.len() as u64)
        })
        .collect::<Result<Vec<_>, _>>()?;
    curves.push(("jpeg", jpeg));
    for (name, sizes) in &curves {
        let (drop, at) = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| (1.0 - w[1] as f64 / w[0] as f64, i + 2))
            .fold((0.0f64, 0), |a, b| if b.0 > a.0 { b } else { a });
        println!(
            "{path}\t{name}\t{} values\tlargest drop {:.2}% at {at}",
            sizes.len(),
            drop * 100.0
        );
    }
    Ok(())
}
