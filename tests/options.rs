//! What pngquant users reach for: --skip-if-larger, --skip-existing, --ext (and in place), the
//! output-name rule of folder walks, warnings for options that do nothing, errors for options
//! that contradict each other, grouped help, completions and the man page, and one JSON
//! vocabulary across subcommands.

mod common;

use common::{file_report, fixture_copy, json_lines, kmquant};
use std::path::Path;

fn run_ok(dir: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = kmquant()
        .current_dir(dir)
        .args(args)
        .args(["--backend", "cpu", "--json"])
        .assert()
        .success();
    json_lines(&out.get_output().stdout)
}

fn kinds(objects: &[serde_json::Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The file names of the inputs of the objects of one `kind`, sorted.
fn input_names(objects: &[serde_json::Value], kind: &str) -> Vec<String> {
    let mut v: Vec<String> = objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| {
            Path::new(o["input"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

#[test]
fn skip_if_larger_writes_nothing_when_the_output_would_grow() {
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([10, 20, 30]))
        .save(dir.path().join("tiny.png"))
        .unwrap();
    // Without the option the larger JPEG is written.
    run_ok(dir.path(), &["tiny.png", "-o", "a.jpg"]);
    assert!(dir.path().join("a.jpg").exists());
    let objects = run_ok(dir.path(), &["tiny.png", "-o", "b.jpg", "--skip-if-larger"]);
    assert_eq!(kinds(&objects), ["skipped", "summary"]);
    assert!(objects[0]["reason"].as_str().unwrap().contains("not smaller"));
    assert_eq!(objects[1]["skipped"], 1);
    assert!(!dir.path().join("b.jpg").exists());
    // A photo does get smaller, and is written.
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let objects = run_ok(dir.path(), &[&photo, "-k", "8", "--skip-if-larger"]);
    assert_eq!(kinds(&objects), ["file", "summary"]);
}

#[test]
fn skip_existing_leaves_done_outputs_alone_on_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    run_ok(dir.path(), &[&photo, "-k", "8"]);
    let out = dir.path().join("chelsea-k8.png");
    std::fs::write(&out, b"marker").unwrap();
    // A plain rerun refuses the existing output; --skip-existing skips it and succeeds.
    kmquant()
        .current_dir(dir.path())
        .args([&photo, "-k", "8", "--backend", "cpu"])
        .assert()
        .code(1);
    let objects = run_ok(dir.path(), &[&photo, "-k", "8", "--skip-existing"]);
    assert_eq!(kinds(&objects), ["skipped", "summary"]);
    assert_eq!(std::fs::read(&out).unwrap(), b"marker");
    // It conflicts with --force.
    kmquant()
        .current_dir(dir.path())
        .args([&photo, "--skip-existing", "--force"])
        .assert()
        .code(2);
}

#[test]
fn ext_names_outputs_and_replaces_inputs_in_place_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let original = std::fs::read(&photo).unwrap();
    // --ext with a suffix: the format follows it.
    run_ok(dir.path(), &[&photo, "-k", "8", "--ext", "-small.gif"]);
    let gif = std::fs::read(dir.path().join("chelsea-small.gif")).unwrap();
    assert_eq!(&gif[..3], b"GIF");
    // In place needs --force, and leaves the input alone without it.
    kmquant()
        .current_dir(dir.path())
        .args([&photo, "-k", "8", "--ext", ".png", "--backend", "cpu"])
        .assert()
        .code(1);
    assert_eq!(std::fs::read(&photo).unwrap(), original);
    let objects = run_ok(dir.path(), &[&photo, "-k", "8", "--ext", ".png", "--force"]);
    assert_eq!(objects[0]["output"], objects[0]["input"]);
    let img = image::open(&photo).unwrap().to_rgba8();
    let colors: std::collections::HashSet<[u8; 4]> = img.pixels().map(|p| p.0).collect();
    assert!(
        colors.len() <= 8,
        "{} colors after the in-place run",
        colors.len()
    );
    // A suffix that names no format, and one that contradicts --format, are usage errors.
    for bad in [
        &["--ext", "-small"][..],
        &["--ext", ".png", "--format", "gif"][..],
    ] {
        kmquant()
            .current_dir(dir.path())
            .arg(&photo)
            .args(bad)
            .assert()
            .code(2);
    }
}

#[test]
fn a_folder_walk_skips_only_outputs_of_images_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    std::fs::create_dir(&d).unwrap();
    for name in ["a.png", "a-k4.png", "my-k9.png", "photo-k2000.png"] {
        std::fs::copy(
            format!("{}/tests/fixtures/chelsea.png", env!("CARGO_MANIFEST_DIR")),
            d.join(name),
        )
        .unwrap();
    }
    let objects = run_ok(dir.path(), &["in", "-r", "-k", "4", "--out-dir", "out"]);
    let inputs = input_names(&objects, "file");
    // a-k4.png is a's output; my-k9.png and photo-k2000.png have no source beside them.
    assert_eq!(inputs, ["a.png", "my-k9.png", "photo-k2000.png"]);
    // A file given by name is never skipped.
    let objects = run_ok(dir.path(), &["in/a-k4.png", "-k", "2", "--out-dir", "out2"]);
    assert_eq!(kinds(&objects), ["file", "summary"]);
}

#[test]
fn a_rerun_with_a_custom_ext_does_not_take_its_own_outputs_as_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    std::fs::create_dir(&d).unwrap();
    for name in ["a.png", "b.png", "lone-q.png"] {
        std::fs::copy(
            format!("{}/tests/fixtures/chelsea.png", env!("CARGO_MANIFEST_DIR")),
            d.join(name),
        )
        .unwrap();
    }
    let first = run_ok(dir.path(), &["in", "-r", "-k", "4", "--ext", "-q.png"]);
    assert_eq!(input_names(&first, "file"), ["a.png", "b.png", "lone-q.png"]);
    assert!(d.join("a-q.png").exists() && d.join("lone-q-q.png").exists());
    // The rerun finds a-q.png, b-q.png and lone-q-q.png beside their sources and leaves them
    // out; lone-q.png has no "lone" beside it and is the user's.
    let again = run_ok(
        dir.path(),
        &["in", "-r", "-k", "4", "--ext", "-q.png", "--skip-existing"],
    );
    assert_eq!(input_names(&again, "skipped"), ["a.png", "b.png", "lone-q.png"]);
    assert!(input_names(&again, "file").is_empty());
    assert!(!d.join("a-q-q.png").exists());
}

#[test]
fn options_that_do_nothing_are_warnings_and_contradictions_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let objects = run_ok(
        dir.path(),
        &[&photo, "-k", "8", "--quality", "50", "--seed", "3", "-o", "w.png"],
    );
    let warnings = objects[0]["warnings"].to_string();
    assert!(warnings.contains("--quality has no effect"), "{warnings}");
    assert!(warnings.contains("--seed has no effect"), "{warnings}");
    let objects = run_ok(
        dir.path(),
        &[&photo, "-k", "8", "--png-level", "3", "-o", "w.gif"],
    );
    assert!(objects[0]["warnings"]
        .to_string()
        .contains("--png-level has no effect"));
    // Used as meant, no warning.
    let objects = run_ok(dir.path(), &[&photo, "-k", "8", "--quality", "50", "-o", "w.jpg"]);
    assert_eq!(objects[0]["warnings"], serde_json::json!([]));
    for bad in [&["--format", "gif", "-o", "x.png"][..], &["--plot", "p.jpg"][..]] {
        let out = kmquant()
            .current_dir(dir.path())
            .arg(&photo)
            .args(bad)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains(bad[0]), "{bad:?}: {err}");
    }
    assert!(!dir.path().join("x.png").exists());
}

#[test]
fn help_is_grouped_with_examples_and_completions_and_man_page_come_from_it() {
    let help = kmquant().args(["quantize", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
    for heading in [
        "Palette:",
        "Mapping and dithering:",
        "Output:",
        "Extras:",
        "Inputs and batches:",
        "Device:",
        "Report:",
        "Examples:",
    ] {
        assert!(help.contains(heading), "no {heading} in quantize --help");
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = kmquant().args(["completions", shell]).assert().success();
        let script = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(
            script.contains("skip-if-larger") && script.contains("kmquant"),
            "{shell}"
        );
    }
    let out = kmquant().arg("man").assert().success();
    let page = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        page.starts_with(".ie") || page.contains(".TH kmquant"),
        "{}",
        &page[..200.min(page.len())]
    );
    let out = kmquant().args(["man", "quantize"]).assert().success();
    let page = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(page.contains("kmquant\\-quantize") && page.contains("skip\\-existing"));
    kmquant().args(["man", "nope"]).assert().code(2);
}

#[test]
fn quantize_and_compare_speak_one_json_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let q = kmquant()
        .current_dir(dir.path())
        .args([&photo, "-k", "8", "--backend", "cpu", "--json", "-o", "x.jpg"])
        .assert()
        .success();
    let q = file_report(&q.get_output().stdout);
    assert_eq!(q["format"], "jpg");
    let c = kmquant()
        .current_dir(dir.path())
        .args(["compare", &photo, "-k", "8", "--json"])
        .assert();
    let c: serde_json::Value =
        serde_json::from_slice(&c.get_output().stdout).expect("compare --json prints one object");
    assert_eq!(c["schema"], 1);
    assert_eq!(c["kind"], "compare");
    assert_eq!(
        c["cpu"]["adapter"], q["adapter"],
        "the CPU is named the same way in both"
    );
}

#[test]
fn target_psnr_picks_the_fewest_colors_and_min_psnr_refuses_a_worse_file() {
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture_copy(dir.path(), "chelsea.png");
    let objects = run_ok(
        dir.path(),
        &[&photo, "-k", "64", "--target-psnr", "34", "-o", "t.png"],
    );
    let r = &objects[0];
    let k = r["chosen_k"].as_u64().unwrap() as u32;
    assert!(r["psnr"].as_f64().unwrap() >= 34.0, "{r}");
    assert_eq!(r["target_reached"], true);
    assert!(k > 2 && k < 64, "K {k}");
    assert_eq!(r["colors_used"].as_u64(), Some(k as u64));
    // One color fewer falls short: the plain run at K - 1 is below the target.
    let less = run_ok(
        dir.path(),
        &[&photo, "-k", &(k - 1).to_string(), "-o", "less.png"],
    );
    assert!(less[0]["psnr"].as_f64().unwrap() < 34.0);
    // Out of reach: K = -k, a warning, and the file is still written.
    let far = run_ok(
        dir.path(),
        &[&photo, "-k", "8", "--target-psnr", "45", "-o", "far.png"],
    );
    assert_eq!(far[0]["target_reached"], false);
    assert_eq!(far[0]["chosen_k"], 8);
    assert!(far[0]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("no K up to 8 reaches"));
    // Below the floor: exit 1, one line, nothing written.
    let out = kmquant()
        .current_dir(dir.path())
        .args([
            &photo,
            "-k",
            "4",
            "--min-psnr",
            "30",
            "-o",
            "floor.png",
            "--backend",
            "cpu",
        ])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("below --min-psnr 30 dB") && err.contains("nothing written"),
        "{err}"
    );
    assert!(!dir.path().join("floor.png").exists());
    // The floor applies to the file as written: a JPEG's own loss counts.
    let jpeg = run_ok(
        dir.path(),
        &[&photo, "-k", "64", "--min-psnr", "20", "-o", "ok.jpg"],
    );
    assert_eq!(jpeg[0]["min_psnr"], 20.0);
    // JPEG output cannot take a K target; nor can --max-bytes be combined with it.
    for extra in [&["-o", "t.jpg"][..], &["--max-bytes", "20k"][..]] {
        kmquant()
            .current_dir(dir.path())
            .args([&photo, "--target-psnr", "34"])
            .args(extra)
            .assert()
            .code(2);
    }
}
