#!/usr/bin/env python3
"""Color quantization with scikit-learn's KMeans, as in the scikit-learn tutorial
"Color Quantization using K-Means": fit on a random sample of pixels, then
predict a palette index for every pixel.

usage: python sklearn_kmeans.py INPUT K OUTPUT [--sample 20000 | --full] [--seed 0]

Writes an indexed (mode "P") PNG with at most K colors, no dithering.
"""

import argparse
import sys

import numpy as np
from PIL import Image
from sklearn.cluster import KMeans


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("k", type=int)
    ap.add_argument("output")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--sample", type=int, default=20000,
                       help="fit on this many randomly chosen pixels (default 20000)")
    group.add_argument("--full", action="store_true", help="fit on every pixel")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    if not 2 <= args.k <= 256:
        print(f"sklearn_kmeans: K must be in 2..256, got {args.k}", file=sys.stderr)
        return 2
    try:
        with Image.open(args.input) as im:
            rgb = np.asarray(im.convert("RGB"))
        h, w, _ = rgb.shape
        # The tutorial scales to [0, 1] floats before clustering.
        pixels = rgb.reshape(-1, 3).astype(np.float64) / 255.0

        if args.full or args.sample >= len(pixels):
            train = pixels
        else:
            rng = np.random.RandomState(args.seed)
            train = pixels[rng.choice(len(pixels), size=args.sample, replace=False)]

        km = KMeans(n_clusters=args.k, n_init=1, random_state=args.seed).fit(train)
        labels = km.predict(pixels).astype(np.uint8)
        palette = np.clip(np.rint(km.cluster_centers_ * 255.0), 0, 255).astype(np.uint8)

        out = Image.frombytes("P", (w, h), labels.tobytes())
        out.putpalette(palette.reshape(-1).tolist())
        out.save(args.output, format="PNG")
    except Exception as e:  # one-line error, non-zero exit
        print(f"sklearn_kmeans: {args.input}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
