"""The review queue: unreviewed slices ordered so that the reviewer's next correction teaches the most."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["review_queue", "disagreement"]


def disagreement(a, b) -> np.ndarray:
    """Per slice, 1 - Dice of two mask volumes (0 where both are empty)."""
    a = np.asarray(a).astype(bool)
    b = np.asarray(b).astype(bool)
    if a.shape != b.shape:
        raise ParameterError(f"net_masks has shape {a.shape} but fit_masks has shape {b.shape}; they must match")
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    inter = (a & b).sum(1)
    total = a.sum(1) + b.sum(1)
    return np.where(total > 0, 1.0 - 2.0 * inter / np.maximum(total, 1), 0.0)


def review_queue(confidence, *, reviewed: Iterable[int] = (), net_masks=None, fit_masks=None,
                 agreement_weight: float = 0.5) -> list[int]:
    """Unreviewed slice indices, the one to look at next first.

    Parameters
    ----------
    confidence : array-like (z,)
        Per-slice confidence in [0, 1] (:func:`labelassist.core.propagate.slice_confidence`, or the CAM
        pipeline's certainty before a net exists).
    reviewed : iterable of int
        Accepted, corrected or rejected slices: never in the queue.
    net_masks, fit_masks : ndarray (z, y, x), optional
        The net's and BoundaryFit's masks: where they disagree, a correction settles who is right.
    agreement_weight : float
        Weight of that disagreement beside the uncertainty ``1 - confidence``.

    Returns
    -------
    list of int
        Highest priority (``1 - confidence + agreement_weight * disagreement``) first; ties go to the slice
        farthest from any reviewed slice (it tells the net most that it has not seen), then the lower index.
    """
    conf = np.asarray(confidence, dtype=float).ravel()
    z = len(conf)
    if not np.isfinite(conf).all():
        raise ParameterError("confidence must be finite numbers, one per slice")
    done = set()
    for i in reviewed:
        k = int(i)
        if not 0 <= k < z:
            raise ParameterError(f"reviewed slice {i} is outside the volume's 0-{z - 1}")
        done.add(k)
    score = 1.0 - np.clip(conf, 0.0, 1.0)
    if net_masks is not None and fit_masks is not None:
        dis = disagreement(net_masks, fit_masks)
        if len(dis) != z:
            raise ParameterError(f"masks have {len(dis)} slices but confidence has {z}; they must match")
        score = score + agreement_weight * dis
    ref = np.array(sorted(done))
    idx = np.arange(z)
    dist = np.abs(idx[:, None] - ref[None, :]).min(1) if len(ref) else np.full(z, z)
    order = np.lexsort((idx, -dist, -np.round(score, 6)))
    return [int(i) for i in order if int(i) not in done]
