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

/// The largest K up to the asked one (PNG, GIF), or the highest quality up to `enc.quality`
/// (JPEG), whose file fits in `max` bytes.
pub fn fit(
    quantizer: &Quantizer,
    image: ImageRef<'_>,
    format: Format,
    enc: EncodeOptions,
    max: u64,
) -> Result<Fitted> {
    let prepared = quantizer.prepare(image, &mut |_| {})?;
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

/// The fewest colors up to the asked K whose PSNR reaches `target` dB, encoded.
pub fn target(
    quantizer: &Quantizer,
    image: ImageRef<'_>,
    format: Format,
    enc: EncodeOptions,
    target: f64,
) -> Result<Fitted> {
    let prepared = quantizer.prepare(image, &mut |_| {})?;
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
