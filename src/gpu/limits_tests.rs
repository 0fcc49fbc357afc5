//! The engine on a device created with exactly the portable limit sets: `Limits::default()`
//! (what wgpu guarantees on every Vulkan, Metal and DX12 device) and
//! `Limits::downlevel_defaults()` (every GLES 3.1 device too). lavapipe and llvmpipe offer far
//! more, so without imposing the sets a kernel or a buffer that needs more would pass here and
//! fail on a Mac, a Windows laptop or a phone. Each run must equal the CPU bit for bit, on an
//! image large enough that its pixels need several chunks under these limits. The least set the
//! engine asks for (`needed_limits()`) is imposed too.

use super::adapter;
use super::context::GpuContext;
use super::pixels::pixel_chunk_limit;
use crate::testutil::REQUIRE_GPU;
use crate::{BackendChoice, ImageRef, Options, Quantized, Quantizer};
use std::sync::Arc;

/// The adapter the GPU tests use (honoring `WGPU_BACKEND`), or None (skipped loudly, or a
/// failure under `KMQUANT_REQUIRE_GPU=1`).
fn usable_adapter() -> Option<wgpu::Adapter> {
    let found = adapter::candidates(&adapter::instance(None))
        .into_iter()
        .find(|(_, r)| r.usable);
    match found {
        Some((a, r)) => {
            eprintln!("GPU adapter: {r}");
            Some(a)
        }
        None if std::env::var(REQUIRE_GPU).is_ok_and(|v| v == "1") => {
            panic!("{REQUIRE_GPU}=1 but no usable GPU adapter")
        }
        None => {
            eprintln!("SKIPPED: no usable GPU adapter");
            None
        }
    }
}

/// The portable sets to impose on this adapter: both on Vulkan, Metal and DX12; on GL, the
/// downlevel set (GL is not held to `Limits::default()`).
fn limit_sets(a: &wgpu::Adapter) -> Vec<(&'static str, wgpu::Limits)> {
    let mut sets = vec![("Limits::downlevel_defaults()", wgpu::Limits::downlevel_defaults())];
    if a.get_info().backend != wgpu::Backend::Gl {
        sets.push(("Limits::default()", wgpu::Limits::default()));
    }
    sets
}

/// 6144 x 5504 opaque pixels (33.8 million, above the 32 Mi pixels one 128 MiB binding holds):
/// smooth ramps with a fine pattern, about 150,000 distinct colors.
fn big_image() -> (u32, u32, Vec<[u8; 4]>) {
    let (w, h) = (6144u32, 5504u32);
    let px = (0..h)
        .flat_map(|y| {
            (0..w).map(move |x| {
                let r = (x * 255 / (w - 1)) as u8;
                let g = (y * 255 / (h - 1)) as u8;
                let b = (((x / 3) ^ (y / 5)) & 0x7f) as u8 + (x % 2) as u8 * 64;
                [r, g, b, 255]
            })
        })
        .collect();
    (w, h, px)
}

fn cpu_run(img: ImageRef<'_>, opts: &Options) -> Quantized {
    Quantizer::new(opts.clone().with_backend(BackendChoice::Cpu))
        .expect("cpu quantizer")
        .quantize(img, &mut |_| {})
        .expect("cpu run")
}

#[test]
fn gpu_equals_cpu_on_a_device_created_with_exactly_the_portable_limits() {
    let Some(a) = usable_adapter() else { return };
    let (w, h, px) = big_image();
    let img = ImageRef::new(w, h, &px).unwrap();
    let opts = Options::new(16).unwrap().with_max_iter(4).unwrap();
    let cpu = cpu_run(img, &opts);
    let (fw, fh, photo) = crate::testutil::fixture("chelsea.png");
    let photo_img = ImageRef::new(fw, fh, &photo).unwrap();
    let photo_opts = Options::new(64).unwrap().with_max_iter(8).unwrap();
    let photo_cpu = cpu_run(photo_img, &photo_opts);
    // The least the engine asks for: bindings of 12 KiB and 1,024 workgroups a dispatch, so
    // the photo runs in many chunks and its colors are counted on the CPU.
    let least = Arc::new(
        GpuContext::with_limits(&a, adapter::needed_limits())
            .unwrap_or_else(|e| panic!("needed_limits(): the engine does not open: {e}")),
    );
    let got = Quantizer::with_context(photo_opts.clone(), least)
        .quantize(photo_img, &mut |_| {})
        .unwrap_or_else(|e| panic!("needed_limits(): GPU run failed: {e}"));
    assert!(
        got.backend.gpu_stages.contains(&"kmeans"),
        "{:?}",
        got.backend.gpu_stages
    );
    assert!(got.backend.chunks > 10, "{} chunks", got.backend.chunks);
    assert_eq!(got.palette, photo_cpu.palette, "needed_limits(): palettes differ");
    assert!(
        got.indices == photo_cpu.indices,
        "needed_limits(): indices differ"
    );
    eprintln!(
        "needed_limits(), chelsea, K=64: identical ({} chunks)",
        got.backend.chunks
    );
    for (name, limits) in limit_sets(&a) {
        let ctx = GpuContext::with_limits(&a, limits.clone())
            .unwrap_or_else(|e| panic!("{name}: the engine does not open: {e}"));
        assert!(
            ctx.device.limits() == limits,
            "{name}: the device was not created with exactly this set"
        );
        let per_chunk = pixel_chunk_limit(&ctx.limits, None) as usize;
        assert!(
            px.len() > per_chunk,
            "{name}: {} pixels fit one chunk of {per_chunk}; the test needs several",
            px.len()
        );
        let ctx = Arc::new(ctx);
        for (what, img, opts, want) in [
            ("33.8 MP ramps, K=16", img, &opts, &cpu),
            ("chelsea, K=64", photo_img, &photo_opts, &photo_cpu),
        ] {
            let got = Quantizer::with_context(opts.clone(), ctx.clone())
                .quantize(img, &mut |_| {})
                .unwrap_or_else(|e| panic!("{name}, {what}: GPU run failed: {e}"));
            for stage in ["histogram", "kmeans", "indices"] {
                assert!(
                    got.backend.gpu_stages.contains(&stage),
                    "{name}, {what}: {stage} did not run on the GPU: {:?}",
                    got.backend.gpu_stages
                );
            }
            assert_eq!(got.palette, want.palette, "{name}, {what}: palettes differ");
            assert!(got.indices == want.indices, "{name}, {what}: indices differ");
            assert_eq!(
                got.iterations, want.iterations,
                "{name}, {what}: iterations differ"
            );
            eprintln!(
                "{name}, {what}: identical ({} pixel chunks of at most {per_chunk})",
                img.pixels().len().div_ceil(per_chunk)
            );
        }
    }
}
