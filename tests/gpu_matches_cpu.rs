//! GPU and CPU give the same palette and the same indices, bit for bit, through the public API.
//! (The kernels against their CPU twins, sums and labels, are unit tests in `src/gpu/tests.rs`.)
//!
//! These run on whatever adapter wgpu picks (lavapipe in CI; `WGPU_BACKEND=gl` for llvmpipe GL).
//! With `KMQUANT_REQUIRE_GPU=1` a missing adapter fails the test instead of skipping it.

mod common;

use common::{fixture, gpu, synthetic};
use kmquant::{BackendChoice, GpuContext, ImageRef, Options, Quantized, Quantizer};
use std::sync::Arc;

fn both(ctx: &Arc<GpuContext>, w: u32, h: u32, px: &[[u8; 4]], opts: Options) -> (Quantized, Quantized) {
    let opts_dither = opts.dither();
    let img = ImageRef::new(w, h, px).expect("valid image");
    let cpu = Quantizer::new(opts.clone().with_backend(BackendChoice::Cpu))
        .expect("cpu")
        .quantize(img, &mut |_| {})
        .expect("cpu run");
    let gpu = Quantizer::with_context(opts.with_backend(BackendChoice::Gpu), ctx.clone())
        .quantize(img, &mut |_| {})
        .expect("gpu run");
    assert_eq!(
        gpu.backend.kind,
        kmquant::BackendKind::Gpu,
        "the GPU must actually run"
    );
    // Which stages ran there: the histogram and the per-pixel indices for opaque images (the
    // indices only without dithering), k-means whenever there was something to cluster.
    let opaque = px.iter().all(|p| p[3] == 255);
    let stages = &gpu.backend.gpu_stages;
    assert_eq!(stages.contains(&"histogram"), opaque, "{stages:?}");
    assert_eq!(stages.contains(&"kmeans"), gpu.iterations > 0, "{stages:?}");
    assert_eq!(
        stages.contains(&"indices"),
        opaque && (opts_dither == 0.0 || gpu.iterations == 0),
        "{stages:?}"
    );
    assert!(gpu.warnings.is_empty(), "unexpected warnings: {:?}", gpu.warnings);
    (cpu, gpu)
}

fn assert_identical(what: &str, cpu: &Quantized, gpu: &Quantized) {
    assert_eq!(cpu.palette, gpu.palette, "{what}: palettes differ");
    assert_eq!(cpu.counts, gpu.counts, "{what}: counts differ");
    let differing = cpu
        .indices
        .iter()
        .zip(&gpu.indices)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 0, "{what}: {differing} indices differ");
    assert_eq!(cpu.indices.len(), gpu.indices.len());
    assert_eq!(cpu.iterations, gpu.iterations, "{what}: iterations differ");
    assert_eq!(cpu.objective, gpu.objective, "{what}: objectives differ");
    eprintln!(
        "{what}: identical; {} colors, {} iterations, converged {}, PSNR {:.2} dB",
        gpu.palette.len(),
        gpu.iterations,
        gpu.converged,
        gpu.psnr()
    );
}

#[test]
fn gpu_palette_and_indices_equal_cpu_on_synthetic_images_for_k_1_2_16_64_256() {
    let Some(ctx) = gpu() else { return };
    let (w, h) = (160, 120);
    let px = synthetic(w, h, 7);
    for k in [1, 2, 16, 64, 256] {
        let opts = Options::new(k).unwrap().with_max_iter(12).unwrap();
        let (c, g) = both(&ctx, w, h, &px, opts);
        assert!(g.palette.len() <= k as usize && !g.palette.is_empty());
        assert_identical(&format!("synthetic k={k}"), &c, &g);
    }
}

#[test]
fn gpu_palette_and_indices_equal_cpu_on_photos() {
    let Some(ctx) = gpu() else { return };
    for name in ["chelsea.png", "coffee.png"] {
        let (w, h, px) = fixture(name);
        for k in [2, 16, 64, 256] {
            let opts = Options::new(k).unwrap().with_max_iter(8).unwrap();
            let (c, g) = both(&ctx, w, h, &px, opts);
            assert_eq!(g.palette.len(), k as usize, "a photo fills the palette");
            assert_identical(&format!("{name} k={k}"), &c, &g);
        }
    }
}

#[test]
fn gpu_equals_cpu_with_kmeans_plus_plus_seeds() {
    let Some(ctx) = gpu() else { return };
    let (w, h, px) = fixture("chelsea.png");
    for seed in [1, 42] {
        let opts = Options::new(32)
            .unwrap()
            .with_init(kmquant::Init::KMeansPlusPlus)
            .with_seed(seed)
            .with_max_iter(10)
            .unwrap();
        let (c, g) = both(&ctx, w, h, &px, opts);
        assert_identical(&format!("chelsea k++ seed={seed}"), &c, &g);
    }
}

#[test]
fn image_with_fewer_colors_than_k_is_exact_on_both_backends() {
    let Some(ctx) = gpu() else { return };
    let colors = [
        [255, 0, 0, 255],
        [0, 255, 0, 255],
        [0, 0, 255, 255],
        [10, 20, 30, 255],
        [90, 90, 90, 255],
    ];
    let px: Vec<[u8; 4]> = (0..64 * 48)
        .map(|i| colors[(i * 7 / 13) % colors.len()])
        .collect();
    let (c, g) = both(&ctx, 64, 48, &px, Options::new(16).unwrap());
    assert_identical("5 colors, k=16", &c, &g);
    assert_eq!(g.palette.len(), 5);
    assert_eq!(g.mse, 0.0);
    for (i, p) in px.iter().enumerate() {
        assert_eq!(
            g.palette[g.indices[i] as usize], *p,
            "pixel {i} must keep its exact color"
        );
    }
}

#[test]
fn one_color_image_gives_one_entry_on_both_backends() {
    let Some(ctx) = gpu() else { return };
    let px = vec![[12, 34, 56, 255]; 50 * 30];
    for k in [1, 2, 256] {
        let (c, g) = both(&ctx, 50, 30, &px, Options::new(k).unwrap());
        assert_identical(&format!("one color k={k}"), &c, &g);
        assert_eq!(g.palette, vec![[12, 34, 56, 255]]);
        assert!(g.indices.iter().all(|&i| i == 0));
    }
}

#[test]
fn gpu_run_forced_into_several_chunks_equals_cpu() {
    let Some(ctx) = gpu() else { return };
    let (w, h, px) = fixture("chelsea.png");
    let opts = Options::new(24)
        .unwrap()
        .with_max_iter(6)
        .unwrap()
        .with_gpu_chunk_points(4096)
        .unwrap();
    let (c, g) = both(&ctx, w, h, &px, opts);
    assert!(
        g.backend.chunks >= 3,
        "expected several chunks, got {}",
        g.backend.chunks
    );
    eprintln!("chunks: {}", g.backend.chunks);
    assert_identical("chelsea k=24 in chunks of 4096 points", &c, &g);
}

#[test]
fn gpu_equals_cpu_in_oklab_with_dither_and_with_alpha() {
    let Some(ctx) = gpu() else { return };
    let (w, h, px) = fixture("coffee.png");
    let oklab = Options::new(32)
        .unwrap()
        .with_space(kmquant::ColorSpace::Oklab)
        .with_max_iter(10)
        .unwrap();
    let (c, g) = both(&ctx, w, h, &px, oklab.clone());
    assert_identical("coffee oklab k=32", &c, &g);
    let (c, g) = both(&ctx, w, h, &px, oklab.with_dither(0.8).unwrap());
    assert_identical("coffee oklab k=32 dithered", &c, &g);
    // Alpha: transparent left third, translucent middle.
    let px: Vec<[u8; 4]> = px
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = i as u32 % w;
            if x < w / 3 {
                [p[0], p[1], p[2], 0]
            } else if x < 2 * w / 3 {
                [p[0], p[1], p[2], (x * 255 / w) as u8]
            } else {
                *p
            }
        })
        .collect();
    let (c, g) = both(
        &ctx,
        w,
        h,
        &px,
        Options::new(16).unwrap().with_max_iter(10).unwrap(),
    );
    assert_identical("coffee with alpha k=16", &c, &g);
    assert_eq!(g.palette.iter().filter(|c| c[3] == 0).count(), 1);
}
