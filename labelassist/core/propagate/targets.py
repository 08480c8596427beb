"""What the segmenter learns from: the reviewer's truth on reviewed slices (weight 1), optionally weak targets
(pseudo-labels) on the other slices, and how a training batch is drawn from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from labelassist.core.propagate.checks import slice_index
from labelassist.core.propagate.data import resize_masks
from labelassist.errors import ParameterError

__all__ = ["ReviewedSlices", "TrainingSet", "reviewed_slices", "weak_agreement", "weak_target_weight",
           "training_set", "WEAK_WEIGHT", "SAMPLING_SHARES"]

# Weight of a weak target (a pseudo-label on an unreviewed slice) beside the reviewer's truth (1), before it is
# scaled by the pseudo-labels' agreement with the truth: a hint, never an equal of a reviewed slice.
WEAK_WEIGHT = 0.1
# Share of a training batch drawn from reviewed slices with a lesion, reviewed slices without one (rejected
# ones included) and weak targets; renormalised over the kinds present. Lesion slices come first: a volume
# holds few of them.
SAMPLING_SHARES = {"positive": 0.5, "negative": 0.3, "weak": 0.2}


@dataclass(frozen=True)
class ReviewedSlices:
    """The reviewer's truth.

    Attributes
    ----------
    indices : list of int
        Reviewed slices, sorted; rejected slices are among them.
    rejected : frozenset of int
        Slices whose truth is empty whatever the label volume holds there.
    truth : ndarray (n, y, x) float32
        0/1 per reviewed slice, in the order of ``indices``.
    drawn : ndarray (n, y, x) uint8
        What the result keeps on each reviewed slice: its label mask, empty when rejected.
    positive : ndarray (n,) bool
        Whether each reviewed slice shows a lesion.
    """

    indices: list
    rejected: frozenset
    truth: np.ndarray
    drawn: np.ndarray
    positive: np.ndarray

    @property
    def anchors(self) -> list[int]:
        """Reviewed slices that show a lesion."""
        return [i for k, i in enumerate(self.indices) if self.positive[k]]


def reviewed_slices(labels, reviewed: Iterable[int], *, rejected: Iterable[int] = (), shape) -> ReviewedSlices:
    """The truth of the ``reviewed`` (and ``rejected``) slices of the label volume ``labels`` of ``shape``."""
    lab = np.asarray(labels)
    if lab.shape != tuple(shape):
        raise ParameterError(f"labels have shape {lab.shape} but the volume is {tuple(shape)}; they must match")
    z = shape[0]
    rev = sorted({slice_index(i, z, "reviewed") for i in reviewed})
    rej = {slice_index(i, z, "rejected") for i in rejected}
    if rej - set(rev):
        rev = sorted(set(rev) | rej)
    truth = np.zeros((len(rev), *lab.shape[1:]), np.float32)
    drawn = np.zeros((len(rev), *lab.shape[1:]), np.uint8)
    for k, i in enumerate(rev):
        if i not in rej:
            truth[k] = np.nan_to_num(np.asarray(lab[i], np.float32)) > 0
            drawn[k] = np.asarray(lab[i] > 0, np.uint8)
    positive = truth.reshape(len(rev), -1).any(1) if rev else np.zeros(0, bool)
    return ReviewedSlices(rev, frozenset(rej), truth, drawn, positive)


def weak_agreement(weak, reviewed: ReviewedSlices) -> float | None:
    """How far the weak targets agree with the reviewer on the reviewed slices: their pooled Dice in [0, 1].

    Pseudo-labels are worth learning from only as far as they were right where the reviewer looked; a cold
    start that missed every reviewed lesion would otherwise teach the segmenter to miss the rest. NaN in
    ``weak`` (no pseudo-label there) is left out of the comparison, truth included. None when there is nothing
    to compare (no weak targets, or neither they nor the truth mark anything where both are known).
    """
    if weak is None or not reviewed.indices:
        return None
    w = np.asarray(weak, np.float32)[reviewed.indices]
    known = ~np.isnan(w)
    w, t = (w > 0) & known, (reviewed.truth > 0) & known
    total = int(w.sum()) + int(t.sum())
    return None if total == 0 else 2.0 * int((w & t).sum()) / total


def weak_target_weight(weak_weight: float, agreement: float | None) -> float:
    """The weight of the weak targets: ``weak_weight`` times their agreement with the truth (when known)."""
    return float(weak_weight) * (1.0 if agreement is None else agreement)


@dataclass(frozen=True)
class TrainingSet:
    """The segmenter's training samples: inputs, soft targets and per-pixel weights, by kind.

    Attributes
    ----------
    x : tensor (n, C, S, S) or None
        Inputs (:func:`~labelassist.core.propagate.data.stack_inputs`) of the training slices.
    targets, weights : tensor (n, S, S) or None
        Soft targets in [0, 1] and their per-pixel weights.
    pools : dict
        Positions in ``x`` of each kind of :data:`SAMPLING_SHARES`.
    """

    x: object
    targets: object
    weights: object
    pools: dict

    def draw(self, rng, batch_size: int) -> list[int]:
        """Positions of one batch: a kind per sample by :data:`SAMPLING_SHARES`, then a sample of that kind."""
        names = [k for k in SAMPLING_SHARES if self.pools[k]]
        probs = (np.array([SAMPLING_SHARES[k] for k in names]) / sum(SAMPLING_SHARES[k] for k in names)
                 if names else None)
        return [self.pools[names[j]][rng.integers(len(self.pools[names[j]]))]
                for j in rng.choice(len(names), batch_size, p=probs)]

    def is_truth(self, positions):
        """Bool tensor: whether each of ``positions`` is a reviewed slice (the reviewer's truth), not a weak target."""
        import torch

        weak = set(self.pools["weak"])
        return torch.tensor([k not in weak for k in positions], dtype=torch.bool)


def training_set(x, reviewed: ReviewedSlices, *, weak=None, weight: float = 0.0) -> TrainingSet:
    """Reviewed slices at weight 1 and, when ``weak`` is given and ``weight > 0``, the weak targets of the
    other slices at ``weight``. ``x`` holds the inputs of every slice of the volume (z, C, S, S).

    NaN in ``weak`` means no pseudo-label: an unreviewed slice that is NaN everywhere is no weak target at all
    (not an empty one), and NaN pixels of a slice that has some pseudo-label get weight 0.
    """
    import torch

    size = x.shape[-1]
    rev = reviewed.indices
    ys, ws, idx, pools = [], [], [], {"positive": [], "negative": [], "weak": []}
    if rev:
        ys.append(resize_masks(reviewed.truth, size))
        ws.append(torch.ones(len(rev), size, size))
        idx += rev
        for k in range(len(rev)):
            pools["positive" if reviewed.positive[k] else "negative"].append(k)
    unrev = [i for i in range(len(x)) if i not in set(rev)]
    if weak is not None and weight > 0 and unrev:
        have, y, w = _weak_targets(weak, unrev, size, weight)
        if have:
            ys.append(y)
            ws.append(w)
            pools["weak"] = list(range(len(idx), len(idx) + len(have)))
            idx += have
    return TrainingSet(x=x[idx] if idx else None, targets=torch.cat(ys) if ys else None,
                       weights=torch.cat(ws) if ws else None, pools=pools)


def _weak_targets(weak, unreviewed: list, size: int, weight: float):
    """``(slices, targets, weights)`` of the weak targets on the ``unreviewed`` slices that have a pseudo-label
    (not NaN everywhere); NaN pixels weigh 0."""
    import torch

    w = np.asarray(weak, np.float32)[unreviewed]
    known = ~np.isnan(w)
    has = known.reshape(len(unreviewed), -1).any(1)
    if not has.any():
        return [], None, None
    w, known = w[has], known[has]
    weights = resize_masks(known, size) if not known.all() else torch.ones(len(w), size, size)
    return [i for i, h in zip(unreviewed, has) if h], resize_masks(np.nan_to_num(w) > 0, size), weight * weights
