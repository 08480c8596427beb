"""Post-filters of a fitted mask (docs/architecture.md, pipeline maths): each optional, each one small step."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["body_mask", "apply_body_mask", "centre_box", "exclude_band", "remove_small", "fill_holes",
           "largest_component"]


def _mask(mask) -> np.ndarray:
    return np.asarray(mask).astype(bool)


def body_mask(image, *, threshold: float | None = None) -> np.ndarray:
    """The organ/body: pixels above ``threshold`` (Otsu's by default), largest component, holes filled."""
    from skimage.filters import threshold_otsu

    img = np.nan_to_num(np.asarray(image, dtype=np.float32))
    if img.ndim == 3:
        img = img.mean(axis=-1)
    if img.max() == img.min():
        return np.zeros(img.shape, bool)
    t = threshold_otsu(img) if threshold is None else float(threshold)
    return fill_holes(largest_component(img > t)).astype(bool)


def apply_body_mask(mask, body) -> np.ndarray:
    """No lesion outside the body."""
    mask, body = _mask(mask), _mask(body)
    if mask.shape != body.shape:
        raise ParameterError(f"body has shape {body.shape} but mask has shape {mask.shape}")
    return (mask & body).astype(np.uint8)


def centre_box(mask, *, fraction: float = 0.5) -> np.ndarray:
    """Keep only the central box covering ``fraction`` of each side (the prostate's box)."""
    if not 0.0 < fraction <= 1.0:
        raise ParameterError(f"fraction must be in (0, 1], got {fraction}")
    mask = _mask(mask)
    out = np.zeros_like(mask)
    h, w = mask.shape[:2]
    dh, dw = int(round(h * (1 - fraction) / 2)), int(round(w * (1 - fraction) / 2))
    out[dh : h - dh, dw : w - dw] = mask[dh : h - dh, dw : w - dw]
    return out.astype(np.uint8)


def exclude_band(mask, *, axis: int = 1, centre: int | None = None, width: int = 4) -> np.ndarray:
    """Clear a band of ``width`` pixels around ``centre`` along ``axis`` (the BraTS mid-line, axis 1 = x)."""
    if axis not in (0, 1):
        raise ParameterError(f"axis must be 0 (rows) or 1 (columns), got {axis}")
    if width < 0:
        raise ParameterError(f"width must be >= 0, got {width}")
    mask = _mask(mask).copy()
    n = mask.shape[axis]
    c = n // 2 if centre is None else int(centre)
    lo, hi = max(c - width // 2, 0), min(c - width // 2 + width, n)
    if axis == 0:
        mask[lo:hi] = False
    else:
        mask[:, lo:hi] = False
    return mask.astype(np.uint8)


def remove_small(mask, *, min_size: int) -> np.ndarray:
    """Drop connected components (8-connectivity) smaller than ``min_size`` pixels."""
    if min_size < 0:
        raise ParameterError(f"min_size must be >= 0, got {min_size}")
    mask = _mask(mask)
    lab, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim))
    if n == 0:
        return mask.astype(np.uint8)
    sizes = np.bincount(lab.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[lab].astype(np.uint8)


def fill_holes(mask) -> np.ndarray:
    """Fill holes enclosed by the mask."""
    return ndimage.binary_fill_holes(_mask(mask)).astype(np.uint8)


def largest_component(mask) -> np.ndarray:
    """Keep only the largest connected component (8-connectivity)."""
    mask = _mask(mask)
    lab, n = ndimage.label(mask, structure=np.ones((3,) * mask.ndim))
    if n <= 1:
        return mask.astype(np.uint8)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return (lab == sizes.argmax()).astype(np.uint8)
