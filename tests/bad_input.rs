//! The bad-input battery: each case exits non-zero with one line on standard error, writes no
//! output file, and leaves the input unchanged.

mod common;

use common::kmquant;
use std::path::{Path, PathBuf};

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(dir);
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// Runs kmquant in `dir` with `args`; checks the exit code, one stderr line containing `needle`,
/// no new or changed file.
fn refuses(dir: &Path, args: &[&str], code: i32, needle: &str) {
    let before: Vec<(PathBuf, Option<Vec<u8>>)> = listing(dir)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).ok()))
        .collect();
    let out = kmquant()
        .current_dir(dir)
        .args(args)
        .args(["--backend", "cpu"])
        .assert()
        .code(code);
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(
        err.lines().count(),
        1,
        "{args:?}: expected one line on stderr, got:\n{err}"
    );
    assert!(
        err.to_lowercase().contains(&needle.to_lowercase()),
        "{args:?}: '{needle}' not in: {err}"
    );
    let after: Vec<(PathBuf, Option<Vec<u8>>)> = listing(dir)
        .into_iter()
        .map(|p| (p.clone(), std::fs::read(&p).ok()))
        .collect();
    assert_eq!(before.len(), after.len(), "{args:?}: files appeared: {after:?}");
    for (b, a) in before.iter().zip(&after) {
        assert!(b == a, "{args:?}: {} changed", a.0.display());
    }
}

fn jpeg_bytes() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims 100000 x 100000 pixels, followed by almost nothing.
fn bomb_png() -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png.extend(((idat.len() - 4) as u32).to_be_bytes());
    png.extend(&idat);
    png.extend(crc32(&idat).to_be_bytes());
    png
}

#[test]
fn truncated_jpeg_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let j = jpeg_bytes();
    std::fs::write(dir.path().join("cut.jpg"), &j[..j.len() / 2]).unwrap();
    refuses(dir.path(), &["cut.jpg", "-k", "4"], 1, "cut.jpg");
}

#[test]
fn random_bytes_named_png_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("junk.png"), junk).unwrap();
    refuses(dir.path(), &["junk.png"], 1, "decode");
}

#[test]
fn zero_byte_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty.png"), b"").unwrap();
    refuses(dir.path(), &["empty.png"], 1, "empty");
}

#[test]
fn missing_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    refuses(dir.path(), &["quantize", "nope.jpg"], 1, "no such file");
    refuses(dir.path(), &["-k", "8", "nope.jpg"], 1, "no such file");
}

#[test]
fn directory_as_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    refuses(dir.path(), &["photos", "-o", "x.png"], 1, "directory");
}

#[test]
fn unwritable_output_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jpg"), jpeg_bytes()).unwrap();
    // A regular file where a folder should be: no user, root included, can create files in it.
    std::fs::write(dir.path().join("blocker"), b"x").unwrap();
    refuses(dir.path(), &["in.jpg", "--out-dir", "blocker"], 1, "blocker");
    refuses(dir.path(), &["in.jpg", "-o", "blocker/out.png"], 1, "blocker");
}

#[test]
fn k_out_of_range_or_not_a_number_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jpg"), jpeg_bytes()).unwrap();
    refuses(dir.path(), &["in.jpg", "-k", "0"], 2, "--colors");
    refuses(dir.path(), &["in.jpg", "-k", "257"], 2, "--colors");
    refuses(dir.path(), &["in.jpg", "-k", "abc"], 2, "--colors");
}

#[test]
fn output_equal_to_input_is_refused_even_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbaImage::from_fn(20, 10, |x, y| image::Rgba([x as u8 * 9, y as u8 * 20, 3, 255]));
    img.save(dir.path().join("in.png")).unwrap();
    refuses(dir.path(), &["in.png", "-o", "in.png"], 1, "input");
    refuses(dir.path(), &["in.png", "-o", "./in.png", "--force"], 1, "input");
}

#[test]
fn existing_output_without_force_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jpg"), jpeg_bytes()).unwrap();
    std::fs::write(dir.path().join("in-k4.png"), b"precious").unwrap();
    refuses(dir.path(), &["in.jpg", "-k", "4"], 1, "--force");
    // With --force it is replaced by a real PNG.
    kmquant()
        .current_dir(dir.path())
        .args(["in.jpg", "-k", "4", "--force", "-q"])
        .assert()
        .success();
    assert!(image::open(dir.path().join("in-k4.png")).is_ok());
}

#[test]
fn bomb_header_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bomb.png"), bomb_png()).unwrap();
    let t = std::time::Instant::now();
    refuses(dir.path(), &["bomb.png"], 1, "limit");
    // Not a timing assertion on speed, a guard against allocating 40 GB: it must not take minutes.
    assert!(t.elapsed().as_secs() < 60);
}

/// A photo (the chelsea fixture) encoded in `format`.
fn photo_in(format: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/chelsea.png", env!("CARGO_MANIFEST_DIR"));
    let img = image::open(path).unwrap();
    let mut out = Vec::new();
    let mut cur = std::io::Cursor::new(&mut out);
    match format {
        "png-rgb" => img.to_rgb8().write_to(&mut cur, image::ImageFormat::Png).unwrap(),
        "png-rgba" => img
            .to_rgba8()
            .write_to(&mut cur, image::ImageFormat::Png)
            .unwrap(),
        "jpeg" => img
            .to_rgb8()
            .write_to(&mut cur, image::ImageFormat::Jpeg)
            .unwrap(),
        "jpeg-progressive" => {
            let rgb = img.to_rgb8();
            let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
            enc.set_progressive(true);
            enc.encode(
                &rgb,
                rgb.width() as u16,
                rgb.height() as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .unwrap();
        }
        "gif" => img
            .to_rgba8()
            .write_to(&mut cur, image::ImageFormat::Gif)
            .unwrap(),
        "webp" => img
            .to_rgba8()
            .write_to(&mut cur, image::ImageFormat::WebP)
            .unwrap(),
        "tiff" => img
            .to_rgb8()
            .write_to(&mut cur, image::ImageFormat::Tiff)
            .unwrap(),
        "bmp" => img.to_rgb8().write_to(&mut cur, image::ImageFormat::Bmp).unwrap(),
        f => panic!("{f}"),
    }
    out
}

const FORMATS: [(&str, &str); 8] = [
    ("png-rgb", "png"),
    ("png-rgba", "png"),
    ("jpeg", "jpg"),
    ("jpeg-progressive", "jpg"),
    ("gif", "gif"),
    ("webp", "webp"),
    ("tiff", "tif"),
    ("bmp", "bmp"),
];

#[test]
fn every_format_truncated_anywhere_is_refused_with_one_line_and_no_output() {
    for (format, ext) in FORMATS {
        let whole = photo_in(format);
        let dir = tempfile::tempdir().unwrap();
        // The whole file works, so a refusal below is about the truncation.
        std::fs::write(dir.path().join(format!("whole.{ext}")), &whole).unwrap();
        kmquant()
            .current_dir(dir.path())
            .args([
                &format!("whole.{ext}"),
                "-k",
                "8",
                "-q",
                "--backend",
                "cpu",
                "-o",
                "whole-out.png",
            ])
            .assert()
            .success();
        for percent in [30, 60, 90] {
            let name = format!("cut{percent}.{ext}");
            std::fs::write(dir.path().join(&name), &whole[..whole.len() * percent / 100]).unwrap();
            refuses(dir.path(), &[&name, "-k", "8"], 1, &name);
        }
    }
}

#[test]
fn accept_damaged_decodes_a_truncated_jpeg_as_far_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let whole = photo_in("jpeg");
    std::fs::write(dir.path().join("cut.jpg"), &whole[..whole.len() * 6 / 10]).unwrap();
    refuses(
        dir.path(),
        &["cut.jpg", "-k", "8"],
        1,
        "damaged or truncated JPEG",
    );
    let stderr = |name: &str| {
        let out = kmquant()
            .current_dir(dir.path())
            .args([name, "-k", "8", "--backend", "cpu", "--accept-damaged", "--json"])
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stderr).into_owned()
    };
    assert!(stderr("cut.jpg").contains("the input is damaged and was decoded as far as it goes"));
    assert!(dir.path().join("cut-k8.png").exists());
    // A sound file decoded with the option carries no such warning.
    std::fs::write(dir.path().join("whole.jpg"), &whole).unwrap();
    assert!(!stderr("whole.jpg").contains("damaged"));
}

#[test]
fn two_inputs_that_would_write_one_file_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("coll/sub")).unwrap();
    std::fs::write(dir.path().join("coll/chelsea.jpg"), jpeg_bytes()).unwrap();
    std::fs::write(dir.path().join("coll/sub/chelsea.jpg"), jpeg_bytes()).unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec![
            "coll/chelsea.jpg",
            "coll/sub/chelsea.jpg",
            "-k",
            "4",
            "--out-dir",
            "out",
        ];
        args.extend_from_slice(extra);
        refuses(dir.path(), &args, 2, "both be written");
    }
    // An output that is another input.
    std::fs::write(dir.path().join("coll/chelsea-k4.png"), b"an input, not an output").unwrap();
    refuses(
        dir.path(),
        &["coll/chelsea.jpg", "coll/chelsea-k4.png", "-k", "4", "--force"],
        2,
        "another input",
    );
    // With -r, --out-dir mirrors the tree, and both are written.
    kmquant()
        .current_dir(dir.path())
        .args([
            "coll",
            "-r",
            "-k",
            "4",
            "-q",
            "--backend",
            "cpu",
            "--out-dir",
            "out",
        ])
        .assert()
        .success();
    assert!(dir.path().join("out/chelsea-k4.png").exists());
    assert!(dir.path().join("out/sub/chelsea-k4.png").exists());
}

#[test]
fn an_unknown_word_is_a_usage_error_with_a_suggestion_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("chelsea.jpg"), jpeg_bytes()).unwrap();
    refuses(dir.path(), &["compar", "chelsea.jpg"], 2, "compare");
    refuses(dir.path(), &["frobnicate", "chelsea.jpg"], 2, "frobnicate");
    refuses(dir.path(), &["completion", "bash"], 2, "completions");
    // The shorthand needs an existing file: a missing one is named as such, not run as a job.
    refuses(
        dir.path(),
        &["missing.jpg"],
        2,
        "neither an existing file nor a subcommand",
    );
    kmquant()
        .current_dir(dir.path())
        .args(["chelsea.jpg", "-k", "4", "-q", "--backend", "cpu"])
        .assert()
        .success();
}

#[test]
fn usage_mistakes_exit_2_and_name_the_argument_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.jpg"), jpeg_bytes()).unwrap();
    std::fs::write(dir.path().join("b.jpg"), jpeg_bytes()).unwrap();
    refuses(dir.path(), &["a.jpg", "b.jpg", "-o", "x.png"], 2, "--output");
    refuses(dir.path(), &["a.jpg", "-o", "noext"], 2, "--output");
    refuses(
        dir.path(),
        &["a.jpg", "--dither", "--dither-strength", "1.5"],
        2,
        "--dither-strength",
    );
    refuses(dir.path(), &["a.jpg", "--dither-strength", "0.5"], 2, "--dither");
    refuses(dir.path(), &["a.jpg", "--tolerance", "-3"], 2, "--tolerance");
    refuses(dir.path(), &["a.jpg", "--run-bias", "101"], 2, "--run-bias");
    refuses(dir.path(), &["a.jpg", "--run-bias", "-1"], 2, "--run-bias");
    refuses(dir.path(), &["a.jpg", "--palette", "p.bin"], 2, "--palette");
}
