//! Decoding a large PNG on two threads: one inflates the image data, the other unfilters it.
//!
//! A PNG decoder inflates the zlib stream and reverses the row filters one after the other, on one
//! core; on a photo each takes about half of the time. Here the calling thread inflates the
//! stream and passes the raw rows on, re-framed as *stored* (uncompressed) deflate blocks in IDAT
//! chunks of a PNG with the same header and chunks, through a bounded pipe to the png crate on a
//! second thread, which copies the stored blocks and unfilters the rows as they arrive. The png
//! crate still does everything but the inflating (header checks, filters, conversions, the color
//! chunks), so the pixels are those of a one-thread decode, and what the first thread adds is
//! checked: the original IDAT CRCs, the zlib stream's own checks (Adler-32 included) and the
//! exact length of the rows.
//!
//! Only 8-bit RGB and RGBA, not interlaced, of at least [`MIN_PIXELS`], take this path; anything
//! else, and any fault found on the way (a bad CRC, a damaged or short stream), returns None so
//! that the caller decodes the file the usual way, which reports the fault in its own words.

use crate::encode::chunk;
use std::io::{BufRead, Read, Seek};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Images smaller than this decode on one thread: a second one would not pay for itself.
pub(crate) const MIN_PIXELS: u64 = 1 << 20;

/// Raw (inflated) bytes per piece passed to the unfiltering thread.
const PIECE: usize = 1 << 20;

/// Pieces in flight at most: the pipe holds a few MiB whatever the image size.
const IN_FLIGHT: usize = 4;

/// Largest stored deflate block.
const STORED_MAX: usize = 65_535;

/// One PNG chunk: its type and data, and whether its CRC is right.
struct Chunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
    /// The whole chunk as stored: length, type, data, CRC.
    raw: &'a [u8],
}

/// The chunks after the signature, up to and including IEND; None when the layout is broken.
fn chunks(bytes: &[u8]) -> Option<Vec<Chunk<'_>>> {
    let mut out = Vec::new();
    let mut pos = 8;
    loop {
        let len = u32::from_be_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let end = pos.checked_add(12)?.checked_add(len)?;
        let raw = bytes.get(pos..end)?;
        let kind: [u8; 4] = raw[4..8].try_into().ok()?;
        out.push(Chunk {
            kind,
            data: &raw[8..8 + len],
            raw,
        });
        pos = end;
        if &kind == b"IEND" {
            return Some(out);
        }
    }
}

fn crc_ok(c: &Chunk<'_>) -> bool {
    let stored = &c.raw[c.raw.len() - 4..];
    crc32fast::hash(&c.raw[4..c.raw.len() - 4]).to_be_bytes() == stored
}

/// The layout of a file that can take this path: the chunks before the image data, the IDAT
/// chunks, the chunks after, and the size of the rows.
struct Layout<'a> {
    before: Vec<Chunk<'a>>,
    idat: Vec<Chunk<'a>>,
    after: Vec<Chunk<'a>>,
    /// Bytes of filtered rows the stream must inflate to.
    raw_len: usize,
}

fn layout(bytes: &[u8], max_pixels: u64) -> Option<Layout<'_>> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let all = chunks(bytes)?;
    let ihdr = all.first().filter(|c| &c.kind == b"IHDR" && c.data.len() == 13)?;
    let d = ihdr.data;
    let (w, h) = (
        u32::from_be_bytes(d[0..4].try_into().ok()?) as u64,
        u32::from_be_bytes(d[4..8].try_into().ok()?) as u64,
    );
    let channels = match (d[8], d[9], d[12]) {
        (8, 2, 0) => 3,
        (8, 6, 0) => 4,
        _ => return None,
    };
    if w * h < MIN_PIXELS || w * h > max_pixels || all.iter().any(|c| &c.kind == b"eXIf") {
        return None;
    }
    let first = all.iter().position(|c| &c.kind == b"IDAT")?;
    let count = all[first..].iter().take_while(|c| &c.kind == b"IDAT").count();
    let raw_len = usize::try_from(h * (1 + w * channels)).ok()?;
    let mut all = all.into_iter();
    let before: Vec<_> = all.by_ref().take(first).collect();
    let idat: Vec<_> = all.by_ref().take(count).collect();
    let after: Vec<_> = all.collect();
    if after.iter().any(|c| &c.kind == b"IDAT") {
        return None;
    }
    Some(Layout {
        before,
        idat,
        after,
        raw_len,
    })
}

/// What the unfiltering thread reads: the pieces of the re-framed PNG, in order, as they come.
pub(crate) struct Pipe {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Pipe {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.buf = next;
                    self.pos = 0;
                }
                // The inflating side stopped: end of input (it says why).
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// The png crate asks for `Seek` but a sequential decode never seeks.
impl Seek for Pipe {
    fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "the pipe cannot seek",
        ))
    }
}

/// Inflates the IDAT stream of `l` and sends the re-framed PNG down `tx`. Err(()) on any fault
/// in the original (the caller then decodes it the usual way) or when the reader hung up.
fn inflate_into(l: &Layout<'_>, tx: &SyncSender<Vec<u8>>) -> Result<(), ()> {
    let mut head = b"\x89PNG\r\n\x1a\n".to_vec();
    for c in &l.before {
        head.extend_from_slice(c.raw);
    }
    // The zlib header of a stream of stored blocks.
    chunk(&mut head, b"IDAT", &[0x78, 0x01]);
    tx.send(head).map_err(|_| ())?;

    let mut z = flate2::Decompress::new(true);
    let mut adler = simd_adler32::Adler32::new();
    let mut piece = vec![0u8; PIECE.min(l.raw_len)];
    let (mut filled, mut total) = (0usize, 0usize);
    let mut ended = false;
    for c in &l.idat {
        if !crc_ok(c) {
            return Err(());
        }
        let mut input = c.data;
        while !input.is_empty() && !ended {
            let (before_in, before_out) = (z.total_in(), z.total_out());
            let status = z
                .decompress(input, &mut piece[filled..], flate2::FlushDecompress::None)
                .map_err(|_| ())?;
            input = &input[(z.total_in() - before_in) as usize..];
            filled += (z.total_out() - before_out) as usize;
            ended = status == flate2::Status::StreamEnd;
            if filled == piece.len() || ended {
                total += filled;
                if total > l.raw_len {
                    return Err(());
                }
                adler.write(&piece[..filled]);
                tx.send(stored_idat(&piece[..filled])).map_err(|_| ())?;
                filled = 0;
                let left = l.raw_len - total;
                if left == 0 && !ended {
                    // The rows are complete: the stream must end here, with no byte more.
                    let mut probe = [0u8; 1];
                    let s = z
                        .decompress(input, &mut probe, flate2::FlushDecompress::Finish)
                        .map_err(|_| ())?;
                    if s != flate2::Status::StreamEnd || z.total_out() as usize != l.raw_len {
                        return Err(());
                    }
                    ended = true;
                }
            } else if (z.total_in() - before_in) == 0 && (z.total_out() - before_out) == 0 {
                return Err(());
            }
        }
    }
    if !ended || total != l.raw_len {
        return Err(());
    }
    let mut tail = Vec::with_capacity(64);
    let mut end = vec![0x01, 0x00, 0x00, 0xFF, 0xFF];
    end.extend(adler.finish().to_be_bytes());
    chunk(&mut tail, b"IDAT", &end);
    for c in &l.after {
        tail.extend_from_slice(c.raw);
    }
    // The rows are all sent and checked here; a reader that stopped before the end of the
    // stream has its own say (an error from it sends the file down the usual path).
    let _ = tx.send(tail);
    Ok(())
}

/// `raw` as stored deflate blocks (not final) in one IDAT chunk.
fn stored_idat(raw: &[u8]) -> Vec<u8> {
    let blocks = raw.len().div_ceil(STORED_MAX).max(1);
    let mut data = Vec::with_capacity(raw.len() + 5 * blocks);
    for b in raw.chunks(STORED_MAX) {
        let n = b.len() as u16;
        data.push(0x00);
        data.extend(n.to_le_bytes());
        data.extend((!n).to_le_bytes());
        data.extend_from_slice(b);
    }
    let mut out = Vec::with_capacity(data.len() + 12);
    chunk(&mut out, b"IDAT", &data);
    out
}

/// Decodes `bytes` on two threads when it takes this path (see the module docs): `decode` gets a
/// reader of the re-framed PNG and runs on the second thread. None when the file does not take
/// this path (images over `max_pixels` included) or the first thread found a fault in it;
/// otherwise `decode`'s result.
pub(crate) fn decode_split<T: Send>(
    bytes: &[u8],
    max_pixels: u64,
    decode: impl FnOnce(Pipe) -> T + Send,
) -> Option<T> {
    let l = layout(bytes, max_pixels)?;
    let (tx, rx) = sync_channel::<Vec<u8>>(IN_FLIGHT);
    std::thread::scope(|s| {
        // A thread that cannot be started leaves the file to the one-thread path.
        let reader = std::thread::Builder::new()
            .name("png-unfilter".into())
            .spawn_scoped(s, move || {
                decode(Pipe {
                    rx,
                    buf: Vec::new(),
                    pos: 0,
                })
            })
            .ok()?;
        let inflated = inflate_into(&l, &tx);
        drop(tx);
        let out = reader.join().ok();
        inflated.ok().and(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeOptions};

    /// A PNG of a w x h gradient with noise, `channels` 3 or 4, rows filtered with `filter`,
    /// its image data re-cut into IDAT chunks of `idat_size` bytes, with a gAMA chunk before
    /// and a tEXt chunk after the image data.
    fn png_file(w: u32, h: u32, channels: usize, filter: png::Filter, idat_size: usize) -> Vec<u8> {
        let mut px = Vec::with_capacity(w as usize * h as usize * channels);
        for y in 0..h {
            for x in 0..w {
                let n = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) >> 28;
                px.extend(
                    [
                        (x / 5) as u8,
                        (y / 4) as u8,
                        ((x + y) / 7) as u8 ^ n as u8,
                        200 + (x % 50) as u8,
                    ][..channels]
                        .iter(),
                );
            }
        }
        let mut out = Vec::new();
        {
            let mut e = png::Encoder::new(&mut out, w, h);
            e.set_color(if channels == 3 {
                png::ColorType::Rgb
            } else {
                png::ColorType::Rgba
            });
            e.set_depth(png::BitDepth::Eight);
            e.set_filter(filter);
            e.set_source_gamma(png::ScaledFloat::new(0.45455));
            let mut wr = e.write_header().unwrap();
            wr.write_image_data(&px).unwrap();
        }
        // Gather the image data and cut it again.
        let all = chunks(&out).unwrap();
        let data: Vec<u8> = all
            .iter()
            .filter(|c| &c.kind == b"IDAT")
            .flat_map(|c| c.data.to_vec())
            .collect();
        let mut file = out[..8].to_vec();
        for c in all.iter().filter(|c| &c.kind != b"IDAT" && &c.kind != b"IEND") {
            file.extend_from_slice(c.raw);
        }
        for part in data.chunks(idat_size) {
            chunk(&mut file, b"IDAT", part);
        }
        chunk(&mut file, b"tEXt", b"Comment\0after the image data");
        chunk(&mut file, b"IEND", &[]);
        file
    }

    /// The one-thread decode of the same file.
    fn one_thread(bytes: &[u8]) -> crate::decode::Decoded {
        crate::decode::tests_support::decode_one_thread(bytes).unwrap()
    }

    #[test]
    fn two_threads_give_the_pixels_and_metadata_of_one() {
        let filters = [
            png::Filter::NoFilter,
            png::Filter::Sub,
            png::Filter::Up,
            png::Filter::Avg,
            png::Filter::Paeth,
            png::Filter::Adaptive,
        ];
        for (i, filter) in filters.into_iter().enumerate() {
            let channels = 3 + i % 2;
            // Chunks of 1 byte, of an odd size, and larger than the pieces.
            let idat_size = [1, 8191, 3 << 20][i % 3];
            let file = png_file(1200, 900, channels, filter, idat_size);
            let split = decode_split(&file, u64::MAX, |pipe| {
                crate::decode::tests_support::decode_from(pipe)
            });
            let got = match split {
                Some(Some(Ok(d))) => d,
                _ => panic!("{filter:?}, {channels} channels: the two-thread path was not taken"),
            };
            let want = one_thread(&file);
            assert_eq!((got.width, got.height), (want.width, want.height));
            assert!(
                got.pixels == want.pixels,
                "{filter:?}, {channels} channels: other pixels"
            );
            assert_eq!(got.metadata, want.metadata, "{filter:?}");
            // And through the public entry point.
            let public = decode(&file, None, &DecodeOptions::default()).unwrap();
            assert!(public.pixels == want.pixels);
        }
    }

    /// Rewrites the zlib stream of `file` as `f` makes it, in one IDAT chunk.
    fn with_stream(file: &[u8], f: impl Fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
        let all = chunks(file).unwrap();
        let data: Vec<u8> = all
            .iter()
            .filter(|c| &c.kind == b"IDAT")
            .flat_map(|c| c.data.to_vec())
            .collect();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&data[..]), &mut raw).unwrap();
        let mut out = file[..8].to_vec();
        for c in all.iter().filter(|c| &c.kind != b"IDAT" && &c.kind != b"IEND") {
            out.extend_from_slice(c.raw);
        }
        let z = f(raw);
        chunk(&mut out, b"IDAT", &z);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn zlib(raw: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(1));
        std::io::Write::write_all(&mut e, raw).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_damaged_file_leaves_this_path_and_fails_as_before() {
        let file = png_file(1100, 1000, 3, png::Filter::Paeth, 1 << 16);
        let row = 1 + 1100 * 3;
        let mut bad_crc = file.clone();
        let at = bad_crc.len() / 2;
        bad_crc[at] ^= 0x40;
        let cases = [
            ("a flipped bit in the image data", bad_crc),
            ("cut in the middle", file[..file.len() / 2].to_vec()),
            (
                "a row short",
                with_stream(&file, |raw| zlib(&raw[..raw.len() - row])),
            ),
            (
                "a row too many",
                with_stream(&file, |mut raw| {
                    raw.extend(vec![0u8; row]);
                    zlib(&raw)
                }),
            ),
            (
                "a wrong Adler-32",
                with_stream(&file, |raw| {
                    let mut z = zlib(&raw);
                    let n = z.len();
                    z[n - 1] ^= 1;
                    z
                }),
            ),
            (
                "a stream cut before its end",
                with_stream(&file, |raw| {
                    let z = zlib(&raw);
                    z[..z.len() - 9].to_vec()
                }),
            ),
        ];
        for (what, bytes) in cases {
            let split = decode_split(&bytes, u64::MAX, |pipe| {
                crate::decode::tests_support::decode_from(pipe)
            });
            assert!(
                !matches!(split, Some(Some(Ok(_)))),
                "{what}: decoded on two threads as if sound"
            );
            // The usual path decides: an error in its words, or (a row too many, which it
            // ignores) the same pixels.
            let public = decode(&bytes, None, &DecodeOptions::default());
            let before = crate::decode::tests_support::decode_one_thread(&bytes);
            match (public, before) {
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
                (Ok(a), Ok(b)) => assert!(a.pixels == b.pixels, "{what}: other pixels"),
                (a, b) => panic!("{what}: {:?} against {:?} before", a.err(), b.err()),
            }
        }
    }

    #[test]
    fn small_interlaced_and_other_formats_take_the_usual_path() {
        let small = png_file(1000, 1000, 3, png::Filter::Up, 1 << 16);
        assert!(layout(&small, u64::MAX).is_none(), "1 MP is under the threshold");
        let big = png_file(1100, 1000, 4, png::Filter::Up, 1 << 16);
        assert!(layout(&big, u64::MAX).is_some());
        assert!(layout(&big, 1_000_000).is_none(), "over the pixel limit");
        for (depth, color, interlace) in [(16u8, 2u8, 0u8), (8, 3, 0), (8, 0, 0), (8, 2, 1)] {
            let mut f = big.clone();
            // IHDR data starts at byte 16: width, height, depth, color type, ..., interlace.
            f[24] = depth;
            f[25] = color;
            f[28] = interlace;
            let crc = crc32fast::hash(&f[12..29]);
            f[29..33].copy_from_slice(&crc.to_be_bytes());
            assert!(
                layout(&f, u64::MAX).is_none(),
                "depth {depth}, color {color}, interlace {interlace}"
            );
        }
    }
}
