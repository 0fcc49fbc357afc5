"""Shared fixtures: the kmquant binary to compare with, the photos, and the GPU check."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmquant

REPO = Path(__file__).resolve().parents[2]
PHOTOS = [
    REPO / "samples" / "astronaut.png",
    REPO / "tests" / "fixtures" / "chelsea.png",
    REPO / "tests" / "fixtures" / "coffee.png",
]


def find_binary():
    """$KMQUANT_BIN, else the release binary, else the debug one, of this checkout's target dir."""
    given = os.environ.get("KMQUANT_BIN")
    if given:
        return Path(given)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "kmquant"
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def kmquant_bin():
    found = find_binary()
    if found is None or not found.is_file():
        pytest.fail(
            f"no kmquant binary ({found or 'target/release/kmquant or target/debug/kmquant'}); "
            "build it with `cargo build --release` or set KMQUANT_BIN"
        )
    return found


def run_cli(binary, *args):
    """Runs `kmquant quantize ARGS --json` and returns the report of the one file."""
    out = subprocess.run(
        [str(binary), "quantize", *map(str, args), "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    files = [o for o in lines if o["kind"] == "file"]
    assert len(files) == 1, out.stdout
    return files[0]


@pytest.fixture(scope="session")
def rgba_photo(tmp_path_factory):
    """A photo with an alpha channel: fully transparent, translucent and opaque regions."""
    rgb = np.asarray(Image.open(PHOTOS[1]).convert("RGB"))
    h, w, _ = rgb.shape
    alpha = np.full((h, w), 255, np.uint8)
    alpha[: h // 4] = 0
    alpha[h // 4 : h // 2, : w // 2] = 128
    path = tmp_path_factory.mktemp("alpha") / "chelsea-alpha.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    return path


def _gpu_problem():
    """Why no GPU adapter can be used, or None when one can."""
    try:
        noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        r = kmquant.Quantizer(4, backend="gpu").kmeans(noise)
    except kmquant.GpuError as e:
        return str(e)
    if r.backend != "gpu":
        return f"backend='gpu' ran on {r.backend}"
    return None


@pytest.fixture(scope="session")
def gpu():
    """Skips (loudly) without a usable adapter, or fails when KMQUANT_REQUIRE_GPU=1."""
    problem = _gpu_problem()
    if problem is not None:
        message = f"no usable GPU adapter: {problem}"
        if os.environ.get("KMQUANT_REQUIRE_GPU") == "1":
            pytest.fail(message + " (KMQUANT_REQUIRE_GPU=1)")
        print(f"\nSKIPPING GPU TEST: {message}", file=sys.stderr)
        pytest.skip(message)
    return True
