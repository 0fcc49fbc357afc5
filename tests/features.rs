//! The features beyond the core job: size targets, color-space pictures, palette export,
//! `compare`, batch folders, dithering, Oklab and alpha. Each test can fail.
#![allow(clippy::needless_range_loop)]

mod common;

use common::{fixture_copy, kmquant};
use std::path::Path;

fn json(out: &assert_cmd::assert::Assert) -> serde_json::Value {
    let lines = common::json_lines(&out.get_output().stdout);
    // `compare --json` prints one object; `quantize --json` one per input and a summary.
    if lines.len() == 1 {
        return lines.into_iter().next().unwrap();
    }
    common::file_report(&out.get_output().stdout)
}

fn size_at(input: &str, dir: &Path, k: u32, ext: &str, extra: &[&str]) -> u64 {
    let out = dir.join(format!("probe-{k}.{ext}"));
    kmquant()
        .args([
            input,
            "-k",
            &k.to_string(),
            "-o",
            out.to_str().unwrap(),
            "--force",
            "-q",
            "--backend",
            "cpu",
        ])
        .args(extra)
        .assert()
        .success();
    std::fs::metadata(out).unwrap().len()
}

#[test]
fn max_bytes_picks_the_largest_k_that_fits_and_the_next_k_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let (small, big) = (
        size_at(&input, dir.path(), 8, "png", &[]),
        size_at(&input, dir.path(), 256, "png", &[]),
    );
    let limit = (small + big) / 2;
    let out = dir.path().join("fit.png");
    let a = kmquant()
        .args([
            &input,
            "-k",
            "256",
            "--max-bytes",
            &limit.to_string(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--json", "--backend", "cpu"])
        .assert()
        .success();
    let v = json(&a);
    let k = v["chosen_k"].as_u64().expect("chosen_k") as u32;
    assert!(k > 8 && k < 256, "chose K={k} for {limit} bytes");
    let written = std::fs::metadata(&out).unwrap().len();
    assert!(written <= limit, "{written} > {limit}");
    assert_eq!(written, v["output_bytes"].as_u64().unwrap());
    assert!(
        size_at(&input, dir.path(), k + 1, "png", &[]) > limit,
        "K={} fits too",
        k + 1
    );
}

#[test]
fn max_bytes_for_jpeg_picks_the_highest_quality_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "coffee.png");
    let hi = size_at(&input, dir.path(), 64, "jpg", &["--quality", "95"]);
    let limit = hi * 2 / 3;
    let out = dir.path().join("fit.jpg");
    let a = kmquant()
        .args([
            &input,
            "-k",
            "64",
            "--quality",
            "95",
            "--max-bytes",
            &limit.to_string(),
        ])
        .args(["-o", out.to_str().unwrap(), "--json", "--backend", "cpu"])
        .assert()
        .success();
    let q = json(&a)["chosen_quality"].as_u64().expect("chosen_quality");
    assert!(q < 95 && q > 1, "quality {q}");
    assert!(std::fs::metadata(&out).unwrap().len() <= limit);
    let next = size_at(
        &input,
        dir.path(),
        64,
        "jpg",
        &["--quality", &(q + 1).to_string()],
    );
    assert!(next > limit, "quality {} fits too", q + 1);
}

#[test]
fn max_bytes_that_nothing_meets_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let out = dir.path().join("nope.png");
    let a = kmquant()
        .args([
            &input,
            "--max-bytes",
            "50",
            "-o",
            out.to_str().unwrap(),
            "--backend",
            "cpu",
        ])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("does not fit"), "{err}");
    assert!(!out.exists());
    kmquant()
        .args([&input, "--max-bytes", "12 parsecs"])
        .assert()
        .code(2);
}

#[test]
fn plot_draws_both_clouds_in_the_images_own_colors() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "coffee.png");
    let plot = dir.path().join("plot.png");
    let a = kmquant()
        .args([
            &input,
            "-k",
            "8",
            "--plot",
            plot.to_str().unwrap(),
            "--json",
            "--backend",
            "cpu",
        ])
        .assert()
        .success();
    let v = json(&a);
    let img = image::open(&plot).unwrap().to_rgb8();
    // Two rows (before, after) of three views.
    assert_eq!(img.dimensions(), (1800, 1120));
    let (_, h) = img.dimensions();
    let left: std::collections::HashSet<[u8; 3]> = img
        .enumerate_pixels()
        .filter(|(_, y, _)| *y < h / 2)
        .map(|(_, _, p)| p.0)
        .collect();
    assert!(
        left.len() > 500,
        "the 'before' cloud shows the photo's many colors ({})",
        left.len()
    );
    // Every palette entry is drawn as a disc of its own color in the bottom row.
    let right: std::collections::HashSet<[u8; 3]> = img
        .enumerate_pixels()
        .filter(|(_, y, _)| *y >= h / 2)
        .map(|(_, _, p)| p.0)
        .collect();
    let out = image::open(v["output"].as_str().unwrap()).unwrap().to_rgb8();
    let palette: std::collections::HashSet<[u8; 3]> = out.pixels().map(|p| p.0).collect();
    for c in &palette {
        assert!(right.contains(c), "palette color {c:?} missing from the plot");
    }
}

#[test]
fn palette_exports_in_every_format_and_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (file, order) in [
        ("p.json", "population"),
        ("l.json", "lightness"),
        ("p.gpl", "population"),
        ("p.txt", "population"),
        ("p.png", "population"),
    ] {
        kmquant()
            .args([
                &input,
                "-k",
                "12",
                "--palette",
                &p(file),
                "--palette-order",
                order,
                "-q",
                "--force",
                "--backend",
                "cpu",
            ])
            .assert()
            .success();
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("p.json")).unwrap()).unwrap();
    let colors = doc["colors"].as_array().unwrap();
    assert_eq!(colors.len(), 12);
    let shares: f64 = colors.iter().map(|c| c["share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let counts: Vec<u64> = colors.iter().map(|c| c["count"].as_u64().unwrap()).collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "population order: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<u64>(), 451 * 300);
    let light: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("l.json")).unwrap()).unwrap();
    let ls: Vec<f64> = light["colors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let v: Vec<u8> = c["rgba"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
            common::oklab([v[0], v[1], v[2], v[3]])[0]
        })
        .collect();
    assert!(ls.windows(2).all(|w| w[0] <= w[1]), "lightness order: {ls:?}");
    let gpl = std::fs::read_to_string(p("p.gpl")).unwrap();
    assert!(gpl.starts_with("GIMP Palette\n"));
    assert_eq!(
        gpl.lines().filter(|l| l.contains('#') && l.contains('%')).count(),
        12
    );
    let txt = std::fs::read_to_string(p("p.txt")).unwrap();
    let hexes: Vec<&str> = txt.lines().collect();
    assert_eq!(hexes.len(), 12);
    assert!(hexes.iter().all(|h| h.len() == 7 && h.starts_with('#')));
    assert_eq!(hexes[0], colors[0]["hex"].as_str().unwrap());
    let swatch = image::open(p("p.png")).unwrap().to_rgb8();
    assert_eq!(swatch.width(), 8 * 120);
    let first = &colors[0]["rgba"];
    let c = [0, 1, 2].map(|i| first[i].as_u64().unwrap() as u8);
    assert_eq!(
        swatch.get_pixel(60, 40).0,
        c,
        "first swatch shows the first color"
    );
}

#[test]
fn compare_reports_identical_results_with_exit_0() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    for extra in [&[][..], &["--space", "oklab"][..], &["--dither"][..]] {
        let a = kmquant()
            .args(["compare", &input, "-k", "16", "--json"])
            .args(extra)
            .assert()
            .success();
        let v = json(&a);
        assert_eq!(v["identical"], true, "{extra:?}: {v}");
        assert_eq!(v["differing_pixels"], 0);
        assert_eq!(v["gpu"]["backend"], "gpu");
        assert_eq!(v["cpu"]["backend"], "cpu");
        assert!(v["speed_ratio"].as_f64().unwrap() > 0.0);
        eprintln!("GPU adapter: {}", v["gpu"]["adapter"]);
    }
}

#[test]
fn recursive_batch_writes_every_good_image_reports_each_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    fixture_copy(&root, "chelsea.png");
    fixture_copy(&root.join("a"), "coffee.png");
    std::fs::copy(root.join("chelsea.png"), root.join("a/b/cat.png")).unwrap();
    std::fs::write(root.join("a/notes.txt"), "not an image").unwrap();
    std::fs::write(root.join("a/b/broken.jpg"), b"\xff\xd8\xff broken").unwrap();
    let out_dir = dir.path().join("out/new"); // created by kmquant
    let a = kmquant()
        .args([
            root.to_str().unwrap(),
            "-r",
            "-k",
            "8",
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--json",
        ])
        .args(["--backend", "cpu"])
        .assert()
        .code(1);
    let all = common::json_lines(&a.get_output().stdout);
    let lines = common::file_reports(&a.get_output().stdout);
    assert_eq!(lines.len(), 3, "one JSON line per good file");
    let failed: Vec<&serde_json::Value> = all.iter().filter(|l| l["kind"] == "failed").collect();
    assert_eq!(failed.len(), 1, "and one for the broken one");
    assert!(failed[0]["input"].as_str().unwrap().ends_with("broken.jpg"));
    assert!(!failed[0]["error"].as_str().unwrap().is_empty());
    let summary = all.last().unwrap();
    assert_eq!(
        (
            summary["files"].as_u64(),
            summary["written"].as_u64(),
            summary["failed"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert_eq!(
        err.lines().count(),
        1,
        "only the broken file is reported, no progress bar off a terminal: {err}"
    );
    assert!(err.contains("broken.jpg"));
    // --out-dir mirrors the tree under the folder given.
    for name in ["chelsea-k8.png", "a/coffee-k8.png", "a/b/cat-k8.png"] {
        assert!(out_dir.join(name).exists(), "{name}");
    }
    // The text mode ends with a summary table.
    let out2 = dir.path().join("out2");
    std::fs::create_dir(&out2).unwrap();
    let a = kmquant()
        .args([
            root.to_str().unwrap(),
            "-r",
            "-k",
            "8",
            "--out-dir",
            out2.to_str().unwrap(),
            "--backend",
            "cpu",
        ])
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(text.contains("summary: 4 files, 3 written, 1 failed"), "{text}");
    // Without --recursive a folder is an error, not a silent skip.
    kmquant()
        .args([root.to_str().unwrap(), "--backend", "cpu"])
        .assert()
        .code(1);
}

fn gradient(w: u32, h: u32) -> Vec<[u8; 4]> {
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 255 / (w - 1)) as u8, (y * 255 / (h - 1)) as u8, 128, 255]
        })
        .collect()
}

#[test]
fn dithering_changes_indices_and_keeps_local_averages_closer() {
    let (w, h) = (128u32, 96u32);
    let px = gradient(w, h);
    let img = kmquant::ImageRef::new(w, h, &px).unwrap();
    let base = kmquant::Options::new(4)
        .unwrap()
        .with_backend(kmquant::BackendChoice::Cpu);
    let plain = kmquant::quantize(img, &base).unwrap();
    let dith = kmquant::quantize(img, &base.clone().with_dither(1.0).unwrap()).unwrap();
    let zero = kmquant::quantize(img, &base.clone().with_dither(0.0).unwrap()).unwrap();
    assert_eq!(zero.indices, plain.indices, "strength 0 is no dithering");
    assert!(dith.palette.len() <= 4);
    assert_ne!(dith.indices, plain.indices);
    // Error of 8x8 block averages: dithering trades pixel error for area fidelity.
    let block_err = |q: &kmquant::Quantized| {
        let mut e = 0.0;
        for by in 0..h / 8 {
            for bx in 0..w / 8 {
                for c in 0..3 {
                    let (mut a, mut b) = (0.0, 0.0);
                    for y in by * 8..by * 8 + 8 {
                        for x in bx * 8..bx * 8 + 8 {
                            let i = (y * w + x) as usize;
                            a += px[i][c] as f64;
                            b += q.palette[q.indices[i] as usize][c] as f64;
                        }
                    }
                    e += ((a - b) / 64.0).powi(2);
                }
            }
        }
        e
    };
    assert!(
        block_err(&dith) * 1.5 < block_err(&plain),
        "{} vs {}",
        block_err(&dith),
        block_err(&plain)
    );
    assert!(dith.mse > plain.mse, "per-pixel error grows with dithering");
    let half = kmquant::quantize(img, &base.with_dither(0.5).unwrap()).unwrap();
    assert_ne!(half.indices, dith.indices);
}

#[test]
fn oklab_clusters_in_oklab_and_lowers_the_perceptual_error() {
    let (w, h, px) = common::fixture("coffee.png");
    let img = kmquant::ImageRef::new(w, h, &px).unwrap();
    let base = kmquant::Options::new(16)
        .unwrap()
        .with_backend(kmquant::BackendChoice::Cpu);
    let srgb = kmquant::quantize(img, &base).unwrap();
    let ok = kmquant::quantize(img, &base.with_space(kmquant::ColorSpace::Oklab)).unwrap();
    assert_ne!(srgb.palette, ok.palette);
    let delta_e = |q: &kmquant::Quantized| {
        px.iter()
            .zip(&q.indices)
            .map(|(p, &i)| {
                let (a, b) = (common::oklab(*p), common::oklab(q.palette[i as usize]));
                ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
            })
            .sum::<f64>()
            / px.len() as f64
    };
    let (e_srgb, e_ok) = (delta_e(&srgb), delta_e(&ok));
    eprintln!(
        "mean Oklab ΔE: srgb {e_srgb:.4}, oklab {e_ok:.4}; PSNR srgb {:.2}, oklab {:.2}",
        srgb.psnr(),
        ok.psnr()
    );
    assert!(
        e_ok < e_srgb,
        "Oklab clustering should lower the Oklab error: {e_ok} vs {e_srgb}"
    );
    assert!(srgb.psnr() > ok.psnr(), "sRGB clustering should win on PSNR");
}

fn rgba_fixture() -> (u32, u32, Vec<[u8; 4]>) {
    let (w, h) = (90u32, 60u32);
    let px = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if x < 30 {
                [x as u8 * 3, y as u8, 200, 0] // fully transparent, with varied hidden RGB
            } else if x < 60 {
                [200, 50, (y * 4) as u8, (x * 4) as u8] // translucent
            } else {
                [(x * 2) as u8, (y * 4) as u8, 30, 255]
            }
        })
        .collect();
    (w, h, px)
}

#[test]
fn alpha_is_kept_and_transparent_pixels_share_one_entry_with_trns() {
    let (w, h, px) = rgba_fixture();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgba.png");
    image::RgbaImage::from_raw(w, h, px.iter().flatten().copied().collect())
        .unwrap()
        .save(&input)
        .unwrap();
    let out = dir.path().join("out.png");
    kmquant()
        .args([
            input.to_str().unwrap(),
            "-k",
            "8",
            "-o",
            out.to_str().unwrap(),
            "-q",
            "--backend",
            "cpu",
        ])
        .assert()
        .success();
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes.windows(4).any(|c| c == b"tRNS"),
        "indexed PNG with alpha carries tRNS"
    );
    let back = image::open(&out).unwrap().to_rgba8();
    let colors: std::collections::HashSet<[u8; 4]> = back.pixels().map(|p| p.0).collect();
    assert!(colors.len() <= 8);
    assert_eq!(
        colors.iter().filter(|c| c[3] == 0).count(),
        1,
        "one transparent entry"
    );
    for (i, p) in back.pixels().enumerate() {
        let src = px[i];
        if src[3] == 0 {
            assert_eq!(p.0[3], 0, "pixel {i} must stay transparent");
        } else {
            assert!(p.0[3] > 0, "pixel {i} must not become transparent");
        }
    }
    assert!(
        colors.iter().any(|c| c[3] > 0 && c[3] < 255),
        "translucent pixels keep partial alpha"
    );
}
