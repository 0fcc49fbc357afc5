//! Decoding a large PNG on two threads: one inflates the image data, the other unfilters it.
//!
//! A PNG decoder inflates the zlib stream and reverses the row filters one after the other, on one
//! core; on a photo each takes about half of the time. Here the calling thread inflates the
//! stream and passes the raw rows on, in pieces of [`PIECE`] bytes through a bounded pipe, to a
//! second thread, which reverses each row's filter straight into the RGBA rows of the result
//! (alpha 255 for RGB), in one pass with no other copy. The png crate reads the header and the
//! color chunks (the caller's part), so what this path adds is the inflating and the five
//! filters of the PNG specification; the tests hold its pixels to the png crate's decode of the
//! same file. What the first thread adds is checked: the IDAT CRCs, the zlib stream's own checks
//! (Adler-32 included) and the exact length of the rows; the second refuses a filter type other
//! than the five.
//!
//! Only 8-bit RGB (without a tRNS color key, which the caller checks) and RGBA, not interlaced,
//! of at least [`MIN_PIXELS`], take this path; anything else, and any fault found on the way (a
//! bad CRC, a damaged or short stream, an unknown filter), returns None so that the caller decodes
//! the file the usual way, which reports the fault in its own words.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

/// Images smaller than this decode on one thread: a second one would not pay for itself.
pub(crate) const MIN_PIXELS: u64 = 1 << 20;

/// Raw (inflated) bytes per piece passed to the unfiltering thread.
const PIECE: usize = 1 << 20;

/// Pieces in flight at most: the pipe holds a few MiB whatever the image size.
const IN_FLIGHT: usize = 4;

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

/// The layout of a file that can take this path: the IDAT chunks and the size of the image.
struct Layout<'a> {
    idat: Vec<Chunk<'a>>,
    width: usize,
    height: usize,
    /// 3 (RGB) or 4 (RGBA).
    channels: usize,
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
    if all[first + count..].iter().any(|c| &c.kind == b"IDAT") {
        return None;
    }
    Some(Layout {
        idat: all.into_iter().skip(first).take(count).collect(),
        width: usize::try_from(w).ok()?,
        height: usize::try_from(h).ok()?,
        channels,
        raw_len: usize::try_from(h * (1 + w * channels as u64)).ok()?,
    })
}

/// Inflates the IDAT stream of `l` and sends the rows down `tx` in pieces, taking back spent
/// pieces from `spent`, and counting the bands finished so far after each piece. Err(()) on any fault in the original (the caller then decodes it the
/// usual way) or when the unfiltering side hung up.
fn inflate_into(
    l: &Layout<'_>,
    tx: &SyncSender<Vec<u8>>,
    spent: &Receiver<Vec<u8>>,
    counter: &mut Option<Counter<'_>>,
) -> Result<(), ()> {
    let mut z = flate2::Decompress::new(true);
    let size = PIECE.min(l.raw_len);
    let mut piece = vec![0u8; size];
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
                let mut next = spent.try_recv().unwrap_or_default();
                next.resize(size, 0);
                let mut full = std::mem::replace(&mut piece, next);
                full.truncate(filled);
                tx.send(full).map_err(|_| ())?;
                if let Some(c) = counter {
                    c.now();
                }
                filled = 0;
                if total == l.raw_len && !ended {
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
    Ok(())
}

/// The Paeth predictor of the PNG specification: of `a` (left), `b` (above) and `c` (above
/// left), the one nearest `a + b - c`, ties going to `a`, then `b`. Written without the three
/// distances: with `t = 3c - (a + b)`, that is the larger of `a` and `b` when `t` is at most the
/// smaller, the smaller when `t` is at least the larger, and `c` in between (the tests check it
/// against the specification's form on every input).
#[inline(always)]
fn paeth(a: i16, b: i16, c: i16) -> u8 {
    let t = 3 * c - (a + b);
    let (lo, hi) = (a.min(b), a.max(b));
    let mid = if hi <= t { lo } else { c };
    (if t <= lo { hi } else { mid }) as u8
}

/// Reverses the filter of one row (`filter`, then `data`: `CH` bytes a pixel) into the RGBA
/// row `out`, `prev` being the RGBA row above (zeros for the first). None for a filter type
/// other than the five.
fn unfilter_row<const CH: usize>(filter: u8, data: &[u8], prev: &[u8], out: &mut [u8]) -> Option<()> {
    let pixels = data.chunks_exact(CH).zip(out.chunks_exact_mut(4));
    match filter {
        0 => {
            for (d, o) in pixels {
                o[..CH].copy_from_slice(d);
            }
        }
        1 => {
            let mut a = [0u8; CH];
            for (d, o) in pixels {
                for i in 0..CH {
                    a[i] = d[i].wrapping_add(a[i]);
                }
                o[..CH].copy_from_slice(&a);
            }
        }
        2 => {
            for ((d, o), p) in pixels.zip(prev.chunks_exact(4)) {
                for i in 0..CH {
                    o[i] = d[i].wrapping_add(p[i]);
                }
            }
        }
        3 => {
            let mut a = [0u8; CH];
            for ((d, o), p) in pixels.zip(prev.chunks_exact(4)) {
                for i in 0..CH {
                    a[i] = d[i].wrapping_add(((a[i] as u16 + p[i] as u16) >> 1) as u8);
                }
                o[..CH].copy_from_slice(&a);
            }
        }
        4 => {
            let (mut a, mut c) = ([0i16; CH], [0i16; CH]);
            for ((d, o), p) in pixels.zip(prev.chunks_exact(4)) {
                for i in 0..CH {
                    let b = p[i] as i16;
                    let v = d[i].wrapping_add(paeth(a[i], b, c[i]));
                    o[i] = v;
                    a[i] = v as i16;
                    c[i] = b;
                }
            }
        }
        _ => return None,
    }
    if CH == 3 {
        for o in out.chunks_exact_mut(4) {
            o[3] = 255;
        }
    }
    Some(())
}

/// Rows of output per band handed to the counting side.
const BAND_ROWS: usize = 32;

/// The rows of the result as they are unfiltered, band after band; each full band is handed on
/// (read-only) to the counting side.
struct Rows<'o> {
    bands: std::slice::ChunksMut<'o, u8>,
    /// The band being filled, `filled` rows so far.
    band: &'o mut [u8],
    filled: usize,
    /// The row above the band's first (zeros above the image).
    above: &'o [u8],
    stride: usize,
    channels: usize,
    done: Option<Sender<&'o [u8]>>,
}

impl<'o> Rows<'o> {
    /// Hands the full band on.
    fn hand_on(&mut self) {
        let full: &'o mut [u8] = std::mem::take(&mut self.band);
        let full: &'o [u8] = full;
        if full.len() >= self.stride {
            self.above = &full[full.len() - self.stride..];
            if let Some(d) = &self.done {
                // The counting side may have stopped (a translucent pixel): nothing to do then.
                let _ = d.send(full);
            }
        }
    }

    /// Reverses the filter of the next row (`filtered`: its filter type, then its bytes). None
    /// for an unknown filter type, or a row past the last.
    fn push(&mut self, filtered: &[u8]) -> Option<()> {
        if self.filled * self.stride == self.band.len() {
            self.hand_on();
            self.band = self.bands.next()?;
            self.filled = 0;
        }
        let r = self.filled;
        let (before, rest) = self.band.split_at_mut(r * self.stride);
        let prev = match r {
            0 => self.above,
            _ => &before[(r - 1) * self.stride..],
        };
        let cur = &mut rest[..self.stride];
        match self.channels {
            3 => unfilter_row::<3>(filtered[0], &filtered[1..], prev, cur)?,
            _ => unfilter_row::<4>(filtered[0], &filtered[1..], prev, cur)?,
        }
        self.filled += 1;
        Some(())
    }

    /// Whether every row came; hands the last band on.
    fn finish(mut self) -> bool {
        let complete = self.filled * self.stride == self.band.len() && self.bands.next().is_none();
        if complete {
            self.hand_on();
        }
        complete
    }
}

/// The unfiltering thread: the rows from `rx`, as they come, into `rows`; spent pieces go back
/// down `spent`. None when a filter type is unknown or the rows are not exactly the image's (the
/// inflating side then has its own say).
fn unfilter_all(rx: Receiver<Vec<u8>>, spent: Sender<Vec<u8>>, mut rows: Rows<'_>) -> Option<()> {
    let line = 1 + rows.stride / 4 * rows.channels;
    // A row cut between two pieces.
    let mut carry: Vec<u8> = Vec::with_capacity(line);
    for piece in rx {
        let mut p = &piece[..];
        if !carry.is_empty() {
            let take = (line - carry.len()).min(p.len());
            carry.extend_from_slice(&p[..take]);
            p = &p[take..];
            if carry.len() == line {
                rows.push(&carry)?;
                carry.clear();
            }
        }
        while p.len() >= line {
            rows.push(&p[..line])?;
            p = &p[line..];
        }
        carry.extend_from_slice(p);
        // The inflating side may be gone already; the piece is then simply dropped.
        let _ = spent.send(piece);
    }
    (carry.is_empty() && rows.finish()).then_some(())
}

/// The color count of the histogram stage ([`crate::cpu::histogram::count_direct`]), made on
/// the inflating thread from the bands the unfiltering thread has finished.
struct Counter<'o> {
    rx: Receiver<&'o [u8]>,
    table: Vec<u32>,
    opaque: bool,
}

impl<'o> Counter<'o> {
    fn count(&mut self, band: &[u8]) {
        if !self.opaque {
            return;
        }
        let translucent = crate::cpu::histogram::count_direct(bytemuck::cast_slice(band), &mut self.table);
        self.opaque = !translucent;
    }

    /// Counts the bands finished so far.
    fn now(&mut self) {
        while let Ok(band) = self.rx.try_recv() {
            self.count(band);
        }
    }

    /// Counts the rest, as they come; the table when every pixel is opaque.
    fn finish(mut self) -> Option<Vec<u32>> {
        while let Ok(band) = self.rx.recv() {
            self.count(band);
        }
        self.opaque.then_some(self.table)
    }
}

/// What the two threads give: the RGBA rows, and the color count when it was asked for and
/// every pixel is opaque.
pub(crate) struct Split {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    pub counts: Option<Vec<u32>>,
}

/// `bytes` decoded on two threads, when it takes this path (see the module docs); with `count`,
/// the inflating thread also counts the colors of the rows finished, in its idle time. None when
/// the file does not take this path (images over `max_pixels` included) or a fault was found.
pub(crate) fn decode_split(bytes: &[u8], max_pixels: u64, count: bool) -> Option<Split> {
    let l = layout(bytes, max_pixels)?;
    let stride = l.width.checked_mul(4)?;
    let mut pixels = vec![0u8; stride.checked_mul(l.height)?];
    let zeros = vec![0u8; stride];
    let (tx, rx) = sync_channel::<Vec<u8>>(IN_FLIGHT);
    let (spent_tx, spent_rx) = channel::<Vec<u8>>();
    let (done_tx, done_rx) = channel::<&[u8]>();
    let rows = Rows {
        bands: pixels.chunks_mut(stride * BAND_ROWS),
        band: &mut [],
        filled: 0,
        above: &zeros,
        stride,
        channels: l.channels,
        done: count.then_some(done_tx),
    };
    let mut counter = count.then(|| Counter {
        rx: done_rx,
        table: vec![0u32; crate::gpu::layout::TABLE_LEN as usize],
        opaque: true,
    });
    let counts = std::thread::scope(|s| {
        // A thread that cannot be started leaves the file to the one-thread path.
        let reader = std::thread::Builder::new()
            .name("png-unfilter".into())
            .spawn_scoped(s, move || unfilter_all(rx, spent_tx, rows))
            .ok()?;
        let inflated = inflate_into(&l, &tx, &spent_rx, &mut counter);
        drop(tx);
        let counts = counter.and_then(Counter::finish);
        reader.join().ok().flatten()?;
        inflated.ok().map(|()| counts)
    })?;
    Some(Split {
        width: u32::try_from(l.width).ok()?,
        height: u32::try_from(l.height).ok()?,
        pixels,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeOptions};
    use crate::encode::chunk;

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
            let Some(got) = crate::decode::tests_support::decode_split(&file) else {
                panic!("{filter:?}, {channels} channels: the two-thread path was not taken");
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

    /// The Paeth predictor as the PNG specification writes it.
    fn paeth_spec(a: u8, b: u8, c: u8) -> u8 {
        let p = a as i16 + b as i16 - c as i16;
        let (pa, pb, pc) = ((p - a as i16).abs(), (p - b as i16).abs(), (p - c as i16).abs());
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }

    #[test]
    fn paeth_is_the_specification_s_on_every_input() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    let got = paeth(a as i16, b as i16, c as i16);
                    if got != paeth_spec(a, b, c) {
                        panic!("paeth({a}, {b}, {c}) = {got}, want {}", paeth_spec(a, b, c));
                    }
                }
            }
        }
    }

    /// A PNG of w x h whose filtered rows are noise, row y filtered with `filters[y % len]`
    /// (any byte: 5 and above are not filter types), in IDAT chunks of 50,000 bytes.
    fn noise_png(w: u32, h: u32, channels: usize, filters: &[u8], trns: Option<&[u8]>) -> Vec<u8> {
        let line = 1 + w as usize * channels;
        let mut raw = Vec::with_capacity(line * h as usize);
        let mut x = 0x9E37_79B9u32;
        for y in 0..h as usize {
            raw.push(filters[y % filters.len()]);
            for _ in 1..line {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Runs of small values as well as noise, so that the predictors matter.
                raw.push(if x.is_multiple_of(3) {
                    (x >> 24) as u8
                } else {
                    (x >> 28) as u8
                });
            }
        }
        let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, if channels == 3 { 2 } else { 6 }, 0, 0, 0]);
        chunk(&mut file, b"IHDR", &ihdr);
        if let Some(t) = trns {
            chunk(&mut file, b"tRNS", t);
        }
        for part in zlib(&raw).chunks(50_000) {
            chunk(&mut file, b"IDAT", part);
        }
        chunk(&mut file, b"IEND", &[]);
        file
    }

    #[test]
    fn every_filter_on_noise_gives_the_png_crate_s_pixels() {
        // Widths whose rows straddle the pieces at many offsets.
        for (w, channels) in [(1201u32, 3usize), (1024, 4), (1500, 3)] {
            let file = noise_png(
                w,
                1 + (1 << 20) / w,
                channels,
                &[4, 0, 1, 4, 2, 3, 4, 4, 1, 3],
                None,
            );
            let Some(got) = crate::decode::tests_support::decode_split(&file) else {
                panic!("{w} wide, {channels} channels: the two-thread path was not taken");
            };
            let want = one_thread(&file);
            assert!(
                got.pixels == want.pixels,
                "{w} wide, {channels} channels: other pixels"
            );
            assert_eq!(got.color, want.color);
        }
    }

    #[test]
    fn the_count_made_while_decoding_is_the_histogram_stage_s() {
        let cases = [
            ("a gradient", png_file(1201, 1000, 3, png::Filter::Paeth, 1 << 16)),
            ("noise", noise_png(1030, 1100, 3, &[4, 1, 2, 3, 0], None)),
        ];
        for (what, file) in cases {
            let d = crate::decode::tests_support::decode_split_counting(&file).unwrap();
            let Some(table) = d.counted.take() else {
                panic!("{what}: no count made");
            };
            let mut want = vec![0u32; crate::gpu::layout::TABLE_LEN as usize];
            assert!(!crate::cpu::histogram::count_direct(&d.pixels, &mut want));
            assert!(table == want, "{what}: another count");
            assert!(d.counted.take().is_none(), "taken once");
        }
        // Not opaque (the gradient's alpha is 200 to 249): no count, and the stage counts itself.
        let file = png_file(1030, 1100, 4, png::Filter::Paeth, 1 << 16);
        let d = crate::decode::tests_support::decode_split_counting(&file).unwrap();
        assert!(d.counted.take().is_none());
    }

    #[test]
    fn a_quantization_from_the_decoder_s_count_is_the_same() {
        let file = noise_png(1201, 1000, 3, &[4, 1, 2, 3, 0], None);
        let counted = crate::decode::decode_counting(&file, None, &DecodeOptions::default()).unwrap();
        let plain = decode(&file, None, &DecodeOptions::default()).unwrap();
        assert!(plain.counted.take().is_none(), "the public decode makes no count");
        let q = crate::Quantizer::new(
            crate::Options::new(16)
                .unwrap()
                .with_backend(crate::BackendChoice::Cpu),
        )
        .unwrap();
        let a = q.quantize(counted.image().unwrap(), &mut |_| {}).unwrap();
        assert!(
            counted.counted.take().is_none(),
            "the histogram stage took the count"
        );
        let b = q.quantize(plain.image().unwrap(), &mut |_| {}).unwrap();
        assert_eq!((&a.palette, &a.counts), (&b.palette, &b.counts));
        assert!(a.indices == b.indices);
    }

    #[test]
    fn an_unknown_filter_or_a_color_key_leaves_this_path() {
        let bad = noise_png(1100, 1000, 3, &[4, 4, 4, 4, 4, 4, 4, 5], None);
        assert!(crate::decode::tests_support::decode_split(&bad).is_none());
        let (public, before) = (
            decode(&bad, None, &DecodeOptions::default()),
            crate::decode::tests_support::decode_one_thread(&bad),
        );
        match (public, before) {
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("filter type 5: {:?} against {:?} before", a.err(), b.err()),
        }
        // An RGB color key: the usual path makes that color transparent.
        let keyed = noise_png(1100, 1000, 3, &[0], Some(&[0, 3, 0, 7, 0, 1]));
        assert!(crate::decode::tests_support::decode_split(&keyed).is_none());
        let d = decode(&keyed, None, &DecodeOptions::default()).unwrap();
        assert!(d.pixels.contains(&[3, 7, 1, 0]), "the key color is transparent");
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
            assert!(
                crate::decode::tests_support::decode_split(&bytes).is_none(),
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
