// The bodies of the fuzz targets, shared by `fuzz_targets/*.rs` (cargo-fuzz, `scripts/fuzz.sh`)
// and `tests/fuzz_replay.rs` (stable Rust, in CI).

use kmquant::decode::{decode, DecodeOptions};
use kmquant::encode::{encode, EncodeOptions, Format};
use kmquant::{BackendChoice, ColorSpace, ImageRef, Init, Options};

/// Most pixels a fuzzed image may have (`--max-pixels`): small enough that every case is fast.
pub const MAX_PIXELS: u64 = 1 << 16;

/// Bytes in: the first is K - 1, the second chooses options, the rest is an image file in any
/// format. Nothing may panic; an image that decodes must quantize with at most K colors, encode
/// (GIF and JPEG may refuse a side over 65535 pixels), and decode back at its own size.
pub fn decode_quantize_encode(data: &[u8]) {
    let [k, flags, image @ ..] = data else { return };
    let (k, flags) = (*k as u32 + 1, *flags);
    let opts = DecodeOptions {
        max_pixels: MAX_PIXELS,
        accept_damaged: flags & 0x80 != 0,
    };
    let Ok(d) = decode(image, None, &opts) else { return };
    let img = ImageRef::new(d.width, d.height, &d.pixels).expect("a decoded image is a valid image");
    let mut o = Options::new(k)
        .expect("K is 1..=256")
        .with_backend(BackendChoice::Cpu)
        .with_max_iter(8)
        .expect("8 iterations");
    if flags & 1 != 0 {
        o = o.with_space(ColorSpace::Oklab);
    }
    if flags & 2 != 0 {
        o = o.with_dither(1.0).expect("full strength");
    }
    if flags & 4 != 0 {
        o = o.with_init(Init::KMeansPlusPlus).with_seed(flags as u64);
    }
    let q = kmquant::quantize(img, &o).expect("a decoded image quantizes");
    assert!(q.palette.len() <= k as usize && !q.palette.is_empty());
    assert_eq!(q.indices.len(), d.pixels.len());
    let format = [Format::Png, Format::Gif, Format::Jpeg][(flags as usize >> 3) % 3];
    match encode(&q, format, &EncodeOptions::default()) {
        Ok(bytes) => {
            let all = DecodeOptions {
                max_pixels: u64::MAX,
                accept_damaged: false,
            };
            let back = decode(&bytes, None, &all).expect("our own output decodes");
            assert_eq!((back.width, back.height), (d.width, d.height));
        }
        Err(e) => assert!(
            format != Format::Png && (d.width > 65535 || d.height > 65535),
            "{format:?} {}x{}: {e}",
            d.width,
            d.height
        ),
    }
}

/// Bytes in: a command line, arguments separated by NUL. The parser must not panic, whatever
/// it is given; it may accept or refuse.
pub fn options(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut argv = vec!["kmquant".to_string()];
    argv.extend(text.split('\0').map(str::to_string));
    let _ = kmquant::cli::check_args(argv);
}
