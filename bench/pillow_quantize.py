#!/usr/bin/env python3
"""Pillow's own quantizer, as a Pillow user would call it: Image.quantize(K) (median cut for RGB
images), no dithering, saved as an indexed PNG by Pillow.

usage: python pillow_quantize.py INPUT K OUTPUT [--method mediancut|maxcoverage|fastoctree]
"""

import argparse
import sys

from PIL import Image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("k", type=int)
    ap.add_argument("output")
    ap.add_argument("--method", default="mediancut", choices=["mediancut", "maxcoverage", "fastoctree"])
    args = ap.parse_args()
    method = {
        "mediancut": Image.Quantize.MEDIANCUT,
        "maxcoverage": Image.Quantize.MAXCOVERAGE,
        "fastoctree": Image.Quantize.FASTOCTREE,
    }[args.method]
    try:
        with Image.open(args.input) as im:
            q = im.convert("RGB").quantize(colors=args.k, method=method, dither=Image.Dither.NONE)
        q.save(args.output, optimize=False)
    except Exception as e:  # one line, as every tool in the benchmark reports failures
        print(f"pillow_quantize: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
