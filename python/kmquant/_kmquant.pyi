"""Type stubs of the native module kmquant._kmquant (use the names re-exported by kmquant)."""

import os
from typing import Any, Dict, List, Optional, Union

import numpy as np
import numpy.typing as npt

__version__: str
MAX_COLORS: int
AUTO_MIN_RUN_PIXELS: int

def _worth_starting(pixels: int, k: int) -> bool:
    """Whether backend="auto" opens a device for one image of ``pixels`` pixels at ``k`` colors."""

class Error(Exception):
    """Base class of kmquant's own errors (option and file errors are ValueError and OSError)."""

class DecodeError(Error):
    """The input is not an image kmquant can decode, or is over the pixel limit."""

class EncodeError(Error):
    """The output could not be encoded."""

class GpuError(Error):
    """No GPU adapter could be opened, or the GPU failed."""

class KMeans:
    """The outcome of k-means on one image: the palette, one index per pixel, and measurements."""

    @property
    def palette(self) -> npt.NDArray[np.uint8]:
        """The palette, a (K, 4) uint8 array of RGBA colors, most used first."""
    @property
    def labels(self) -> npt.NDArray[np.uint8]:
        """One palette index per pixel: an (H, W) uint8 array."""
    @property
    def counts(self) -> npt.NDArray[np.uint64]:
        """Pixels using each palette entry: a (K,) uint64 array."""
    @property
    def mse(self) -> float:
        """Mean squared error per RGB channel, in 8-bit levels squared."""
    @property
    def alpha_mse(self) -> float:
        """Mean squared error of the alpha channel (0 for opaque images)."""
    @property
    def psnr(self) -> float:
        """PSNR over RGB in dB (inf when exact)."""
    @property
    def iterations(self) -> int:
        """Lloyd iterations run (0 when the image had at most K colors)."""
    @property
    def converged(self) -> bool:
        """Whether k-means stopped on the tolerance rather than on max_iter."""
    @property
    def dithered(self) -> bool:
        """Whether the labels were dithered."""
    @property
    def unique_colors(self) -> int:
        """Distinct colors in the input."""
    @property
    def backend(self) -> str:
        """"gpu" when any stage ran on the GPU, else "cpu"."""
    @property
    def adapter(self) -> Optional[str]:
        """The GPU adapter's name, or None on the CPU."""
    @property
    def gpu_stages(self) -> List[str]:
        """The stages that ran on the GPU: "histogram", "kmeans", "indices"."""
    @property
    def timings(self) -> Dict[str, float]:
        """Milliseconds per stage: device (waiting for it), histogram, seed, setup, kmeans, remap."""
    @property
    def warnings(self) -> List[str]:
        """Anything worth hearing about, such as a fallback from the GPU to the CPU."""

class Quantizer:
    """Quantizes many images with the same options on one device, opened once and kept."""

    def __init__(
        self,
        colors: int = 256,
        *,
        dither: Union[bool, int, float] = False,
        space: str = "srgb",
        init: str = "median-cut",
        seed: Optional[int] = None,
        max_iter: int = 64,
        tolerance: float = 0.5,
        run_bias: int = 15,
        backend: str = "auto",
        adapter: Union[int, str, None] = None,
    ) -> None: ...
    def _kmeans(self, image: npt.NDArray[np.uint8], colors: Optional[int] = None) -> KMeans: ...
    def _quantize_file(
        self, src: Union[str, "os.PathLike[str]"], dst: Union[str, "os.PathLike[str]"], **options: Any
    ) -> Dict[str, Any]: ...
    @property
    def options(self) -> Dict[str, Any]:
        """The palette options this quantizer was made with."""
    @property
    def adapter(self) -> Optional[str]:
        """The GPU adapter's name once the device is open, else None."""

def quantize_file(
    src: Union[str, "os.PathLike[str]"], dst: Union[str, "os.PathLike[str]"], **options: Any
) -> Dict[str, Any]:
    """What `kmquant quantize src -o dst` writes, and its --json report as a dict."""

def adapters() -> List[Dict[str, Any]]:
    """Every GPU adapter found, as `kmquant adapters --json` lists them."""
