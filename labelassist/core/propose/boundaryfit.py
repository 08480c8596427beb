"""BoundaryFit: keep only the regions of the perimeter map that lie wholly inside the binary CAM.

The papers flood-fill from every negative pixel of the binary CAM and remove what the flood reaches.
Since a flood from a pixel fills exactly its region (perimeter pixels are walls), a region survives iff
it holds no negative pixel, i.e. iff ``min(cam over the region) >= t``. With the region minima cached,
the fitted mask for any threshold is one gather, ``region_min[regions] >= t`` (docs/architecture.md, pipeline maths).
"""

from __future__ import annotations

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["region_minima", "fit_from_minima", "boundary_fit", "check_threshold", "touching_perimeter", "mask_inside"]


def check_threshold(threshold, name: str = "threshold") -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= t <= 1.0:
        raise ParameterError(f"{name} must be in [0, 1], got {threshold}")
    return t


def _check_pair(cam: np.ndarray, regions: np.ndarray) -> None:
    if cam.shape != regions.shape:
        raise ParameterError(f"cam has shape {cam.shape} but regions has shape {regions.shape}; they must match")
    if cam.ndim != 2:
        raise ParameterError(f"cam must be a 2-D slice, got shape {cam.shape}")


def region_minima(cam, regions) -> np.ndarray:
    """Minimum of ``cam`` over every region.

    Parameters
    ----------
    cam : ndarray (H, W)
        Class activation map (any float).
    regions : ndarray of int (H, W)
        Region labels ``1..n``; 0 marks perimeter pixels.

    Returns
    -------
    ndarray of float32, shape (n + 1,)
        ``out[r]`` is the minimum of ``cam`` over region ``r``; ``out[0] = -inf`` so that perimeter
        pixels are never kept by the gather, and labels with no pixel get ``+inf``.
    """
    cam = np.asarray(cam)
    regions = np.asarray(regions)
    _check_pair(cam, regions)
    n = int(regions.max()) if regions.size else 0
    out = np.full(n + 1, np.inf, dtype=np.float32)
    np.minimum.at(out, regions.ravel(), cam.ravel().astype(np.float32, copy=False))
    out[0] = -np.inf
    return out


def touching_perimeter(kept: np.ndarray, perimeter: np.ndarray) -> np.ndarray:
    """Boundary pixels 4-adjacent to a kept pixel."""
    near = np.zeros_like(kept)
    near[1:] |= kept[:-1]
    near[:-1] |= kept[1:]
    near[:, 1:] |= kept[:, :-1]
    near[:, :-1] |= kept[:, 1:]
    return near & perimeter


def fit_from_minima(region_min, regions, *, threshold, cam=None, perimeter=None) -> np.ndarray:
    """The fitted mask from cached region minima: one gather, plus the perimeter rule.

    Parameters
    ----------
    region_min : ndarray (n + 1,)
        From :func:`region_minima`.
    regions : ndarray of int (H, W)
        Region labels, 0 on perimeter pixels.
    threshold : float in [0, 1]
        Binary CAM = ``cam >= threshold``.
    cam : ndarray (H, W), optional
        Needed for the perimeter rule: perimeter pixels stay only where they are in the binary CAM and
        4-touch a kept region. Without it no perimeter pixel is kept.
    perimeter : ndarray of bool (H, W), optional
        Boundary pixels (default: ``regions == 0``).

    Returns
    -------
    ndarray of uint8 (H, W)
    """
    t = check_threshold(threshold)
    kept = np.asarray(region_min)[regions] >= t
    if cam is not None:
        cam = np.asarray(cam)
        _check_pair(cam, regions)
        wall = (regions == 0) if perimeter is None else np.asarray(perimeter, dtype=bool)
        kept |= touching_perimeter(kept, wall) & (cam >= t)
    return kept.astype(np.uint8)


def boundary_fit(cam, regions, *, threshold, perimeter=None, mode="remove") -> np.ndarray:
    """Fit the binary CAM to the perimeter map.

    Parameters
    ----------
    cam : ndarray (H, W)
        Class activation map in [0, 1].
    regions : ndarray of int (H, W)
        Region labels ``1..n`` of the perimeter map, 0 on its perimeter pixels.
    threshold : float in [0, 1]
        Binary CAM = ``cam >= threshold``.
    perimeter : ndarray of bool (H, W), optional
        Boundary pixels (default ``regions == 0``).
    mode : {"remove", "boost"}
        ``"remove"`` (the papers): every region holding a negative pixel is removed, uint8 mask out.
        ``"boost"`` (the SILOP code): ``(cam * fit + cam) / 2``, float32 in [0, 1]: the CAM raised
        inside kept regions, halved elsewhere, to be thresholded again by the caller.

    Returns
    -------
    ndarray
        uint8 mask (``"remove"``) or float32 map (``"boost"``), shape (H, W).

    Examples
    --------
    >>> cam = np.array([[0.9, 0.9, 0.1], [0.9, 0.9, 0.1]])
    >>> regions = np.array([[1, 1, 2], [1, 1, 2]])
    >>> boundary_fit(cam, regions, threshold=0.5)
    array([[1, 1, 0],
           [1, 1, 0]], dtype=uint8)
    """
    if mode not in ("remove", "boost"):
        raise ParameterError(f"mode must be 'remove' or 'boost', got {mode!r}")
    cam = np.asarray(cam, dtype=np.float32)
    regions = np.asarray(regions)
    fit = fit_from_minima(region_minima(cam, regions), regions, threshold=threshold, cam=cam, perimeter=perimeter)
    if mode == "remove":
        return fit
    return np.clip((cam * fit + cam) / 2.0, 0.0, 1.0).astype(np.float32)


def mask_inside(mask, regions) -> np.ndarray:
    """Per region, 1.0 when the region lies wholly inside the binary ``mask`` and 0.0 otherwise.

    The binary-mask form of :func:`region_minima` (the fit of an ensemble's combined mask):
    ``mask_inside(mask, regions)[regions] >= 1`` keeps the regions with no pixel outside ``mask``.
    Index 0 (perimeter pixels) is ``-inf``.
    """
    regions = np.asarray(regions)
    n = int(regions.max()) if regions.size else 0
    outside = np.bincount(regions.ravel(), weights=(~np.asarray(mask, dtype=bool)).ravel(), minlength=n + 1)
    inside = (outside == 0).astype(np.float32)
    inside[0] = -np.inf
    return inside
