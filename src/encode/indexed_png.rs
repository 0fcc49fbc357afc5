//! A small indexed-PNG writer that compresses on every core.
//!
//! The image data is split into bands of rows; each band is deflated independently (raw deflate,
//! ended with a sync flush so the next band starts on a byte boundary, the last one with the
//! final block), and the bands are concatenated into one zlib stream (header, blocks, Adler-32 of
//! all the data). This is the same stream layout pigz uses: any PNG decoder reads it. Bands cost a
//! little ratio (no back-references across a band edge), so they are kept large.

use crate::error::{Error, Result};
use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

/// Smallest band, in bytes of filtered rows: below this the lost ratio outweighs the speed.
const MIN_BAND: usize = 2 << 20;

/// An indexed image ready to be written.
pub(crate) struct Indexed<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bits per index: 1, 2, 4 or 8.
    pub depth: u8,
    /// RGB triples.
    pub plte: &'a [u8],
    /// Alpha per entry, up to the last translucent one; empty when all are opaque.
    pub trns: &'a [u8],
    /// One index per pixel, row-major.
    pub indices: &'a [u8],
    /// Deflate level, 1 (fastest) to 9 (smallest).
    pub level: u8,
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend(kind);
    out.extend(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend(crc.to_be_bytes());
}

/// Packs one row of indices at `depth` bits, after the filter byte 0 (none).
fn pack_row(row: &[u8], depth: u8, out: &mut Vec<u8>) {
    out.push(0);
    if depth == 8 {
        out.extend_from_slice(row);
        return;
    }
    let per = 8 / depth as usize;
    for group in row.chunks(per) {
        let mut b = 0u8;
        for (i, &v) in group.iter().enumerate() {
            b |= v << (8 - depth as usize * (i + 1));
        }
        out.push(b);
    }
}

fn deflate_band(data: &[u8], last: bool, level: u8) -> Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level.clamp(1, 9) as u32), false);
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(|e| Error::Encode(e.to_string()))?;
        let done = c.total_in() as usize == data.len()
            && match status {
                Status::StreamEnd => true,
                // A sync flush is complete once the output has room left over.
                _ => !last && out.len() < out.capacity(),
            };
        if done {
            return Ok(out);
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// Adler-32 of `a ++ b` from Adler-32 of `a`, Adler-32 of `b` and the length of `b`.
fn adler32_combine(a: u32, b: u32, len_b: u64) -> u32 {
    const BASE: u64 = 65521;
    let rem = len_b % BASE;
    let a1 = a as u64 & 0xffff;
    let a2 = (a as u64 >> 16) & 0xffff;
    let b1 = b as u64 & 0xffff;
    let b2 = (b as u64 >> 16) & 0xffff;
    let sum1 = (a1 + b1 + BASE - 1) % BASE;
    let sum2 = (rem * a1 % BASE + a2 + b2 + BASE - rem) % BASE;
    (sum1 | (sum2 << 16)) as u32
}

/// Encodes the image as PNG bytes.
pub(crate) fn write(img: &Indexed<'_>) -> Result<Vec<u8>> {
    let (w, h) = (img.width as usize, img.height as usize);
    let row_bytes = 1 + (w * img.depth as usize).div_ceil(8);
    let by_size = (MIN_BAND / row_bytes).max(1);
    let by_threads = h.div_ceil(rayon::current_num_threads() * 2);
    let rows_per_band = by_size.max(by_threads).min(h).max(1);
    let bands: Vec<&[u8]> = img.indices.chunks(rows_per_band * w).collect();
    let n = bands.len();
    let parts: Vec<(Vec<u8>, u32, u64)> = bands
        .par_iter()
        .enumerate()
        .map(|(i, band)| {
            let mut raw = Vec::with_capacity(band.len() / w * row_bytes);
            for row in band.chunks(w) {
                pack_row(row, img.depth, &mut raw);
            }
            let mut adler = simd_adler32::Adler32::new();
            adler.write(&raw);
            Ok((
                deflate_band(&raw, i + 1 == n, img.level)?,
                adler.finish(),
                raw.len() as u64,
            ))
        })
        .collect::<Result<_>>()?;
    let mut adler = 1u32;
    for (_, a, len) in &parts {
        adler = adler32_combine(adler, *a, *len);
    }
    let mut zlib = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum::<usize>() + 6);
    zlib.extend([0x78, 0x9C]);
    for (d, _, _) in &parts {
        zlib.extend_from_slice(d);
    }
    zlib.extend(adler.to_be_bytes());

    let mut out = Vec::with_capacity(zlib.len() + img.plte.len() + 1024);
    out.extend(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(img.width.to_be_bytes());
    ihdr.extend(img.height.to_be_bytes());
    ihdr.extend([img.depth, 3, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", img.plte);
    if !img.trns.is_empty() {
        chunk(&mut out, b"tRNS", img.trns);
    }
    for part in zlib.chunks(1 << 20) {
        chunk(&mut out, b"IDAT", part);
    }
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn adler_combine_matches_direct_adler() {
        let data: Vec<u8> = (0..300_000u32).map(|i| ((i * 7919) >> 5) as u8).collect();
        let whole = simd_adler32::adler32(&data.as_slice());
        for cut in [0, 1, 65520, 65521, 200_000, data.len()] {
            let (a, b) = data.split_at(cut);
            let c = adler32_combine(
                simd_adler32::adler32(&a),
                simd_adler32::adler32(&b),
                b.len() as u64,
            );
            assert_eq!(c, whole, "cut at {cut}");
        }
    }

    #[test]
    fn banded_stream_inflates_with_checksum_and_decodes_as_png() {
        // Wide enough for several bands; values exercise every depth.
        for (w, h, depth, colors) in [
            (3000u32, 2000u32, 8u8, 200u32),
            (1001, 777, 4, 16),
            (513, 100, 1, 2),
            (7, 3, 2, 4),
        ] {
            let indices: Vec<u8> = (0..w * h).map(|i| ((i / 3 + i % 17) % colors) as u8).collect();
            let plte: Vec<u8> = (0..colors).flat_map(|c| [c as u8, 255 - c as u8, 7]).collect();
            let png = write(&Indexed {
                width: w,
                height: h,
                depth,
                plte: &plte,
                trns: &[],
                indices: &indices,
                level: 6,
            })
            .unwrap();
            // Gather IDAT and inflate with a decoder that checks Adler-32.
            let mut idat = Vec::new();
            let mut pos = 8;
            while pos < png.len() {
                let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
                if &png[pos + 4..pos + 8] == b"IDAT" {
                    idat.extend_from_slice(&png[pos + 8..pos + 8 + len]);
                }
                pos += 12 + len;
            }
            let mut raw = Vec::new();
            flate2::read::ZlibDecoder::new(&idat[..])
                .read_to_end(&mut raw)
                .expect("valid zlib with checksum");
            let img = image::load_from_memory(&png).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (w, h));
            for (i, p) in img.pixels().enumerate().step_by(997) {
                let c = indices[i] as usize;
                assert_eq!(
                    p.0,
                    [plte[3 * c], plte[3 * c + 1], plte[3 * c + 2]],
                    "pixel {i} ({w}x{h}, depth {depth})"
                );
            }
        }
    }
}
