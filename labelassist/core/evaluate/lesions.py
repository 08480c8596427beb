"""Lesion-level counts of a review round: how many true lesions the masks (or the suggestions) found, and how many
suggestions lie on no lesion (issue 28's measure of a learner that finds what nobody drew)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["lesion_counts", "FOUND_SHARE"]

FOUND_SHARE = 0.2  # a lesion is found when the masks or suggestions cover this share of its voxels
_CUBE = np.ones((3, 3, 3), bool)


def lesion_counts(masks, truth, *, suggested=None, share: float = FOUND_SHARE) -> dict:
    """``{"lesions", "lesions_found", "false_suggestions"}`` of a label volume against the truth.

    Parameters
    ----------
    masks : ndarray (z, y, x)
        The review's labels (non-zero: lesion).
    truth : ndarray (z, y, x)
        The true mask; its lesions are its 3-D connected components (26-neighbours).
    suggested : ndarray (z, y, x) of int, optional
        The learner's suggestions (``k`` on the k-th): they count towards finding a lesion, and each that touches
        no true lesion is a false suggestion.
    share : float in (0, 1]
        A lesion is found when at least this share of its voxels is in the masks or a suggestion.
    """
    masks, truth = np.asarray(masks) > 0, np.asarray(truth) > 0
    if masks.shape != truth.shape:
        raise ParameterError(f"masks {masks.shape} and truth {truth.shape} must have one shape")
    if not 0 < float(share) <= 1:
        raise ParameterError(f"share must be in (0, 1], got {share}")
    seen = masks.copy()
    false = 0
    if suggested is not None:
        suggested = np.asarray(suggested)
        if suggested.shape != truth.shape:
            raise ParameterError(f"suggested {suggested.shape} and truth {truth.shape} must have one shape")
        seen |= suggested > 0
        for k in np.unique(suggested[suggested > 0]):
            false += int(not truth[suggested == k].any())
    lab, n = ndimage.label(truth, structure=_CUBE)
    if n == 0:
        return {"lesions": 0, "lesions_found": 0, "false_suggestions": false}
    size = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    hit = np.bincount(lab.ravel(), weights=seen.ravel(), minlength=n + 1)[1:]
    return {"lesions": int(n), "lesions_found": int(np.count_nonzero(hit >= share * size)), "false_suggestions": false}
