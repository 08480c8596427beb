"""Ensembles of CAMs (docs/architecture.md, pipeline maths) and the p(lesion) gate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelassist.core.propose.boundaryfit import check_threshold, mask_inside, touching_perimeter
from labelassist.errors import ParameterError

__all__ = ["RULES", "combine_masks", "ensemble_fit", "gate"]

RULES = ("and", "or", "<", ">")


def combine_masks(masks: Sequence[np.ndarray], *, rule: str) -> np.ndarray:
    """Combine binary masks of one slice.

    Parameters
    ----------
    masks : sequence of ndarray (H, W)
        Binary masks (one per CAM), each already thresholded.
    rule : {"and", "or", "<", ">"}
        "and": their product (intersection); "or": their union; "<": the mask with the fewest pixels;
        ">": the mask with the most pixels (ties: the first).

    Returns
    -------
    ndarray of uint8 (H, W)
    """
    if rule not in RULES:
        raise ParameterError(f"rule must be one of {', '.join(repr(r) for r in RULES)}; got {rule!r}")
    if len(masks) == 0:
        raise ParameterError("masks must hold at least one mask")
    arrays = [np.asarray(m).astype(bool) for m in masks]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ParameterError(f"masks must all have one shape, got {sorted(shapes)}")
    stack = np.stack(arrays)
    if rule == "and":
        out = stack.all(axis=0)
    elif rule == "or":
        out = stack.any(axis=0)
    else:
        sizes = stack.reshape(len(stack), -1).sum(axis=1)
        out = stack[int(np.argmin(sizes) if rule == "<" else np.argmax(sizes))]
    return out.astype(np.uint8)


def ensemble_fit(cams: Sequence[np.ndarray], thresholds: Sequence[float], regions, *, rule: str,
                 perimeter=None) -> np.ndarray:
    """Binarise each CAM at its own threshold, combine by ``rule``, then fit: keep regions wholly inside.

    Parameters
    ----------
    cams : sequence of ndarray (H, W)
        The CAMs of one slice (one per model or CAM method).
    thresholds : sequence of float in [0, 1]
        One threshold per CAM: its binary mask is ``cam >= threshold``.
    regions : ndarray of int (H, W)
        Regions of the perimeter map, 0 on perimeter pixels.
    rule : {"and", "or", "<", ">"}
        How the binary masks combine (:func:`combine_masks`).
    perimeter : ndarray of bool (H, W), optional
        Boundary pixels (default ``regions == 0``).

    Returns
    -------
    ndarray of uint8 (H, W)
        The regions wholly inside the combined mask, plus the perimeter pixels that are in the combined
        mask and 4-touch a kept region. With one CAM this is :func:`~.boundaryfit.boundary_fit`.
    """
    if len(cams) != len(thresholds):
        raise ParameterError(f"got {len(cams)} CAMs but {len(thresholds)} thresholds; give one threshold per CAM")
    ts = [check_threshold(t, "thresholds") for t in thresholds]
    regions = np.asarray(regions)
    for i, c in enumerate(cams):
        if np.shape(c) != regions.shape:
            raise ParameterError(f"cams[{i}] has shape {np.shape(c)} but regions has shape {regions.shape}; they must match")
    combined = combine_masks([np.asarray(c) >= t for c, t in zip(cams, ts)], rule=rule).astype(bool)
    kept = mask_inside(combined, regions)[regions] >= 1
    wall = (regions == 0) if perimeter is None else np.asarray(perimeter, bool)
    kept |= touching_perimeter(kept, wall) & combined
    return kept.astype(np.uint8)


def gate(mask, probability: float, *, min_probability: float) -> np.ndarray:
    """Empty the mask of a slice whose p(lesion) is below ``min_probability``.

    A per-slice min-max scaled CAM always has a hot spot; only the classifier's probability can say a
    slice shows no lesion (docs/architecture.md, pipeline maths).
    """
    g = check_threshold(min_probability, "min_probability")
    mask = np.asarray(mask)
    return np.zeros(mask.shape, np.uint8) if float(probability) < g else mask.astype(np.uint8)
