"""The reviewer's effort counted in interactions: region clicks and brush strokes (issue 18, part 5).

A simulated reviewer corrects a proposed slice to the truth with region clicks first (:func:`click_regions`: one
click sets a whole region of :func:`labelassist.core.regions.slice_regions` on or off), then one brush stroke
per connected error left of more than ``min_error`` pixels (:func:`count_strokes`: painting a missed part or
erasing a wrong one; errors that small are noise a reviewer leaves, and the slice still ends equal to the
truth). Drawing by hand is counted the same way from an empty slice, without the region tool: one stroke per
lesion outline (:func:`hand_interactions`). Where a proposal is more work to fix than to draw, the reviewer
empties the slice (R, one key) and draws it again (:func:`correct_slice`'s ``cheapest``). With a box tool
(``boxer``: a box to the mask a promptable model gives) the reviewer first boxes each lesion part the slice misses
(:func:`box_missed`: one interaction a box, one more to undo a box that made the slice worse).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from labelassist.core.regions import RegionMap, apply_region
from labelassist.errors import ParameterError

__all__ = ["click_regions", "count_strokes", "box_missed", "correct_slice", "Correction", "hand_interactions",
           "MIN_ERROR", "BOX_MARGIN"]

MIN_ERROR = 4  # pixels: a connected error of this size or smaller takes no stroke
BOX_MARGIN = 3  # pixels a simulated reviewer's box leaves around a lesion part (as one drags a box around it)
_EIGHT = np.ones((3, 3), bool)


def _check(mask, truth):
    mask, truth = np.asarray(mask).astype(bool), np.asarray(truth).astype(bool)
    if mask.shape != truth.shape or mask.ndim != 2:
        raise ParameterError(f"proposal {mask.shape} and truth {truth.shape} must be slices (H, W) of one shape")
    return mask, truth


def count_strokes(mask, truth, *, min_error: int = MIN_ERROR) -> int:
    """Brush strokes to turn ``mask`` into ``truth``: one per 8-connected missed or wrong part of more than
    ``min_error`` pixels (a stroke paints or erases, so missed and wrong parts are counted apart)."""
    mask, truth = _check(mask, truth)
    strokes = 0
    for error in (truth & ~mask, mask & ~truth):
        labels, n = ndimage.label(error, structure=_EIGHT)
        if n:
            strokes += int(np.count_nonzero(np.bincount(labels.ravel())[1:] > min_error))
    return strokes


def _region_counts(mask, truth, labels, n):
    flat = labels.ravel()

    def count(a):
        return np.bincount(flat, weights=a.ravel(), minlength=n + 1)[: n + 1]

    area = np.bincount(flat, minlength=n + 1)[: n + 1].astype(float)
    return area, count(truth), count(mask), count(mask & truth)


def click_regions(mask, truth, regions, *, min_error: int = MIN_ERROR) -> tuple[np.ndarray, int]:
    """The region clicks a reviewer makes on ``mask``: greedily the click that most improves the slice's Dice.

    A click adds a region most of which is truth, or removes one most of which is not, and is made only while
    it raises the slice's Dice and fixes more than ``min_error`` pixels net; each region is clicked once at most.

    Parameters
    ----------
    mask, truth : ndarray (H, W)
        The proposal and the true mask of one slice.
    regions : RegionMap or ndarray of int (H, W)
        The slice's regions (0: no region, never clicked).
    min_error : int
        A click must fix more pixels than this (as a stroke must cover a larger error).

    Returns
    -------
    mask : ndarray of uint8 (H, W)
        The proposal after the clicks (a new array).
    clicks : int
    """
    mask, truth = _check(mask, truth)
    rmap = regions if isinstance(regions, RegionMap) else RegionMap(regions)
    if rmap.labels.shape != mask.shape:
        raise ParameterError(f"regions {rmap.labels.shape} and the slice {mask.shape} must have one shape")
    n = rmap.n_regions
    out = mask.astype(np.uint8)
    if n == 0:
        return out, 0
    area, t, m, mt = _region_counts(mask, truth, rmap.labels, n)
    add = t > area / 2  # the click each region would get
    # change of (tp, fp, fn) if region r is clicked: on -> tp=t, fp=area-t; off -> tp=0, fp=0
    d_tp = np.where(add, t - mt, -mt)
    d_fp = np.where(add, (area - t) - (m - mt), -(m - mt))
    d_fn = -d_tp
    fixed = -(d_fp + d_fn)
    candidate = fixed > min_error
    candidate[0] = False
    tp, fp, fn = float(np.sum(mt)), float(np.sum(m - mt)), float(np.sum(t - mt))
    clicks = 0
    while candidate.any():
        ntp, nfp, nfn = tp + d_tp, fp + d_fp, fn + d_fn
        denom = 2 * ntp + nfp + nfn
        new = np.where(denom > 0, 2 * ntp / np.maximum(denom, 1), 1.0)
        now = 1.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
        gain = np.where(candidate, new - now, -np.inf)
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        apply_region(out, rmap, best, add=bool(add[best]))
        tp, fp, fn = ntp[best], nfp[best], nfn[best]
        candidate[best] = False
        clicks += 1
    return out, clicks


class Correction(NamedTuple):
    """A simulated correction of one slice (:func:`correct_slice`).

    Attributes
    ----------
    corrected : ndarray of uint8 (H, W)
        The slice after it: equal to the truth.
    clicks, strokes : int
        Region clicks and brush strokes.
    cleared : bool
        The reviewer first emptied the slice (R, one key) and drew it again.
    boxes : int
        Box-tool interactions: boxes drawn, and undos of boxes that made the slice worse.
    """

    corrected: np.ndarray
    clicks: int
    strokes: int
    cleared: bool = False
    boxes: int = 0

    @property
    def interactions(self) -> int:
        """Clicks, strokes, boxes and the key that emptied the slice."""
        return self.clicks + self.strokes + int(self.cleared) + self.boxes


def _dice(mask, truth) -> float:
    both = int(mask.sum() + truth.sum())
    return 1.0 if both == 0 else 2 * int((mask & truth).sum()) / both


def box_missed(mask, truth, boxer, *, margin: int = BOX_MARGIN, min_error: int = MIN_ERROR) -> tuple[np.ndarray, int]:
    """The boxes a reviewer draws on ``mask`` with the box tool, before any click or stroke.

    One box around each 8-connected lesion part of ``truth`` (of more than ``min_error`` pixels) that ``mask``
    misses half or more of: the part's bounding box grown by ``margin`` pixels (clipped to the slice). The box's
    mask is added to the slice (as the box tool does); when that lowers the slice's Dice the reviewer undoes it.

    Parameters
    ----------
    mask, truth : ndarray (H, W)
        The proposal shown and the true mask.
    boxer : callable
        ``boxer((r0, c0, r1, c1))`` -> bool mask (H, W): what a box (inclusive rows and columns) gives.
    margin, min_error : int
        The box's margin; lesion parts of at most ``min_error`` pixels get no box.

    Returns
    -------
    (ndarray of bool (H, W), int)
        The slice after the boxes, and the interactions: one a box, one more a box undone.
    """
    mask, truth = _check(mask, truth)
    if margin < 0:
        raise ParameterError(f"margin must be 0 or more pixels, got {margin}")
    out, spent = mask.copy(), 0
    parts, n = ndimage.label(truth, structure=_EIGHT)
    h, w = truth.shape
    for part in range(1, n + 1):
        here = parts == part
        size = int(here.sum())
        if size <= min_error or 2 * int((out & here).sum()) >= size:
            continue
        rows, cols = np.nonzero(here)
        box = (max(int(rows.min()) - margin, 0), max(int(cols.min()) - margin, 0),
               min(int(rows.max()) + margin, h - 1), min(int(cols.max()) + margin, w - 1))
        trial = out | np.asarray(boxer(box), bool)
        spent += 1
        if _dice(trial, truth) > _dice(out, truth):
            out = trial
        else:
            spent += 1  # Ctrl+Z
    return out, spent


def _edit(mask, truth, regions, min_error, boxer=None):
    """(boxes, clicks, strokes) of the cheapest edit of ``mask``: region clicks then strokes, or strokes alone;
    with ``boxer``, also each after boxing the missed lesion parts first."""
    def ways(m, boxes):
        found = [(boxes, 0, count_strokes(m, truth, min_error=min_error))]
        if regions is not None:
            clicked, clicks = click_regions(m, truth, regions, min_error=min_error)
            found.append((boxes, clicks, count_strokes(clicked, truth, min_error=min_error)))
        return found

    options = ways(mask, 0)
    if boxer is not None:
        boxed, boxes = box_missed(mask, truth, boxer, min_error=min_error)
        if boxes:
            options += ways(boxed, boxes)
    return min(options, key=lambda w: (sum(w), -w[0], -w[1]))  # a tie goes to the box tool, then to region clicks


def correct_slice(mask, truth, regions=None, *, min_error: int = MIN_ERROR, cheapest: bool = True,
                  boxer=None) -> Correction:
    """A simulated reviewer's correction of one slice: boxes first (with a box tool), region clicks, then brush
    strokes.

    With ``cheapest`` the reviewer takes the cheapest way the GUIs offer: edit the proposal (region clicks then
    strokes, or strokes alone; with ``boxer`` also each after boxing the missed lesion parts, :func:`box_missed`),
    or empty the slice first (R: its label becomes empty, one key) and draw it again the same ways, as a reviewer
    redraws a proposal that is more work to fix than to draw. Ties go to editing, to the box tool (a box is
    quicker than the outline it replaces, though both count one), and to region clicks.

    Parameters
    ----------
    mask, truth : ndarray (H, W)
        The proposal shown and the true mask.
    regions : RegionMap or ndarray of int (H, W), optional
        The slice's regions; None: no region tool (strokes only).
    min_error : int
        Connected errors of at most this many pixels take no stroke (and clicks must fix more).
    cheapest : bool
        False: always region clicks first, then strokes, on the proposal (never emptied first, no box).
    boxer : callable, optional
        The box tool: ``boxer((r0, c0, r1, c1))`` -> the mask the box gives (:func:`box_missed`); None: no box tool.

    Returns
    -------
    Correction
        ``(corrected, clicks, strokes, cleared, boxes)``; ``corrected`` equals the truth.

    Examples
    --------
    >>> truth = np.zeros((8, 8), np.uint8); truth[:, :4] = 1
    >>> regions = np.where(np.arange(8) < 4, 1, 2)[None, :].repeat(8, 0)
    >>> correct_slice(np.zeros_like(truth), truth, regions)[1:]
    (1, 0, False, 0)
    """
    mask, truth = _check(mask, truth)
    out = truth.astype(np.uint8)
    if not cheapest:
        clicks = 0
        if regions is not None:
            mask, clicks = click_regions(mask, truth, regions, min_error=min_error)
        return Correction(out, clicks, count_strokes(mask, truth, min_error=min_error))
    if boxer is not None:
        asked = {}  # the same box on the same slice gives the same mask: ask the model once
        boxer = (lambda ask: lambda box: asked[box] if box in asked else asked.setdefault(box, ask(box)))(boxer)
    boxes, clicks, strokes = _edit(mask, truth, regions, min_error, boxer)
    if mask.any():
        again = _edit(np.zeros_like(mask), truth, regions, min_error, boxer)
        if 1 + sum(again) < boxes + clicks + strokes:
            return Correction(out, again[1], again[2], cleared=True, boxes=again[0])
    return Correction(out, clicks, strokes, boxes=boxes)


def hand_interactions(truth, *, min_error: int = MIN_ERROR, order=None) -> list[list]:
    """Interactions and the whole volume's lesion Dice while drawing every lesion slice by hand.

    Parameters
    ----------
    truth : ndarray (Z, H, W)
        The true label volume.
    min_error : int
        A lesion part of at most this many pixels takes no stroke (as in :func:`count_strokes`).
    order : sequence of int, optional
        The order slices are drawn in (default: largest lesion area first, the best order by hand).

    Returns
    -------
    list of [int, float]
        ``[[0, dice before], [strokes so far, dice], ...]``, one entry per lesion slice drawn, until every
        lesion slice is drawn (Dice 1.0).
    """
    truth = np.asarray(truth).astype(bool)
    if truth.ndim != 3:
        raise ParameterError(f"truth must be a volume (Z, H, W), got shape {truth.shape}")
    area = truth.reshape(len(truth), -1).sum(1)
    if order is None:
        order = [int(i) for i in np.argsort(-area, kind="stable") if area[i] > 0]
    whole = int(area.sum())
    curve = [[0, 1.0 if whole == 0 else 0.0]]
    strokes = done = 0
    for i in order:
        strokes += count_strokes(np.zeros_like(truth[i]), truth[i], min_error=min_error)
        done += int(area[i])
        curve.append([strokes, round(2 * done / (done + whole), 4)])
    return curve
