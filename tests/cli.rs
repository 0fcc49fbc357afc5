//! The command line: every output format decodes back at the right size with at most K colors
//! and a PSNR above a floor, `--json` holds every key, several inputs survive one bad one, and
//! `--backend gpu` writes the same bytes as `--backend cpu`.

mod common;

use common::{fixture_copy, kmquant};
use std::collections::HashSet;

fn psnr(a: &[[u8; 4]], b: &[[u8; 4]]) -> f64 {
    let sse: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (0..3).map(|i| (x[i] as f64 - y[i] as f64).powi(2)).sum::<f64>())
        .sum();
    10.0 * (255.0f64.powi(2) / (sse / (3.0 * a.len() as f64))).log10()
}

#[test]
fn each_output_format_decodes_at_the_right_size_with_at_most_k_colors() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let (w, h, orig) = common::load(&input);
    // (extension, K, PSNR floor in dB, whether the color count is bounded by K)
    for (ext, k, floor, bounded) in [
        ("png", 16, 28.0, true),
        ("png", 2, 18.0, true),
        ("png", 256, 38.0, true),
        ("gif", 32, 30.0, true),
        ("jpg", 16, 26.0, false),
    ] {
        let out = dir.path().join(format!("out-{k}.{ext}"));
        kmquant()
            .args([
                &input,
                "-k",
                &k.to_string(),
                "-o",
                out.to_str().unwrap(),
                "--backend",
                "cpu",
                "-q",
            ])
            .assert()
            .success();
        let (ow, oh, px) = common::load(out.to_str().unwrap());
        assert_eq!((ow, oh), (w, h), "{ext}: size");
        let colors: HashSet<[u8; 4]> = px.iter().copied().collect();
        if bounded {
            assert!(colors.len() <= k, "{ext}: {} colors for k={k}", colors.len());
        }
        let p = psnr(&orig, &px);
        assert!(p > floor, "{ext} k={k}: PSNR {p:.2} under {floor}");
        if ext == "png" {
            // Indexed at the smallest depth: byte 24 is the bit depth, byte 25 the color type.
            let bytes = std::fs::read(&out).unwrap();
            assert_eq!(bytes[25], 3, "color type must be indexed");
            assert_eq!(bytes[24], kmquant::encode::bit_depth(colors.len()));
        }
    }
}

#[test]
fn json_report_parses_and_holds_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "coffee.png");
    let out = kmquant()
        .args([&input, "-k", "8", "--json", "--backend", "cpu"])
        .assert()
        .success();
    let v = common::file_report(&out.get_output().stdout);
    for key in [
        "input",
        "output",
        "width",
        "height",
        "k",
        "colors_used",
        "backend",
        "adapter",
        "iterations",
        "converged",
        "mse",
        "psnr",
        "input_bytes",
        "output_bytes",
        "saved_percent",
        "timings_ms",
    ] {
        assert!(v.get(key).is_some(), "missing key {key}");
    }
    for key in [
        "device_wait",
        "decode",
        "histogram",
        "kmeans",
        "remap",
        "encode",
        "total",
    ] {
        assert!(v["timings_ms"][key].is_number(), "missing timings_ms.{key}");
    }
    assert!(
        v["timings_ms"]["device_start"].is_null(),
        "no device on --backend cpu"
    );
    assert_eq!(v["gpu_stages"], serde_json::json!([]));
    assert_eq!(v["width"], 600);
    assert_eq!(v["k"], 8);
    assert_eq!(v["backend"], "cpu");
    let out_path = v["output"].as_str().unwrap();
    assert!(
        out_path.ends_with("coffee-k8.png"),
        "default name beside the input: {out_path}"
    );
    assert_eq!(
        std::fs::metadata(out_path).unwrap().len(),
        v["output_bytes"].as_u64().unwrap()
    );
    assert!(v["psnr"].as_f64().unwrap() > 20.0);
}

#[test]
fn text_report_says_size_saved_psnr_iterations_backend_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let out = kmquant()
        .args([&input, "-k", "16", "--backend", "cpu"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for needle in [
        "% smaller",
        "PSNR",
        "colors used",
        "iteration",
        "cpu:",
        "decode",
        "encode",
        "total",
    ] {
        assert!(text.contains(needle), "report lacks '{needle}':\n{text}");
    }
}

#[test]
fn bare_input_without_the_word_quantize_works_and_stdin_to_stdout_works() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    kmquant()
        .args([&input, "-k", "4", "-q", "--backend", "cpu"])
        .assert()
        .success();
    assert!(dir.path().join("chelsea-k4.png").exists());
    let bytes = std::fs::read(&input).unwrap();
    let out = kmquant()
        .args(["-", "-k", "4", "-q", "--backend", "cpu"])
        .write_stdin(bytes)
        .assert()
        .success();
    let png = &out.get_output().stdout;
    let img = image::load_from_memory(png).expect("a PNG on stdout");
    assert_eq!((img.width(), img.height()), (451, 300));
}

#[test]
fn several_inputs_with_one_bad_write_the_good_ones_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture_copy(dir.path(), "chelsea.png");
    let b = fixture_copy(dir.path(), "coffee.png");
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"not an image at all").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = kmquant()
        .args([
            &a,
            bad.to_str().unwrap(),
            &b,
            "-k",
            "8",
            "--out-dir",
            out_dir.to_str().unwrap(),
            "-q",
        ])
        .args(["--backend", "cpu"])
        .assert()
        .code(1);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line for the one failure: {err}");
    assert!(err.contains("broken.png"));
    assert!(out_dir.join("chelsea-k8.png").exists());
    assert!(out_dir.join("coffee-k8.png").exists());
    assert!(!out_dir.join("broken-k8.png").exists());
}

#[test]
fn gpu_and_cpu_backends_write_byte_identical_files() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "coffee.png");
    for (k, ext) in [("16", "png"), ("200", "png"), ("32", "gif")] {
        let mut files = Vec::new();
        for backend in ["gpu", "cpu"] {
            let out = dir.path().join(format!("{backend}-{k}.{ext}"));
            let run = kmquant()
                .args([
                    &input,
                    "-k",
                    k,
                    "--max-iter",
                    "10",
                    "--backend",
                    backend,
                    "--json",
                ])
                .args(["-o", out.to_str().unwrap()])
                .assert()
                .success();
            let v = common::file_report(&run.get_output().stdout);
            assert_eq!(v["backend"], backend);
            if backend == "gpu" {
                eprintln!("GPU adapter: {}", v["adapter"]);
                // Every stage that can run on the GPU did: the pixels stayed there.
                assert_eq!(
                    v["gpu_stages"],
                    serde_json::json!(["histogram", "kmeans", "indices"])
                );
                assert!(v["timings_ms"]["device_start"].as_f64().unwrap() > 0.0);
            }
            files.push(std::fs::read(&out).unwrap());
        }
        assert!(files[0] == files[1], "k={k} {ext}: GPU and CPU files differ");
    }
}

#[cfg(unix)]
#[test]
fn outputs_get_the_usual_file_mode_not_a_private_temp_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let bin = assert_cmd::cargo::cargo_bin("kmquant");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 022; exec '{}' '{input}' -k 4 -q --backend cpu",
            bin.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let mode = std::fs::metadata(dir.path().join("chelsea-k4.png"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

/// Whether this machine has a node through which a hardware GPU could be opened.
fn gpu_device_node() -> bool {
    let any = |dir: &str, prefix: &str| {
        std::fs::read_dir(dir).is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    any("/dev/dri", "renderD") || any("/dev", "nvidia") || std::path::Path::new("/dev/dxg").exists()
}

/// `auto` on a machine without a GPU device node opens nothing, even for a batch large enough to
/// start a device, and even where software adapters (lavapipe) are installed: every report says
/// no device was started.
#[test]
fn auto_without_a_gpu_device_node_starts_no_device() {
    if gpu_device_node() || std::env::var_os("WGPU_BACKEND").is_some_and(|b| b != "vulkan") {
        eprintln!("SKIPPED: this machine has a GPU device node (or WGPU_BACKEND selects another API)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = fixture_copy(dir.path(), "chelsea.png");
    let mut inputs = Vec::new();
    for i in 0..16 {
        let p = dir.path().join(format!("in{i}.png"));
        std::fs::copy(&src, &p).unwrap();
        inputs.push(p.to_str().unwrap().to_string());
    }
    let out = dir.path().join("out");
    let run = kmquant()
        .args(&inputs)
        .args([
            "-k",
            "4",
            "--json",
            "--backend",
            "auto",
            "--out-dir",
            out.to_str().unwrap(),
        ])
        .env_remove("WGPU_BACKEND")
        .assert()
        .success();
    let reports = common::file_reports(&run.get_output().stdout);
    assert_eq!(reports.len(), 16);
    for v in reports {
        assert_eq!(v["backend"], "cpu");
        assert!(v["timings_ms"]["device_start"].is_null(), "{v}");
    }
}

/// A 1500 x 1000 photo-like image (the chelsea fixture, tiled and mirrored): large enough for
/// several deflate bands (256 KiB each) and several dither bands (128 rows each).
fn large_photo(dir: &std::path::Path) -> String {
    let (w, h, px) = common::load(&format!(
        "{}/tests/fixtures/chelsea.png",
        env!("CARGO_MANIFEST_DIR")
    ));
    let img = image::RgbaImage::from_fn(1500, 1000, |x, y| {
        let (tx, ty) = (x / w, y / h);
        let sx = if tx % 2 == 0 { x % w } else { w - 1 - x % w };
        let sy = if ty % 2 == 0 { y % h } else { h - 1 - y % h };
        image::Rgba(px[(sy * w + sx) as usize])
    });
    let path = dir.join("large.png");
    img.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn run_bias_makes_smaller_png_and_gif_files_for_a_little_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_copy(dir.path(), "chelsea.png");
    let (_, _, orig) = common::load(&input);
    for ext in ["png", "gif"] {
        let mut got = Vec::new();
        for bias in ["0", "15"] {
            let out = dir.path().join(format!("bias{bias}.{ext}"));
            kmquant()
                .args([&input, "-k", "64", "--run-bias", bias, "--backend", "cpu", "-q"])
                .args(["-o", out.to_str().unwrap()])
                .assert()
                .success();
            let (_, _, px) = common::load(out.to_str().unwrap());
            got.push((std::fs::metadata(&out).unwrap().len(), psnr(&orig, &px), px));
        }
        let ((plain, plain_psnr, nearest), (biased, biased_psnr, _)) = (&got[0], &got[1]);
        assert!(
            (*biased as f64) < *plain as f64 * 0.99,
            "{ext}: {biased} bytes with the run bias against {plain} without"
        );
        assert!(
            biased_psnr < plain_psnr && plain_psnr - biased_psnr < 0.1,
            "{ext}: PSNR {biased_psnr:.3} with the run bias against {plain_psnr:.3}"
        );
        // Without the bias, every pixel has its nearest palette color.
        let palette: HashSet<[u8; 4]> = nearest.iter().copied().collect();
        let e = |a: [u8; 4], b: [u8; 4]| (0..3).map(|i| (a[i] as i32 - b[i] as i32).pow(2)).sum::<i32>();
        for (o, q) in orig.iter().zip(nearest) {
            let best = palette.iter().map(|&c| e(*o, c)).min().unwrap();
            assert_eq!(e(*o, *q), best, "{ext}: a pixel is not on its nearest color");
        }
    }
}

#[test]
fn every_output_is_the_same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = large_photo(dir.path());
    for (ext, extra) in [
        ("png", &["-k", "200"][..]),
        ("png", &["-k", "12", "--dither"][..]),
        (
            "png",
            &[
                "-k",
                "64",
                "--space",
                "oklab",
                "--dither",
                "--dither-strength",
                "0.7",
            ][..],
        ),
        ("gif", &["-k", "32"][..]),
        ("jpg", &["-k", "48"][..]),
    ] {
        let mut outputs = Vec::new();
        for threads in ["1", "2", "5"] {
            let out = dir.path().join(format!("t{threads}.{ext}"));
            kmquant()
                .args([
                    &input,
                    "-o",
                    out.to_str().unwrap(),
                    "--backend",
                    "cpu",
                    "-q",
                    "--force",
                ])
                .args(extra)
                .env("RAYON_NUM_THREADS", threads)
                .assert()
                .success();
            outputs.push(std::fs::read(&out).unwrap());
        }
        assert!(
            outputs[0] == outputs[1] && outputs[1] == outputs[2],
            "{ext} {extra:?}: the bytes depend on the thread count"
        );
    }
}

#[test]
fn a_batch_writes_the_same_files_and_reports_in_input_order_whatever_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let large = large_photo(dir.path());
    let inputs = [
        large.clone(),
        fixture_copy(dir.path(), "chelsea.png"),
        fixture_copy(dir.path(), "coffee.png"),
    ];
    let mut runs = Vec::new();
    for jobs in ["1", "3"] {
        let out = dir.path().join(format!("out{jobs}"));
        let run = kmquant()
            .args(&inputs)
            .args([
                "-k",
                "16",
                "--json",
                "--backend",
                "cpu",
                "--jobs",
                jobs,
                "--out-dir",
                out.to_str().unwrap(),
            ])
            .assert()
            .success();
        let order: Vec<String> = common::file_reports(&run.get_output().stdout)
            .iter()
            .map(|v| v["input"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(order, inputs, "--jobs {jobs}: reports out of input order");
        let files: Vec<Vec<u8>> = ["large-k16.png", "chelsea-k16.png", "coffee-k16.png"]
            .iter()
            .map(|n| std::fs::read(out.join(n)).unwrap())
            .collect();
        runs.push(files);
    }
    assert!(runs[0] == runs[1], "--jobs changes the files");
}

/// The distinct colors of a decoded file, every fully transparent pixel counted as one.
fn colors_in(path: &std::path::Path) -> usize {
    let img = image::open(path).unwrap().to_rgba8();
    let set: HashSet<[u8; 4]> = img
        .pixels()
        .map(|p| if p.0[3] == 0 { [0; 4] } else { p.0 })
        .collect();
    set.len()
}

#[test]
fn the_report_describes_the_file_as_written() {
    let dir = tempfile::tempdir().unwrap();
    // Eight colors, every pixel at alpha 128: GIF cannot keep that alpha.
    let colors = [
        [200u8, 10, 10],
        [10, 200, 10],
        [10, 10, 200],
        [200, 200, 10],
        [10, 200, 200],
        [200, 10, 200],
        [90, 90, 90],
        [250, 250, 250],
    ];
    let img = image::RgbaImage::from_fn(64, 48, |x, y| {
        let c = colors[((x / 8 + y / 8) % 8) as usize];
        image::Rgba([c[0], c[1], c[2], 128])
    });
    let input = dir.path().join("half.png");
    img.save(&input).unwrap();
    let run = |ext: &str| {
        let out = dir.path().join(format!("out.{ext}"));
        let a = kmquant()
            .args([
                input.to_str().unwrap(),
                "-k",
                "16",
                "--json",
                "--backend",
                "cpu",
                "--force",
                "-o",
            ])
            .arg(&out)
            .assert()
            .success();
        (common::file_report(&a.get_output().stdout), out)
    };
    let (png, _) = run("png");
    assert_eq!(png["exact"], true, "PNG keeps alpha 128 in tRNS: {png}");
    let (gif, gif_path) = run("gif");
    assert_eq!(gif["exact"], false, "GIF made alpha 128 opaque: {gif}");
    assert!(gif["alpha_mse"].as_f64().unwrap() > 1000.0, "{gif}");
    assert_eq!(
        gif["colors_used"].as_u64().unwrap() as usize,
        colors_in(&gif_path)
    );
    // A JPEG of a photo: its colors are the decoded file's, not the palette's.
    let photo = fixture_copy(dir.path(), "coffee.png");
    let out = dir.path().join("photo.jpg");
    let a = kmquant()
        .args([
            &photo,
            "-k",
            "8",
            "--json",
            "--backend",
            "cpu",
            "-o",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let jpeg = common::file_report(&a.get_output().stdout);
    let decoded = colors_in(&out);
    assert!(decoded > 8, "JPEG smears the 8 colors");
    assert_eq!(jpeg["colors_used"].as_u64().unwrap() as usize, decoded);
    assert_eq!(jpeg["exact"], false);
}

/// `kmquant adapters --json` says for every adapter whether the engine runs there and, if not,
/// why; `auto` points at a usable hardware adapter or nowhere. In text, one line per adapter
/// says the same.
#[test]
fn adapters_say_what_will_run_and_why_not() {
    let out = kmquant().args(["adapters", "--json"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["kind"], "adapters");
    let all = v["adapters"].as_array().unwrap();
    if all.is_empty() {
        assert!(
            std::env::var(common::REQUIRE_GPU).map_or(true, |v| v != "1"),
            "no adapters listed under {}=1",
            common::REQUIRE_GPU
        );
    }
    for a in all {
        let usable = a["usable"].as_bool().expect("usable is a boolean");
        let missing = a["missing_limits"].as_array().expect("missing_limits").len()
            + a["missing_features"].as_array().expect("missing_features").len();
        assert!(a["open_error"].is_null() || a["open_error"].is_string(), "{a}");
        if usable {
            assert_eq!(missing, 0, "{a}");
            assert!(a["reason"].is_null() && a["open_error"].is_null(), "{a}");
            let e = &a["engine"];
            assert!(e["pixels_per_chunk"].as_u64().unwrap() >= 1024, "{a}");
            assert!(e["colors_per_chunk"].as_u64().unwrap() >= 1024, "{a}");
            assert!(e["storage_binding_bytes"].as_u64().unwrap() >= 8192, "{a}");
            assert!(e["histogram_on_device"].is_boolean(), "{a}");
        } else {
            assert!(a["reason"].is_string(), "{a}");
            assert!(
                missing > 0 || a["open_error"].is_string(),
                "an unusable adapter says why: {a}"
            );
            assert!(a["engine"].is_null(), "{a}");
        }
        for m in a["missing_limits"].as_array().unwrap() {
            assert!(
                m["name"].is_string() && m["have"].as_u64() < m["need"].as_u64(),
                "{m}"
            );
        }
    }
    if let Some(i) = v["auto"].as_u64() {
        let a = &all[i as usize];
        assert!(a["usable"] == true && a["device_type"] != "Cpu", "auto picks {a}");
    }
    let text = kmquant().arg("adapters").assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    let verdicts = text
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("runs kmquant:") || l.trim_start().starts_with("cannot run kmquant:")
        })
        .count();
    assert_eq!(verdicts, all.len(), "one verdict line per adapter:\n{text}");
}

#[test]
fn kmquant_log_prints_the_drivers_log_and_refuses_an_unknown_level() {
    // `kmquant adapters` with KMQUANT_LOG set to `level`, or unset: (exit code, stderr).
    let adapters = |level: Option<&str>| {
        let mut cmd = kmquant();
        cmd.arg("adapters");
        match level {
            Some(l) => cmd.env("KMQUANT_LOG", l),
            None => cmd.env_remove("KMQUANT_LOG"),
        };
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = adapters(Some("debug"));
    assert_eq!(code, Some(0), "{err}");
    // "kmquant log: 0.021s DEBUG wgpu_core::instance: ...": the seconds since start, the level,
    // where the record comes from.
    let from_wgpu = |l: &str| {
        let Some(rest) = l.strip_prefix("kmquant log: ") else {
            return false;
        };
        let mut words = rest.split(' ');
        let seconds = words
            .next()
            .and_then(|t| t.strip_suffix('s'))
            .and_then(|t| t.parse::<f64>().ok());
        seconds.is_some()
            && words.next() == Some("DEBUG")
            && words.next().is_some_and(|w| w.starts_with("wgpu"))
    };
    assert!(err.lines().any(from_wgpu), "{err}");
    let (code, err) = adapters(Some("loud"));
    assert_eq!(code, Some(2));
    assert_eq!(
        err.trim(),
        "kmquant: KMQUANT_LOG=loud is not a level: use error, warn, info, debug or trace"
    );
    // Without it, nothing of the kind.
    let (_, err) = adapters(None);
    assert!(!err.contains("kmquant log:"));
}
