#!/usr/bin/env python3
"""OpenCV k-means over every pixel, as in OpenCV's "K-Means Clustering in OpenCV" tutorial:
cv2.kmeans on the pixels as float32, criteria (EPS + MAX_ITER, 10, 1.0), one attempt, random
centers (seeded), then every pixel replaced by its center. Saved as an indexed PNG by Pillow.

usage: python opencv_kmeans.py INPUT K OUTPUT [--seed 0]
"""

import argparse
import sys

import cv2
import numpy as np
from PIL import Image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("k", type=int)
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        with Image.open(args.input) as im:
            rgb = np.asarray(im.convert("RGB"))
        h, w, _ = rgb.shape
        data = rgb.reshape(-1, 3).astype(np.float32)
        cv2.setRNGSeed(args.seed)
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
        _, labels, centers = cv2.kmeans(data, args.k, None, criteria, 1, cv2.KMEANS_RANDOM_CENTERS)
        palette = np.clip(np.rint(centers), 0, 255).astype(np.uint8)
        out = Image.fromarray(labels.reshape(h, w).astype(np.uint8), mode="P")
        flat = palette.reshape(-1).tolist()
        out.putpalette(flat + [0] * (768 - len(flat)))
        out.save(args.output)
    except Exception as e:
        print(f"opencv_kmeans: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
