//! `--max-bytes`: the largest K (PNG, GIF) or the highest JPEG quality whose output fits, by
//! bisection. The histogram is counted once; JPEG reuses one quantization for every quality.

use anyhow::{bail, Result};
use kmquant::encode::{encode, EncodeOptions, Format};
use kmquant::{ImageRef, Quantized, Quantizer};

/// The chosen encoding: the result, its bytes, and the K or quality that was picked.
pub struct Fitted {
    pub q: Quantized,
    pub bytes: Vec<u8>,
    pub chosen_k: Option<u32>,
    pub chosen_quality: Option<u8>,
}

/// The largest value in `lo..=hi` for which `fits` holds, given that `lo` fits: bisection, with
/// the last fitting value's output kept.
fn largest_fitting<T>(
    mut lo: u32,
    mut hi: u32,
    mut best: T,
    mut attempt: impl FnMut(u32) -> Result<(bool, T)>,
) -> Result<(u32, T)> {
    // Invariant: `lo` fits, `hi + 1` does not.
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let (fits, out) = attempt(mid)?;
        if fits {
            lo = mid;
            best = out;
        } else {
            hi = mid - 1;
        }
    }
    Ok((lo, best))
}

/// Runs the search for `format` with palette size at most `kmax` and `max` bytes.
pub fn fit(
    quantizer: &Quantizer,
    image: ImageRef<'_>,
    format: Format,
    enc: EncodeOptions,
    kmax: u32,
    max: u64,
) -> Result<Fitted> {
    let prepared = quantizer.prepare(image, &mut |_| {})?;
    if format == Format::Jpeg {
        let q = quantizer.quantize_prepared(&prepared, kmax, &mut |_| {})?;
        let try_q = |quality: u32| -> Result<(bool, Vec<u8>)> {
            let quality = quality as u8;
            let b = encode(&q, format, &EncodeOptions { quality, ..enc })?;
            Ok((b.len() as u64 <= max, b))
        };
        let (fits, lowest) = try_q(1)?;
        if !fits {
            bail!(
                "does not fit in {max} bytes even at JPEG quality 1 ({} bytes)",
                lowest.len()
            );
        }
        let (quality, bytes) = largest_fitting(1, enc.quality as u32, lowest, try_q)?;
        return Ok(Fitted {
            q,
            bytes,
            chosen_k: None,
            chosen_quality: Some(quality as u8),
        });
    }
    let attempt = |k: u32| -> Result<(bool, (Quantized, Vec<u8>))> {
        let q = quantizer.quantize_prepared(&prepared, k, &mut |_| {})?;
        let b = encode(&q, format, &enc)?;
        Ok((b.len() as u64 <= max, (q, b)))
    };
    let (fits, top) = attempt(kmax)?;
    let (k, (q, bytes)) = if fits {
        (kmax, top)
    } else {
        let (fits, one) = attempt(1)?;
        if !fits {
            bail!(
                "does not fit in {max} bytes even with 1 color ({} bytes)",
                one.1.len()
            );
        }
        largest_fitting(1, kmax - 1, one, attempt)?
    };
    Ok(Fitted {
        q,
        bytes,
        chosen_k: Some(k),
        chosen_quality: None,
    })
}
