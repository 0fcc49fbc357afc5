#!/usr/bin/env python3
"""Makes the fuzzers' seed corpus from the chelsea test fixture (CC0, scikit-image): a 24x16
crop in every format and color type kmquant decodes, each prefixed with two bytes (K - 1 and
the option flags that fuzz/targets.rs reads), and a few command lines for the option parser.

usage: python3 fuzz/make_seeds.py   (needs Pillow)
"""

import io
import os

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
src = Image.open(os.path.join(HERE, "..", "tests", "fixtures", "chelsea.png")).convert("RGB")
crop = src.crop((200, 100, 224, 116))
rgba = crop.convert("RGBA")
px = rgba.load()
for x in range(24):
    for y in range(16):
        r, g, b, _ = px[x, y]
        px[x, y] = (r, g, b, 0 if x < 6 else (x * 10 if x < 12 else 255))

seeds = {
    "png-rgb": (crop, "PNG", {}),
    "png-rgba": (rgba, "PNG", {}),
    "png-palette": (crop.quantize(16), "PNG", {}),
    "png-gray": (crop.convert("L"), "PNG", {}),
    "png-16bit": (crop.convert("I;16"), "PNG", {}),
    "jpeg": (crop, "JPEG", {"quality": 80}),
    "jpeg-progressive": (crop, "JPEG", {"quality": 80, "progressive": True}),
    "gif": (crop, "GIF", {}),
    "bmp": (crop, "BMP", {}),
    "tiff": (crop, "TIFF", {}),
    "webp-lossy": (crop, "WEBP", {"quality": 70}),
    "webp-lossless": (rgba, "WEBP", {"lossless": True}),
}
out = os.path.join(HERE, "corpus", "decode_quantize_encode")
os.makedirs(out, exist_ok=True)
for i, (name, (img, fmt, kw)) in enumerate(seeds.items()):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    k, flags = [7, 3, 15, 1, 63, 255, 31, 7, 15, 3, 127, 15][i], i * 9 % 256
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([k, flags]) + buf.getvalue())

lines = [
    ["photo.jpg", "-k", "16"],
    ["quantize", "a.png", "b.png", "--out-dir", "out", "--json", "-j", "2"],
    ["compare", "x.png", "-k", "256", "--space", "oklab", "--dither", "--dither-strength", "0.5"],
    ["a.png", "--max-bytes", "1.5MB", "-o", "x.jpg", "--quality", "80"],
    ["adapters", "--json"],
    ["a.png", "--init", "kmeans++", "--seed", "7", "--tolerance", "0", "--max-iter", "100"],
]
out = os.path.join(HERE, "corpus", "options")
os.makedirs(out, exist_ok=True)
for i, argv in enumerate(lines):
    with open(os.path.join(out, f"argv{i}"), "wb") as f:
        f.write("\0".join(argv).encode())
print("seeds written")
