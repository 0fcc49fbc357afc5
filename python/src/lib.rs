//! The native part of the `kmquant` Python package (`kmquant._kmquant`): the options, the
//! quantizer, the k-means result, `quantize_file` and `adapters`. Pillow images are turned into
//! arrays, and results into Pillow images, by the Python part (`kmquant/__init__.py`).

use kmquant::cli::embed::{FileError, FileErrorKind, FileJob};
use kmquant::{AdapterPin, BackendChoice, ColorSpace, ImageRef, Init, Options, Quantized};
use numpy::{PyArray1, PyArray3, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{
    PyException, PyFileExistsError, PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList};
use std::time::Duration;

pyo3::create_exception!(
    kmquant,
    Error,
    PyException,
    "Base class of kmquant's own errors (option and file errors are ValueError and OSError)."
);
pyo3::create_exception!(
    kmquant,
    DecodeError,
    Error,
    "The input is not an image kmquant can decode, or is over the pixel limit."
);
pyo3::create_exception!(kmquant, EncodeError, Error, "The output could not be encoded.");
pyo3::create_exception!(
    kmquant,
    GpuError,
    Error,
    "No GPU adapter could be opened, or the GPU failed."
);

/// A library error as the Python exception for it, with the library's one-line message.
fn lib_err(e: kmquant::Error) -> PyErr {
    file_err(FileError {
        kind: FileError::library_kind(&e),
        message: e.to_string(),
    })
}

/// A per-file failure as the Python exception for it.
fn file_err(e: FileError) -> PyErr {
    let msg = e.message;
    match e.kind {
        FileErrorKind::Usage | FileErrorKind::InvalidOption => PyValueError::new_err(msg),
        FileErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
        FileErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
        FileErrorKind::Exists => PyFileExistsError::new_err(msg),
        FileErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
        FileErrorKind::Io => PyOSError::new_err(msg),
        FileErrorKind::Decode => DecodeError::new_err(msg),
        FileErrorKind::Encode => EncodeError::new_err(msg),
        FileErrorKind::Gpu => GpuError::new_err(msg),
        _ => Error::new_err(msg),
    }
}

fn invalid(name: &str, value: impl std::fmt::Display, expected: &str) -> PyErr {
    PyValueError::new_err(format!("invalid {name}: {value} ({expected})"))
}

/// The palette options, as given in Python, kept so that `quantize_file` can hand the same ones
/// to the command line's code as flags.
#[derive(Debug, Clone)]
struct KmeansOptions {
    colors: u32,
    dither: f64,
    space: &'static str,
    init: &'static str,
    seed: Option<u64>,
    max_iter: u32,
    tolerance: f64,
    run_bias: u32,
    backend: &'static str,
    adapter: Option<String>,
}

/// The names [`KmeansOptions::parse`] takes, in order.
const KMEANS_NAMES: [&str; 10] = [
    "colors",
    "dither",
    "space",
    "init",
    "seed",
    "max_iter",
    "tolerance",
    "run_bias",
    "backend",
    "adapter",
];

/// The Python type name of `v`, for messages.
fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

fn int_in(name: &str, v: &Bound<'_, PyAny>, lo: i128, hi: i128, expected: &str) -> PyResult<i128> {
    if v.is_instance_of::<PyBool>() {
        return Err(invalid(name, v.repr()?, expected));
    }
    if v.is_instance_of::<PyInt>() {
        // An int too large for i128 is out of range, not of the wrong type.
        let n = v.extract::<i128>().map_err(|_| {
            invalid(
                name,
                v.repr().map(|r| r.to_string()).unwrap_or_default(),
                expected,
            )
        })?;
        if !(lo..=hi).contains(&n) {
            return Err(invalid(name, n, expected));
        }
        return Ok(n);
    }
    let n: i128 = v
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be an integer, not {}", type_name(v))))?;
    if !(lo..=hi).contains(&n) {
        return Err(invalid(name, n, expected));
    }
    Ok(n)
}

fn float_of(name: &str, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    v.extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a number, not {}", type_name(v))))
}

fn word<'a>(name: &str, v: &Bound<'_, PyAny>, choices: &[&'a str], expected: &str) -> PyResult<&'a str> {
    let s: String = v
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be a string, not {}", type_name(v))))?;
    let lower = s.to_ascii_lowercase();
    choices
        .iter()
        .find(|c| **c == lower)
        .copied()
        .ok_or_else(|| invalid(name, format!("{s:?}"), expected))
}

/// Dithering as Pillow spells it (`Image.Dither.NONE` = 0, `FLOYDSTEINBERG` = 3), a bool, or a
/// strength from 0 to 1.
fn dither_of(v: &Bound<'_, PyAny>) -> PyResult<f64> {
    const EXPECTED: &str =
        "False, True, Image.Dither.NONE, Image.Dither.FLOYDSTEINBERG or a strength from 0.0 to 1.0";
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(if b.is_true() { 1.0 } else { 0.0 });
    }
    if v.is_instance_of::<PyInt>() {
        return match v.extract::<i64>() {
            Ok(0) => Ok(0.0),
            Ok(3) => Ok(1.0),
            _ => Err(invalid("dither", v.repr()?, EXPECTED)),
        };
    }
    let s = float_of("dither", v)?;
    if !s.is_finite() || !(0.0..=1.0).contains(&s) {
        return Err(invalid("dither", s, EXPECTED));
    }
    Ok(s)
}

impl KmeansOptions {
    /// Checks every value; `None` is the default.
    fn parse(v: [Option<&Bound<'_, PyAny>>; 10]) -> PyResult<Self> {
        let [colors, dither, space, init, seed, max_iter, tolerance, run_bias, backend, adapter] = v;
        let colors = match colors {
            Some(c) => int_in("number of colors", c, 1, 256, "an integer from 1 to 256")? as u32,
            None => 256,
        };
        let dither = dither.map(dither_of).transpose()?.unwrap_or(0.0);
        let space = match space {
            Some(s) => word("space", s, &["srgb", "oklab"], "\"srgb\" or \"oklab\"")?,
            None => "srgb",
        };
        let init = match init {
            Some(s) => match word(
                "init",
                s,
                &["median-cut", "kmeans++", "median_cut", "k-means++"],
                "\"median-cut\" or \"kmeans++\"",
            )? {
                "median-cut" | "median_cut" => "median-cut",
                _ => "kmeans++",
            },
            None => "median-cut",
        };
        let seed = seed
            .filter(|s| !s.is_none())
            .map(|s| int_in("seed", s, 0, u64::MAX as i128, "an integer from 0 to 2**64 - 1"))
            .transpose()?
            .map(|s| s as u64);
        let max_iter = match max_iter {
            Some(m) => int_in("max-iter", m, 1, 10_000, "an integer from 1 to 10000")? as u32,
            None => Options::DEFAULT_MAX_ITER,
        };
        let tolerance = match tolerance {
            Some(t) => float_of("tolerance", t)?,
            None => Options::DEFAULT_TOLERANCE,
        };
        let run_bias = match run_bias {
            Some(r) => int_in("run bias", r, 0, 100, "a percentage from 0 to 100")? as u32,
            None => Options::DEFAULT_RUN_BIAS,
        };
        let backend = match backend {
            Some(b) => word(
                "backend",
                b,
                &["auto", "gpu", "cpu"],
                "\"auto\", \"gpu\" or \"cpu\"",
            )?,
            None => "auto",
        };
        let adapter = match adapter.filter(|a| !a.is_none()) {
            None => None,
            Some(a) if a.is_instance_of::<PyInt>() && !a.is_instance_of::<PyBool>() => Some(
                int_in(
                    "adapter",
                    a,
                    0,
                    u32::MAX as i128,
                    "an index from kmquant.adapters()",
                )?
                .to_string(),
            ),
            Some(a) => Some(a.extract::<String>().map_err(|_| {
                PyTypeError::new_err("adapter must be an index from kmquant.adapters() or a part of its name")
            })?),
        };
        let o = KmeansOptions {
            colors,
            dither,
            space,
            init,
            seed,
            max_iter,
            tolerance,
            run_bias,
            backend,
            adapter,
        };
        o.options(o.backend())?;
        Ok(o)
    }

    /// Takes the palette options out of `kwargs`, leaving the others.
    fn take(kwargs: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut values: [Option<Bound<'_, PyAny>>; 10] = Default::default();
        for (slot, name) in values.iter_mut().zip(KMEANS_NAMES) {
            *slot = kwargs.get_item(name)?;
            if slot.is_some() {
                kwargs.del_item(name)?;
            }
        }
        Self::parse(std::array::from_fn(|i| values[i].as_ref()))
    }

    fn backend(&self) -> BackendChoice {
        match self.backend {
            "gpu" => BackendChoice::Gpu,
            "cpu" => BackendChoice::Cpu,
            _ => BackendChoice::Auto,
        }
    }

    /// The library options, built as the command line builds them from the same flags.
    fn options(&self, backend: BackendChoice) -> PyResult<Options> {
        let o = Options::new(self.colors)
            .and_then(|o| o.with_max_iter(self.max_iter))
            .and_then(|o| o.with_tolerance(self.tolerance))
            .and_then(|o| o.with_dither(self.dither as f32))
            .and_then(|o| o.with_run_bias(self.run_bias))
            .map_err(lib_err)?
            .with_seed(self.seed.unwrap_or(0))
            .with_init(match self.init {
                "kmeans++" => Init::KMeansPlusPlus,
                _ => Init::MedianCut,
            })
            .with_space(match self.space {
                "oklab" => ColorSpace::Oklab,
                _ => ColorSpace::Srgb,
            })
            .with_backend(backend);
        Ok(match &self.adapter {
            Some(a) => o.with_adapter(a.parse::<AdapterPin>().map_err(lib_err)?),
            None => o,
        })
    }

    /// The same options as `kmquant quantize` flags.
    fn flags(&self) -> Vec<String> {
        // `--flag=VALUE` throughout, so that no value is taken for a flag.
        let mut f: Vec<String> = vec![
            format!("--colors={}", self.colors),
            format!("--space={}", self.space),
            format!("--init={}", self.init),
            format!("--max-iter={}", self.max_iter),
            format!("--tolerance={}", self.tolerance),
            format!("--run-bias={}", self.run_bias),
            format!("--backend={}", self.backend),
        ];
        if self.dither > 0.0 {
            f.extend(["--dither".into(), format!("--dither-strength={}", self.dither)]);
        }
        if let Some(s) = self.seed {
            f.push(format!("--seed={s}"));
        }
        if let Some(a) = &self.adapter {
            f.push(format!("--adapter={a}"));
        }
        f
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("colors", self.colors)?;
        d.set_item("dither", self.dither)?;
        d.set_item("space", self.space)?;
        d.set_item("init", self.init)?;
        d.set_item("seed", self.seed)?;
        d.set_item("max_iter", self.max_iter)?;
        d.set_item("tolerance", self.tolerance)?;
        d.set_item("run_bias", self.run_bias)?;
        d.set_item("backend", self.backend)?;
        d.set_item("adapter", &self.adapter)?;
        Ok(d)
    }
}

/// The options of `quantize_file` that are not palette options, as `kmquant quantize` flags.
fn file_flags(kwargs: &Bound<'_, PyDict>) -> PyResult<Vec<String>> {
    const SWITCHES: [&str; 5] = [
        "strip",
        "force",
        "skip_existing",
        "skip_if_larger",
        "accept_damaged",
    ];
    const VALUES: [&str; 10] = [
        "format",
        "quality",
        "png_level",
        "max_bytes",
        "target_psnr",
        "min_psnr",
        "plot",
        "palette",
        "palette_order",
        "max_pixels",
    ];
    let mut flags = Vec::new();
    for (k, v) in kwargs.iter() {
        let name: String = k.extract()?;
        let flag = format!("--{}", name.replace('_', "-"));
        if SWITCHES.contains(&name.as_str()) {
            let on: bool = v
                .extract()
                .map_err(|_| PyTypeError::new_err(format!("{name} must be True or False")))?;
            if on {
                flags.push(flag);
            }
        } else if VALUES.contains(&name.as_str()) {
            if v.is_none() {
                continue;
            }
            if v.is_instance_of::<PyBool>() {
                return Err(invalid(&name, v.repr()?, "not a bool"));
            }
            let text = if let Ok(f) = v.cast::<pyo3::types::PyFloat>() {
                f.value().to_string()
            } else if v.is_instance_of::<PyInt>() {
                v.extract::<i128>()?.to_string()
            } else {
                let p = v.extract::<std::path::PathBuf>().map_err(|_| {
                    PyTypeError::new_err(format!("{name} must be a string, a number or a path"))
                })?;
                p.to_str()
                    .ok_or_else(|| invalid(&name, p.display(), "a path that is valid UTF-8"))?
                    .to_string()
            };
            // `--flag=VALUE`, so that a value starting with `-` stays a value.
            flags.push(format!("{flag}={text}"));
        } else {
            return Err(PyTypeError::new_err(format!(
                "quantize_file() got an unexpected keyword argument '{name}'"
            )));
        }
    }
    Ok(flags)
}

fn path_str(name: &str, p: std::path::PathBuf) -> PyResult<String> {
    p.into_os_string()
        .into_string()
        .map_err(|p| invalid(name, format!("{p:?}"), "a path that is valid UTF-8"))
}

/// A JSON value (a report) as Python objects.
fn json_to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<Py<PyAny>> {
    use serde_json::Value as V;
    Ok(match v {
        V::Null => py.None(),
        V::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        V::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any().unbind(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any().unbind(),
            _ => n
                .as_f64()
                .unwrap_or(f64::NAN)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        },
        V::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        V::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(json_to_py(py, x)?)?;
            }
            l.into_any().unbind()
        }
        V::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, json_to_py(py, x)?)?;
            }
            d.into_any().unbind()
        }
    })
}

/// The pixels of an image array: borrowed from the array when it is a C-contiguous (H, W, 4)
/// uint8 array, else copied into RGBA (an (H, W, 3) array gets alpha 255).
enum Pixels<'a> {
    Borrowed(&'a [[u8; 4]]),
    Owned(Vec<[u8; 4]>),
}

impl Pixels<'_> {
    fn as_slice(&self) -> &[[u8; 4]] {
        match self {
            Pixels::Borrowed(p) => p,
            Pixels::Owned(p) => p,
        }
    }
}

/// Checks that `image` is a uint8 array of shape (H, W, 3) or (H, W, 4).
fn image_array<'py>(image: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let py = image.py();
    let arr = image.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a NumPy uint8 array of shape (H, W, 3) or (H, W, 4), or a Pillow image; got {}",
            type_name(image)
        ))
    })?;
    let dtype = arr.dtype();
    let shape = arr.shape();
    if !dtype.is_equiv_to(&numpy::dtype::<u8>(py)) || shape.len() != 3 || !matches!(shape[2], 3 | 4) {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        return Err(PyValueError::new_err(format!(
            "expected a uint8 array of shape (H, W, 3) or (H, W, 4), got a {dtype} array of shape ({}{})",
            dims.join(", "),
            if dims.len() == 1 { "," } else { "" }
        )));
    }
    Ok(arr.cast::<PyArray3<u8>>()?.clone())
}

/// Quantizes `pixels` with the GIL released.
fn run_kmeans(
    py: Python<'_>,
    q: &kmquant::Quantizer,
    image: &Bound<'_, PyAny>,
    colors: Option<&Bound<'_, PyAny>>,
) -> PyResult<KMeans> {
    let k = colors
        .filter(|c| !c.is_none())
        .map(|c| int_in("number of colors", c, 1, 256, "an integer from 1 to 256"))
        .transpose()?
        .map(|k| k as u32);
    let arr = image_array(image)?;
    let ro = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("the array cannot be read: {e}")))?;
    let shape = ro.shape();
    let (h, w, c) = (shape[0], shape[1], shape[2]);
    let too_big = || invalid("image", format!("{w}x{h}"), "at most 4294967295 pixels a side");
    let (w32, h32) = (
        u32::try_from(w).map_err(|_| too_big())?,
        u32::try_from(h).map_err(|_| too_big())?,
    );
    // as_slice also accepts Fortran order, whose memory is not row-major.
    let c_order = arr.is_c_contiguous();
    let pixels = match (c, ro.as_slice().ok().filter(|_| c_order)) {
        (4, Some(s)) => Pixels::Borrowed(bytemuck::cast_slice(s)),
        (3, Some(s)) => Pixels::Owned(s.chunks_exact(3).map(|p| [p[0], p[1], p[2], 255]).collect()),
        _ => {
            // Any strides, read in row-major order.
            let v = ro.as_array();
            let at = |y, x, ch| v[[y, x, ch]];
            Pixels::Owned(
                (0..h)
                    .flat_map(|y| (0..w).map(move |x| (y, x)))
                    .map(|(y, x)| {
                        [
                            at(y, x, 0),
                            at(y, x, 1),
                            at(y, x, 2),
                            if c == 4 { at(y, x, 3) } else { 255 },
                        ]
                    })
                    .collect(),
            )
        }
    };
    let px = pixels.as_slice();
    let result = py.detach(|| {
        let image = ImageRef::new(w32, h32, px)?;
        match k {
            None => q.quantize(image, &mut |_| {}),
            Some(k) => {
                let prepared = q.prepare(image, &mut |_| {})?;
                q.quantize_prepared(&prepared, k, &mut |_| {})
            }
        }
    });
    drop(pixels);
    drop(ro);
    KMeans::new(py, result.map_err(lib_err)?)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The outcome of k-means on one image: the palette, one index per pixel, and measurements.
#[pyclass(frozen, module = "kmquant", name = "KMeans")]
struct KMeans {
    /// The palette, a (K, 4) uint8 array of RGBA colors, most used first.
    #[pyo3(get)]
    palette: Py<PyAny>,
    /// One palette index per pixel: an (H, W) uint8 array.
    #[pyo3(get)]
    labels: Py<PyAny>,
    /// Pixels using each palette entry: a (K,) uint64 array.
    #[pyo3(get)]
    counts: Py<PyAny>,
    /// Mean squared error per RGB channel, in 8-bit levels squared.
    #[pyo3(get)]
    mse: f64,
    /// Mean squared error of the alpha channel (0 for opaque images).
    #[pyo3(get)]
    alpha_mse: f64,
    /// PSNR over RGB in dB (inf when exact).
    #[pyo3(get)]
    psnr: f64,
    /// Lloyd iterations run (0 when the image had at most K colors).
    #[pyo3(get)]
    iterations: u32,
    /// Whether k-means stopped on the tolerance rather than on max_iter.
    #[pyo3(get)]
    converged: bool,
    /// Whether the labels were dithered.
    #[pyo3(get)]
    dithered: bool,
    /// Distinct colors in the input.
    #[pyo3(get)]
    unique_colors: usize,
    /// "gpu" when any stage ran on the GPU, else "cpu".
    #[pyo3(get)]
    backend: &'static str,
    /// The GPU adapter's name, or None on the CPU.
    #[pyo3(get)]
    adapter: Option<String>,
    /// The stages that ran on the GPU: "histogram", "kmeans", "indices".
    #[pyo3(get)]
    gpu_stages: Vec<&'static str>,
    /// Milliseconds per stage: device (waiting for it), histogram, seed, setup, kmeans, remap.
    #[pyo3(get)]
    timings: Py<PyAny>,
    /// Anything worth hearing about, such as a fallback from the GPU to the CPU.
    #[pyo3(get)]
    warnings: Vec<String>,
}

impl KMeans {
    fn new(py: Python<'_>, q: Quantized) -> PyResult<Self> {
        let k = q.palette.len();
        let (w, h) = (q.width as usize, q.height as usize);
        let palette = PyArray1::from_vec(py, bytemuck::cast_vec::<[u8; 4], u8>(q.palette)).reshape([k, 4])?;
        let labels = PyArray1::from_vec(py, q.indices).reshape([h, w])?;
        let counts = PyArray1::from_vec(py, q.counts);
        let t = &q.timings;
        let timings = PyDict::new(py);
        for (name, d) in [
            ("device", t.device),
            ("histogram", t.histogram),
            ("seed", t.seed),
            ("setup", t.setup),
            ("kmeans", t.kmeans),
            ("remap", t.remap),
        ] {
            timings.set_item(name, ms(d))?;
        }
        Ok(KMeans {
            palette: palette.into_any().unbind(),
            labels: labels.into_any().unbind(),
            counts: counts.into_any().unbind(),
            mse: q.mse,
            alpha_mse: q.alpha_mse,
            psnr: kmquant::psnr(q.mse),
            iterations: q.iterations,
            converged: q.converged,
            dithered: q.dithered,
            unique_colors: q.unique_colors,
            backend: match q.backend.kind {
                kmquant::BackendKind::Gpu => "gpu",
                kmquant::BackendKind::Cpu => "cpu",
            },
            adapter: q.backend.adapter.as_ref().map(|a| a.name.clone()),
            gpu_stages: q.backend.gpu_stages.clone(),
            timings: timings.into_any().unbind(),
            warnings: q.warnings,
        })
    }
}

#[pymethods]
impl KMeans {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let k = self.palette.bind(py).len()?;
        Ok(format!(
            "KMeans(colors={k}, psnr={:.2}, iterations={}, converged={}, backend={:?})",
            self.psnr,
            self.iterations,
            if self.converged { "True" } else { "False" },
            self.backend
        ))
    }
}

/// Quantizes many images with the same options on one device, opened once (on its own thread,
/// when the options may use one) and kept until the quantizer is dropped. Thread-safe: calls
/// from several threads run side by side, the GIL released.
#[pyclass(frozen, subclass, module = "kmquant", name = "Quantizer")]
struct PyQuantizer {
    inner: kmquant::Quantizer,
    opts: KmeansOptions,
}

#[pymethods]
impl PyQuantizer {
    #[new]
    #[pyo3(signature = (colors=None, *, dither=None, space=None, init=None, seed=None, max_iter=None, tolerance=None, run_bias=None, backend=None, adapter=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        colors: Option<&Bound<'_, PyAny>>,
        dither: Option<&Bound<'_, PyAny>>,
        space: Option<&Bound<'_, PyAny>>,
        init: Option<&Bound<'_, PyAny>>,
        seed: Option<&Bound<'_, PyAny>>,
        max_iter: Option<&Bound<'_, PyAny>>,
        tolerance: Option<&Bound<'_, PyAny>>,
        run_bias: Option<&Bound<'_, PyAny>>,
        backend: Option<&Bound<'_, PyAny>>,
        adapter: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let opts = KmeansOptions::parse([
            colors, dither, space, init, seed, max_iter, tolerance, run_bias, backend, adapter,
        ])?;
        let inner = kmquant::Quantizer::new(opts.options(opts.backend())?).map_err(lib_err)?;
        Ok(PyQuantizer { inner, opts })
    }

    /// k-means on a uint8 array of shape (H, W, 3) or (H, W, 4); `colors` overrides the
    /// quantizer's palette size for this call.
    #[pyo3(signature = (image, colors=None))]
    fn _kmeans(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        colors: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<KMeans> {
        run_kmeans(py, &self.inner, image, colors)
    }

    /// One file through `kmquant quantize`'s own code, on this quantizer's device, with its
    /// palette options; `options` are the file options only.
    #[pyo3(signature = (src, dst, **options))]
    fn _quantize_file(
        &self,
        py: Python<'_>,
        src: std::path::PathBuf,
        dst: std::path::PathBuf,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let mut flags = self.opts.flags();
        if let Some(o) = options {
            if let Some(name) = KMEANS_NAMES.iter().find(|n| o.contains(**n).unwrap_or(false)) {
                return Err(PyTypeError::new_err(format!(
                    "{name} is fixed when the Quantizer is made; give it to Quantizer() or use kmquant.quantize_file()"
                )));
            }
            flags.extend(file_flags(o)?);
        }
        let (src, dst) = (path_str("src", src)?, path_str("dst", dst)?);
        let job = FileJob::parse(&src, &dst, &flags).map_err(file_err)?;
        let report = py.detach(|| job.run(&self.inner)).map_err(file_err)?;
        json_to_py(py, &report)
    }

    /// The palette options this quantizer was made with.
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.opts.to_dict(py)
    }

    /// The GPU adapter's name once the device is open, else None.
    #[getter]
    fn adapter(&self) -> Option<String> {
        self.inner.adapter().map(|a| a.name.clone())
    }

    fn __repr__(&self) -> String {
        format!(
            "Quantizer(colors={}, backend={:?}, adapter={:?})",
            self.opts.colors,
            self.opts.backend,
            self.inner.adapter().map(|a| a.name.as_str())
        )
    }
}

/// Quantizes the file `src` into `dst` exactly as `kmquant quantize src -o dst` with the same
/// options does (the same code) and returns its `--json` report as a dict.
#[pyfunction]
#[pyo3(signature = (src, dst, **options))]
fn quantize_file(
    py: Python<'_>,
    src: std::path::PathBuf,
    dst: std::path::PathBuf,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let kwargs = match options {
        Some(o) => o.copy()?,
        None => PyDict::new(py),
    };
    let kopts = KmeansOptions::take(&kwargs)?;
    let mut flags = kopts.flags();
    flags.extend(file_flags(&kwargs)?);
    let (src, dst) = (path_str("src", src)?, path_str("dst", dst)?);
    let job = FileJob::parse(&src, &dst, &flags).map_err(file_err)?;
    let opts = job.options().map_err(file_err)?;
    let report = py
        .detach(|| {
            let q = kmquant::Quantizer::new(opts).map_err(|e| FileError {
                kind: FileError::library_kind(&e),
                message: e.to_string(),
            })?;
            job.run(&q)
        })
        .map_err(file_err)?;
    json_to_py(py, &report)
}

/// Every GPU adapter found, as `kmquant adapters --json` lists them, each with its `index` (what
/// `adapter=` takes) and whether `backend="auto"` would use it.
#[pyfunction]
fn adapters(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let (all, auto) = py.detach(kmquant::list_adapters);
    let list = PyList::empty(py);
    for (i, a) in all.iter().enumerate() {
        let mut v = serde_json::to_value(a).map_err(|e| Error::new_err(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("index".into(), i.into());
            o.insert("auto".into(), (auto == Some(i)).into());
        }
        list.append(json_to_py(py, &v)?)?;
    }
    Ok(list.into_any().unbind())
}

/// Whether `backend="auto"` should open a device for one image of `pixels` pixels at `k` colors
/// on this process's CPU threads (the command line's rule for one file).
#[pyfunction]
fn _worth_starting(pixels: u64, k: u32) -> bool {
    kmquant::policy::worth_starting(pixels, 1, k)
}

#[pymodule]
fn _kmquant(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyQuantizer>()?;
    m.add_class::<KMeans>()?;
    m.add_function(wrap_pyfunction!(quantize_file, m)?)?;
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add_function(wrap_pyfunction!(_worth_starting, m)?)?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("EncodeError", py.get_type::<EncodeError>())?;
    m.add("GpuError", py.get_type::<GpuError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_COLORS", kmquant::MAX_COLORS)?;
    m.add("AUTO_MIN_RUN_PIXELS", kmquant::policy::AUTO_MIN_RUN_PIXELS)?;
    Ok(())
}
