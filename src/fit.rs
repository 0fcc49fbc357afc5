//! Fitting a file size: the largest palette size K (PNG, GIF) or the highest JPEG quality whose
//! file fits in a number of bytes, with the histogram counted once.
//!
//! The file size grows with K and with the quality, but not strictly: one more color sometimes
//! gives a file a fraction of a percent smaller. The search returns what trying every value
//! would, at the cost of a few tries:
//!
//! 1. Estimates locate the boundary: a try at K = 32 first (or the top value when it is lower,
//!    and for JPEG quality), then a power-law guess, then secant steps on log(size) against
//!    log(value), always inside the bracket; the top value only when the guesses reach it. The
//!    value found is encoded in full; its exact size scales the estimates near it, and the
//!    boundary is found again with the scaled estimates, from there, on the side the exact size
//!    says.
//! 2. Up by estimate from there, until the estimate is further over the limit than any drop in
//!    size to a later value could undo ([`dip_bound`]) and than the estimate's own margin. That
//!    bound is fitted, with half again as much margin, to the largest drops from one value to
//!    the next measured with `examples/size_curve.rs` over the small and medium corpus photos
//!    (every K to 256) and two large ones (K to 128): in K they shrink as K grows (3.11% at K 6
//!    on bridge, 3.35% at 20 on astronaut, 2.32% at 26, under 1% from K 37 on), in JPEG quality
//!    they are at most 0.08%. Measured again over every K to 256 of 18 photos, the largest drop
//!    from a K to any later one is at most 0.66 of the bound.
//! 3. Down from there to the first value whose file fits. A value whose scaled estimate is within
//!    its margin of the limit is encoded in full; others are passed by their estimate.
//!
//! Estimates ([`crate::encode::estimate`]) encode an eighth of the rows: blocks of 4 rows for
//! PNG (32 for JPEG). An estimate is scaled by the ratio of exact to estimated size at the
//! nearest value encoded in full; its margin grows as K shrinks and with the distance to that
//! value ([`margin`]), and is at least three times the spread of the ratios at the exact values
//! near it. An estimate is never used unscaled to decide: a value with nothing to scale it is
//! encoded in full. Exact sizes replace estimates where those move too much: K up to
//! [`EXACT_UP_TO_K`], images under a megapixel, and GIF, whose LZW runs on every core in less
//! time than the pixels take to map (so GIF needs no margin).
//!
//! Each K is clustered once (the clusters of the latest few are kept), an estimate maps only the
//! rows it encodes, and only values encoded in full are mapped whole.
//!
//! The answer is the largest value whose full encoding fits. It is the answer of trying every
//! value as long as the drops stay within the bound and the scaled estimates within their
//! margin. The tests check it against trying every value on the fixtures, full size (estimates
//! exact) and enlarged past a megapixel (estimates sampled), for limits at every kind of place,
//! dips included. `examples/size_curve.rs` records every K's sizes and estimates for any photo
//! and `examples/fit_check.rs` checks the search against them. Replayed over those records for
//! the 18 photos of the corpus and its held-out set, the search gives the answer of trying every
//! K at every limit tried (BENCHMARKS.md).

use crate::encode::{encode, estimate, estimate_sampled, is_sampled, sampled_rows, EncodeOptions, Format};
use crate::error::{Error, Result};
use crate::quantized::Quantized;
use crate::quantizer::{Clusters, Prepared, Quantizer};
use std::collections::BTreeMap;

/// How far over the limit a file at `value` must be for the walk up to stop: for K,
/// min(8%, 32% / K^0.6) (5.0% at K 20, 3.9% at 33, 2.0% at 100); for JPEG quality, 0.5%.
pub fn dip_bound(value: u32, colors: bool) -> f64 {
    if colors {
        (0.32 / (value as f64).powf(0.6)).min(0.08)
    } else {
        0.005
    }
}

/// What the search chose.
pub struct Fitted {
    /// The quantized image of the chosen K (for JPEG: of the asked K).
    pub quantized: Quantized,
    /// The file.
    pub bytes: Vec<u8>,
    /// The chosen K (PNG, GIF) or JPEG quality.
    pub value: u32,
}

/// Clusters kept at most, for the K nearest the latest one: a try's labels take a byte per
/// unique color.
const KEEP_CLUSTERS: usize = 8;

/// One try's results, kept so that no K is clustered twice and no value encoded twice.
struct Tries<'a, 'p> {
    max: u64,
    /// value -> estimated size.
    estimates: BTreeMap<u32, f64>,
    /// value -> exact size, and the file when it fits.
    exact: BTreeMap<u32, (u64, Option<Vec<u8>>)>,
    quantizer: &'a Quantizer,
    prepared: &'a Prepared<'p>,
    /// Whether the quantization depends on the value (PNG, GIF: the value is K); JPEG has one
    /// quantization, at `kmax`, for every quality.
    per_value: bool,
    kmax: u32,
    /// K -> its palette and labels, for the K nearest the latest.
    clusters: BTreeMap<u32, Clusters>,
    /// The last quantization in full, by K.
    last: Option<(u32, Quantized)>,
    /// The quantization of the best fit so far.
    kept: Option<(u32, Quantized)>,
    /// Encoding options for a value.
    options: Box<dyn Fn(u32) -> EncodeOptions + 'a>,
    format: Format,
}

impl Tries<'_, '_> {
    fn k_of(&self, v: u32) -> u32 {
        if self.per_value {
            v
        } else {
            self.kmax
        }
    }

    /// K's clusters, found once.
    fn clusters(&mut self, k: u32) -> Result<&Clusters> {
        if !self.clusters.contains_key(&k) {
            let c = self.quantizer.clusters(self.prepared, k, &mut |_| {})?;
            self.clusters.insert(k, c);
            while self.clusters.len() > KEEP_CLUSTERS {
                let far = self.clusters.keys().copied().max_by_key(|&x| x.abs_diff(k));
                if let Some(far) = far {
                    self.clusters.remove(&far);
                }
            }
        }
        self.clusters
            .get(&k)
            .ok_or_else(|| Error::Encode("no clusters to map".into()))
    }

    /// `v`'s quantization, every pixel mapped.
    fn quantized(&mut self, v: u32) -> Result<&Quantized> {
        let k = self.k_of(v);
        if self.last.as_ref().is_none_or(|(lk, _)| *lk != k) {
            let (quantizer, prepared) = (self.quantizer, self.prepared);
            let q = quantizer.finish(prepared, self.clusters(k)?, &mut |_| {})?;
            self.last = Some((k, q));
        }
        match &self.last {
            Some((_, q)) => Ok(q),
            None => Err(Error::Encode("no quantization to encode".into())),
        }
    }

    /// How the size grows with the value, as the power of a power law: from K = 32 to the K near
    /// 60% of the K = 256 file, 0.51 for PNG and 0.6 for GIF on bridge and kleiber; 0.45 for JPEG
    /// quality.
    fn growth(&self) -> f64 {
        match self.format {
            Format::Png => 0.5,
            Format::Gif => 0.6,
            Format::Jpeg => 0.45,
        }
    }

    /// Whether `v`'s estimate is its exact size: for GIF, whose LZW on every core costs little
    /// more than mapping the pixels; for images too small to sample; and for K up to
    /// [`EXACT_UP_TO_K`], where a sample's error moves too much from one K to the next.
    fn exact_at(&self, v: u32) -> bool {
        self.format == Format::Gif
            || (self.per_value && v <= EXACT_UP_TO_K)
            || !is_sampled(self.prepared.width(), self.prepared.height())
    }

    /// `v`'s estimated size. For PNG without dithering only the sampled rows are mapped.
    fn estimate(&mut self, v: u32) -> Result<f64> {
        if let Some(&e) = self.estimates.get(&v) {
            return Ok(e);
        }
        if self.exact_at(v) {
            let n = self.exact(v)? as f64;
            self.estimates.insert(v, n);
            return Ok(n);
        }
        let opts = (self.options)(v);
        let format = self.format;
        let (w, h) = (self.prepared.width(), self.prepared.height());
        let mut sample = None;
        if let (true, Some(rows)) = (self.per_value, sampled_rows(w, h, format)) {
            let (quantizer, prepared) = (self.quantizer, self.prepared);
            let k = self.k_of(v);
            sample = quantizer.sampled(prepared, self.clusters(k)?, &rows);
        }
        let e = match sample {
            Some((palette, indices)) => estimate_sampled(w, h, &palette, &indices, false, format, &opts)?,
            None => estimate(self.quantized(v)?, format, &opts)?,
        };
        log::debug!("fit: {v} estimated at {e:.0} bytes");
        self.estimates.insert(v, e);
        Ok(e)
    }

    /// The exact size of `v`'s file; a file that fits is kept when it beats the one kept.
    fn exact(&mut self, v: u32) -> Result<u64> {
        if let Some((n, _)) = self.exact.get(&v) {
            return Ok(*n);
        }
        let opts = (self.options)(v);
        let format = self.format;
        let bytes = encode(self.quantized(v)?, format, &opts)?;
        let n = bytes.len() as u64;
        let fits = n <= self.max;
        log::debug!("fit: {v} encoded in full: {n} bytes");
        self.exact.insert(v, (n, fits.then_some(bytes)));
        if fits && self.kept.as_ref().is_none_or(|(kv, _)| *kv < v) {
            self.kept = Some((v, self.quantized(v)?.clone()));
        }
        Ok(n)
    }

    /// The estimate of `v` scaled by the ratio of exact to estimated size at the values encoded
    /// in full, and the margin to allow it (a fraction of the limit; see [`margin`]). The margin is
    /// infinite while nothing can scale the estimate: it then only locates the boundary.
    fn calibrated(&mut self, v: u32) -> Result<(f64, f64)> {
        let e = self.estimate(v)?;
        if self.exact_at(v) {
            return Ok((e, 0.0));
        }
        // Values encoded in full whose estimate was sampled too, by distance from v.
        let mut ratios: Vec<(u32, f64)> = self
            .exact
            .iter()
            .filter(|(x, _)| !self.exact_at(**x))
            .filter_map(|(x, (n, _))| self.estimates.get(x).map(|e| (x.abs_diff(v), *n as f64 / e)))
            .collect();
        ratios.sort_by_key(|r| r.0);
        let Some(&(d, _)) = ratios.first() else {
            // Nothing to scale by yet: the estimate as it is, good only to locate the boundary.
            return Ok((e, f64::INFINITY));
        };
        if !self.per_value {
            // JPEG quality: the mean ratio, and three times the largest error left, at least 1%.
            let bias = ratios.iter().map(|r| r.1).sum::<f64>() / ratios.len() as f64;
            let worst = ratios
                .iter()
                .map(|r| (r.1 / bias - 1.0).abs())
                .fold(0.0, f64::max);
            return Ok((e * bias, (3.0 * worst).max(0.01)));
        }
        // K: the ratio at the nearest values, and a margin for how far it may have moved.
        let nearest: Vec<f64> = ratios.iter().filter(|r| r.0 == d).map(|r| r.1).collect();
        let bias = nearest.iter().sum::<f64>() / nearest.len() as f64;
        let worst = ratios
            .iter()
            .filter(|r| r.0 <= NEAR)
            .map(|r| (r.1 / bias - 1.0).abs())
            .fold(0.0, f64::max);
        Ok((e * bias, (3.0 * worst).max(margin(v, d))))
    }

    /// [`Tries::calibrated`] for a decision: when no value encoded in full can scale `v`'s
    /// estimate (its bias is unknown: the file is 0.92 to 1.00 times the estimate on the corpus
    /// photos at K 17 and above, 0.69 times on an enlarged fixture), `v` is encoded in full
    /// first, so the estimate is never trusted unscaled.
    fn scaled(&mut self, v: u32) -> Result<(f64, f64)> {
        let (ce, eps) = self.calibrated(v)?;
        if eps.is_finite() {
            return Ok((ce, eps));
        }
        self.exact(v)?;
        self.calibrated(v)
    }
}

/// Estimates are replaced by the exact size up to this K: below 17 colors the rows are 4-bit,
/// and a sample's error moved by up to 6.7% within two values of K and 10% within eight
/// (canopee at K 2 to 16, measured when these were deflated at level 9).
const EXACT_UP_TO_K: u32 = 16;

/// Exact values this close in K count in the spread of [`Tries::calibrated`].
const NEAR: u32 = 16;

/// The least margin of an estimate of K scaled at an exact value `d` values away:
/// 10% / sqrt(K) x (1 + d / 16) (2.4% at K 17, 1.25% at 64, 0.63% at 256; twice that 16 values
/// away). The ratio of exact to estimated size moves, over every K of the 18 corpus and
/// held-out photos, by up to 1.05% from one K to the next at K 17 to 24, 1.48% at 25 to 48,
/// 0.75% at 49 to 96 and 0.41% above; up to 1.6%, 1.6%, 1.25% and 0.91% within 16 values.
/// Replayed over those records (`examples/size_curve.rs`), 7% in place of 10% still gave every
/// answer right and 6% did not.
fn margin(k: u32, d: u32) -> f64 {
    0.10 / (k as f64).sqrt() * (1.0 + d as f64 / 16.0)
}

/// The value the boundary search tries first when it is below the top one: clustering costs
/// grow with K, so a low first try is cheap, and the power law from it lands near the boundary.
const FIRST_TRY: u32 = 32;

/// Where the estimates put the boundary: the largest value in `lo..=hi` whose estimate fits
/// (or `lo`). Starts from `first` (clamped into the range); then a power-law guess
/// ([`Tries::growth`]), then secant steps on log(size) against log(value) through the
/// two latest points (the power law from the latest when they are out of order), always inside
/// the bracket. `hi` is tried only when the guesses reach it.
fn boundary(tries: &mut Tries<'_, '_>, lo: u32, hi: u32, first: u32) -> Result<u32> {
    let max = tries.max as f64;
    let first = first.clamp(lo, hi);
    let ef = tries.calibrated(first)?.0;
    if ef <= max && first == hi {
        return Ok(hi);
    }
    // est(a) fits (or a is lo); est(b) does not (or b is past hi: not tried yet).
    let (mut a, mut b) = if ef <= max { (first, hi + 1) } else { (lo, first) };
    let mut last = (first, ef);
    let growth = tries.growth();
    let mut guess = (first as f64 * (max / ef).powf(1.0 / growth)).round() as u32;
    while b - a > 1 {
        let m = guess.clamp(a + 1, b - 1);
        let em = tries.calibrated(m)?.0;
        if em <= max {
            a = m;
        } else {
            b = m;
        }
        let (lm, ll) = ((m as f64).ln(), (last.0 as f64).ln());
        let slope = (em.ln() - last.1.ln()) / (lm - ll);
        guess = if slope.is_finite() && slope > 0.01 {
            (lm + (max.ln() - em.ln()) / slope).exp().round() as u32
        } else {
            // Two estimates out of order (sizes are not monotone): the power law from the latest.
            let g = (m as f64 * (max / em).powf(1.0 / growth)).round() as u32;
            match g.cmp(&m) {
                std::cmp::Ordering::Equal if em > max => m - 1,
                std::cmp::Ordering::Equal => m + 1,
                _ => g,
            }
        };
        last = (m, em);
    }
    Ok(a)
}

/// The largest value in `lo..=hi` whose file fits in `tries.max` bytes (see the module docs).
fn search(tries: &mut Tries<'_, '_>, lo: u32, hi: u32) -> Result<u32> {
    let max = tries.max as f64;
    // Where the estimates put the boundary: from K = 32 (or the top value when it is lower), and
    // from the top JPEG quality, where a try costs the same anywhere.
    let first = if tries.per_value { FIRST_TRY } else { hi };
    let mut v = boundary(tries, lo, hi, first)?;
    // That value in full scales the estimates; where they were off, the boundary is found again
    // from it with the scaled estimates, on the side the exact size says.
    let n = tries.exact(v)?;
    if !tries.exact_at(v) {
        let guess = (v as f64 * (max / n as f64).powf(1.0 / tries.growth())).round() as u32;
        if n <= tries.max && v < hi {
            v = boundary(tries, v, hi, guess.max(v + 1))?;
        } else if n > tries.max && v > lo {
            v = boundary(tries, lo, v - 1, guess.min(v - 1))?;
        }
        // The new boundary in full too: the values near it are then scaled from close by, with
        // smaller margins.
        tries.exact(v)?;
    }
    // Up by estimate until no later value can fit: the calibrated estimate is further over the
    // limit than any drop in size could undo.
    let mut top = v;
    while top < hi {
        let (ce, eps) = tries.scaled(top + 1)?;
        if ce > max * (1.0 + dip_bound(top + 1, tries.per_value) + eps) {
            break;
        }
        top += 1;
    }
    // Down from there to the first value whose file fits, encoding in full only the values whose
    // calibrated estimate leaves a chance (and the lowest, to say how big it is).
    let mut u = top;
    loop {
        let (ce, eps) = tries.scaled(u)?;
        if (u == lo || ce <= max * (1.0 + eps)) && tries.exact(u)? <= tries.max {
            return Ok(u);
        }
        if u == lo {
            return Err(Error::DoesNotFit {
                max: tries.max,
                smallest: tries.exact(lo)?,
                at: if tries.per_value {
                    "with 1 color"
                } else {
                    "at JPEG quality 1"
                },
            });
        }
        u -= 1;
    }
}

impl Quantizer {
    /// The largest K up to `options().k()` (PNG, GIF), or the highest JPEG quality up to
    /// `enc.quality` with one quantization at K, whose file fits in `max` bytes. The histogram is
    /// counted once. [`Error::DoesNotFit`] when even 1 color (or quality 1) is too big.
    pub fn fit(
        &self,
        prepared: &Prepared<'_>,
        format: Format,
        enc: &EncodeOptions,
        max: u64,
    ) -> Result<Fitted> {
        let kmax = self.options().k();
        let (lo, hi) = match format {
            Format::Jpeg => (1, enc.quality.clamp(1, 100) as u32),
            _ => (1, kmax),
        };
        let enc = enc.clone();
        let mut tries = Tries {
            max,
            estimates: BTreeMap::new(),
            exact: BTreeMap::new(),
            quantizer: self,
            prepared,
            per_value: format != Format::Jpeg,
            kmax,
            clusters: BTreeMap::new(),
            last: None,
            kept: None,
            options: match format {
                Format::Jpeg => Box::new(move |q| EncodeOptions {
                    quality: q as u8,
                    ..enc.clone()
                }),
                _ => Box::new(move |_| enc.clone()),
            },
            format,
        };
        let value = search(&mut tries, lo, hi)?;
        let bytes = match tries.exact.remove(&value) {
            Some((_, Some(b))) => b,
            _ => return Err(Error::Encode("the chosen file was not kept".into())),
        };
        let quantized = match tries.kept {
            Some((v, q)) if v == value => q,
            _ => tries.quantized(value)?.clone(),
        };
        Ok(Fitted {
            quantized,
            bytes,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackendChoice, ImageRef, Options};

    /// Every value's exact size, and the answer trying them all would give for each limit.
    fn exhaustive(sizes: &BTreeMap<u32, u64>, max: u64) -> Option<u32> {
        sizes.iter().filter(|(_, &n)| n <= max).map(|(&v, _)| v).max()
    }

    /// Limits at every kind of place: at a size, one byte under, inside the dips where a larger
    /// value gives a smaller file, below everything.
    fn limits(sizes: &BTreeMap<u32, u64>) -> Vec<u64> {
        let v: Vec<(u32, u64)> = sizes.iter().map(|(&k, &n)| (k, n)).collect();
        let mut out = vec![v[0].1 - 1];
        for w in v.windows(2) {
            let ((_, a), (_, b)) = (w[0], w[1]);
            if b < a {
                out.push(a - 1); // inside a dip: the larger value fits, the smaller does not
            }
        }
        for i in (0..v.len()).step_by(7) {
            out.extend([v[i].1, v[i].1 - 1, v[i].1 + 1]);
        }
        out
    }

    fn check(name: &str, format: Format, kmax: u32) {
        let (w, h, px) = crate::testutil::fixture(name);
        check_image(name, w, h, &px, format, kmax);
    }

    fn check_image(name: &str, w: u32, h: u32, px: &[[u8; 4]], format: Format, kmax: u32) {
        let image = ImageRef::new(w, h, px).unwrap();
        let quantizer = Quantizer::new(Options::new(kmax).unwrap().with_backend(BackendChoice::Cpu)).unwrap();
        let prepared = quantizer.prepare(image, &mut |_| {}).unwrap();
        let enc = EncodeOptions {
            quality: 90,
            ..EncodeOptions::default()
        };
        let sizes: BTreeMap<u32, u64> = if format == Format::Jpeg {
            let q = quantizer.quantize_prepared(&prepared, kmax, &mut |_| {}).unwrap();
            (1..=90u32)
                .map(|quality| {
                    let o = EncodeOptions {
                        quality: quality as u8,
                        ..enc.clone()
                    };
                    (quality, encode(&q, format, &o).unwrap().len() as u64)
                })
                .collect()
        } else {
            (1..=kmax)
                .map(|k| {
                    let q = quantizer.quantize_prepared(&prepared, k, &mut |_| {}).unwrap();
                    (k, encode(&q, format, &enc).unwrap().len() as u64)
                })
                .collect()
        };
        let lims = limits(&sizes);
        assert!(lims.len() > 20, "{name} {format:?}: {} limits", lims.len());
        for max in lims {
            match (
                quantizer.fit(&prepared, format, &enc, max),
                exhaustive(&sizes, max),
            ) {
                (Ok(f), Some(want)) => {
                    assert_eq!(f.value, want, "{name} {format:?} max {max}");
                    assert_eq!(f.bytes.len() as u64, sizes[&want]);
                }
                (Err(Error::DoesNotFit { .. }), None) => {}
                (got, want) => panic!(
                    "{name} {format:?} max {max}: got {:?}, want {want:?}",
                    got.map(|f| f.value)
                ),
            }
        }
    }

    #[test]
    fn png_search_gives_the_exhaustive_answer_for_every_kind_of_limit() {
        check("chelsea.png", Format::Png, 96);
    }

    #[test]
    fn gif_search_gives_the_exhaustive_answer_for_every_kind_of_limit() {
        check("coffee.png", Format::Gif, 64);
    }

    /// A fixture three times as wide and high (2.2 MP): its estimates are sampled, so the search
    /// scales them, allows margins and finds the boundary again after the first exact size.
    #[test]
    fn png_search_with_sampled_estimates_gives_the_exhaustive_answer() {
        let (w, h, px) = crate::testutil::fixture("coffee.png");
        let (w3, h3) = (w * 3, h * 3);
        let big: Vec<[u8; 4]> = (0..h3 * w3)
            .map(|i| px[((i / w3 / 3) * w + (i % w3) / 3) as usize])
            .collect();
        assert!(crate::encode::sampled_rows(w3, h3, Format::Png).is_some());
        check_image("coffee.png x3", w3, h3, &big, Format::Png, 48);
    }

    #[test]
    fn jpeg_search_gives_the_exhaustive_answer_for_every_kind_of_limit() {
        check("coffee.png", Format::Jpeg, 32);
    }
}
