"""Bad input raises a clear error of the right type, with a one-line message."""

import numpy as np
import pytest
from PIL import Image

import kmquant
from conftest import PHOTOS

GOOD = np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("array", [
    np.zeros((4, 4, 3), np.float32),
    np.zeros((4, 4, 4), np.uint16),
    np.zeros((4, 4, 3), np.int8),
])
def test_wrong_dtype(array):
    with pytest.raises(ValueError, match=r"expected a uint8 array of shape \(H, W, 3\) or \(H, W, 4\), got a \w+ array"):
        kmquant.quantize(array, 4)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 2), (4, 4, 5), (2, 4, 4, 3), (12,)])
def test_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"shape \("):
        kmquant.kmeans(np.zeros(shape, np.uint8), 4)


def test_empty_image():
    with pytest.raises(ValueError, match="no pixels"):
        kmquant.kmeans(np.zeros((0, 5, 3), np.uint8), 4)


def test_not_an_image():
    with pytest.raises(TypeError, match="NumPy uint8 array"):
        kmquant.quantize([[1, 2, 3]], 4)


@pytest.mark.parametrize("k", [0, 257, -1, 10**30, 10**40, -(10**40)])
def test_k_out_of_range(k):
    with pytest.raises(ValueError, match=r"invalid number of colors: .* \(an integer from 1 to 256\)"):
        kmquant.quantize(GOOD, k)
    with pytest.raises(ValueError, match="number of colors"):
        kmquant.Quantizer(k)
    with pytest.raises(ValueError, match="number of colors"):
        kmquant.Quantizer(16, backend="cpu").kmeans(GOOD, k)


@pytest.mark.parametrize("options,match", [
    ({"space": "lab"}, r'invalid space: "lab"'),
    ({"init": "random"}, "invalid init"),
    ({"backend": "tpu"}, "invalid backend"),
    ({"dither": Image.Dither.ORDERED}, "invalid dither"),
    ({"dither": 1.5}, "invalid dither"),
    ({"max_iter": 0}, "invalid max-iter"),
    ({"tolerance": -1.0}, "invalid tolerance"),
    ({"tolerance": float("nan")}, "invalid tolerance"),
    ({"seed": -1}, "invalid seed"),
    ({"run_bias": 101}, "invalid run bias"),
    ({"run_bias": -1}, "invalid run bias"),
    ({"adapter": ""}, "invalid adapter"),
])
def test_bad_option_values(options, match):
    with pytest.raises(ValueError, match=match):
        kmquant.quantize(GOOD, 4, **options)


def test_bad_file_options(tmp_path):
    with pytest.raises(ValueError, match="--quality"):
        kmquant.quantize_file(PHOTOS[0], tmp_path / "o.jpg", quality=0)
    with pytest.raises(ValueError, match="cannot tell the format"):
        kmquant.quantize_file(PHOTOS[0], tmp_path / "o.xyz")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colours'"):
        kmquant.quantize_file(PHOTOS[0], tmp_path / "o.png", colours=4)
    with pytest.raises(TypeError, match="fixed when the Quantizer is made"):
        kmquant.Quantizer(4).quantize_file(PHOTOS[0], tmp_path / "o.png", colors=8)
    assert not list(tmp_path.iterdir())


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png: No such file or directory"):
        kmquant.quantize_file(missing, tmp_path / "out.png")
    with pytest.raises(FileNotFoundError):
        kmquant.Quantizer(8).quantize_file(missing, tmp_path / "out.png")


def test_unreadable_and_undecodable_files(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(kmquant.DecodeError, match="junk.png: cannot decode image"):
        kmquant.quantize_file(junk, tmp_path / "out.png")
    assert issubclass(kmquant.DecodeError, kmquant.Error)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        kmquant.quantize_file(tmp_path, tmp_path / "out.png")
    with pytest.raises(FileNotFoundError, match="cannot create a file in"):
        kmquant.quantize_file(PHOTOS[0], tmp_path / "no" / "such" / "dir" / "out.png", colors=4)


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="already exists"):
        kmquant.quantize_file(PHOTOS[0], out, colors=4)
    assert out.read_bytes() == b"keep me"
    report = kmquant.quantize_file(PHOTOS[0], out, colors=4, force=True)
    assert report["output_bytes"] == out.stat().st_size
    skipped = kmquant.quantize_file(PHOTOS[0], out, colors=4, skip_existing=True)
    assert skipped["kind"] == "skipped" and "already exists" in skipped["reason"]


def test_the_input_is_never_the_output_and_names_may_start_with_a_dash(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(PHOTOS[0].read_bytes())
    with pytest.raises(kmquant.Error, match="refusing to overwrite the input") as e:
        kmquant.quantize_file(src, src, colors=4)
    assert not isinstance(e.value, FileExistsError)
    assert src.read_bytes() == PHOTOS[0].read_bytes()
    # Values are passed as --flag=VALUE: a name starting with '-' is a name, not a flag.
    report = kmquant.quantize_file(src, tmp_path / "-out.png", colors=4, plot=tmp_path / "-p.png")
    assert report["output_bytes"] == (tmp_path / "-out.png").stat().st_size
    assert (tmp_path / "-p.png").stat().st_size > 0


def test_an_adapter_that_does_not_exist():
    with pytest.raises(kmquant.GpuError, match=r"no adapter \"no-such-gpu\""):
        kmquant.kmeans(GOOD, 4, adapter="no-such-gpu")


def test_messages_are_one_line(tmp_path):
    for call in (
        lambda: kmquant.quantize(np.zeros((4, 4), np.uint8), 4),
        lambda: kmquant.quantize_file(tmp_path / "missing.png", tmp_path / "o.png"),
        lambda: kmquant.quantize_file(PHOTOS[0], tmp_path / "o.png", png_level=12),
    ):
        with pytest.raises(Exception) as e:
            call()
        assert "\n" not in str(e.value) and str(e.value)
