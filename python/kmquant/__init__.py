"""Reduce a photo to K colors with k-means, on the GPU (wgpu) or the CPU, bit for bit the same.

    >>> from PIL import Image
    >>> import kmquant
    >>> small = kmquant.quantize(Image.open("photo.jpg"), 64)   # a mode "P" image
    >>> small.save("photo-k64.png")

- ``quantize(image, colors)``: a Pillow image in mode "P" (palette with alpha when the input has it).
- ``kmeans(image, k)``: the palette, one index per pixel, the error and how it ran.
- ``quantize_file(src, dst, **options)``: what ``kmquant quantize src -o dst`` writes, byte for
  byte, and its ``--json`` report as a dict.
- ``Quantizer(**options)``: one device kept open across calls; ``shared_quantizer(**options)``:
  one per process, made on first use (for Dask or multiprocessing workers).
- ``adapters()``: the GPU adapters found, as ``kmquant adapters --json`` lists them.

An image is a Pillow image or a NumPy uint8 array of shape (H, W, 3) or (H, W, 4). A C-contiguous
(H, W, 4) array is read in place, without a copy (do not write to it from another thread during
the call); any other layout, and (H, W, 3) arrays (alpha 255 added), are copied into RGBA first.
Pillow images are converted to RGB or, when they have alpha or a transparent color, to RGBA.

The work runs with the GIL released, so threads run side by side. Errors: ``ValueError`` for
bad option values, arrays of the wrong dtype or shape, and K outside 1..256; ``TypeError`` for
the wrong kind of argument; ``OSError`` (``FileNotFoundError``, ``FileExistsError``, ...) for
files; ``kmquant.Error`` and its subclasses ``DecodeError``, ``EncodeError`` and ``GpuError`` for
the rest. Messages are the command line's, on one line.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _kmquant
from ._kmquant import (
    AUTO_MIN_RUN_PIXELS,
    MAX_COLORS,
    DecodeError,
    EncodeError,
    Error,
    GpuError,
    KMeans,
    __version__,
    adapters,
)

if TYPE_CHECKING:
    from PIL import Image as _PILImage

    ImageLike = Union["_PILImage.Image", np.ndarray]
    Dither = Union[bool, int, float]

__all__ = [
    "AUTO_MIN_RUN_PIXELS",
    "MAX_COLORS",
    "DecodeError",
    "EncodeError",
    "Error",
    "GpuError",
    "KMeans",
    "Quantizer",
    "__version__",
    "adapters",
    "kmeans",
    "quantize",
    "quantize_file",
    "shared_quantizer",
]


def _pixels(image: Any) -> Any:
    """An array for the native code: arrays pass as they are (checked there), Pillow images are
    converted to RGB, or RGBA when they have alpha or a transparent color."""
    if isinstance(image, np.ndarray):
        return image
    try:
        from PIL import Image
    except ImportError:  # no Pillow: the native code names what it wanted
        return image
    if isinstance(image, Image.Image):
        im = image
        opaque_rgb = im.mode == "RGB" and "transparency" not in im.info
        if im.mode != "RGBA" and not opaque_rgb:
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(im)
    return image


def _to_pil(result: KMeans) -> "_PILImage.Image":
    """A mode "P" Pillow image from a k-means result; the palette carries alpha only when some
    entry is not opaque (PNG then gets a tRNS chunk)."""
    from PIL import Image

    labels = np.ascontiguousarray(result.labels)
    height, width = labels.shape
    im = Image.frombytes("P", (width, height), labels.tobytes())
    palette = result.palette
    if bool((palette[:, 3] == 255).all()):
        im.putpalette(palette[:, :3].tobytes(), "RGB")
    else:
        im.putpalette(palette.tobytes(), "RGBA")
    return im


def _one_shot_backend(backend: Any, adapter: Any, pixels: Any, k: Any) -> Any:
    """As the command line does for one file: under "auto" (no adapter pinned), the CPU when the
    image, or K for this many CPU threads, is too small for a device to pay for its start."""
    if not (isinstance(backend, str) and backend.lower() == "auto") or adapter is not None:
        return backend
    shape = getattr(pixels, "shape", None)
    if shape is not None and len(shape) >= 2 and isinstance(k, int) and 1 <= k <= MAX_COLORS:
        if not _kmquant._worth_starting(int(shape[0]) * int(shape[1]), k):
            return "cpu"
    return backend


class Quantizer(_kmquant.Quantizer):
    """Quantizes many images with the same options on one device, opened once and kept.

    ``Quantizer(colors=256, *, dither=False, space="srgb", init="median-cut", seed=None,
    max_iter=64, tolerance=0.5, run_bias=15, backend="auto", adapter=None)``: the options of
    :func:`quantize`. With ``backend="gpu"`` or ``"auto"`` the device starts opening on its own
    thread at once; "gpu" waits for it at the first image and fails without one, "auto" uses
    the CPU until a hardware GPU is ready. Calls from several threads run side by side.
    """

    def kmeans(self, image: "ImageLike", colors: Optional[int] = None) -> KMeans:
        """k-means on one image; ``colors`` overrides the palette size for this call."""
        return self._kmeans(_pixels(image), colors)

    def quantize(self, image: "ImageLike", colors: Optional[int] = None) -> "_PILImage.Image":
        """The image reduced to at most ``colors`` colors, as a mode "P" Pillow image."""
        return _to_pil(self.kmeans(image, colors))

    def quantize_file(self, src: "os.PathLike[str] | str", dst: "os.PathLike[str] | str", **options: Any) -> Dict[str, Any]:
        """Like :func:`quantize_file`, on this quantizer's device with its palette options;
        ``options`` are the file options only (format, quality, png_level, strip, force, ...)."""
        return self._quantize_file(src, dst, **options)


_shared: Dict[Tuple[int, Tuple[Tuple[str, str], ...]], Quantizer] = {}
_shared_lock = threading.Lock()


def shared_quantizer(**options: Any) -> Quantizer:
    """This process's :class:`Quantizer` for these options: made on the first call, the same one
    after. A Dask or multiprocessing worker that calls it in each task opens its device once.
    A forked child makes its own (a device does not survive ``fork``)."""
    key = (os.getpid(), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _shared_lock:
        q = _shared.get(key)
        if q is None:
            q = _shared[key] = Quantizer(**options)
    return q


def kmeans(
    image: "ImageLike",
    k: int,
    *,
    dither: "Dither" = False,
    space: str = "srgb",
    init: str = "median-cut",
    seed: Optional[int] = None,
    max_iter: int = 64,
    tolerance: float = 0.5,
    run_bias: int = 15,
    backend: str = "auto",
    adapter: Union[int, str, None] = None,
) -> KMeans:
    """k-means on one image: the palette (K x 4 uint8, most used first), one index per pixel
    (H x W uint8), counts, mse, psnr, iterations, converged, backend, adapter and timings.
    The options are :func:`quantize`'s."""
    pixels = _pixels(image)
    q = Quantizer(
        k,
        dither=dither,
        space=space,
        init=init,
        seed=seed,
        max_iter=max_iter,
        tolerance=tolerance,
        run_bias=run_bias,
        backend=_one_shot_backend(backend, adapter, pixels, k),
        adapter=adapter,
    )
    return q._kmeans(pixels)


def quantize(
    image: "ImageLike",
    colors: int = 256,
    *,
    dither: "Dither" = False,
    space: str = "srgb",
    init: str = "median-cut",
    seed: Optional[int] = None,
    max_iter: int = 64,
    tolerance: float = 0.5,
    run_bias: int = 15,
    backend: str = "auto",
    adapter: Union[int, str, None] = None,
) -> "_PILImage.Image":
    """The image reduced to at most ``colors`` colors (1 to 256) with k-means, as a mode "P"
    Pillow image.

    ``colors`` and ``dither`` mean what they mean in Pillow's ``Image.quantize``: ``dither``
    takes ``Image.Dither.NONE`` or ``Image.Dither.FLOYDSTEINBERG`` (serpentine Floyd-Steinberg),
    a bool, or a strength from 0.0 to 1.0; unlike Pillow, the default is no dithering.
    ``space``: "srgb" or "oklab" (distances in a perceptual space). ``init``: "median-cut"
    (deterministic) or "kmeans++" (driven by ``seed``). ``max_iter`` and ``tolerance`` (8-bit
    levels) stop the iterations. ``run_bias`` (0 to 100): a pixel keeps its left neighbour's
    color when that is at most this many percent worse for it in squared error than its nearest
    color, which makes PNG and GIF files smaller; 0 maps every pixel to its nearest color; unused
    when dithering. ``backend``: "auto" (a hardware GPU when the image is large
    enough to pay for opening it, else the CPU), "gpu" (any adapter, software ones included; an
    error without one) or "cpu". ``adapter``: an index from :func:`adapters` or a part of an
    adapter's name. Every backend gives the same palette and indices, bit for bit.
    """
    return _to_pil(
        kmeans(
            image,
            colors,
            dither=dither,
            space=space,
            init=init,
            seed=seed,
            max_iter=max_iter,
            tolerance=tolerance,
            run_bias=run_bias,
            backend=backend,
            adapter=adapter,
        )
    )


def quantize_file(src: "os.PathLike[str] | str", dst: "os.PathLike[str] | str", **options: Any) -> Dict[str, Any]:
    """Quantizes the image file ``src`` into ``dst`` through the command line's own code: the
    same bytes as ``kmquant quantize SRC -o DST`` with the same options, and its ``--json``
    report as a dict (``{"kind": "skipped", ...}`` when ``skip_existing`` or
    ``skip_if_larger`` left the file alone).

    Options: :func:`quantize`'s, and ``format`` ("png", "gif", "jpg"; default from ``dst``'s
    extension), ``quality``, ``png_level``, ``max_bytes`` (an int or "500k"), ``target_psnr``,
    ``min_psnr``, ``strip``, ``force``, ``skip_existing``, ``skip_if_larger``, ``plot``,
    ``palette``, ``palette_order``, ``max_pixels`` and ``accept_damaged``, as the flags of the
    same names.
    """
    return _kmquant.quantize_file(src, dst, **options)

