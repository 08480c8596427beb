"""A learner that never undoes the reviewer (docs/architecture.md, learning from corrections).

Each correction fine-tunes the segmenter from the previous round's net. A fine-tune on a few slices is noisy:
one more slice (often a lesion-free one) can make the new net drop part of a lesion it carried before, and the
whole volume's Dice falls although the reviewer only added truth (demo MRI, seed 5: 0.91 -> 0.84 after a
lesion-free slice). Two guards, both on the previous net's prediction of this very volume (recomputed here:
the previous net is the ``model`` handed to ``propagate``):

1. **The gate.** Both nets are scored on the reviewed slices (pooled Dice of their masks against the
   reviewer's truth). The previous net has not seen the newest correction, so for it that slice is a fair
   test; the new net has trained on every reviewed slice, so it should do at least as well. When it does
   worse by more than :data:`GATE_MARGIN`, the new net is refused: the previous prediction is kept whole
   and the previous net goes on (``meta["kept_previous"]``).
2. **The merge.** Otherwise each voxel takes the higher of the two nets' probabilities. What the new net
   adds shows at once; what it takes away goes only when the next net agrees (the merge is always of two
   consecutive nets, never cumulative, so a false lesion lasts at most one round longer). A lesion part
   one noisy fine-tune loses is what made the volume's Dice fall; the merge holds it.

Measured on the simulated review of demo volumes of seed 5 (``benchmarks/bench_propagate.py``, 5 rounds,
2 easy and 2 hard volumes, the same nets merged offline in different ways): the largest drop between rounds
was 0.071, 0.008, 0, 0.014 with the new net alone; 0.046, 0.004, 0, 0.008 with the mean of the two nets;
0.005, 0, 0, 0.007 keeping a slice's previous prediction where the new net is less sure; 0.001, 0, 0,
0.006 with the maximum, which also ended highest (Dice after 5: 0.959, 0.915, 0.590, 0.571 against 0.952,
0.909, 0.590, 0.557 alone).

Reviewed slices are untouched either way (their truth is put back afterwards).
"""

from __future__ import annotations

import copy

import numpy as np

from labelassist.core.nets.segmenter_checkpoint import Segmenter
from labelassist.core.propagate.predict import to_grid
from labelassist.core.propagate.targets import ReviewedSlices

__all__ = ["previous_net", "reviewed_dice", "keep_or_merge", "hold_previous", "hold_found", "GATE_MARGIN",
           "OVER_PREDICTION", "HOLD_APPEARANCE"]

# A lesion shown away from every reviewed slice stays when the appearance learner's mean p(lesion) over it is at
# least this (:func:`hold_found`).
HOLD_APPEARANCE = 0.5

# The new net is refused when its Dice on the reviewed slices is this much below the previous net's: Dice on a
# few slices is noisy (0.02 apart between two runs of the same fine-tune on one slice in the tests).
GATE_MARGIN = 0.05
# Pixels of a reviewed slice that the previous result marked lesion and the reviewer did not: more than this
# is evidence that the previous result over-predicts, and the learner may then take lesion voxels away.
OVER_PREDICTION = 4


def previous_net(model: Segmenter | None, steps: int, device) -> Segmenter | None:
    """A copy of the previous round's net to predict with (None when there is none or nothing is learned)."""
    if model is None or not steps:
        return None
    return Segmenter(copy.deepcopy(model.net).to(device), copy.deepcopy(model.meta))


def reviewed_dice(probability, truth, *, threshold: float) -> float:
    """Pooled Dice of ``probability >= threshold`` against ``truth`` (both (n, y, x)); 1 when both are empty."""
    pred = np.asarray(probability) >= threshold
    ref = np.asarray(truth) > 0
    total = int(pred.sum()) + int(ref.sum())
    return 1.0 if total == 0 else 2.0 * int((pred & ref).sum()) / total


def keep_or_merge(new, previous, truth: ReviewedSlices, shape, *, threshold: float, margin: float = GATE_MARGIN,
                  merge: bool = True):
    """The probabilities the result keeps, from the new net's and the previous net's (working grid, (z, S, S)).

    Parameters
    ----------
    new, previous : torch.Tensor (z, S, S)
        The new net's and the previous net's probabilities on the working grid.
    truth : ReviewedSlices
        The reviewer's truth; the nets are scored on its slices.
    shape : tuple (y, x)
        The slice grid the scores are taken on.
    threshold : float
        Probability above which a pixel is lesion.
    margin : float
        How far below the previous net's Dice on the reviewed slices the new net may fall and still pass
        (``inf``: no gate).
    merge : bool
        Where the new net passes, take the higher of the two probabilities per voxel (False: the new net's).

    Returns
    -------
    probability : torch.Tensor (z, S, S)
        ``previous`` where the new net is refused; else ``max(new, previous)`` (or ``new``).
    record : dict
        ``kept_previous`` (bool), ``dice_new`` and ``dice_previous`` (rounded) for the run's meta.
    """
    import torch

    idx = list(truth.indices)
    scores = [reviewed_dice(to_grid(p[idx], shape, threshold)[1].astype(np.float32), truth.truth,
                            threshold=threshold) for p in (new, previous)]
    kept = scores[0] < scores[1] - margin
    record = {"kept_previous": bool(kept), "dice_new": round(scores[0], 4), "dice_previous": round(scores[1], 4)}
    if kept:
        return previous, record
    return (torch.maximum(new, previous) if merge else new), record


def hold_previous(masks, previous, truth: ReviewedSlices, *, over: int = OVER_PREDICTION,
                  proposals: bool = False) -> dict:
    """The floor: what the previous result showed as lesion stays lesion, unless the reviewer showed it wrong.

    Two consecutive nets can both lose part of a lesion that the net before them found (a fine-tune on one more
    lesion-free slice teaches "less lesion" everywhere), and the merge alone then lets it go. A correction that
    only adds lesion, or confirms an empty slice the previous result left empty, is no evidence that anything
    shown was wrong. So each lesion the previous result showed (a 3-D connected component) stays on the
    unreviewed slices when the reviewer confirmed it (it overlaps their lesion on a reviewed slice) and did not
    refute it (no reviewed slice holds more than ``over`` pixels of it that the reviewer left out). A lesion no
    reviewed slice touches is not held: the new masks decide it.

    Before the first net (``proposals``) what the reviewer saw was drawn slice by slice (CAM + BoundaryFit): a
    region that spills over the lesion's edge on one slice says nothing of the other slices, and letting the whole
    lesion go made the first net's volume worse than the proposals it replaced (demo MRI: the largest drops of a
    simulated review were nearly all in round 1, up to 0.38). A proposed lesion is refuted only where a reviewed
    slice holds more of it wrong than right (and more than ``over`` pixels).

    Parameters
    ----------
    masks : ndarray of uint8 (z, y, x)
        The new masks (edited in place; the reviewed slices already hold the truth).
    previous : ndarray (z, y, x)
        The previous result's masks as the reviewer saw them (nonzero: lesion), including on the slices reviewed
        since (for the first propagation: the proposals the reviewer saw, e.g. CAM + BoundaryFit).
    truth : ReviewedSlices
        The reviewer's truth.
    over : int
        See above.
    proposals : bool
        ``previous`` are per-slice proposals, not a net's masks: refuted only where mostly wrong (above).

    Returns
    -------
    dict
        ``held_previous`` (voxels kept from the previous result), ``over_predicted`` (some lesion it showed was
        refuted) and ``refuted`` (how many) for the run's meta.
    """
    from scipy import ndimage

    comp, n = ndimage.label(np.asarray(previous) > 0)
    right = np.zeros(n + 1, np.int64)
    refuted = np.zeros(n + 1, bool)
    for i, t in zip(truth.indices, truth.truth):
        lesion = np.asarray(t) > 0
        here_wrong = np.bincount(comp[i][~lesion], minlength=n + 1)
        here_right = np.bincount(comp[i][lesion], minlength=n + 1)
        refuted |= here_wrong > (np.maximum(over, here_right) if proposals else over)
        right += here_right
    held = (right > 0) & ~refuted
    held[0], refuted[0] = False, False
    hold = held[comp] & (masks == 0)
    hold[list(truth.indices)] = False  # the reviewed slices are the truth
    masks[hold] = 1
    return {"held_previous": int(hold.sum()), "over_predicted": bool(refuted.any()), "refuted": int(refuted.sum())}


def hold_found(masks, previous, truth: ReviewedSlices, appearance, *, threshold: float = HOLD_APPEARANCE) -> dict:
    """A lesion the previous result showed away from every reviewed slice stays when the appearance learner sees
    it too.

    :func:`hold_previous` lets go of a lesion no reviewed slice touches, and the segmenter's masks keep only what
    is connected to a drawn lesion: a lesion the proposals (or an earlier round) found and nobody has drawn yet
    was lost at the first correction. When the appearance learner (:mod:`~labelassist.core.propagate.appearance`),
    trained on the reviewed slices, gives its voxels a mean p(lesion) of at least ``threshold``, it is kept on the
    unreviewed slices. A lesion a reviewed slice touches is :func:`hold_previous`'s business (confirmed or
    refuted there).

    Parameters
    ----------
    masks : ndarray of uint8 (z, y, x)
        The new masks (edited in place).
    previous : ndarray (z, y, x)
        What the reviewer saw (nonzero: lesion).
    truth : ReviewedSlices
        The reviewer's truth.
    appearance : ndarray (z, y, x) float
        The appearance learner's p(lesion).
    threshold : float
        (:data:`HOLD_APPEARANCE`) Mean p(lesion) over the lesion's voxels above which it stays.

    Returns
    -------
    dict
        ``held_found`` (lesions kept) and ``held_found_voxels`` for the run's meta.
    """
    from scipy import ndimage

    comp, n = ndimage.label(np.asarray(previous) > 0)
    if n == 0:
        return {"held_found": 0, "held_found_voxels": 0}
    touched = np.unique(comp[list(truth.indices)]) if truth.indices else np.zeros(0, int)
    mean = ndimage.mean(np.asarray(appearance, np.float32), comp, index=np.arange(1, n + 1))
    keep = np.zeros(n + 1, bool)
    keep[1:] = np.asarray(mean) >= threshold
    keep[touched] = False
    keep[0] = False
    hold = keep[comp] & (masks == 0)
    hold[list(truth.indices)] = False
    masks[hold] = 1
    return {"held_found": int(keep.sum()), "held_found_voxels": int(hold.sum())}
