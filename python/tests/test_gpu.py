"""backend="gpu" (lavapipe or llvmpipe on a machine without a GPU) gives the CPU's palette,
indices and file bytes. Without an adapter these tests skip, saying so, unless
KMQUANT_REQUIRE_GPU=1 makes that a failure."""

import numpy as np
import pytest
from PIL import Image

import kmquant
from conftest import PHOTOS


@pytest.mark.parametrize("k", [1, 16, 256])
@pytest.mark.parametrize("options", [{}, {"dither": True}, {"space": "oklab", "init": "kmeans++", "seed": 5}])
def test_gpu_equals_cpu_on_arrays(gpu, k, options):
    image = Image.open(PHOTOS[0])
    on_gpu = kmquant.kmeans(image, k, backend="gpu", **options)
    on_cpu = kmquant.kmeans(image, k, backend="cpu", **options)
    assert on_gpu.backend == "gpu" and on_gpu.adapter and "kmeans" in on_gpu.gpu_stages
    assert on_cpu.backend == "cpu"
    assert np.array_equal(on_gpu.palette, on_cpu.palette)
    assert np.array_equal(on_gpu.labels, on_cpu.labels)
    assert on_gpu.mse == on_cpu.mse and on_gpu.iterations == on_cpu.iterations


def test_gpu_equals_cpu_with_alpha(gpu, rgba_photo):
    on_gpu = kmquant.Quantizer(40, backend="gpu").kmeans(Image.open(rgba_photo))
    on_cpu = kmquant.Quantizer(40, backend="cpu").kmeans(Image.open(rgba_photo))
    assert on_gpu.backend == "gpu"
    assert np.array_equal(on_gpu.palette, on_cpu.palette)
    assert np.array_equal(on_gpu.labels, on_cpu.labels)


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_gpu_equals_cpu_in_files(gpu, tmp_path, ext):
    q = kmquant.Quantizer(64, backend="gpu")
    for i, src in enumerate(PHOTOS):
        g = q.quantize_file(src, tmp_path / f"gpu{i}.{ext}")
        c = kmquant.quantize_file(src, tmp_path / f"cpu{i}.{ext}", colors=64, backend="cpu")
        assert g["backend"] == "gpu" and c["backend"] == "cpu"
        assert (tmp_path / f"gpu{i}.{ext}").read_bytes() == (tmp_path / f"cpu{i}.{ext}").read_bytes()
    assert q.adapter


def test_adapters_lists_the_one_that_ran(gpu):
    found = kmquant.adapters()
    usable = [a for a in found if a["usable"]]
    assert usable, found
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ran = kmquant.kmeans(noise, 2, adapter=usable[0]["index"]).adapter
    assert ran == usable[0]["name"]
    for a in found:
        assert set(a) >= {"name", "backend", "device_type", "driver", "usable", "reason", "index", "auto"}
