"""The package gives what the command line gives: the same file bytes and report from
quantize_file, and the same palette and indices from quantize() and kmeans(), whether the image
comes as a NumPy array or a Pillow image."""

import numpy as np
import pytest
from PIL import Image

import kmquant
from conftest import PHOTOS, run_cli

# (keyword options, the same options as command-line flags, output extension)
CASES = [
    ({"colors": 16}, ["-k", "16"], "png"),
    ({"colors": 64, "dither": True}, ["-k", "64", "--dither"], "png"),
    ({"colors": 48, "dither": Image.Dither.FLOYDSTEINBERG}, ["-k", "48", "--dither"], "png"),
    ({"colors": 16, "dither": 0.5, "png_level": 3}, ["-k", "16", "--dither", "--dither-strength", "0.5", "--png-level", "3"], "png"),
    ({"colors": 32, "space": "oklab"}, ["-k", "32", "--space", "oklab"], "png"),
    ({"colors": 8, "init": "kmeans++", "seed": 7}, ["-k", "8", "--init", "kmeans++", "--seed", "7"], "png"),
    ({"colors": 200, "max_iter": 3, "tolerance": 0}, ["-k", "200", "--max-iter", "3", "--tolerance", "0"], "png"),
    ({"colors": 16, "strip": True, "backend": "cpu"}, ["-k", "16", "--strip", "--backend", "cpu"], "png"),
    ({"colors": 16}, ["-k", "16"], "gif"),
    ({"colors": 64, "run_bias": 0}, ["-k", "64", "--run-bias", "0"], "png"),
    ({"colors": 32, "run_bias": 60}, ["-k", "32", "--run-bias", "60"], "gif"),
    ({"colors": 64, "quality": 80}, ["-k", "64", "--quality", "80"], "jpg"),
    ({"colors": 256, "max_bytes": "120k"}, ["-k", "256", "--max-bytes", "120k"], "png"),
]


def comparable(report):
    """A report without what differs between two runs: times, and the output's name."""
    return {k: v for k, v in report.items() if k not in ("timings_ms", "output")}


@pytest.mark.parametrize("options,flags,ext", CASES, ids=[" ".join(c[1]) + " " + c[2] for c in CASES])
def test_quantize_file_writes_the_cli_bytes_and_report(tmp_path, kmquant_bin, options, flags, ext):
    src = PHOTOS[0]
    cli_out, py_out = tmp_path / f"cli.{ext}", tmp_path / f"py.{ext}"
    cli_report = run_cli(kmquant_bin, src, "-o", cli_out, *flags)
    py_report = kmquant.quantize_file(src, py_out, **options)
    assert py_out.read_bytes() == cli_out.read_bytes()
    assert comparable(py_report) == comparable(cli_report)
    assert py_report["output"] == str(py_out)
    assert py_report["kind"] == "file" and py_report["output_bytes"] == py_out.stat().st_size


def test_quantize_file_with_alpha(tmp_path, kmquant_bin, rgba_photo):
    cli_report = run_cli(kmquant_bin, rgba_photo, "-o", tmp_path / "cli.png", "-k", "24")
    py_report = kmquant.quantize_file(str(rgba_photo), str(tmp_path / "py.png"), colors=24)
    assert (tmp_path / "py.png").read_bytes() == (tmp_path / "cli.png").read_bytes()
    assert comparable(py_report) == comparable(cli_report)
    assert b"tRNS" in (tmp_path / "py.png").read_bytes()


def test_a_quantizer_writes_the_cli_bytes_file_after_file(tmp_path, kmquant_bin):
    q = kmquant.Quantizer(32, dither=True)
    for i, src in enumerate(PHOTOS):
        cli_out, py_out = tmp_path / f"cli{i}.png", tmp_path / f"py{i}.png"
        cli_report = run_cli(kmquant_bin, src, "-o", cli_out, "-k", "32", "--dither")
        py_report = q.quantize_file(src, py_out)
        assert py_out.read_bytes() == cli_out.read_bytes()
        assert comparable(py_report) == comparable(cli_report)


def png_palette_and_indices(path):
    """The PLTE (with tRNS alpha) and the indices of an indexed PNG, as Pillow reads them."""
    with Image.open(path) as im:
        assert im.mode == "P"
        indices = np.asarray(im).copy()
        rgb = np.array(im.getpalette("RGB"), np.uint8).reshape(-1, 3)
        trns = im.info.get("transparency", b"")
    alpha = np.full(len(rgb), 255, np.uint8)
    if isinstance(trns, bytes):
        alpha[: len(trns)] = np.frombuffer(trns, np.uint8)
    return np.column_stack([rgb, alpha]), indices


def inputs(path):
    """The same photo as every kind of input the package takes."""
    pil = Image.open(path)
    pil.load()
    rgb = np.asarray(pil.convert("RGB"))
    rgba = np.ascontiguousarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]))
    return {
        "pillow": pil,
        "numpy-rgb": rgb,
        "numpy-rgba": rgba,
        "numpy-rgba-fortran": np.asfortranarray(rgba),
        "numpy-rgb-strided": np.dstack([rgb[..., 2], rgb[..., 1], rgb[..., 0]])[..., ::-1],
    }


@pytest.mark.parametrize("kind", ["pillow", "numpy-rgb", "numpy-rgba", "numpy-rgba-fortran", "numpy-rgb-strided"])
@pytest.mark.parametrize("k,flags,options", [
    (16, [], {}),
    (64, ["--dither"], {"dither": True}),
    (5, ["--init", "kmeans++", "--seed", "3", "--space", "oklab"], {"init": "kmeans++", "seed": 3, "space": "oklab"}),
])
def test_quantize_and_kmeans_give_the_cli_palette_and_indices(tmp_path, kmquant_bin, kind, k, flags, options):
    src = PHOTOS[2]
    run_cli(kmquant_bin, src, "-o", tmp_path / "cli.png", "-k", k, *flags)
    palette, indices = png_palette_and_indices(tmp_path / "cli.png")
    image = inputs(src)[kind]

    r = kmquant.kmeans(image, k, **options)
    assert r.palette.dtype == np.uint8 and r.palette.shape == (len(palette), 4)
    assert np.array_equal(r.palette, palette)
    assert r.labels.dtype == np.uint8 and r.labels.shape == indices.shape
    assert np.array_equal(r.labels, indices)
    assert int(r.counts.sum()) == indices.size
    assert np.array_equal(r.counts, np.bincount(indices.ravel(), minlength=len(palette)))

    out = kmquant.quantize(image, k, **options)
    assert out.mode == "P" and out.size == (indices.shape[1], indices.shape[0])
    assert np.array_equal(np.asarray(out), indices)
    assert np.array_equal(np.array(out.getpalette("RGB"), np.uint8).reshape(-1, 3)[: len(palette)], palette[:, :3])


def test_alpha_survives_quantize_and_the_png_pillow_writes(tmp_path, kmquant_bin, rgba_photo):
    run_cli(kmquant_bin, rgba_photo, "-o", tmp_path / "cli.png", "-k", "24")
    palette, indices = png_palette_and_indices(tmp_path / "cli.png")
    out = kmquant.quantize(Image.open(rgba_photo), 24)
    assert np.array_equal(np.asarray(out), indices)
    out.save(tmp_path / "pillow.png")
    again, again_indices = png_palette_and_indices(tmp_path / "pillow.png")
    assert np.array_equal(again[: len(palette)], palette)
    assert np.array_equal(again_indices, indices)


def test_the_result_measures_what_it_returns():
    rgb = np.asarray(Image.open(PHOTOS[1]).convert("RGB"))
    r = kmquant.kmeans(rgb, 12)
    back = r.palette[r.labels][..., :3].astype(np.float64)
    mse = float(((back - rgb) ** 2).mean())
    assert r.mse == pytest.approx(mse, rel=1e-9)
    assert r.psnr == pytest.approx(10 * np.log10(255**2 / mse), rel=1e-9)
    assert r.backend == "cpu" and r.adapter is None
    assert r.iterations >= 1 and isinstance(r.converged, bool)
    assert set(r.timings) == {"device", "histogram", "seed", "setup", "kmeans", "remap"}


def test_a_per_call_palette_size_matches_a_fresh_quantizer():
    rgb = np.asarray(Image.open(PHOTOS[1]).convert("RGB"))
    q = kmquant.Quantizer(200, backend="cpu")
    for k in (1, 7, 200):
        a, b = q.kmeans(rgb, k), kmquant.kmeans(rgb, k)
        assert len(a.palette) == k
        assert np.array_equal(a.palette, b.palette) and np.array_equal(a.labels, b.labels)
