//! `measure ORIGINAL OUTPUT`: print `{"psnr": dB, "colors": n}` for a quantized image.
//!
//! PSNR is over the R, G and B channels of every pixel against the original;
//! `colors` is the number of distinct RGB colors actually used in OUTPUT.

use std::collections::HashSet;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: measure ORIGINAL OUTPUT");
        return ExitCode::from(2);
    }
    match run(&args[1], &args[2]) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("measure: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(original: &str, output: &str) -> Result<String, String> {
    let a = image::open(original)
        .map_err(|e| format!("{original}: {e}"))?
        .into_rgb8();
    let b = image::open(output)
        .map_err(|e| format!("{output}: {e}"))?
        .into_rgb8();
    if a.dimensions() != b.dimensions() {
        return Err(format!(
            "size mismatch: {original} is {:?}, {output} is {:?}",
            a.dimensions(),
            b.dimensions()
        ));
    }
    let mut sse: u64 = 0;
    for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
        let d = i64::from(*x) - i64::from(*y);
        sse += (d * d) as u64;
    }
    let n = a.as_raw().len() as f64; // pixels * 3 channels
    let mse = sse as f64 / n;
    let psnr = if mse == 0.0 {
        "null".to_string() // identical: infinite PSNR
    } else {
        format!("{:.4}", 10.0 * (255.0f64 * 255.0 / mse).log10())
    };
    let colors: HashSet<[u8; 3]> = b.pixels().map(|p| p.0).collect();
    Ok(format!("{{\"psnr\": {psnr}, \"colors\": {}}}", colors.len()))
}
