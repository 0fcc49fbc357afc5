//! `kmquant explore PHOTO`: a local page to choose K by eye. The photo is decoded and its
//! histogram counted once (per color space), the device opened once, and every K the slider asks
//! for is quantized from the full image; the page shows a screen-size view of it, or a 1:1 crop.
//!
//! The HTTP API (every call needs `token=`, the random token in the printed address):
//! - `GET /` the page; `GET /api/info` JSON about the photo and the backend;
//! - `GET /api/preview?k=..&space=..&dither=..&init=..&seed=..[&seq=N][&x=&y=&w=&h=]` a PNG of the
//!   quantized image at screen size, or a 1:1 crop; a request older than the newest `seq`
//!   answers 409 instead of waiting its turn, so a dragged slider never builds a queue;
//! - `GET /api/original[?x=&y=&w=&h=]` the original the same way;
//! - `GET /api/report?..` JSON: colors, PSNR, iterations, time, backend, palette, and the file
//!   size as PNG (`formats=png,gif,jpg` for more);
//! - `GET /api/cloud` JSON: a count-weighted sample of the photo's colors, for the 3-D view;
//! - `GET /api/file?..&format=png|gif|jpg[&quality=Q][&strip=1]` the full-resolution file, the
//!   same bytes `kmquant quantize` writes for the same options.
//!
//! Bad parameters get 400 with a message; a missing or wrong token 403; a Host header that is not
//! the bound address 421 (DNS rebinding). The server writes no files at all.

use super::args::{BackendArg, ExploreArgs};
use super::usage;
use crate::encode::{EncodeOptions, Format};
use crate::{ColorSpace, GpuContext, Init, Options, Prepared, Quantized, Quantizer};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest side of the screen-size view.
const PREVIEW_MAX: u32 = 1200;
/// The largest 1:1 crop, per side.
const CROP_MAX: u32 = 2048;
/// Colors sampled for the 3-D view.
const CLOUD_POINTS: usize = 4000;
/// Threads answering requests.
const WORKERS: usize = 4;

const PAGE: &str = include_str!("explore.html");

static STOP: AtomicBool = AtomicBool::new(false);

/// What a request asks to quantize with.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Settings {
    k: u32,
    space: ColorSpace,
    dither: f32,
    init: Init,
    seed: u64,
}

/// A request's query parameters, each used at most once; any left over is an error.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(url: &str) -> std::result::Result<(String, Query), String> {
        let (path, q) = url.split_once('?').unwrap_or((url, ""));
        let mut map = HashMap::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if map.insert(k.to_string(), decode_component(v)).is_some() {
                return Err(format!("parameter '{k}' is given twice"));
            }
        }
        Ok((path.to_string(), Query(map)))
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
        &mut self,
        key: &str,
        default: T,
        lo: T,
        hi: T,
    ) -> std::result::Result<T, String> {
        let Some(v) = self.take(key) else {
            return Ok(default);
        };
        match v.parse::<T>() {
            Ok(n) if n >= lo && n <= hi => Ok(n),
            _ => Err(format!("{key}={v}: expected a number from {lo} to {hi}")),
        }
    }

    fn settings(&mut self) -> std::result::Result<Settings, String> {
        let k = self.number("k", 16u32, 1, 256)?;
        let space = match self.take("space").as_deref() {
            None | Some("srgb") => ColorSpace::Srgb,
            Some("oklab") => ColorSpace::Oklab,
            Some(v) => return Err(format!("space={v}: expected srgb or oklab")),
        };
        let dither = self.number("dither", 0.0f32, 0.0, 1.0)?;
        let init = match self.take("init").as_deref() {
            None | Some("median-cut") => Init::MedianCut,
            Some("kmeans++") => Init::KMeansPlusPlus,
            Some(v) => return Err(format!("init={v}: expected median-cut or kmeans++")),
        };
        let seed = self.number("seed", 0u64, 0, u64::MAX)?;
        Ok(Settings {
            k,
            space,
            dither,
            init,
            seed,
        })
    }

    /// A crop `x, y, w, h` inside a `width` x `height` image, when asked for.
    fn crop(&mut self, width: u32, height: u32) -> std::result::Result<Option<(u32, u32, u32, u32)>, String> {
        let keys = ["x", "y", "w", "h"].map(|k| self.take(k));
        if keys.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut v = [0u32; 4];
        for (i, (name, got)) in ["x", "y", "w", "h"].iter().zip(keys).enumerate() {
            let s = got.ok_or_else(|| format!("a crop needs x, y, w and h; {name} is missing"))?;
            v[i] = s
                .parse()
                .map_err(|_| format!("{name}={s}: expected a whole number"))?;
        }
        let [x, y, w, h] = v;
        if w == 0 || h == 0 || w > CROP_MAX || h > CROP_MAX {
            return Err(format!("w and h must be from 1 to {CROP_MAX}"));
        }
        if x >= width || y >= height {
            return Err(format!("x, y must lie inside the {width}x{height} image"));
        }
        Ok(Some((x, y, w.min(width - x), h.min(height - y))))
    }

    fn done(self) -> std::result::Result<(), String> {
        match self.0.keys().next() {
            Some(k) => Err(format!("unknown parameter '{k}'")),
            None => Ok(()),
        }
    }
}

/// `%XX` and `+` in a query value.
fn decode_component(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match v.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                Some(Ok(c)) => {
                    out.push(c);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The photo, its histograms and the device, shared by every request.
struct Engine {
    name: String,
    input_bytes: u64,
    decoded: &'static crate::decode::Decoded,
    ctx: Option<Arc<GpuContext>>,
    prepared: Mutex<Vec<(ColorSpace, Arc<Prepared<'static>>)>>,
    last: Mutex<Option<(Settings, Arc<Quantized>, Duration)>>,
    /// The newest `seq` a preview asked for.
    newest: AtomicU64,
    /// One quantization at a time: the cores are all busy with one.
    work: Mutex<()>,
    cloud: String,
}

impl Engine {
    fn quantizer(&self, s: &Settings) -> crate::Result<Quantizer> {
        let opts = Options::new(s.k)?
            .with_space(s.space)
            .with_dither(s.dither)?
            .with_init(s.init)
            .with_seed(s.seed);
        Ok(match &self.ctx {
            Some(ctx) => Quantizer::with_context(opts, ctx.clone()),
            None => Quantizer::new(opts.with_backend(crate::BackendChoice::Cpu))?,
        })
    }

    /// The quantized photo for `s`, from the cache when it was the last one asked for; None
    /// when a newer preview than `seq` arrived while this one waited.
    fn quantize(&self, s: &Settings, seq: Option<u64>) -> Result<Option<(Arc<Quantized>, Duration, bool)>> {
        let _turn = self
            .work
            .lock()
            .map_err(|_| anyhow::anyhow!("a request failed"))?;
        if seq.is_some_and(|n| n < self.newest.load(Ordering::SeqCst)) {
            return Ok(None);
        }
        if let Some((last, q, t)) = &*self
            .last
            .lock()
            .map_err(|_| anyhow::anyhow!("a request failed"))?
        {
            if last == s {
                return Ok(Some((q.clone(), *t, true)));
            }
        }
        let t = Instant::now();
        let quantizer = self.quantizer(s)?;
        let prepared = {
            let mut cache = self
                .prepared
                .lock()
                .map_err(|_| anyhow::anyhow!("a request failed"))?;
            match cache.iter().find(|(space, _)| *space == s.space) {
                Some((_, p)) => p.clone(),
                None => {
                    let p = Arc::new(quantizer.prepare(self.decoded.image()?, &mut |_| {})?);
                    cache.push((s.space, p.clone()));
                    p
                }
            }
        };
        let q = Arc::new(quantizer.quantize_prepared(&prepared, s.k, &mut |_| {})?);
        let took = t.elapsed();
        *self
            .last
            .lock()
            .map_err(|_| anyhow::anyhow!("a request failed"))? = Some((*s, q.clone(), took));
        Ok(Some((q, took, false)))
    }

    /// The screen-size view (every pixel a sample of the full image) or a 1:1 crop, as PNG.
    fn view(&self, crop: Option<(u32, u32, u32, u32)>, q: Option<&Quantized>) -> Result<Vec<u8>> {
        let (w, h) = (self.decoded.width, self.decoded.height);
        let (x0, y0, cw, ch, pw, ph) = match crop {
            Some((x, y, cw, ch)) => (x, y, cw, ch, cw, ch),
            None => {
                let (pw, ph) = preview_size(w, h);
                (0, 0, w, h, pw, ph)
            }
        };
        let at = |x: u32, y: u32| {
            let sx = x0 as u64 + (2 * x as u64 + 1) * cw as u64 / (2 * pw as u64);
            let sy = y0 as u64 + (2 * y as u64 + 1) * ch as u64 / (2 * ph as u64);
            (sy * w as u64 + sx) as usize
        };
        let enc = EncodeOptions {
            png_level: Some(1),
            ..EncodeOptions::default()
        };
        match q {
            Some(q) => {
                let indices = (0..ph)
                    .flat_map(|y| (0..pw).map(move |x| (x, y)))
                    .map(|(x, y)| q.indices[at(x, y)])
                    .collect();
                let small = Quantized {
                    width: pw,
                    height: ph,
                    indices,
                    ..empty_like(q)
                };
                Ok(crate::encode::encode(&small, Format::Png, &enc)?)
            }
            None => {
                let px: Vec<u8> = (0..ph)
                    .flat_map(|y| (0..pw).map(move |x| (x, y)))
                    .flat_map(|(x, y)| self.decoded.pixels[at(x, y)])
                    .collect();
                let img = image::RgbaImage::from_raw(pw, ph, px).context("view size")?;
                let mut out = Vec::new();
                image::codecs::png::PngEncoder::new_with_quality(
                    &mut out,
                    image::codecs::png::CompressionType::Fast,
                    image::codecs::png::FilterType::Sub,
                )
                .write_image(&img, pw, ph, image::ExtendedColorType::Rgba8)?;
                Ok(out)
            }
        }
    }

    /// The encoder options `kmquant quantize` uses for the same output.
    fn encode_options(&self, quality: u8, strip: bool) -> EncodeOptions {
        let m = &self.decoded.metadata;
        EncodeOptions {
            quality,
            png_level: None,
            metadata: (!strip && !m.is_empty()).then(|| Arc::new(m.clone())),
        }
    }
}

use image::ImageEncoder;

/// A Quantized with `q`'s palette and nothing else, to encode a view.
fn empty_like(q: &Quantized) -> Quantized {
    Quantized {
        width: 0,
        height: 0,
        palette: q.palette.clone(),
        counts: Vec::new(),
        indices: Vec::new(),
        unique_colors: q.unique_colors,
        iterations: q.iterations,
        converged: q.converged,
        dithered: q.dithered,
        mse: q.mse,
        alpha_mse: q.alpha_mse,
        objective: Vec::new(),
        backend: q.backend.clone(),
        warnings: Vec::new(),
        timings: q.timings,
    }
}

/// The screen-size view's dimensions: the longest side at most [`PREVIEW_MAX`].
fn preview_size(w: u32, h: u32) -> (u32, u32) {
    let scale = (PREVIEW_MAX as f64 / w.max(h) as f64).min(1.0);
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

/// A response: status, content type, body, and extra headers.
struct Reply(u16, &'static str, Vec<u8>, Vec<(&'static str, String)>);

impl Reply {
    fn text(status: u16, msg: impl Into<String>) -> Reply {
        Reply(
            status,
            "text/plain; charset=utf-8",
            msg.into().into_bytes(),
            Vec::new(),
        )
    }

    fn json(v: &serde_json::Value) -> Reply {
        Reply(200, "application/json", v.to_string().into_bytes(), Vec::new())
    }
}

/// What the server checks every request against.
struct Gate {
    token: String,
    /// Host header values accepted; empty accepts any (an explicit unspecified --listen).
    hosts: Vec<String>,
}

impl Gate {
    fn check(&self, host: Option<&str>, token: Option<&str>) -> Option<Reply> {
        if !self.hosts.is_empty()
            && !host.is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
        {
            return Some(Reply::text(
                421,
                format!("Host {} is not this server's address", host.unwrap_or("(none)")),
            ));
        }
        let given = token.unwrap_or("").as_bytes();
        let want = self.token.as_bytes();
        // Constant time: every byte is compared whatever the first difference.
        let same =
            given.len() == want.len() && given.iter().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
        (!same).then(|| {
            Reply::text(
                403,
                "missing or wrong token: open the address kmquant explore printed",
            )
        })
    }
}

fn handle(engine: &Engine, gate: &Gate, host: Option<&str>, url: &str) -> Reply {
    let (path, mut q) = match Query::parse(url) {
        Ok(v) => v,
        Err(e) => return Reply::text(400, e),
    };
    let token = q.take("token");
    if let Some(refused) = gate.check(host, token.as_deref()) {
        return refused;
    }
    match route(engine, &path, q) {
        Ok(r) => r,
        Err(e) => Reply::text(500, format!("{e:#}")),
    }
}

fn bad(e: String) -> Result<Reply> {
    Ok(Reply::text(400, e))
}

fn route(engine: &Engine, path: &str, mut q: Query) -> Result<Reply> {
    let (w, h) = (engine.decoded.width, engine.decoded.height);
    match path {
        "/" => {
            if let Err(e) = q.done() {
                return bad(e);
            }
            Ok(Reply(
                200,
                "text/html; charset=utf-8",
                PAGE.as_bytes().to_vec(),
                Vec::new(),
            ))
        }
        "/api/info" => {
            if let Err(e) = q.done() {
                return bad(e);
            }
            let (pw, ph) = preview_size(w, h);
            let backend = match &engine.ctx {
                Some(c) => c.adapter().to_string(),
                None => format!("cpu: {} threads", rayon::current_num_threads()),
            };
            Ok(Reply::json(&serde_json::json!({
                "name": engine.name, "width": w, "height": h, "input_bytes": engine.input_bytes,
                "preview_width": pw, "preview_height": ph, "backend": backend,
            })))
        }
        "/api/cloud" => {
            if let Err(e) = q.done() {
                return bad(e);
            }
            Ok(Reply(
                200,
                "application/json",
                engine.cloud.clone().into_bytes(),
                Vec::new(),
            ))
        }
        "/api/original" => {
            let crop = match q.crop(w, h) {
                Ok(c) => c,
                Err(e) => return bad(e),
            };
            if let Err(e) = q.done() {
                return bad(e);
            }
            Ok(Reply(200, "image/png", engine.view(crop, None)?, Vec::new()))
        }
        "/api/preview" | "/api/report" | "/api/file" => quantized_route(engine, path, q),
        _ => Ok(Reply::text(404, format!("no such page: {path}"))),
    }
}

/// The three endpoints that quantize.
fn quantized_route(engine: &Engine, path: &str, mut q: Query) -> Result<Reply> {
    let (w, h) = (engine.decoded.width, engine.decoded.height);
    let settings = match q.settings() {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let seq = match q.take("seq").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return bad("seq: expected a whole number".into()),
    };
    let (crop, formats, file) = match path {
        "/api/preview" => match q.crop(w, h) {
            Ok(c) => (c, Vec::new(), None),
            Err(e) => return bad(e),
        },
        "/api/report" => {
            let list = q.take("formats").unwrap_or_else(|| "png".into());
            let mut formats = Vec::new();
            for f in list.split(',') {
                match parse_format(f) {
                    Some(f) => formats.push(f),
                    None => {
                        return bad(format!(
                            "formats={list}: expected png, gif and jpg, comma-separated"
                        ))
                    }
                }
            }
            (None, formats, None)
        }
        _ => {
            let format = match q.take("format") {
                None => Format::Png,
                Some(f) => match parse_format(&f) {
                    Some(f) => f,
                    None => return bad(format!("format={f}: expected png, gif or jpg")),
                },
            };
            let quality = match q.number("quality", 90u8, 1, 100) {
                Ok(v) => v,
                Err(e) => return bad(e),
            };
            let strip = match q.take("strip").as_deref() {
                None | Some("0") => false,
                Some("1") => true,
                Some(v) => return bad(format!("strip={v}: expected 0 or 1")),
            };
            (None, Vec::new(), Some((format, quality, strip)))
        }
    };
    if let Err(e) = q.done() {
        return bad(e);
    }
    if let Some(n) = seq {
        engine.newest.fetch_max(n, Ordering::SeqCst);
    }
    let Some((quantized, took, cached)) = engine.quantize(&settings, seq)? else {
        return Ok(Reply::text(409, "stale: a newer preview was asked for"));
    };
    match (path, file) {
        ("/api/preview", _) => Ok(Reply(
            200,
            "image/png",
            engine.view(crop, Some(&quantized))?,
            Vec::new(),
        )),
        (_, Some((format, quality, strip))) => {
            let bytes = crate::encode::encode(&quantized, format, &engine.encode_options(quality, strip))?;
            let stem = std::path::Path::new(&engine.name)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("image")
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_', "_");
            let name = format!("{stem}-k{}.{}", settings.k, format.extension());
            let kind = match format {
                Format::Png => "image/png",
                Format::Gif => "image/gif",
                Format::Jpeg => "image/jpeg",
            };
            Ok(Reply(
                200,
                kind,
                bytes,
                vec![("Content-Disposition", format!("attachment; filename=\"{name}\""))],
            ))
        }
        _ => report(engine, &settings, &quantized, took, cached, &formats),
    }
}

fn parse_format(f: &str) -> Option<Format> {
    match f {
        "png" => Some(Format::Png),
        "gif" => Some(Format::Gif),
        "jpg" | "jpeg" => Some(Format::Jpeg),
        _ => None,
    }
}

fn report(
    engine: &Engine,
    s: &Settings,
    q: &Quantized,
    took: Duration,
    cached: bool,
    formats: &[Format],
) -> Result<Reply> {
    let enc = engine.encode_options(90, false);
    let mut sizes = serde_json::Map::new();
    for &f in formats {
        let n = crate::encode::estimate(q, f, &enc)?.round() as u64;
        sizes.insert(f.extension().into(), n.into());
    }
    let palette: Vec<serde_json::Value> = q
        .palette
        .iter()
        .zip(&q.counts)
        .map(|(c, n)| serde_json::json!({"hex": format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]), "rgba": c, "count": n}))
        .collect();
    Ok(Reply::json(&serde_json::json!({
        "k": s.k,
        "colors_used": q.palette.len(),
        "unique_colors": q.unique_colors,
        "psnr": Some(q.psnr()).filter(|p| p.is_finite()),
        "mse": q.mse,
        "iterations": q.iterations,
        "converged": q.converged,
        "quantize_ms": (took.as_secs_f64() * 1e5).round() / 100.0,
        "cached": cached,
        "backend": q.backend.kind,
        "adapter": q.backend.device_name(),
        "input_bytes": engine.input_bytes,
        "sizes": sizes,
        "palette": palette,
    })))
}

/// A count-weighted sample of the photo's colors as JSON `{"points": [[r, g, b], ...]}`.
fn cloud(pixels: &[[u8; 4]]) -> String {
    let step = (pixels.len() as f64 / CLOUD_POINTS as f64).max(1.0);
    let points: Vec<[u8; 3]> = (0..CLOUD_POINTS.min(pixels.len()))
        .map(|i| {
            let p = pixels[((i as f64 + 0.5) * step) as usize];
            [p[0], p[1], p[2]]
        })
        .collect();
    serde_json::json!({ "points": points }).to_string()
}

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// A random token: 128 bits from the system, in hex.
fn token() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no random numbers for the token: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Runs the subcommand until Ctrl-C; returns the exit code.
pub fn run(args: &ExploreArgs) -> Result<i32> {
    let ip: std::net::IpAddr = match &args.listen {
        Some(a) => a
            .parse()
            .map_err(|_| usage(format!("--listen {a}: expected an IP address such as 127.0.0.1")))?,
        None => std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let bytes = std::fs::read(&args.input).with_context(|| format!("cannot read {}", args.input))?;
    let decoded = crate::decode::decode(&bytes, Some(&args.input), &args.kmeans_decode())
        .with_context(|| format!("{}: cannot decode image", args.input))?;
    let ctx = match args.backend {
        BackendArg::Cpu => None,
        BackendArg::Gpu => Some(Arc::new(GpuContext::new(false)?)),
        BackendArg::Auto => GpuContext::new(true).ok().map(Arc::new),
    };
    let decoded: &'static crate::decode::Decoded = Box::leak(Box::new(decoded));
    let engine = Arc::new(Engine {
        name: std::path::Path::new(&args.input)
            .file_name()
            .map_or_else(|| args.input.clone(), |n| n.to_string_lossy().into_owned()),
        input_bytes: bytes.len() as u64,
        cloud: cloud(&decoded.pixels),
        decoded,
        ctx,
        prepared: Mutex::new(Vec::new()),
        last: Mutex::new(None),
        newest: AtomicU64::new(0),
        work: Mutex::new(()),
    });
    let server = tiny_http::Server::http((ip, args.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {ip}:{}: {e}", args.port))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .context("the server has no IP address")?;
    let host = if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    let mut hosts = vec![format!("{host}:{port}")];
    if ip.is_loopback() {
        hosts.push(format!("localhost:{port}"));
    }
    if ip.is_unspecified() {
        hosts.clear();
    }
    let gate = Arc::new(Gate {
        token: token()?,
        hosts,
    });
    let url = format!("http://{host}:{port}/?token={}", gate.token);
    println!("{url}");
    use std::io::Write;
    std::io::stdout().flush()?;
    eprintln!(
        "kmquant: exploring {} ({}x{}); Ctrl-C stops",
        engine.name, decoded.width, decoded.height
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    if !args.no_open {
        open_browser(&url);
    }
    let server = Arc::new(server);
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (server, engine, gate) = (server.clone(), engine.clone(), gate.clone());
            std::thread::spawn(move || serve(&server, &engine, &gate))
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    eprintln!("kmquant: explore stopped");
    Ok(0)
}

fn serve(server: &tiny_http::Server, engine: &Engine, gate: &Gate) {
    while !STOP.load(Ordering::SeqCst) {
        let req = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => return,
        };
        let host = req
            .headers()
            .iter()
            .find(|h| h.field.equiv("Host"))
            .map(|h| h.value.as_str().to_string());
        let reply = if *req.method() != tiny_http::Method::Get {
            Reply::text(405, "only GET")
        } else {
            handle(engine, gate, host.as_deref(), req.url())
        };
        let Reply(status, kind, body, extra) = reply;
        let mut resp = tiny_http::Response::from_data(body).with_status_code(status);
        let headers = [
            ("Content-Type", kind.to_string()),
            ("Cache-Control", "no-store".into()),
        ];
        for (k, v) in headers.into_iter().chain(extra) {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        let _ = req.respond(resp);
    }
}

/// Opens `url` in the desktop's browser; a failure only means the user opens it by hand.
fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(cmd)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

impl ExploreArgs {
    fn kmeans_decode(&self) -> crate::decode::DecodeOptions {
        crate::decode::DecodeOptions {
            max_pixels: self.max_pixels,
            accept_damaged: false,
        }
    }
}
