//! The CPU backend through the public API, against an independent brute force written here in
//! exact integer arithmetic: every pixel gets a nearest palette entry, the reported error is the
//! brute-force error, seeds are reproducible, and invalid options are refused when built. (The
//! kernels' twins and the Lloyd loop are checked by unit tests beside the code.)

mod common;

use common::brute_nearest;
use kmquant::{BackendChoice, ImageRef, Options};

#[test]
fn every_pixel_gets_a_nearest_palette_entry() {
    let (w, h) = (96, 64);
    let px = common::synthetic(w, h, 3);
    let q = kmquant::quantize(
        ImageRef::new(w, h, &px).unwrap(),
        // Without the run bias, which may give a pixel its left neighbour's entry instead.
        &Options::new(12)
            .unwrap()
            .with_backend(BackendChoice::Cpu)
            .with_run_bias(0)
            .unwrap(),
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
