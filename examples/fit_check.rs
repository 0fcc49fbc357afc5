//! Checks `--max-bytes`'s search (src/fit.rs) against trying every K, on any photo: for limits
//! at, just under and just over the PNG and GIF sizes of every few K, and inside every dip where
//! a larger K gives a smaller file, the K the search chooses must be the largest K whose file
//! fits, as the sizes recorded by `examples/size_curve.rs` say.
//!
//!     cargo run --release --example size_curve -- IMAGE 256 curve.tsv
//!     cargo run --release --example fit_check -- IMAGE curve.tsv [STEP]
//!
//! Prints one line per mismatch and a summary; exits 1 on any mismatch.

use kmquant::encode::{EncodeOptions, Format};
use kmquant::{BackendChoice, Error, ImageRef, Options, Quantizer};
use std::collections::BTreeSet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (path, tsv) = match (args.get(1), args.get(2)) {
        (Some(p), Some(t)) => (p, t),
        _ => return Err("usage: fit_check IMAGE CURVE.tsv [STEP]".into()),
    };
    let step: usize = args.get(3).map_or(Ok(8), |s| s.parse())?;
    // k, png, gif
    let mut curve: Vec<(u32, u64, u64)> = Vec::new();
    for line in std::fs::read_to_string(tsv)?.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 6 {
            return Err(format!("{tsv}: not a size_curve table").into());
        }
        curve.push((f[1].parse()?, f[2].parse()?, f[4].parse()?));
    }
    let kmax = curve.iter().map(|c| c.0).max().ok_or("empty curve")?;
    let bytes = std::fs::read(path)?;
    let d = kmquant::decode::decode(&bytes, Some(path), &Default::default())?;
    let quantizer = Quantizer::new(Options::new(kmax)?.with_backend(BackendChoice::Cpu))?;
    let prepared = quantizer.prepare(ImageRef::new(d.width, d.height, &d.pixels)?, &mut |_| {})?;
    let enc = EncodeOptions::default();
    let (mut checked, mut bad) = (0, 0);
    for (format, col) in [(Format::Png, 1), (Format::Gif, 2)] {
        let size = |c: &(u32, u64, u64)| if col == 1 { c.1 } else { c.2 };
        let mut limits = BTreeSet::new();
        for c in curve.iter().step_by(step) {
            limits.extend([size(c) - 1, size(c), size(c) + 1]);
        }
        for w in curve.windows(2) {
            if size(&w[1]) < size(&w[0]) {
                limits.insert(size(&w[0]) - 1);
            }
        }
        for max in limits {
            let want = curve.iter().filter(|c| size(c) <= max).map(|c| c.0).max();
            let got = match quantizer.fit(&prepared, format, &enc, max) {
                Ok(f) => Some(f.value),
                Err(Error::DoesNotFit { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            checked += 1;
            if got != want {
                bad += 1;
                println!("{path}\t{format:?}\tlimit {max}\tchose {got:?}\tevery K: {want:?}");
            }
        }
    }
    println!("{path}: {checked} limits, {bad} mismatches");
    if bad > 0 {
        std::process::exit(1);
    }
    Ok(())
}
