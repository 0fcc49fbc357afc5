//! The CPU reference backend against an independent brute-force k-means written here in exact
//! integer arithmetic: labels are the argmin, converged centroids are the rounded weighted means
//! of their members, and the objective never increases.

mod common;

use common::{brute_nearest, Rng};
use kmquant::{cpu, lloyd, seed, Backend, BackendChoice, ClusterSum, CpuBackend, ImageRef, Options};
use proptest::prelude::*;

fn brute_sums(points: &[[u16; 4]], weights: &[u32], centroids: &[[u32; 4]]) -> Vec<ClusterSum> {
    let mut sums = vec![ClusterSum::default(); centroids.len()];
    for (p, &w) in points.iter().zip(weights) {
        let (j, d) = brute_nearest(*p, centroids);
        let s = &mut sums[j];
        s.count += w as u64;
        for (sum, &x) in s.sum.iter_mut().zip(p) {
            *sum += w as u64 * x as u64;
        }
        s.sse += w as u64 * d;
    }
    sums
}

fn to_f32(c: &[[u32; 4]]) -> Vec<[f32; 4]> {
    c.iter().map(|c| c.map(|v| v as f32)).collect()
}

fn random_points(rng: &mut Rng, n: usize, spread: u64) -> (Vec<[u16; 4]>, Vec<u32>) {
    let pts = (0..n)
        .map(|_| {
            let base = rng.below(256 - spread);
            [0; 3].map(|_| ((base + rng.below(spread)) * 8) as u16)
        })
        .map(|[r, g, b]| [r, g, b, 2040])
        .collect();
    let w = (0..n).map(|_| 1 + rng.below(1000) as u32).collect();
    (pts, w)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn cpu_assign_sums_equal_brute_force(seed in 1u64..u64::MAX, n in 1usize..600, k in 1usize..40) {
        let mut rng = Rng(seed);
        let (points, weights) = random_points(&mut rng, n, 200);
        let mut centroids: Vec<[u32; 4]> = (0..k).map(|_| [0; 4].map(|_| rng.below(2041) as u32)).collect();
        if k > 2 { centroids[k - 1] = centroids[0]; }
        let got = cpu::assign::assign(&points, &weights, &to_f32(&centroids));
        prop_assert_eq!(got, brute_sums(&points, &weights, &centroids));
    }

    #[test]
    fn lloyd_objective_never_increases_and_converges_to_rounded_means(seed in 1u64..u64::MAX, n in 2usize..400, k in 1usize..24) {
        let mut rng = Rng(seed);
        let (points, weights) = random_points(&mut rng, n, 120);
        let init = seed::kmeans_plus_plus(&points, &weights, k, seed);
        let mut backend = CpuBackend::new(&points, &weights );
        let out = lloyd::run(&mut backend, &points, &weights, init, 500, 0.0, &mut |_| {}).unwrap();
        for w in out.sse.windows(2) {
            prop_assert!(w[1] <= w[0], "objective rose: {:?}", out.sse);
        }
        prop_assert!(out.converged, "500 iterations must reach a fixed point on {} points", n);
        // At the fixed point, brute-force members of every non-empty cluster average (rounded
        // half up) to exactly that cluster's centroid.
        let sums = brute_sums(&points, &weights, &out.centroids);
        for (c, s) in out.centroids.iter().zip(&sums) {
            if s.count > 0 {
                let mean = s.sum.map(|v| ((2 * v + s.count) / (2 * s.count)) as u32);
                prop_assert_eq!(*c, mean);
            }
        }
        // The last recorded objective is the brute-force error of the final assignment.
        prop_assert_eq!(*out.sse.last().unwrap(), sums.iter().map(|s| s.sse).sum::<u64>());
    }
}

#[test]
fn cpu_remap_labels_are_the_brute_force_argmin() {
    let mut rng = Rng(5);
    let (points, _) = random_points(&mut rng, 3000, 255);
    let palette: Vec<[u32; 4]> = (0..200)
        .map(|_| [0; 4].map(|_| rng.below(256) as u32 * 8))
        .collect();
    let labels = cpu::remap::remap(&points, &to_f32(&palette));
    for (p, l) in points.iter().zip(&labels) {
        assert_eq!(*l as usize, brute_nearest(*p, &palette).0);
    }
}

#[test]
fn every_pixel_gets_a_nearest_palette_entry() {
    let (w, h) = (96, 64);
    let px = common::synthetic(w, h, 3);
    let q = kmquant::quantize(
        ImageRef::new(w, h, &px).unwrap(),
        &Options::new(12).unwrap().with_backend(BackendChoice::Cpu),
    )
    .unwrap();
    assert!(q.palette.len() <= 12);
    let pal: Vec<[u32; 4]> = q.palette.iter().map(|c| c.map(|v| v as u32)).collect();
    let mut sse = 0u64;
    for (p, &i) in px.iter().zip(&q.indices) {
        let p16 = p.map(|v| v as u16);
        let (_, best) = brute_nearest(p16, &pal);
        let (_, mine) = brute_nearest(p16, &pal[i as usize..=i as usize]);
        assert_eq!(mine, best, "pixel {p:?} got entry {i}, not a nearest one");
        sse += mine;
    }
    // mse is per RGB channel; alpha is 255 everywhere here, so it adds nothing.
    let mse = sse as f64 / (3.0 * px.len() as f64);
    assert!((q.mse - mse).abs() < 1e-9, "reported mse {} vs {mse}", q.mse);
    let counted: u64 = q.counts.iter().sum();
    assert_eq!(counted, px.len() as u64);
    assert!(
        q.counts.windows(2).all(|c| c[0] >= c[1]),
        "palette is sorted by population"
    );
}

#[test]
fn median_cut_gives_k_distinct_centroids_and_a_lower_error_than_one_cluster() {
    let (w, h, px) = common::fixture("coffee.png");
    let hist = kmquant::Histogram::new(&px);
    let pts: Vec<[u16; 4]> = hist.colors.iter().map(|c| c.map(|v| v as u16 * 8)).collect();
    let c = seed::median_cut(&pts, &hist.counts, 64);
    assert_eq!(c.len(), 64);
    let mut dedup = c.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 64);
    let mut b = CpuBackend::new(&pts, &hist.counts);
    let mut err = |c: &[[u32; 4]]| b.assign(&to_f32(c)).unwrap().iter().map(|s| s.sse).sum::<u64>();
    let one = seed::median_cut(&pts, &hist.counts, 1);
    let (many, few) = (err(&c), err(&one));
    assert!(many * 10 < few, "64 boxes must cut the error tenfold at least");
    assert_eq!(w * h, hist.counts.iter().sum::<u32>());
}

#[test]
fn same_seed_same_result_other_seed_other_start() {
    let (w, h, px) = common::fixture("chelsea.png");
    let img = ImageRef::new(w, h, &px).unwrap();
    let opts = |s| {
        Options::new(16)
            .unwrap()
            .with_backend(BackendChoice::Cpu)
            .with_init(kmquant::Init::KMeansPlusPlus)
            .with_seed(s)
            .with_max_iter(3)
            .unwrap()
    };
    let a = kmquant::quantize(img, &opts(1)).unwrap();
    let b = kmquant::quantize(img, &opts(1)).unwrap();
    let c = kmquant::quantize(img, &opts(2)).unwrap();
    assert_eq!(a.palette, b.palette);
    assert_eq!(a.indices, b.indices);
    assert_ne!(a.palette, c.palette, "another seed must give another start");
}

#[test]
fn invalid_options_are_rejected_when_built() {
    assert!(Options::new(0).is_err());
    assert!(Options::new(257).is_err());
    assert!(Options::new(256).is_ok());
    let o = Options::new(8).unwrap();
    assert!(o.clone().with_max_iter(0).is_err());
    assert!(o.clone().with_tolerance(f64::NAN).is_err());
    assert!(o.clone().with_tolerance(-1.0).is_err());
    assert!(o.clone().with_gpu_chunk_points(1000).is_err());
    assert!(ImageRef::new(0, 10, &[]).is_err());
    assert!(ImageRef::new(2, 2, &[[0; 4]; 3]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The pruned search the CPU backend runs gives the twin's sums and brute-force labels,
    /// iteration after iteration, with labels carried over and centroids moving.
    #[test]
    fn pruned_search_equals_the_shader_twin_across_iterations(seed in 1u64..u64::MAX, n in 1usize..800, k in 1usize..64) {
        let mut rng = Rng(seed);
        let (points, weights) = random_points(&mut rng, n, 250);
        let mut centroids: Vec<[u32; 4]> = (0..k).map(|_| [0; 4].map(|_| rng.below(2041) as u32)).collect();
        if k > 3 { centroids[2] = centroids[1]; }
        let mut labels = vec![u16::MAX; n];
        for _ in 0..4 {
            let c = to_f32(&centroids);
            let fast = kmquant::cpu::nearest::assign(&points, &weights, &c, &mut labels);
            prop_assert_eq!(&fast, &cpu::assign::assign(&points, &weights, &c));
            for (p, &l) in points.iter().zip(&labels) {
                prop_assert_eq!(l as usize, brute_nearest(*p, &centroids).0);
            }
            let remapped = kmquant::cpu::nearest::remap(&points, &c, Some(&labels));
            prop_assert_eq!(remapped, cpu::remap::remap(&points, &c));
            // Move every centroid a little, some by a lot.
            for c in centroids.iter_mut() {
                for v in c.iter_mut() {
                    let step = if rng.below(5) == 0 { 400 } else { 24 };
                    *v = (*v as i64 + rng.below(2 * step + 1) as i64 - step as i64).clamp(0, 2040) as u32;
                }
            }
        }
    }
}
