//! A small indexed-PNG writer that compresses on every core, with the same bytes whatever the
//! number of cores.
//!
//! The filtered rows are one byte stream, cut into bands of a fixed size ([`BAND`], never
//! derived from the thread count). Each band is deflated on its own (raw deflate, ended with a
//! sync flush so the next band starts on a byte boundary, the last one with the final block),
//! with the 32 KiB before it as a preset dictionary, so its matches may reach back into the
//! previous band exactly as in one stream. The bands are concatenated into one zlib stream
//! (header, blocks, Adler-32 of all the data). This is the stream layout pigz uses: any PNG
//! decoder reads it, and it costs about 0.1% against one stream.

use crate::error::{Error, Result};
use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

/// Bytes of filtered rows per band: small enough that a 10 MP image keeps 16 cores busy.
const BAND: usize = 256 << 10;
/// The deflate window: how far back a band's dictionary reaches.
const WINDOW: usize = 32 << 10;
/// Rows packed per task.
const PACK_ROWS: usize = 64;

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
    /// Chunks written between IHDR and PLTE (color space and density), as (type, data).
    pub ancillary: &'a [([u8; 4], Vec<u8>)],
}

/// Appends one chunk: length, type, data and CRC.
pub(crate) fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
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

/// Deflates `data` as a band that follows `dictionary` in the stream.
fn deflate_band(dictionary: &[u8], data: &[u8], last: bool, level: u8) -> Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level.clamp(1, 9) as u32), false);
    if !dictionary.is_empty() {
        c.set_dictionary(dictionary)
            .map_err(|e| Error::Encode(e.to_string()))?;
    }
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

/// The filtered rows (filter type 0, indices packed at `depth` bits), packed on every core.
fn pack(img: &Indexed<'_>) -> Vec<u8> {
    let w = img.width as usize;
    let row_bytes = 1 + (w * img.depth as usize).div_ceil(8);
    let mut raw = vec![0u8; row_bytes * img.height as usize];
    raw.par_chunks_mut(row_bytes * PACK_ROWS)
        .zip(img.indices.par_chunks(w * PACK_ROWS))
        .for_each(|(out, rows)| {
            let mut buf = Vec::with_capacity(out.len());
            for row in rows.chunks(w) {
                pack_row(row, img.depth, &mut buf);
            }
            out.copy_from_slice(&buf);
        });
    raw
}

/// The zlib stream of `raw`: fixed bands deflated on every core, each primed with the window
/// before it, and the Adler-32 of the whole.
fn zlib_stream(raw: &[u8], level: u8) -> Result<Vec<u8>> {
    let n = raw.len().div_ceil(BAND).max(1);
    let parts: Vec<(Vec<u8>, u32, u64)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (start, end) = (i * BAND, ((i + 1) * BAND).min(raw.len()));
            let dictionary = &raw[start.saturating_sub(WINDOW)..start];
            let band = &raw[start..end];
            let mut adler = simd_adler32::Adler32::new();
            adler.write(band);
            Ok((
                deflate_band(dictionary, band, i + 1 == n, level)?,
                adler.finish(),
                band.len() as u64,
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
    Ok(zlib)
}

/// Encodes the image as PNG bytes.
pub(crate) fn write(img: &Indexed<'_>) -> Result<Vec<u8>> {
    let zlib = zlib_stream(&pack(img), img.level)?;
    let mut out = Vec::with_capacity(zlib.len() + img.plte.len() + 1024);
    out.extend(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(img.width.to_be_bytes());
    ihdr.extend(img.height.to_be_bytes());
    ihdr.extend([img.depth, 3, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    for (kind, data) in img.ancillary {
        chunk(&mut out, kind, data);
    }
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
                ancillary: &[],
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

#[cfg(test)]
mod band_tests {
    use super::*;

    fn sample(w: u32, h: u32) -> Vec<u8> {
        (0..w * h)
            .map(|i| (((i % w) / 7 + (i / w) / 5 + (i.wrapping_mul(2654435761) >> 29)) % 200) as u8)
            .collect()
    }

    #[test]
    fn bytes_are_the_same_on_one_thread_and_on_many() {
        // 6 MB of rows: a band count taken from the thread count would show here (one thread
        // would get 1000-row bands, two 698-row ones, under the rule this writer used to have).
        let (w, h) = (3000u32, 2000u32);
        let indices = sample(w, h);
        let plte: Vec<u8> = (0..200u32).flat_map(|c| [c as u8, 9, 200 - c as u8]).collect();
        let img = Indexed {
            width: w,
            height: h,
            depth: 8,
            plte: &plte,
            trns: &[],
            indices: &indices,
            level: 3,
            ancillary: &[],
        };
        let on = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| write(&img).unwrap())
        };
        let one = on(1);
        assert!(raw_len(&img) > 4 * BAND, "the image must span several bands");
        for threads in [2, 3, 8] {
            assert!(on(threads) == one, "{threads} threads wrote other bytes");
        }
    }

    fn raw_len(img: &Indexed<'_>) -> usize {
        (1 + (img.width as usize * img.depth as usize).div_ceil(8)) * img.height as usize
    }

    #[test]
    fn primed_bands_compress_almost_as_well_as_one_stream() {
        let (w, h) = (2000u32, 1500u32);
        let indices = sample(w, h);
        let img = Indexed {
            width: w,
            height: h,
            depth: 8,
            plte: &[0; 600],
            trns: &[],
            indices: &indices,
            level: 7,
            ancillary: &[],
        };
        let raw = pack(&img);
        let banded = zlib_stream(&raw, 7).unwrap().len();
        let mut one = flate2::write::ZlibEncoder::new(Vec::new(), Compression::new(7));
        std::io::Write::write_all(&mut one, &raw).unwrap();
        let one = one.finish().unwrap().len();
        assert!(
            (banded as f64) < one as f64 * 1.005,
            "{} bands: {banded} bytes against {one} in one stream",
            raw.len().div_ceil(BAND)
        );
    }
}
