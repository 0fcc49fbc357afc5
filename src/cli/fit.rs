//! `--max-bytes`: the library's size search ([`crate::Quantizer::fit`]), with the chosen K or
//! JPEG quality for the report.

use crate::encode::{EncodeOptions, Format};
use crate::{ImageRef, Quantized, Quantizer};
use anyhow::Result;

/// The chosen encoding: the result, its bytes, and the K or quality that was picked.
pub struct Fitted {
    pub q: Quantized,
    pub bytes: Vec<u8>,
    pub chosen_k: Option<u32>,
    pub chosen_quality: Option<u8>,
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
    })
}
