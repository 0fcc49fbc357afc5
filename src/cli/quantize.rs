//! `kmquant quantize`: decode, quantize, encode, write, report; one bad input never stops the rest.

use super::args::{BackendArg, FormatArg, QuantizeArgs};
use super::output::{self, Dest};
use super::report::{ms, psnr_rgb, Report, StageMs};
use anyhow::{Context, Result};
use kmquant::encode::Format;
use kmquant::{BackendChoice, ImageRef, Quantizer};
use std::io::Read;
use std::time::Instant;

pub fn backend_choice(b: BackendArg) -> BackendChoice {
    match b {
        BackendArg::Auto => BackendChoice::Auto,
        BackendArg::Gpu => BackendChoice::Gpu,
        BackendArg::Cpu => BackendChoice::Cpu,
    }
}

/// Reads a whole input: a file, or standard input for `-`.
pub fn read_input(input: &str) -> Result<Vec<u8>> {
    if input == "-" {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading standard input")?;
        return Ok(b);
    }
    let meta = std::fs::metadata(input).map_err(anyhow::Error::from)?;
    if meta.is_dir() {
        anyhow::bail!("is a directory, not an image");
    }
    Ok(std::fs::read(input)?)
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &QuantizeArgs) -> Result<i32> {
    if args.output.is_some() && args.inputs.len() > 1 {
        anyhow::bail!("-o/--output takes one input; use --out-dir for several");
    }
    let opts = args.kmeans.options(backend_choice(args.backend))?;
    let quantizer = Quantizer::new(opts)?;
    let format = args.format.map(|f| match f {
        FormatArg::Png => Format::Png,
        FormatArg::Gif => Format::Gif,
        FormatArg::Jpg => Format::Jpeg,
    });
    let mut failed = 0;
    for input in &args.inputs {
        match one(args, &quantizer, input, format) {
            Ok((report, to_stdout)) => {
                for w in &report.warnings {
                    eprintln!("kmquant: warning: {input}: {w}");
                }
                if args.json {
                    let line = serde_json::to_string(&report)?;
                    if to_stdout {
                        eprintln!("{line}");
                    } else {
                        println!("{line}");
                    }
                } else if !args.quiet {
                    if to_stdout {
                        eprintln!("{}", report.text());
                    } else {
                        println!("{}", report.text());
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("kmquant: {input}: {}", one_line(&e));
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// An error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn one(
    args: &QuantizeArgs,
    quantizer: &Quantizer,
    input: &str,
    format: Option<Format>,
) -> Result<(Report, bool)> {
    let k = args.kmeans.k;
    let (dest, format) = output::plan(input, args.output.as_deref(), args.out_dir.as_deref(), format, k)?;
    output::check(input, &dest, args.force)?;
    let t0 = Instant::now();
    let bytes = read_input(input)?;
    let decoded = kmquant::decode::decode(&bytes, Some(input), args.kmeans.max_pixels)?;
    let decode = t0.elapsed();
    let image = ImageRef::new(decoded.width, decoded.height, &decoded.pixels)?;
    let q = quantizer.quantize(image, &mut |_| {})?;
    let t = Instant::now();
    let enc = kmquant::encode::EncodeOptions {
        quality: args.quality,
        png_level: args.png_level,
    };
    let encoded = kmquant::encode::encode(&q, format, &enc)?;
    let encode = t.elapsed();
    // For JPEG the written pixels are not the palette colors; measure what was written.
    let (mse, psnr) = if format == Format::Jpeg {
        let back = kmquant::decode::decode(&encoded, None, u64::MAX)?;
        let p = psnr_rgb(&decoded.pixels, &back.pixels);
        (255.0f64 * 255.0 / 10f64.powf(p / 10.0), p)
    } else {
        (q.mse, q.psnr())
    };
    output::write(&dest, &encoded, args.force)?;
    let total = t0.elapsed();
    let adapter = match &q.backend.adapter {
        Some(a) => a.to_string(),
        None => format!("{} threads", rayon::current_num_threads()),
    };
    let tm = &q.timings;
    Ok((
        Report {
            input: input.to_string(),
            output: dest.to_string(),
            format,
            width: q.width,
            height: q.height,
            k,
            colors_used: q.palette.len(),
            unique_colors: q.unique_colors,
            backend: q.backend.kind,
            adapter,
            gpu_chunks: q.backend.chunks,
            iterations: q.iterations,
            converged: q.converged,
            mse,
            psnr: psnr.is_finite().then_some(psnr),
            input_bytes: bytes.len() as u64,
            output_bytes: encoded.len() as u64,
            saved_percent: 100.0 * (1.0 - encoded.len() as f64 / bytes.len() as f64),
            timings_ms: StageMs {
                decode: ms(decode),
                histogram: ms(tm.histogram),
                kmeans: ms(tm.setup + tm.seed + tm.kmeans),
                remap: ms(tm.remap),
                encode: ms(encode),
                total: ms(total),
            },
            warnings: q.warnings.clone(),
        },
        dest == Dest::Stdout,
    ))
}
