//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kmquant::GpuContext;
use std::sync::Arc;

/// Set to 1 (CI does) to make a missing GPU adapter a test failure instead of a skip.
pub const REQUIRE_GPU: &str = "KMQUANT_REQUIRE_GPU";

/// Opens the adapter wgpu picks (honoring WGPU_BACKEND), printing it. Without one, fails when
/// `KMQUANT_REQUIRE_GPU=1`, otherwise skips loudly by returning None.
pub fn gpu() -> Option<Arc<GpuContext>> {
    match GpuContext::new(false) {
        Ok(ctx) => {
            eprintln!("GPU adapter: {}", ctx.adapter());
            Some(Arc::new(ctx))
        }
        Err(e) => {
            if std::env::var(REQUIRE_GPU).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_GPU}=1 but no GPU adapter could be opened: {e}");
            }
            eprintln!("SKIPPED: no GPU adapter ({e}); set {REQUIRE_GPU}=1 to make this a failure");
            None
        }
    }
}

/// A deterministic pseudo-random generator for test data (xorshift64*).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A smooth gradient with noise and a few flat blocks: many distinct colors, some repeated.
pub fn synthetic(width: u32, height: u32, seed: u64) -> Vec<[u8; 4]> {
    let mut rng = Rng(seed | 1);
    let mut px = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let n = rng.below(24) as i32 - 12;
            let r = (x * 255 / width.max(1)) as i32 + n;
            let g = (y * 255 / height.max(1)) as i32 - n;
            let b = if (x / 16 + y / 16) % 3 == 0 {
                40
            } else {
                ((x + y) % 256) as i32
            };
            px.push([
                r.clamp(0, 255) as u8,
                g.clamp(0, 255) as u8,
                b.clamp(0, 255) as u8,
                255,
            ]);
        }
    }
    px
}

/// A fixture photo from tests/fixtures as (width, height, RGBA pixels).
pub fn fixture(name: &str) -> (u32, u32, Vec<[u8; 4]>) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    load(&path)
}

pub fn load(path: &str) -> (u32, u32, Vec<[u8; 4]>) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .to_rgba8();
    let (w, h) = img.dimensions();
    let px = img.pixels().map(|p| p.0).collect();
    (w, h, px)
}

/// Independent brute force: index of the nearest centroid in exact integer arithmetic, ties to
/// the lower index, and the squared distance.
pub fn brute_nearest(p: [u16; 4], centroids: &[[u32; 4]]) -> (usize, u64) {
    let mut best = (0, u64::MAX);
    for (j, c) in centroids.iter().enumerate() {
        let d: u64 = (0..4).map(|i| (p[i] as i64 - c[i] as i64).pow(2) as u64).sum();
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// The kmquant binary, with Mesa's runtime-dir warning silenced.
pub fn kmquant() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("kmquant").unwrap();
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

/// Copies a fixture photo into `dir`; returns its path.
pub fn fixture_copy(dir: &std::path::Path, name: &str) -> String {
    let dst = dir.join(name);
    std::fs::copy(
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR")),
        &dst,
    )
    .unwrap();
    dst.to_str().unwrap().to_string()
}

/// Oklab (L, a, b) of an sRGB color (Björn Ottosson's matrices), written here independently of
/// the library's.
pub fn oklab(c: [u8; 4]) -> [f64; 3] {
    let lin = |v: u8| {
        let c = v as f64 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(c[0]), lin(c[1]), lin(c[2]));
    let l = (0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b).cbrt();
    let m = (0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b).cbrt();
    let s = (0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b).cbrt();
    [
        0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s,
        1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s,
        0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s,
    ]
}

/// Every JSON object of a `--json` run, one per line.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The `"kind": "file"` objects of a `--json` run, checking that a summary ends it.
pub fn file_reports(stdout: &[u8]) -> Vec<serde_json::Value> {
    let lines = json_lines(stdout);
    let last = lines.last().expect("at least the summary");
    assert_eq!(last["kind"], "summary", "the last object is the summary: {last}");
    assert!(
        lines.iter().all(|l| l["schema"] == 1),
        "every object has schema 1"
    );
    lines.into_iter().filter(|l| l["kind"] == "file").collect()
}

/// The one file report of a single-input `--json` run.
pub fn file_report(stdout: &[u8]) -> serde_json::Value {
    let mut r = file_reports(stdout);
    assert_eq!(r.len(), 1, "one file report");
    r.remove(0)
}
