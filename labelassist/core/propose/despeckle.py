"""Speckle reduction of a slice before its perimeter map (ultrasound B-mode).

A B-mode image is speckle: the superpixels of a raw image follow its grains, not its lesions. Smoothing the
image first, while keeping its edges, gives the perimeter map regions that follow the anatomy. Only the
perimeter map sees the despeckled image (``Pipeline.ensure_perimeter``); the CAM and the refiners keep the
original. ``benchmarks/bench_despeckle.py`` measures the methods on the demo ultrasound images (the oracle Dice
of the perimeter map's regions); its figures chose the strengths' scales below (``strength=1`` is each method's
best or near-best setting there).

The edge-keeping methods (bilateral, non-local means, diffusion) scale with the image's noise level,
:func:`noise_sigma`, so one ``strength`` means the same on a bright and on a dark image.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["despeckle", "noise_sigma", "DESPECKLE_METHODS"]


def _none(image: np.ndarray, strength: float) -> np.ndarray:
    return image


def _gaussian(image: np.ndarray, strength: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 2.0 * strength, borderType=cv2.BORDER_REFLECT)


def _median(image: np.ndarray, strength: float) -> np.ndarray:
    import cv2

    size = 2 * max(int(round(2.0 * strength)), 1) + 1  # strength 1: 5 x 5
    if size <= 5:  # OpenCV's median of a float image: 3 x 3 and 5 x 5 only
        return cv2.medianBlur(image, size)
    grey = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)  # larger: 8-bit (a 1/255 grey step)
    return cv2.medianBlur(grey, size).astype(np.float32) / 255.0


def _bilateral(image: np.ndarray, strength: float) -> np.ndarray:
    import cv2

    sigma = max(noise_sigma(image), 1e-3)
    return cv2.bilateralFilter(image, -1, 3.0 * strength * sigma, 4.0 * strength, borderType=cv2.BORDER_REFLECT)


def _nlmeans(image: np.ndarray, strength: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    sigma = noise_sigma(image)
    if sigma <= 0:
        return image
    return denoise_nl_means(image, h=0.8 * strength * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                            patch_distance=6, channel_axis=None)


def _diffusion(image: np.ndarray, strength: float) -> np.ndarray:
    """Perona-Malik diffusion, exponential conductance (Perona & Malik 1990), 4 neighbours, time step 0.2."""
    kappa = 2.0 * noise_sigma(image)
    if kappa <= 0:
        return image
    u = image.astype(np.float32, copy=True)
    for _ in range(max(int(round(15 * strength)), 1)):
        p = np.pad(u, 1, mode="edge")  # zero flux across the image's border
        flow = np.zeros_like(u)
        for d in (p[:-2, 1:-1] - u, p[2:, 1:-1] - u, p[1:-1, :-2] - u, p[1:-1, 2:] - u):
            flow += np.exp(-((d / kappa) ** 2)) * d
        u += 0.2 * flow
    return u


_FILTERS = {"none": _none, "median": _median, "bilateral": _bilateral, "nlmeans": _nlmeans,
            "diffusion": _diffusion, "gaussian": _gaussian}
# The despeckle methods, by the name a user types (params.DESPECKLE_NAMES lists the same, torch- and scipy-free).
DESPECKLE_METHODS = tuple(_FILTERS)


def noise_sigma(image, *, size: int = 5) -> float:
    """The image's noise level: the median over its non-zero pixels of the local standard deviation.

    Parameters
    ----------
    image : ndarray (H, W)
        A grey slice.
    size : int, keyword-only
        The side of the square window of the local standard deviation. It spans several grains of an
        ultrasound image's speckle (correlated over a pixel or two), which a pixel-difference estimate misses.

    Returns
    -------
    float
        The median over the pixels that are not 0 (an ultrasound image's outside of the sector, a scan's empty
        background are left out); 0.0 for an image of zeros. The median ignores the few windows on an edge:
        a clean image gets 0.
    """
    img = np.asarray(image, dtype=np.float64)
    mean = ndimage.uniform_filter(img, size, mode="reflect")
    var = ndimage.uniform_filter(img * img, size, mode="reflect") - mean * mean
    sd = np.sqrt(np.clip(var, 0.0, None))
    inside = img != 0
    return float(np.median(sd[inside])) if inside.any() else 0.0


def despeckle(image, *, method: str = "none", strength: float = 1.0) -> np.ndarray:
    """Reduce the speckle of a slice, keeping its edges (for the perimeter map).

    Parameters
    ----------
    image : ndarray (H, W), or (H, W, C) filtered channel by channel
        The slice, float in [0, 1] (``Pipeline``'s normalised slice).
    method : {"none", "median", "bilateral", "nlmeans", "diffusion", "gaussian"}, keyword-only
        ``"none"``: the image unchanged (as float32). ``"median"``: a median filter, ``2 * round(2 * strength)
        + 1`` pixels square (5 at strength 1; over 5, of the image rounded to 8 bits). ``"bilateral"``:
        OpenCV's bilateral filter, spatial sigma ``4 * strength`` pixels, range sigma ``3 * strength`` times
        :func:`noise_sigma`. ``"nlmeans"``: scikit-image's fast non-local means, 5 x 5 patches within 6
        pixels, ``h = 0.8 * strength * sigma``. ``"diffusion"``: Perona-Malik anisotropic diffusion,
        ``round(15 * strength)`` steps of 0.2, edge threshold twice the noise sigma. ``"gaussian"``: a
        Gaussian blur of sigma ``2 * strength`` pixels (the baseline that keeps no edge).
    strength : float, keyword-only
        How much to smooth, > 0; 1 is each method's default (its scale in ``method``).

    Returns
    -------
    ndarray of float32, the image's shape
        Clipped to [0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flat = np.clip(0.4 * rng.rayleigh(1.0, (64, 64)) / np.sqrt(np.pi / 2), 0, 1)
    >>> bool(despeckle(flat, method="median").std() < 0.5 * flat.std())
    True
    """
    if method not in _FILTERS:
        raise ParameterError(f"method must be one of {', '.join(DESPECKLE_METHODS)}; got {method!r}")
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise ParameterError(f"strength must be a number > 0, got {strength!r}") from None
    if not (s > 0 and math.isfinite(s)):
        raise ParameterError(f"strength must be a number > 0, got {strength!r}")
    img = np.ascontiguousarray(np.nan_to_num(np.asarray(image, dtype=np.float32)))  # OpenCV wants it contiguous
    if img.ndim not in (2, 3) or min(img.shape[:2]) < 3:
        raise ParameterError(f"image must be an (H, W) or (H, W, C) slice of at least 3 x 3, got shape {img.shape}")
    fn = _FILTERS[method]
    out = fn(img, s) if img.ndim == 2 else np.stack([fn(np.ascontiguousarray(c), s) for c in np.moveaxis(img, -1, 0)],
                                                    axis=-1)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)
