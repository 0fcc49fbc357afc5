"""PSNR (RGB) and mean Oklab distance (a perceptual error, x100) of images against an original.

    python bench/perceptual.py ORIGINAL OUTPUT [OUTPUT...]

Prints one tab-separated line per output: path, bytes, psnr_db, delta_e_ok_x100.
"""
import os
import sys

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None


def oklab(rgb):
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                   [0.2119034982, 0.6806995451, 0.1073969566],
                   [0.0883024619, 0.2817188376, 0.6299787005]])
    m2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                   [1.9779984951, -2.4285922050, 0.4505937099],
                   [0.0259040371, 0.7827717662, -0.8086757660]])
    return np.cbrt(lin @ m1.T) @ m2.T


def main():
    orig = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
    lab0 = oklab(orig.reshape(-1, 3))
    for path in sys.argv[2:]:
        out = np.asarray(Image.open(path).convert("RGB"))
        mse = ((orig.astype(np.float64) - out) ** 2).mean()
        psnr = 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")
        de = np.sqrt(((lab0 - oklab(out.reshape(-1, 3))) ** 2).sum(axis=1)).mean() * 100
        print(f"{path}\t{os.path.getsize(path)}\t{psnr:.3f}\t{de:.3f}")


if __name__ == "__main__":
    main()
