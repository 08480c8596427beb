"""Perimeter map: the slice simplified into clusters (unsupervised segmentation), then Canny edges.

docs/architecture.md, pipeline maths: superpixels (SLIC, Quickshift, Felzenszwalb), optionally refined by the papers' small
unsupervised CNN; each cluster is filled with its mean intensity (the "simplified image"); Canny on that
image gives the perimeter pixels; the regions are the 4-connected components of the non-perimeter pixels.

Closed walls. Canny alone does not close every cluster: its non-maximum suppression keeps only the
stronger of two parallel edges one or two pixels apart, so the border of a thin cluster (a band between a
brighter and a darker one) vanishes and regions leak across clusters of clearly different means (on a
128² smooth image with SLIC 200, 190 clusters gave 31 regions, 9 of them straddling two grey levels). So
the perimeter is Canny's edges united with the *gap closure*: for every pair of 4-adjacent pixels whose
simplified grey differs and that no perimeter pixel separates, the brighter pixel becomes a perimeter pixel.
This adds a few pixels only where Canny left a gap (no doubled walls where Canny already drew one), and it
makes a guarantee: **no region holds two grey levels of the 8-bit simplified image**, so a region never
straddles two clusters unless their means round to the same grey (then they merge, as in the papers,
where Canny sees no edge between them). We do not wall every superpixel (``find_boundaries`` on the
cluster labels): that would discard the papers' merging of like clusters and double Canny's walls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from labelassist.core.propose.params import USS_METHOD_NAMES
from labelassist.errors import ParameterError

__all__ = ["PerimeterMap", "perimeter_map", "METHODS", "simplify", "close_walls"]

METHODS = USS_METHOD_NAMES
_FOUR = ndimage.generate_binary_structure(2, 1)


@dataclass
class PerimeterMap:
    """Result of :func:`perimeter_map`.

    Attributes
    ----------
    perimeter : ndarray of bool (H, W)
        Boundary (perimeter) pixels.
    regions : ndarray of int32 (H, W)
        4-connected components of the non-perimeter pixels, labelled ``1..n_regions``; 0 on the perimeter.
    n_regions : int
    labels : ndarray of int32 (H, W)
        The clusters (superpixels, or CNN clusters) before Canny, for display.
    """

    perimeter: np.ndarray
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


def close_walls(perimeter: np.ndarray, simple: np.ndarray) -> np.ndarray:
    """Boundary pixels plus the brighter pixel of every unseparated 4-adjacent pair of different grey.

    After this, every 4-adjacent pair of pixels of different ``simple`` value holds a perimeter pixel, so
    every 4-connected component of the non-perimeter pixels has one value of ``simple``.
    """
    wall = np.array(perimeter, dtype=bool, copy=True)
    s = np.asarray(simple)
    for axis in (0, 1):  # vertical pairs, then horizontal pairs (marks only add, so pass 1 keeps pass 0 closed)
        a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        open_pair = (s[a] != s[b]) & ~wall[a] & ~wall[b]
        brighter_first = s[a] > s[b]
        wall[a] |= open_pair & brighter_first
        wall[b] |= open_pair & ~brighter_first
    return wall


def perimeter_map(
    image,
    *,
    method: str = "slic",
    n_segments: int = 200,
    compactness: float | None = None,
    canny_sigma: float = 0.0,
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
    canny_sigma : float
        Gaussian smoothing (pixels) of the simplified image before Canny; 0 (default) for none: the
        clusters are already flat, and smoothing only moves edges of thin clusters (the gap closure
        keeps the walls closed either way).
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
        Its ``perimeter`` is Canny's edges united with the gap closure (see the module docstring): no
        region holds two grey levels of the simplified image.

    Examples
    --------
    >>> img = np.zeros((32, 32)); img[8:24, 8:24] = 1.0
    >>> pm = perimeter_map(img, n_segments=16)
    >>> bool(pm.regions[16, 16] != pm.regions[2, 2])  # the square is walled off from the background
    True
    """
    import cv2

    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if not float(canny_sigma) >= 0.0:
        raise ParameterError(f"canny_sigma must be >= 0 (0 for no smoothing), got {canny_sigma}")
    if int(n_segments) < 2:
        raise ParameterError(f"n_segments must be at least 2, got {n_segments}")
    image = _check_image(image)
    labels = np.asarray(_superpixels(image, method, int(n_segments), compactness, seed, method_options), np.int32)
    if uss_cnn:
        from labelassist.core.propose.uss_cnn import refine_clusters

        labels = refine_clusters(image, labels, seed=seed)
    simple = np.clip(np.round(simplify(image, labels) * 255.0), 0, 255).astype(np.uint8)
    edges_of = simple
    if canny_sigma > 0:
        smooth = cv2.GaussianBlur(simple.astype(np.float32), (0, 0), float(canny_sigma))
        edges_of = np.clip(np.round(smooth), 0, 255).astype(np.uint8)
    perimeter = close_walls(cv2.Canny(edges_of, canny_low, canny_high, L2gradient=True) > 0, simple)
    regions, n = ndimage.label(~perimeter, structure=_FOUR)
    return PerimeterMap(perimeter=perimeter, regions=regions.astype(np.int32), n_regions=int(n), labels=labels)
