#!/usr/bin/env python3
"""kmquant from Python against the Python ways to quantize a photo, in the tutorials' own flow:
open the photo with Pillow, reduce it to K = 20 colors, save a PNG. Each run is timed from
Image.open to the saved file; the table gives the median wall time of the runs, the PSNR over RGB
of the saved PNG against the photo, and the PNG's size.

usage: python bench/python_tutorial.py PHOTO [--sizes 1,4,16] [--k 20] [--runs 3]
                                      [--max-seconds 120] [--out DIR]

The photo is resized (Lanczos) to each size in megapixels first, into --out (a temporary folder
by default). Contenders:
  - kmquant.quantize(image, K): k-means on every pixel (backend "auto": the CPU without a GPU);
  - scikit-learn KMeans(n_clusters=K, n_init=1) fitted on every pixel, as in scikit-learn's
    "Color Quantization using K-Means" tutorial but without its 1,000-pixel sample, then
    predict (and MiniBatchKMeans, n_init=1, as a faster variant);
  - Pillow's Image.quantize(K) (median cut), and its libimagequant method when the Pillow wheel
    has it (PIL.features.check("libimagequant"));
  - the imagequant package (libimagequant), quantize_pil_image(image, max_colors=K).
No dithering anywhere. A contender whose first run takes longer than --max-seconds runs once.
Needs: pip install ./python numpy pillow scikit-learn imagequant
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, features

import kmquant


def with_kmquant(src, dst, k):
    with Image.open(src) as im:
        kmquant.quantize(im, k).save(dst)


def sklearn_flow(src, dst, k, minibatch=False):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    with Image.open(src) as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w, _ = rgb.shape
    pixels = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    if minibatch:
        km = MiniBatchKMeans(n_clusters=k, n_init=1, random_state=0).fit(pixels)
    else:
        km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(pixels)
    labels = km.predict(pixels).astype(np.uint8)
    palette = np.clip(np.rint(km.cluster_centers_ * 255.0), 0, 255).astype(np.uint8)
    out = Image.frombytes("P", (w, h), labels.tobytes())
    out.putpalette(palette.tobytes())
    out.save(dst)


def with_sklearn(src, dst, k):
    sklearn_flow(src, dst, k)


def with_minibatch(src, dst, k):
    sklearn_flow(src, dst, k, minibatch=True)


def with_pillow(src, dst, k, method=Image.Quantize.MEDIANCUT):
    with Image.open(src) as im:
        im.convert("RGB").quantize(k, method=method, dither=Image.Dither.NONE).save(dst)


def with_pillow_liq(src, dst, k):
    with_pillow(src, dst, k, method=Image.Quantize.LIBIMAGEQUANT)


def with_imagequant(src, dst, k):
    import imagequant

    with Image.open(src) as im:
        imagequant.quantize_pil_image(im.convert("RGBA"), dithering_level=0.0, max_colors=k).save(dst)


def psnr(original, path):
    with Image.open(path) as im:
        back = np.asarray(im.convert("RGB"), dtype=np.float64)
    mse = float(((back - original) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def resized(photo, megapixels, folder):
    with Image.open(photo) as im:
        im = im.convert("RGB")
        scale = (megapixels * 1e6 / (im.width * im.height)) ** 0.5
        size = (round(im.width * scale), round(im.height * scale))
        path = folder / f"{Path(photo).stem}-{megapixels}mp.png"
        if not path.exists():
            im.resize(size, Image.Resampling.LANCZOS).save(path, compress_level=1)
    return path, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo")
    ap.add_argument("--sizes", default="1,4,16", help="megapixels, comma-separated")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--only", default="", help="contenders to run, comma-separated (default: all)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    contenders = [
        ("kmquant", with_kmquant),
        ("scikit-learn KMeans", with_sklearn),
        ("scikit-learn MiniBatchKMeans", with_minibatch),
        ("Pillow quantize (median cut)", with_pillow),
    ]
    if features.check("libimagequant"):
        contenders.append(("Pillow quantize (libimagequant)", with_pillow_liq))
    contenders.append(("imagequant", with_imagequant))
    if args.only:
        wanted = args.only.split(",")
        contenders = [c for c in contenders if any(w in c[0] for w in wanted)]

    folder = args.out or Path(tempfile.mkdtemp(prefix="kmquant-python-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for mp in [float(s) if "." in s else int(s) for s in args.sizes.split(",")]:
        src, size = resized(args.photo, mp, folder)
        with Image.open(src) as im:
            original = np.asarray(im.convert("RGB"), dtype=np.float64)
        cells = []
        for name, run in contenders:
            dst = folder / f"out-{mp}mp-{name.split()[0].lower()}-{len(cells)}.png"
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                run(src, dst, args.k)
                times.append(time.perf_counter() - t)
                if times[0] > args.max_seconds:
                    break
            cell = (statistics.median(times), psnr(original, dst), dst.stat().st_size, len(times))
            print(f"{mp} MP {size[0]}x{size[1]} {name}: {cell[0]:.2f} s, {cell[1]:.2f} dB, {cell[2]} bytes, {cell[3]} runs", file=sys.stderr)
            cells.append(cell)
        rows.append((mp, size, cells))

    print(f"\nK = {args.k}, {Path(args.photo).name} resized; median of {args.runs} runs (wall time from Image.open to the saved PNG) / PSNR / PNG size. {os.cpu_count()} cores.\n")
    print("| size | " + " | ".join(name for name, _ in contenders) + " |")
    print("|---" * (len(contenders) + 1) + "|")
    for mp, size, cells in rows:
        texts = []
        for t, p, b, n in cells:
            runs = "" if n == args.runs else f" ({n} run)"
            texts.append(f"{t:.2f} s{runs} / {p:.2f} dB / {b / 1000:,.0f} kB")
        print(f"| {mp} MP ({size[0]}x{size[1]}) | " + " | ".join(texts) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
