//! The twins against an independent brute force, and the fast path the backend runs against the
//! twins' own (the shader's) search.

use super::*;
use crate::error::Error;
use crate::testutil::{brute_nearest, brute_sums, random_points, Rng};
use proptest::prelude::*;

fn random_centroids(rng: &mut Rng, k: usize) -> Vec<Point> {
    (0..k)
        .map(|_| Point([0; 4].map(|_| rng.below(2041) as u16)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The assign twin, with the shader's search, gives the brute force's integer sums.
    #[test]
    fn assign_twin_sums_equal_brute_force(seed in 1u64..u64::MAX, n in 1usize..600, k in 1usize..40) {
        let mut rng = Rng(seed);
        let (points, weights) = random_points(&mut rng, n, 200);
        let mut centroids = random_centroids(&mut rng, k);
        if k > 2 {
            centroids[k - 1] = centroids[0];
        }
        let mut labels = vec![u16::MAX; n];
        let got = assign::assign(&points, &weights, &mut labels, &Brute::new(&centroids));
        prop_assert_eq!(got, brute_sums(&points, &weights, &centroids));
    }

    /// The pruned search the CPU backend runs gives the twin's sums and brute-force labels,
    /// iteration after iteration, with labels carried over and centroids moving.
    #[test]
    fn pruned_search_equals_the_shader_twin_across_iterations(seed in 1u64..u64::MAX, n in 1usize..800, k in 1usize..64) {
        let mut rng = Rng(seed);
        let (points, weights) = random_points(&mut rng, n, 250);
        let mut centroids = random_centroids(&mut rng, k);
        if k > 3 {
            centroids[2] = centroids[1];
        }
        let mut backend = CpuBackend::new(&points, &weights);
        for _ in 0..4 {
            let fast = backend.assign(&centroids).unwrap();
            let mut fresh = vec![u16::MAX; n];
            prop_assert_eq!(&fast, &assign::assign(&points, &weights, &mut fresh, &Brute::new(&centroids)));
            for (p, &l) in points.iter().zip(&backend.labels) {
                prop_assert_eq!(l as usize, brute_nearest(*p, &centroids).0);
            }
            let remapped = backend.remap(&centroids).unwrap();
            prop_assert_eq!(remapped, remap::remap(&points, &fresh, &Brute::new(&centroids)));
            // Move every centroid a little, some by a lot.
            for c in centroids.iter_mut() {
                for v in c.0.iter_mut() {
                    let step = if rng.below(5) == 0 { 400 } else { 24 };
                    *v = (*v as i64 + rng.below(2 * step + 1) as i64 - step as i64).clamp(0, 2040) as u16;
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A first search started from seed hints, good or bad (some past the last centroid), gives
    /// the brute force's labels and sums.
    #[test]
    fn hinted_first_assignment_equals_brute_force(seed in 1u64..u64::MAX, n in 1usize..800, k in 1usize..64) {
        let mut rng = Rng(seed);
        let (points, weights) = random_points(&mut rng, n, 250);
        let centroids = random_centroids(&mut rng, k);
        let hints: Vec<u16> = (0..n).map(|_| rng.below(k as u64 + 3) as u16).collect();
        let mut backend = CpuBackend::new(&points, &weights);
        backend.start_from(&hints, k);
        prop_assert_eq!(&backend.labels, &hints);
        let got = backend.assign(&centroids).unwrap();
        prop_assert_eq!(got, brute_sums(&points, &weights, &centroids));
        for (p, &l) in points.iter().zip(&backend.labels) {
            prop_assert_eq!(l as usize, brute_nearest(*p, &centroids).0);
        }
    }
}

#[test]
fn remap_twin_labels_are_the_brute_force_argmin() {
    let mut rng = Rng(5);
    let (points, _) = random_points(&mut rng, 3000, 255);
    let palette: Vec<Point> = (0..200)
        .map(|_| Point([0; 4].map(|_| rng.below(256) as u16 * 8)))
        .collect();
    let hints = vec![u16::MAX; points.len()];
    let labels = remap::remap(&points, &hints, &Brute::new(&palette));
    for (p, l) in points.iter().zip(&labels) {
        assert_eq!(*l as usize, brute_nearest(*p, &palette).0);
    }
}

#[test]
fn no_centroids_or_too_many_is_an_invalid_option_not_a_panic() {
    let points = vec![Point([8, 8, 8, 2040]); 10];
    let weights = vec![1; 10];
    let mut b = CpuBackend::new(&points, &weights);
    for bad in [vec![], vec![Point::default(); 257]] {
        assert!(matches!(b.assign(&bad), Err(Error::InvalidOption { .. })));
        assert!(matches!(b.remap(&bad), Err(Error::InvalidOption { .. })));
    }
}

#[test]
fn direct_and_partitioned_counting_equal_the_shader_twins_atomic_counting() {
    use super::histogram::{count, count_direct, count_partitioned};
    use crate::gpu::layout::TABLE_LEN;
    use std::sync::atomic::{AtomicU32, Ordering};
    let mut rng = Rng(3);
    // Some colors repeated, some not, across more than one partitioning task.
    let px: Vec<[u8; 4]> = (0..200_003)
        .map(|i| {
            let v = if i % 3 == 0 { rng.below(50) } else { rng.next() };
            [v as u8, (v >> 8) as u8, (v >> 16) as u8, 255]
        })
        .collect();
    let atomic: Vec<AtomicU32> = (0..TABLE_LEN).map(|_| AtomicU32::new(0)).collect();
    assert!(!count(&px, &atomic));
    for (name, f) in [
        ("direct", count_direct as fn(&[[u8; 4]], &mut [u32]) -> bool),
        ("partitioned", count_partitioned),
    ] {
        let mut table = vec![0u32; TABLE_LEN as usize];
        assert!(!f(&px, &mut table), "{name}");
        let diff = table
            .iter()
            .zip(&atomic)
            .filter(|(a, b)| **a != b.load(Ordering::Relaxed))
            .count();
        assert_eq!(diff, 0, "{name}: tables differ in {diff} entries");
        let mut translucent = px.clone();
        translucent[150_000][3] = 0;
        assert!(f(&translucent, &mut vec![0u32; TABLE_LEN as usize]), "{name}");
    }
}

#[test]
fn cpu_histogram_lists_each_color_once_in_key_order_with_its_count() {
    let mut rng = Rng(11);
    let px: Vec<[u8; 4]> = (0..50_000)
        .map(|_| {
            let v = rng.below(3000) * 5581;
            [v as u8, (v >> 8) as u8, (v >> 16) as u8, 255]
        })
        .collect();
    let mut want = std::collections::BTreeMap::new();
    for p in &px {
        *want.entry(super::histogram::key(*p)).or_insert(0u32) += 1;
    }
    let (table, summary) = super::histogram::opaque(&px).unwrap();
    let got: Vec<(u32, u32)> = want.iter().map(|(&k, &n)| (k as u32, n)).collect();
    assert_eq!(summary, got);
    for (i, &(k, _)) in summary.iter().enumerate() {
        assert_eq!(
            table[k as usize], i as u32,
            "the table maps each color to its index"
        );
    }
}
