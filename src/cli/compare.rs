//! `kmquant compare`: the same job on the GPU and the CPU; exit 3 when they differ.

use super::args::CompareArgs;
use super::inputs::read_input;
use super::report::ms;
use crate::{BackendChoice, ImageRef, Quantized, Quantizer};
use anyhow::Result;
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize)]
struct Side {
    backend: crate::BackendKind,
    adapter: String,
    iterations: u32,
    colors: usize,
    psnr: Option<f64>,
    timings_ms: Stages,
}

#[derive(Serialize)]
struct Stages {
    setup: f64,
    histogram: f64,
    seed: f64,
    kmeans: f64,
    remap: f64,
    total: f64,
}

#[derive(Serialize)]
struct Comparison {
    /// [`super::report::SCHEMA`].
    schema: u32,
    /// "compare".
    kind: &'static str,
    input: String,
    width: u32,
    height: u32,
    k: u32,
    unique_colors: usize,
    identical: bool,
    palettes_equal: bool,
    differing_pixels: u64,
    max_palette_difference: u32,
    gpu: Side,
    cpu: Side,
    /// CPU total time / GPU total time (above 1: the GPU was faster).
    speed_ratio: f64,
}

fn side(q: &Quantized, setup: std::time::Duration, total: std::time::Duration) -> Side {
    let t = &q.timings;
    Side {
        backend: q.backend.kind,
        adapter: q.backend.device_name(),
        iterations: q.iterations,
        colors: q.palette.len(),
        psnr: Some(q.psnr()).filter(|p| p.is_finite()),
        timings_ms: Stages {
            setup: ms(setup),
            histogram: ms(t.histogram),
            seed: ms(t.seed),
            kmeans: ms(t.kmeans),
            remap: ms(t.remap),
            total: ms(total),
        },
    }
}

/// Runs one side; `setup` is the time spent opening the device (the GPU side waits for it).
fn timed(
    opts: crate::Options,
    image: ImageRef<'_>,
) -> Result<(Quantized, std::time::Duration, std::time::Duration)> {
    let t = Instant::now();
    let q = Quantizer::new(opts)?.quantize(image, &mut |_| {})?;
    Ok((q.clone(), q.timings.device, t.elapsed()))
}

/// How two results differ.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub identical: bool,
    pub palettes_equal: bool,
    /// Pixels whose index or color differs.
    pub differing: u64,
    /// Largest channel difference between palette entries at the same index (255 when the
    /// palettes have different lengths).
    pub max_diff: u32,
}

/// Compares two results entry by entry and pixel by pixel.
pub fn verdict(g: &Quantized, c: &Quantized) -> Verdict {
    let differing = g
        .indices
        .iter()
        .zip(&c.indices)
        .filter(|(a, b)| a != b || g.palette.get(**a as usize) != c.palette.get(**b as usize))
        .count() as u64
        + g.indices.len().abs_diff(c.indices.len()) as u64;
    let max_diff = g
        .palette
        .iter()
        .zip(&c.palette)
        .map(|(a, b)| (0..4).map(|i| a[i].abs_diff(b[i]) as u32).max().unwrap_or(0))
        .max()
        .unwrap_or(0)
        .max(if g.palette.len() == c.palette.len() {
            0
        } else {
            255
        });
    let palettes_equal = g.palette == c.palette;
    Verdict {
        identical: palettes_equal && g.indices == c.indices,
        palettes_equal,
        differing,
        max_diff,
    }
}

/// The text report of a comparison over `pixels` pixels.
fn text(cmp: &Comparison, pixels: usize) -> String {
    let mut out = format!("{} ({}x{}, k={})\n", cmp.input, cmp.width, cmp.height, cmp.k);
    for (name, s) in [("gpu", &cmp.gpu), ("cpu", &cmp.cpu)] {
        let t = &s.timings_ms;
        out += &format!(
            "  {name}  {}\n       {} iterations, {} colors, PSNR {}; setup {:.0} ms, histogram {:.0} ms, seed {:.0} ms, k-means {:.0} ms, remap {:.0} ms, total {:.0} ms\n",
            s.adapter,
            s.iterations,
            s.colors,
            s.psnr.map_or("exact".into(), |p| format!("{p:.2} dB")),
            t.setup,
            t.histogram,
            t.seed,
            t.kmeans,
            t.remap,
            t.total
        );
    }
    if cmp.identical {
        out += &format!("  identical: palettes and all {pixels} indices are equal\n");
    } else {
        out += &format!(
            "  DIFFERENT: palettes {}, {} pixels differ, largest palette difference {}\n",
            if cmp.palettes_equal { "equal" } else { "differ" },
            cmp.differing_pixels,
            cmp.max_palette_difference
        );
    }
    out + &format!(
        "  speed: the GPU run took {:.2}x the CPU run's time\n",
        1.0 / cmp.speed_ratio
    )
}

/// Runs the subcommand; returns the exit code (0 identical, 3 different).
pub fn run(args: &CompareArgs) -> Result<i32> {
    let bytes = read_input(&args.input).map_err(|e| anyhow::anyhow!("{}: {e:#}", args.input))?;
    let d = crate::decode::decode(&bytes, Some(&args.input), &args.kmeans.decode_options())
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.input))?;
    let image = ImageRef::new(d.width, d.height, &d.pixels)?;
    let (g, g_setup, g_total) = timed(args.kmeans.options(BackendChoice::Gpu)?, image)?;
    let (c, c_setup, c_total) = timed(args.kmeans.options(BackendChoice::Cpu)?, image)?;
    let Verdict {
        identical,
        palettes_equal,
        differing,
        max_diff,
    } = verdict(&g, &c);
    let cmp = Comparison {
        schema: super::report::SCHEMA,
        kind: "compare",
        input: args.input.clone(),
        width: d.width,
        height: d.height,
        k: args.kmeans.k,
        unique_colors: c.unique_colors,
        identical,
        palettes_equal,
        differing_pixels: differing,
        max_palette_difference: max_diff,
        speed_ratio: c_total.as_secs_f64() / g_total.as_secs_f64(),
        gpu: side(&g, g_setup, g_total),
        cpu: side(&c, c_setup, c_total),
    };
    if args.json {
        println!("{}", serde_json::to_string(&cmp)?);
    } else {
        print!("{}", text(&cmp, g.indices.len()));
    }
    Ok(if identical { 0 } else { 3 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> Quantized {
        let px: Vec<[u8; 4]> = (0..64u32)
            .map(|i| [(i * 4) as u8, (255 - i * 3) as u8, 9, 255])
            .collect();
        let img = ImageRef::new(8, 8, &px).unwrap();
        let opts = crate::Options::new(4).unwrap().with_backend(BackendChoice::Cpu);
        crate::quantize(img, &opts).unwrap()
    }

    #[test]
    fn identical_results_are_identical() {
        let (a, b) = (result(), result());
        assert_eq!(
            verdict(&a, &b),
            Verdict {
                identical: true,
                palettes_equal: true,
                differing: 0,
                max_diff: 0
            }
        );
    }

    #[test]
    fn a_changed_pixel_or_palette_entry_is_reported() {
        let a = result();
        let mut b = result();
        b.indices[5] = (b.indices[5] + 1) % b.palette.len() as u8;
        let v = verdict(&a, &b);
        assert!(!v.identical && v.palettes_equal);
        assert_eq!(v.differing, 1);
        let mut c = result();
        c.palette[0][1] ^= 0x10;
        let v = verdict(&a, &c);
        assert!(!v.identical && !v.palettes_equal);
        assert_eq!(v.max_diff, 0x10);
        assert_eq!(v.differing, a.counts[0]);
    }
}
