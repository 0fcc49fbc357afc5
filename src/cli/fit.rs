//! `--max-bytes` and `--target-psnr`: the library's size search ([`crate::Quantizer::fit`]) and
//! quality search ([`crate::Quantizer::fit_psnr`]), with what they chose for the report.

use crate::encode::{EncodeOptions, Format};
use crate::{ImageRef, Quantized, Quantizer};
use anyhow::Result;

/// The chosen encoding: the result, its bytes, and the K or quality that was picked.
pub struct Fitted {
    pub q: Quantized,
    pub bytes: Vec<u8>,
    pub chosen_k: Option<u32>,
    pub chosen_quality: Option<u8>,
    /// For --target-psnr: whether the chosen K reaches it, and how many K were tried.
    pub target: Option<(bool, u32)>,
}

/// What to search for.
pub enum Goal {
    /// --max-bytes: the largest K up to the asked one (PNG, GIF), or the highest quality up to
    /// `enc.quality` (JPEG), whose file fits in this many bytes.
    MaxBytes(u64),
    /// --target-psnr: the fewest colors up to the asked K whose PSNR reaches this many dB.
    Psnr(f64),
}

/// Counts the histogram once and searches for `goal`; the chosen encoding.
pub fn fit(
    quantizer: &Quantizer,
    image: ImageRef<'_>,
    format: Format,
    enc: EncodeOptions,
    goal: Goal,
) -> Result<Fitted> {
    let prepared = quantizer.prepare(image, &mut |_| {})?;
    match goal {
        Goal::MaxBytes(max) => {
            let f = quantizer.fit(&prepared, format, &enc, max)?;
            let jpeg = format == Format::Jpeg;
            Ok(Fitted {
                q: f.quantized,
                bytes: f.bytes,
                chosen_k: (!jpeg).then_some(f.value),
                chosen_quality: jpeg.then_some(f.value as u8),
                target: None,
            })
        }
        Goal::Psnr(target) => {
            let f = quantizer.fit_psnr(&prepared, target)?;
            let bytes = crate::encode::encode(&f.quantized, format, &enc)?;
            Ok(Fitted {
                q: f.quantized,
                bytes,
                chosen_k: Some(f.k),
                chosen_quality: None,
                target: Some((f.reached, f.tries)),
            })
        }
    }
}
