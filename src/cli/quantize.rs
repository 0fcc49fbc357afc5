//! `kmquant quantize`: decode, quantize, encode, write, report; one bad input never stops the rest.
//! Inputs are processed one at a time, so memory stays bounded by the largest image.

use super::args::{BackendArg, FormatArg, PaletteOrderArg, QuantizeArgs};
use super::output::{self, Dest};
use super::report::{human_bytes, ms, psnr_rgb, Report, StageMs};
use anyhow::{bail, Context, Result};
use kmquant::encode::{EncodeOptions, Format};
use kmquant::palette::{PaletteFormat, PaletteOrder};
use kmquant::{BackendChoice, ImageRef, Quantized, Quantizer};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
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
        bail!("is a directory, not an image (use --recursive to process the images inside)");
    }
    Ok(std::fs::read(input)?)
}

const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "png", "webp", "tif", "tiff", "bmp", "gif", "jfif"];

/// True for names this tool writes itself (`NAME-kK.ext`), which a recursive walk skips.
fn is_own_output(path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.rsplit_once("-k")
        .is_some_and(|(_, k)| !k.is_empty() && k.chars().all(|c| c.is_ascii_digit()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            && !is_own_output(&p)
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The inputs, with folders expanded (sorted) under --recursive.
fn expand_inputs(args: &QuantizeArgs) -> Vec<(String, Option<anyhow::Error>)> {
    let mut out = Vec::new();
    for input in &args.inputs {
        if args.recursive && input != "-" && Path::new(input).is_dir() {
            let mut files = Vec::new();
            match walk(Path::new(input), &mut files) {
                Ok(()) if files.is_empty() => {
                    out.push((input.clone(), Some(anyhow::anyhow!("no images found"))))
                }
                Ok(()) => out.extend(
                    files
                        .into_iter()
                        .map(|p| (p.to_string_lossy().into_owned(), None)),
                ),
                Err(e) => out.push((input.clone(), Some(e.into()))),
            }
        } else {
            out.push((input.clone(), None));
        }
    }
    out
}

/// An error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &QuantizeArgs) -> Result<i32> {
    let inputs = expand_inputs(args);
    if args.output.is_some() && inputs.len() > 1 {
        bail!("-o/--output takes one input; use --out-dir for several");
    }
    if let Some(d) = &args.out_dir {
        std::fs::create_dir_all(d)
            .with_context(|| format!("cannot create the output folder {}", d.display()))?;
    }
    let opts = args.kmeans.options(backend_choice(args.backend))?;
    let quantizer = Quantizer::new(opts)?;
    let format = args.format.map(|f| match f {
        FormatArg::Png => Format::Png,
        FormatArg::Gif => Format::Gif,
        FormatArg::Jpg => Format::Jpeg,
    });
    let bar = (inputs.len() > 1 && !args.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(inputs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files, {elapsed} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let (mut failed, mut done, mut bytes_in, mut bytes_out) = (0usize, 0usize, 0u64, 0u64);
    let several = inputs.len() > 1;
    for (input, pre_error) in &inputs {
        if let Some(b) = &bar {
            b.set_message(input.clone());
        }
        let result = match pre_error {
            Some(e) => Err(anyhow::anyhow!("{e:#}")),
            None => one(args, &quantizer, input, format, several),
        };
        let print = |line: String, to_stdout: bool| match &bar {
            Some(b) => b.suspend(|| {
                if to_stdout {
                    eprintln!("{line}")
                } else {
                    println!("{line}")
                }
            }),
            None if to_stdout => eprintln!("{line}"),
            None => println!("{line}"),
        };
        match result {
            Ok((report, to_stdout)) => {
                done += 1;
                bytes_in += report.input_bytes;
                bytes_out += report.output_bytes;
                for w in &report.warnings {
                    print(format!("kmquant: warning: {input}: {w}"), true);
                }
                if args.json {
                    print(serde_json::to_string(&report)?, to_stdout);
                } else if !args.quiet {
                    print(report.text(), to_stdout);
                }
            }
            Err(e) => {
                failed += 1;
                let line = format!("kmquant: {input}: {}", one_line(&e));
                match &bar {
                    Some(b) => b.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if several && !args.json && !args.quiet {
        let saved = if bytes_in > 0 {
            100.0 * (1.0 - bytes_out as f64 / bytes_in as f64)
        } else {
            0.0
        };
        println!(
            "\nsummary: {} files, {} written, {} failed; {} -> {} ({saved:.0}% smaller)",
            inputs.len(),
            done,
            failed,
            human_bytes(bytes_in),
            human_bytes(bytes_out)
        );
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// `path` as given for one input; with several inputs, `-STEM` goes before the extension.
fn side_path(path: &str, input: &str, several: bool) -> PathBuf {
    if !several {
        return PathBuf::from(path);
    }
    let p = Path::new(path);
    let stem = Path::new(input)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stdin");
    let name = match (
        p.file_stem().and_then(|s| s.to_str()),
        p.extension().and_then(|e| e.to_str()),
    ) {
        (Some(s), Some(e)) => format!("{s}-{stem}.{e}"),
        (Some(s), None) => format!("{s}-{stem}"),
        _ => stem.to_string(),
    };
    p.with_file_name(name)
}

/// The chosen encoding under --max-bytes: the bytes, and the K or quality that was picked.
struct Fitted {
    q: Quantized,
    bytes: Vec<u8>,
    chosen_k: Option<u32>,
    chosen_quality: Option<u8>,
}

/// Largest K (PNG/GIF) or highest quality (JPEG) whose output fits in `max` bytes, by bisection.
/// The histogram is counted once; JPEG reuses one quantization for every quality it tries.
fn fit(
    quantizer: &Quantizer,
    image: ImageRef<'_>,
    format: Format,
    enc: EncodeOptions,
    kmax: u32,
    max: u64,
) -> Result<Fitted> {
    let prepared = quantizer.prepare(image, &mut |_| {});
    if format == Format::Jpeg {
        let q = quantizer.quantize_prepared(&prepared, kmax, &mut |_| {})?;
        let try_q = |quality: u8| kmquant::encode::encode(&q, format, &EncodeOptions { quality, ..enc });
        let (mut lo, mut hi) = (1u8, enc.quality);
        let mut best = try_q(lo)?;
        if best.len() as u64 > max {
            bail!(
                "does not fit in {max} bytes even at JPEG quality 1 ({} bytes)",
                best.len()
            );
        }
        // Invariant: quality `lo` fits.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let b = try_q(mid)?;
            if b.len() as u64 <= max {
                lo = mid;
                best = b;
            } else {
                hi = mid - 1;
            }
        }
        return Ok(Fitted {
            q,
            bytes: best,
            chosen_k: None,
            chosen_quality: Some(lo),
        });
    }
    let attempt = |k: u32| -> Result<(Quantized, Vec<u8>)> {
        let q = quantizer.quantize_prepared(&prepared, k, &mut |_| {})?;
        let b = kmquant::encode::encode(&q, format, &enc)?;
        Ok((q, b))
    };
    let top = attempt(kmax)?;
    if top.1.len() as u64 <= max {
        return Ok(Fitted {
            q: top.0,
            bytes: top.1,
            chosen_k: Some(kmax),
            chosen_quality: None,
        });
    }
    let mut best = attempt(1)?;
    if best.1.len() as u64 > max {
        bail!(
            "does not fit in {max} bytes even with 1 color ({} bytes)",
            best.1.len()
        );
    }
    // Invariant: `lo` fits, `hi + 1` does not.
    let (mut lo, mut hi) = (1u32, kmax - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let r = attempt(mid)?;
        if r.1.len() as u64 <= max {
            lo = mid;
            best = r;
        } else {
            hi = mid - 1;
        }
    }
    Ok(Fitted {
        q: best.0,
        bytes: best.1,
        chosen_k: Some(lo),
        chosen_quality: None,
    })
}

fn one(
    args: &QuantizeArgs,
    quantizer: &Quantizer,
    input: &str,
    format: Option<Format>,
    several: bool,
) -> Result<(Report, bool)> {
    let k = args.kmeans.k;
    let (dest, format) = output::plan(input, args.output.as_deref(), args.out_dir.as_deref(), format, k)?;
    output::check(input, &dest, args.force)?;
    let plot = args.plot.as_deref().map(|p| side_path(p, input, several));
    let palette = match args.palette.as_deref() {
        Some(p) => {
            let f = PaletteFormat::from_path(p)
                .with_context(|| format!("--palette {p}: use a .png, .json, .gpl or .txt name"))?;
            Some((side_path(p, input, several), f))
        }
        None => None,
    };
    for side in plot.iter().chain(palette.iter().map(|(p, _)| p)) {
        output::check(input, &Dest::File(side.clone()), args.force)?;
    }
    let t0 = Instant::now();
    let bytes = read_input(input)?;
    let decoded = kmquant::decode::decode(&bytes, Some(input), args.kmeans.max_pixels)?;
    let decode = t0.elapsed();
    let image = ImageRef::new(decoded.width, decoded.height, &decoded.pixels)?;
    let enc = EncodeOptions {
        quality: args.quality,
        png_level: args.png_level,
    };
    let t = Instant::now();
    let fitted = match args.max_bytes {
        Some(max) => fit(quantizer, image, format, enc, k, max)?,
        None => {
            let q = quantizer.quantize(image, &mut |_| {})?;
            let bytes = kmquant::encode::encode(&q, format, &enc)?;
            Fitted {
                q,
                bytes,
                chosen_k: None,
                chosen_quality: None,
            }
        }
    };
    let work = t.elapsed();
    let Fitted {
        q,
        bytes: encoded,
        chosen_k,
        chosen_quality,
    } = fitted;
    let tm = &q.timings;
    let quantize_time = tm.histogram + tm.setup + tm.seed + tm.kmeans + tm.remap;
    let encode = work.saturating_sub(quantize_time);
    // For JPEG the written pixels are not the palette colors; measure what was written.
    let (mse, psnr) = if format == Format::Jpeg {
        let back = kmquant::decode::decode(&encoded, None, u64::MAX)?;
        let p = psnr_rgb(&decoded.pixels, &back.pixels);
        (255.0f64 * 255.0 / 10f64.powf(p / 10.0), p)
    } else {
        (q.mse, q.psnr())
    };
    output::write(&dest, &encoded, args.force)?;
    if let Some(p) = &plot {
        let png = kmquant::plot::color_space(&decoded.pixels, &q, 6000)?;
        output::write(&Dest::File(p.clone()), &png, args.force)?;
    }
    if let Some((p, f)) = &palette {
        let order = match args.palette_order {
            PaletteOrderArg::Population => PaletteOrder::Population,
            PaletteOrderArg::Lightness => PaletteOrder::Lightness,
        };
        let name = Path::new(input)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("kmquant");
        let data = kmquant::palette::export(&q, *f, order, name)?;
        output::write(&Dest::File(p.clone()), &data, args.force)?;
    }
    let total = t0.elapsed();
    let adapter = match &q.backend.adapter {
        Some(a) => a.to_string(),
        None => format!("{} threads", rayon::current_num_threads()),
    };
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
            max_bytes: args.max_bytes,
            chosen_k,
            chosen_quality,
            plot: plot.map(|p| p.to_string_lossy().into_owned()),
            palette: palette.map(|(p, _)| p.to_string_lossy().into_owned()),
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
