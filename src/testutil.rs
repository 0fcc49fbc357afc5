//! Helpers for the unit tests: a seeded generator, random points, an independent brute-force
//! k-means step, test images, and the GPU device the tests share.

use crate::backend::ClusterSum;
use crate::grid::Point;
use crate::GpuContext;
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

/// `n` opaque sRGB points clustered around random bases within `spread` levels, with weights
/// from 1 to 1000.
pub fn random_points(rng: &mut Rng, n: usize, spread: u64) -> (Vec<Point>, Vec<u32>) {
    let pts = (0..n)
        .map(|_| {
            let base = rng.below(256 - spread);
            let [r, g, b] = [0; 3].map(|_| ((base + rng.below(spread)) * 8) as u16);
            Point([r, g, b, 2040])
        })
        .collect();
    let w = (0..n).map(|_| 1 + rng.below(1000) as u32).collect();
    (pts, w)
}

/// Independent brute force in u64: index of the nearest centroid, ties to the lower index, and
/// the squared distance.
pub fn brute_nearest(p: Point, centroids: &[Point]) -> (usize, u64) {
    let mut best = (0, u64::MAX);
    for (j, c) in centroids.iter().enumerate() {
        let d: u64 = (0..4)
            .map(|i| (p.0[i] as i64 - c.0[i] as i64).pow(2) as u64)
            .sum();
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

/// Independent brute-force assign stage.
pub fn brute_sums(points: &[Point], weights: &[u32], centroids: &[Point]) -> Vec<ClusterSum> {
    let mut sums = vec![ClusterSum::default(); centroids.len()];
    for (p, &w) in points.iter().zip(weights) {
        let (j, d) = brute_nearest(*p, centroids);
        let s = &mut sums[j];
        s.count += w as u64;
        for (sum, &x) in s.sum.iter_mut().zip(&p.0) {
            *sum += w as u64 * x as u64;
        }
        s.sse += w as u64 * d;
    }
    sums
}

/// A fixture photo from tests/fixtures as (width, height, RGBA pixels).
pub fn fixture(name: &str) -> (u32, u32, Vec<[u8; 4]>) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let img = image::open(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .to_rgba8();
    let (w, h) = img.dimensions();
    (w, h, img.pixels().map(|p| p.0).collect())
}
