//! Fitting a quality: the fewest colors whose PSNR reaches a target, in the spirit of pngquant's
//! `--quality`, with the histogram counted once ([`Prepared`]) and reused for every K tried.
//!
//! PSNR rises with K: each doubling of the palette adds roughly 2.5 to 3 dB on photos. The search
//! keeps a bracket, a K that falls short (`lo`, starting at 0) and one that reaches the target
//! (`hi`, starting at the largest K allowed), and narrows it with secant steps on PSNR against
//! ln K through the latest two tries (the first from an assumed 2.75 dB per doubling), each
//! clamped inside the bracket, and bisects (geometric midpoint) after 8 of them. It ends when the
//! two ends are neighbours: 3 to 5 quantizations in all on the corpus photos (K = 256 first). The answer is a K that reaches the target while K - 1 does not;
//! where PSNR rises with K without a dip, that is the fewest colors that reach it, and the tests
//! check it against trying every K.
//!
//! PSNR here is the RGB PSNR of the quantized image against the input, dithering included
//! ([`Quantized::psnr`]); alpha is not part of it.

use crate::error::{Error, Result};
use crate::quantized::Quantized;
use crate::quantizer::{Prepared, Quantizer};

/// What the quality search chose.
#[derive(Debug, Clone)]
pub struct PsnrFit {
    /// The quantized image at the chosen K.
    pub quantized: Quantized,
    /// The chosen K.
    pub k: u32,
    /// Whether its PSNR reaches the target; when false, `k` is the largest K allowed and the
    /// best the search could do.
    pub reached: bool,
    /// How many palette sizes were quantized.
    pub tries: u32,
}

impl Quantizer {
    /// The fewest colors, up to `options().k()`, whose PSNR reaches `target` dB (see the module
    /// docs). When even the largest K falls short, it is returned with `reached == false`.
    pub fn fit_psnr(&self, prepared: &Prepared<'_>, target: f64) -> Result<PsnrFit> {
        if !(target.is_finite() && target > 0.0) {
            return Err(Error::invalid("PSNR target", target, "a positive number of dB"));
        }
        let kmax = self.options().k();
        let mut tries = 0u32;
        let mut run = |k: u32| -> Result<(f64, Quantized)> {
            tries += 1;
            let q = self.quantize_prepared(prepared, k, &mut |_| {})?;
            Ok((q.psnr(), q))
        };
        let (top, q_top) = run(kmax)?;
        if top < target {
            return Ok(PsnrFit {
                quantized: q_top,
                k: kmax,
                reached: false,
                tries,
            });
        }
        // lo falls short (0 stands for "no colors"), hi reaches the target.
        let (mut lo, mut hi, mut best) = (0u32, kmax, q_top);
        // The latest two (K, PSNR) tried, for the secant.
        let (mut last, mut prev) = ((kmax, top), None::<(u32, f64)>);
        let mut steps = 0;
        while hi - lo > 1 {
            steps += 1;
            let m = if steps > SECANT_TRIES {
                geometric_mid(lo, hi)
            } else {
                next_guess(last, prev, target, lo, hi)
            };
            let (p, q) = run(m)?;
            if p >= target {
                (hi, best) = (m, q);
            } else {
                lo = m;
            }
            (prev, last) = (Some(last), (m, p));
        }
        Ok(PsnrFit {
            quantized: best,
            k: hi,
            reached: true,
            tries,
        })
    }
}

/// Secant steps before the search turns to bisection, which bounds it by about 16 tries where
/// noise keeps the secant from converging (on photos it ends within 4 steps).
const SECANT_TRIES: u32 = 8;

/// PSNR gained per doubling of K before any is measured: 2.5 to 3 dB on the corpus photos.
const DB_PER_DOUBLING: f64 = 2.75;

/// The next K to try, strictly inside `(lo, hi)`: where the line through the latest two tries,
/// PSNR against ln K, meets the target; from one try, the slope [`DB_PER_DOUBLING`].
fn next_guess(last: (u32, f64), prev: Option<(u32, f64)>, target: f64, lo: u32, hi: u32) -> u32 {
    let ln = |k: u32| (k as f64).ln();
    let per_ln = DB_PER_DOUBLING / std::f64::consts::LN_2;
    let slope = match prev {
        Some(p) if p.0 != last.0 && p.1.is_finite() && last.1.is_finite() => {
            (last.1 - p.1) / (ln(last.0) - ln(p.0))
        }
        _ => per_ln,
    };
    // A flat or falling stretch (k-means noise, or an exact image) says nothing: assume the usual.
    let slope = if slope > 0.1 { slope } else { per_ln };
    let from = if last.1.is_finite() {
        last.1
    } else {
        target + DB_PER_DOUBLING
    };
    let guess = (ln(last.0) + (target - from) / slope).exp();
    if !guess.is_finite() {
        return geometric_mid(lo, hi);
    }
    // Round up: a K that reaches the target shrinks the bracket from above.
    (guess.ceil().min(u32::MAX as f64) as u32).clamp(lo + 1, hi - 1)
}

/// The geometric midpoint of the bracket, strictly inside it.
fn geometric_mid(lo: u32, hi: u32) -> u32 {
    ((lo.max(1) as f64 * hi as f64).sqrt().round() as u32).clamp(lo + 1, hi - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackendChoice, ImageRef, Options};

    /// Every K's PSNR on a fixture, and the search's answer for targets all along the curve.
    fn check(name: &str, kmax: u32) {
        let (w, h, px) = crate::testutil::fixture(name);
        let image = ImageRef::new(w, h, &px).unwrap();
        let opts = Options::new(kmax).unwrap().with_backend(BackendChoice::Cpu);
        let quantizer = Quantizer::new(opts).unwrap();
        let prepared = quantizer.prepare(image, &mut |_| {}).unwrap();
        let curve: Vec<f64> = (1..=kmax)
            .map(|k| {
                quantizer
                    .quantize_prepared(&prepared, k, &mut |_| {})
                    .unwrap()
                    .psnr()
            })
            .collect();
        let mut targets: Vec<f64> = curve.iter().map(|p| p - 1e-9).collect();
        targets.extend(curve.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        targets.push(curve[0] - 1.0);
        let (mut most_tries, mut fewest) = (0, 0);
        for &t in &targets {
            let fit = quantizer.fit_psnr(&prepared, t).unwrap();
            most_tries = most_tries.max(fit.tries);
            // Fewest colors reaching the target, by trying every K.
            let Some(want) = curve.iter().position(|&p| p >= t).map(|i| i as u32 + 1) else {
                assert!(
                    !fit.reached && fit.k == kmax,
                    "{name}: target {t:.3} is out of reach"
                );
                continue;
            };
            let k = fit.k as usize;
            assert!(fit.reached, "{name}: target {t:.3} must be reached");
            assert_eq!(fit.quantized.psnr(), curve[k - 1], "{name}: K {k}");
            assert!(curve[k - 1] >= t, "{name}: K {k} reaches {t:.3}");
            assert!(
                k == 1 || curve[k - 2] < t,
                "{name}: K {} falls short of {t:.3}",
                k - 1
            );
            assert!(fit.k >= want);
            fewest += (fit.k == want) as usize;
        }
        // A larger K than the fewest only behind a dip, where PSNR falls as K grows.
        let dips = curve.windows(2).filter(|w| w[1] < w[0]).count();
        eprintln!(
            "{name}: {fewest} of {} targets at the fewest K; {dips} dips; {most_tries} tries at most",
            targets.len()
        );
        assert!(
            fewest * 10 >= targets.len() * 9,
            "{name}: {fewest} of {}",
            targets.len()
        );
        assert!(most_tries <= 12, "{name}: {most_tries} tries");
        let beyond = quantizer
            .fit_psnr(&prepared, curve[kmax as usize - 1] + 0.5)
            .unwrap();
        assert!(!beyond.reached);
        assert_eq!((beyond.k, beyond.tries), (kmax, 1));
    }

    #[test]
    fn psnr_search_gives_the_fewest_colors_that_reach_the_target() {
        check("chelsea.png", 64);
    }

    #[test]
    fn psnr_search_on_a_second_photo() {
        check("coffee.png", 48);
    }

    #[test]
    fn psnr_target_must_be_positive_and_finite() {
        let px = vec![[1u8, 2, 3, 255]; 16];
        let image = ImageRef::new(4, 4, &px).unwrap();
        let quantizer = Quantizer::new(Options::new(4).unwrap().with_backend(BackendChoice::Cpu)).unwrap();
        let prepared = quantizer.prepare(image, &mut |_| {}).unwrap();
        for bad in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            assert!(quantizer.fit_psnr(&prepared, bad).is_err());
        }
        // One color, exact: infinite PSNR reaches any target with K = 1.
        let fit = quantizer.fit_psnr(&prepared, 60.0).unwrap();
        assert_eq!((fit.k, fit.reached), (1, true));
    }
}
