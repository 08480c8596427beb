"""Suggested lesions (docs/architecture.md, learning from corrections): what the segmenter, the appearance
learner (:mod:`~labelassist.core.propagate.appearance`) or the CAM finds away from every drawn lesion.

:func:`~labelassist.core.propagate.propagation.propagate` keeps in its masks only the lesions 3-D-connected to
one the reviewer drew (``connected=True``): most of what a net trained on a few slices adds elsewhere is
false, but a lesion nobody drew yet is there too. Those places are returned apart, as *suggestions*: never
in ``PropagationResult.masks`` (so never exported), shown in their own colour, and the review queue sends the
reviewer to the best one (:func:`~labelassist.core.propagate.queue.review_queue`, ``suggestions=``). A
reviewer who accepts one copies ``result.suggested == s.label`` into the labels of the slices concerned.

Public API::

    labels, found = suggest_lesions(probability, masks, reviewed, cam=None)
    found[0].label, found[0].slices, found[0].peak, found[0].size, found[0].score

``labels`` is an int32 volume: 0 nowhere, ``k`` on the voxels of the k-th suggestion (best first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["Suggestion", "suggest_lesions", "SUGGEST_THRESHOLD", "CAM_THRESHOLD", "APPEARANCE_THRESHOLD",
           "MIN_SIZE", "APPEARANCE_MIN_SIZE", "MARGIN", "MAX_SUGGESTIONS"]

# Probability above which a voxel away from the drawn lesions is suggested: the segmenter's own threshold (0.8),
# so a suggestion is a lesion the masks would hold but for ``connected``. On the simulated reviews of demo
# volumes of seed 5, 0.3 and 0.5 gave as many false suggestions and found nothing more.
SUGGEST_THRESHOLD = 0.8
# CAM value above which a voxel is suggested (the CAM is optional; a CAM peaks on most slices, so it is high).
CAM_THRESHOLD = 0.9
# The appearance learner's p(lesion) above which a voxel is suggested (:mod:`~labelassist.core.propagate.appearance`;
# demo seeds 5-37, easy: 0.5 found 5 of 8 undrawn lesions after one corrected slice, 0.7 2 of 8, 0.9 1 of 8).
APPEARANCE_THRESHOLD = 0.5
# Smallest suggestion, voxels: fewer is a speck of noise (seed 5: 4 voxels gave one false suggestion more
# per volume than 10; the smallest hard demo lesion has some 50).
MIN_SIZE = 10
# Smallest suggestion the appearance learner alone finds (no segmenter voxel above its threshold in it): texture
# that looks like the drawn lesion in a few voxels is common (the same seeds: 10 gave 10 false suggestions over 11
# easy volumes, 30 gave 7 and found as many lesions).
APPEARANCE_MIN_SIZE = 30
# A component within this many pixels of a kept lesion (in-plane, or one slice up or down) is that lesion's own
# edge, the reviewer's business on its slices, not a suggestion.
MARGIN = 2
# At most this many suggestions at a time, best first: each costs the reviewer a look.
MAX_SUGGESTIONS = 2


@dataclass(frozen=True)
class Suggestion:
    """One suggested lesion.

    Attributes
    ----------
    label : int
        Its value in the label volume :func:`suggest_lesions` returns (1 for the best).
    slices : tuple of int
        First and last slice it spans (inclusive).
    peak : int
        The slice where it is largest: where the review queue sends the reviewer.
    size : int
        Voxels.
    score : float
        Its highest probability (or CAM value) in [0, 1]; suggestions are ranked by it.
    """

    label: int
    slices: tuple
    peak: int
    size: int
    score: float


def _evidence(probability, others):
    """Per voxel, the probability, or where another evidence passes its threshold its value when it is higher.
    ``others``: ``(name, array or None, threshold)``."""
    p = np.nan_to_num(np.asarray(probability, np.float32))
    for name, other, threshold in others:
        if other is None:
            continue
        c = np.nan_to_num(np.asarray(other, np.float32))
        if c.shape != p.shape:
            raise ParameterError(f"{name} has shape {c.shape} but probability has shape {p.shape}; they must match")
        p = np.maximum(p, np.where(c >= threshold, c, 0.0))
    return p


def suggest_lesions(probability, masks, reviewed: Iterable[int], *, cam=None, appearance=None,
                    threshold: float = SUGGEST_THRESHOLD, cam_threshold: float = CAM_THRESHOLD,
                    appearance_threshold: float = APPEARANCE_THRESHOLD, min_size: int = MIN_SIZE,
                    appearance_min_size: int = APPEARANCE_MIN_SIZE, margin: int = MARGIN,
                    max_suggestions: int = MAX_SUGGESTIONS):
    """Lesions found away from every kept lesion, as a label volume and a ranked list.

    Parameters
    ----------
    probability : ndarray (z, y, x)
        The segmenter's lesion probability.
    masks : ndarray (z, y, x)
        The lesions kept: the reviewer's labels and what is connected to them. Nothing within ``margin`` of
        them is suggested.
    reviewed : iterable of int
        Reviewed slices: the reviewer has looked there, nothing on them is suggested.
    cam : ndarray (z, y, x) in [0, 1], optional
        The classifier's heat map: where it reaches ``cam_threshold`` it counts as evidence too.
    threshold : float in (0, 1]
        Probability above which a voxel is suggested (:data:`SUGGEST_THRESHOLD`, 0.8).
    appearance : ndarray (z, y, x) in [0, 1], optional
        The appearance learner's p(lesion) (:mod:`~labelassist.core.propagate.appearance`): evidence where it
        reaches ``appearance_threshold``.
    cam_threshold, appearance_threshold : float in (0, 1]
        The CAM's (:data:`CAM_THRESHOLD`) and the appearance learner's (:data:`APPEARANCE_THRESHOLD`).
    min_size : int
        (:data:`MIN_SIZE`, 10) Fewer voxels (3-D connected, faces, edges and corners) is noise.
    appearance_min_size : int
        (:data:`APPEARANCE_MIN_SIZE`, 30) The smallest suggestion that only the appearance learner finds (neither
        the segmenter's probability nor the CAM reaches its threshold in it).
    margin : int
        A component that comes within this many pixels of a kept lesion (in-plane; or on the slice above or
        below) is that lesion's edge, not a suggestion.
    max_suggestions : int
        The best this many are returned (:data:`MAX_SUGGESTIONS`, 2).

    Returns
    -------
    labels : ndarray (z, y, x) int32
        0 nowhere, ``k`` on the k-th suggestion.
    suggestions : list of Suggestion
        Best (highest score, then largest) first.

    Raises
    ------
    ParameterError
        Shapes that differ, a threshold outside (0, 1], a negative size or margin.
    """
    from scipy import ndimage as ndi

    for name, value in (("threshold", threshold), ("cam_threshold", cam_threshold),
                        ("appearance_threshold", appearance_threshold)):
        if not 0.0 < float(value) <= 1.0:
            raise ParameterError(f"{name} must be in (0, 1], got {value}")
    if min(min_size, appearance_min_size, margin, max_suggestions) < 0:
        raise ParameterError(f"min_size, appearance_min_size, margin and max_suggestions must be >= 0, got "
                             f"{min_size}, {appearance_min_size}, {margin}, {max_suggestions}")
    evidence = _evidence(probability, (("cam", cam, cam_threshold), ("appearance", appearance, appearance_threshold)))
    kept = np.asarray(masks) > 0
    if kept.shape != evidence.shape:
        raise ParameterError(f"masks have shape {kept.shape} but probability has shape {evidence.shape}; "
                             "they must match")
    own = np.nan_to_num(np.asarray(probability, np.float32)) >= threshold  # not the appearance learner's alone
    if cam is not None:
        own |= np.nan_to_num(np.asarray(cam, np.float32)) >= cam_threshold
    candidate = own if appearance is None else own | (np.nan_to_num(np.asarray(appearance, np.float32))
                                                       >= appearance_threshold)
    candidate[sorted({int(i) for i in reviewed})] = False
    lab, _ = ndi.label(candidate, structure=np.ones((3, 3, 3), bool))
    if kept.any():  # a component that comes within the margin of a kept lesion is that lesion's edge
        disc = ndi.iterate_structure(ndi.generate_binary_structure(2, 1), margin)[None] if margin else None
        near = ndi.binary_dilation(kept, structure=disc) if margin else kept
        near = ndi.binary_dilation(near, structure=np.ones((3, 1, 1), bool))
        lab[np.isin(lab, np.unique(lab[near]))] = 0
    found = []
    for k, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        part = lab[sl] == k
        size = int(part.sum())
        if size < max(min_size if own[sl][part].any() else max(min_size, appearance_min_size), 1):
            continue
        area = part.reshape(len(part), -1).sum(1)
        found.append((float(evidence[sl][part].max()), size, k, sl[0].start, sl[0].stop - 1,
                      sl[0].start + int(np.argmax(area))))
    found.sort(key=lambda f: (-f[0], -f[1], f[3]))
    found = found[:max_suggestions]
    out = np.zeros(lab.shape, np.int32)
    suggestions = []
    for rank, (score, size, k, first, last, peak) in enumerate(found, start=1):
        out[lab == k] = rank
        suggestions.append(Suggestion(rank, (int(first), int(last)), int(peak), size, round(score, 4)))
    return out, suggestions
