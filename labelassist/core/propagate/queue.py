"""The review queue: unreviewed slices ordered so that the reviewer's next correction teaches the most."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["review_queue", "disagreement", "lost_lesion", "AGREEMENT_WEIGHT", "CONTINUITY_WEIGHT", "SUGGESTION_WEIGHT"]

# Weight of the segmenter's disagreement with BoundaryFit beside the uncertainty 1 - confidence.
AGREEMENT_WEIGHT = 0.5
# Weight of a drawn lesion the segmenter loses on a neighbouring slice: it outranks mere uncertainty.
CONTINUITY_WEIGHT = 1.0
# Whether the best suggested lesion's peak slice goes first, whatever the other slices' scores. Off: on demo MRI
# (seed 7, docs/benchmarks.md) most suggestions were false and sending the reviewer there first spent 4 of the
# first 5 corrections on empty slices (Dice after 5: 0.66 first, 0.80 weighted).
SUGGESTION_FIRST = False
# Weight of a suggested lesion's score on its peak slice: it adds to that slice's priority. 0: suggestions do not
# reorder the queue (the reviewer goes to them with Shift+N). On demo MRI (seed 7, docs/benchmarks.md) every
# suggestion was false, and weight 1 spent corrections on empty slices instead of the drawn lesions' neighbours:
# Dice after 5 corrections 0.799 / 0.925 / 0.959 / 0.667 with weight 1, 0.920 / 0.927 / 1.0 / 0.760 with 0.
SUGGESTION_WEIGHT = 0.0
# Pixels around a drawn lesion within which the segmenter's mask on a neighbour counts as carrying it on.
LOST_MARGIN = 2


def disagreement(a, b) -> np.ndarray:
    """Per slice, 1 - Dice of two mask volumes (0 where both are empty)."""
    a = np.asarray(a).astype(bool)
    b = np.asarray(b).astype(bool)
    if a.shape != b.shape:
        raise ParameterError(f"segmenter_masks has shape {a.shape} but fit_masks has shape {b.shape}; they must match")
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    inter = (a & b).sum(1)
    total = a.sum(1) + b.sum(1)
    return np.where(total > 0, 1.0 - 2.0 * inter / np.maximum(total, 1), 0.0)


def lost_lesion(masks, reviewed: Iterable[int], *, margin: int = LOST_MARGIN) -> np.ndarray:
    """Per slice, how much of a reviewed neighbour's lesion the masks lose there (0 to 1).

    A lesion drawn on reviewed slice ``r`` goes on to ``r - 1`` and ``r + 1`` or ends there. On an unreviewed
    neighbour ``n`` this is ``1 - a / A``: ``A`` the lesion area on ``r``, ``a`` the area of ``masks[n]``
    within ``margin`` pixels of it, capped at ``A``. 1 where the segmenter marks nothing beside a drawn lesion,
    0 where it carries the lesion on. Small lesions are where a segmenter trained on a few slices loses them, and
    a reviewer who settles those neighbours follows the lesion to its ends.
    """
    from scipy import ndimage

    masks = np.asarray(masks).astype(bool)
    z = len(masks)
    done = {int(i) for i in reviewed}
    out = np.zeros(z)
    for r in sorted(done):
        area = int(masks[r].sum())
        if area == 0:
            continue
        near = ndimage.binary_dilation(masks[r], iterations=margin) if margin > 0 else masks[r]
        for n in (r - 1, r + 1):
            if 0 <= n < z and n not in done:
                kept = min(int((masks[n] & near).sum()), area)
                out[n] = max(out[n], 1.0 - kept / area)
    return out


def review_queue(confidence, *, reviewed: Iterable[int] = (), segmenter_masks=None, fit_masks=None,
                 agreement_weight: float = AGREEMENT_WEIGHT, continuity_weight: float = CONTINUITY_WEIGHT,
                 suggestions=(), suggestion_weight: float = SUGGESTION_WEIGHT) -> list[int]:
    """Unreviewed slice indices, the one to look at next first.

    Parameters
    ----------
    confidence : array-like (z,)
        Per-slice confidence in [0, 1] (:func:`labelassist.core.propagate.propagation.slice_confidence`, or the CAM
        pipeline's certainty before a segmenter exists).
    reviewed : iterable of int
        Accepted, corrected or rejected slices: never in the queue.
    segmenter_masks, fit_masks : ndarray (z, y, x), optional
        The segmenter's and BoundaryFit's masks: where they disagree, a correction settles who is right.
    agreement_weight : float
        Weight of that disagreement beside the uncertainty ``1 - confidence``.
    continuity_weight : float
        Weight of the lesions the segmenter loses: :func:`lost_lesion` of ``segmenter_masks`` (which hold the
        reviewed slices' own masks), counted where the segmenter keeps less than half of a drawn neighbour's
        lesion (``clip(2 lost - 1, 0, 1)``; a lesion that only shrinks towards its end does not count). A slice
        next to a drawn lesion on which the segmenter marks none of it comes before one it is merely unsure of.
    suggestions : sequence of Suggestion
        Suggested lesions, best first (``PropagationResult.suggestions``,
        :func:`~labelassist.core.propagate.suggest.suggest_lesions`): each one's peak slice gains
        ``suggestion_weight`` times its score (with :data:`SUGGESTION_FIRST`, the best one not yet reviewed
        comes first).
    suggestion_weight : float
        See ``suggestions``.

    Returns
    -------
    list of int
        Highest priority (``1 - confidence + agreement_weight * disagreement + continuity_weight *
        clip(2 lost_lesion - 1, 0, 1)``) first; ties go to the slice
        farthest from any reviewed slice (it tells the segmenter most that it has not seen), then the lower index.
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
    if segmenter_masks is not None and fit_masks is not None:
        dis = disagreement(segmenter_masks, fit_masks)
        if len(dis) != z:
            raise ParameterError(f"masks have {len(dis)} slices but confidence has {z}; they must match")
        score = score + agreement_weight * dis
    if segmenter_masks is not None and continuity_weight and done:
        lost = lost_lesion(segmenter_masks, done)
        if len(lost) != z:
            raise ParameterError(f"segmenter_masks has {len(lost)} slices but confidence has {z}; they must match")
        score = score + continuity_weight * np.clip(2.0 * lost - 1.0, 0.0, 1.0)
    peaks = [int(s.peak) for s in suggestions if 0 <= int(s.peak) < z and int(s.peak) not in done]
    for s in suggestions:
        if 0 <= int(s.peak) < z:
            score[int(s.peak)] += suggestion_weight * float(s.score)
    ref = np.array(sorted(done))
    idx = np.arange(z)
    dist = np.abs(idx[:, None] - ref[None, :]).min(1) if len(ref) else np.full(z, z)
    order = np.lexsort((idx, -dist, -np.round(score, 6)))
    first = peaks[:1] if SUGGESTION_FIRST else []
    return first + [int(i) for i in order if int(i) not in done and int(i) not in first]
