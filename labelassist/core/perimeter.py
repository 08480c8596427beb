"""Perimeter map: the slice simplified into clusters (unsupervised segmentation), then Canny edges.

DESIGN.md §1.3: superpixels (SLIC, Quickshift, Felzenszwalb), optionally refined by the papers' small
unsupervised CNN; each cluster is filled with its mean intensity (the "simplified image"); Canny on that
image gives the boundary pixels; the regions are the 4-connected components of the non-boundary pixels.
Canny only marks borders where the simplified image changes, so neighbouring clusters of the same mean
merge into one region, as in the papers. Canny's lines are 8-connected, which is exactly what closes a
4-connected region: a diagonal step in an edge line leaves no 4-connected gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["PerimeterMap", "perimeter_map", "METHODS", "simplify"]

METHODS = ("slic", "quickshift", "felzenszwalb")
_FOUR = ndimage.generate_binary_structure(2, 1)


@dataclass
class PerimeterMap:
    """Result of :func:`perimeter_map`.

    Attributes
    ----------
    boundary : ndarray of bool (H, W)
        Boundary (perimeter) pixels.
    regions : ndarray of int32 (H, W)
        4-connected components of the non-boundary pixels, labelled ``1..n_regions``; 0 on the boundary.
    n_regions : int
    labels : ndarray of int32 (H, W)
        The clusters (superpixels, or CNN clusters) before Canny, for display.
    """

    boundary: np.ndarray
    regions: np.ndarray
    n_regions: int
    labels: np.ndarray


def _check_image(image) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)):
        raise ParameterError(f"image must be (H, W) grey or (H, W, 3) colour, got shape {image.shape}")
    if min(image.shape[:2]) < 4:
        raise ParameterError(f"image must be at least 4 x 4 pixels, got {image.shape[:2]}")
    return np.nan_to_num(image)


def _superpixels(image, method, n_segments, compactness, seed, options) -> np.ndarray:
    from skimage import segmentation

    grey = image.ndim == 2
    if method == "slic":
        comp = compactness if compactness is not None else (0.1 if grey else 10.0)
        return segmentation.slic(
            image, n_segments=n_segments, compactness=comp, start_label=1,
            channel_axis=None if grey else -1, convert2lab=not grey, **options,
        )
    if method == "quickshift":
        rgb = np.dstack([image] * 3) if grey else image
        opts = {"kernel_size": 3, "max_dist": 6, "ratio": 0.5, **options}
        return segmentation.quickshift(rgb.astype(np.float64), convert2lab=False, rng=seed, **opts) + 1
    # felzenszwalb: its scale plays the part of n_segments (larger scale, fewer segments)
    opts = {"scale": max(image.shape[:2]) * 50.0 / max(n_segments, 1), "sigma": 0.5, "min_size": 10, **options}
    return segmentation.felzenszwalb(image, channel_axis=None if grey else -1, **opts) + 1


def simplify(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each cluster filled with its mean grey value (the image the papers run Canny on), float in [0, 1]."""
    grey = image if image.ndim == 2 else image.mean(axis=-1)
    flat = labels.ravel()
    sums = np.bincount(flat, weights=grey.ravel())
    counts = np.maximum(np.bincount(flat), 1)
    return (sums / counts)[labels]


def perimeter_map(
    image,
    *,
    method: str = "slic",
    n_segments: int = 200,
    compactness: float | None = None,
    canny_low: float = 1.0,
    canny_high: float = 3.0,
    uss_cnn: bool = False,
    seed: int = 0,
    **method_options,
) -> PerimeterMap:
    """Boundary pixels and regions of a slice.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, 3)
        The slice, float in [0, 1].
    method : {"slic", "quickshift", "felzenszwalb"}
        Superpixel method of scikit-image (SLIC runs with ``channel_axis=None`` on grey).
    n_segments : int
        Approximate number of superpixels (SLIC; sets Felzenszwalb's scale; unused by Quickshift).
    compactness : float, optional
        SLIC compactness (default 0.1 for grey, 10 for colour).
    canny_low, canny_high : float
        Canny hysteresis thresholds on the 8-bit simplified image. The clusters are flat, so any step
        between two cluster means above a grey level or so is a border.
    uss_cnn : bool
        Refine the superpixels with the small unsupervised CNN of the papers (:mod:`.uss_cnn`).
    seed : int
        Seed of Quickshift and the CNN.
    **method_options
        Passed to the scikit-image function.

    Returns
    -------
    PerimeterMap
    """
    import cv2

    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if int(n_segments) < 2:
        raise ParameterError(f"n_segments must be at least 2, got {n_segments}")
    image = _check_image(image)
    labels = np.asarray(_superpixels(image, method, int(n_segments), compactness, seed, method_options), np.int32)
    if uss_cnn:
        from labelassist.core.uss_cnn import refine_clusters

        labels = refine_clusters(image, labels, seed=seed)
    simple = np.clip(np.round(simplify(image, labels) * 255.0), 0, 255).astype(np.uint8)
    boundary = cv2.Canny(simple, canny_low, canny_high, L2gradient=True) > 0
    regions, n = ndimage.label(~boundary, structure=_FOUR)
    return PerimeterMap(boundary=boundary, regions=regions.astype(np.int32), n_regions=int(n), labels=labels)
