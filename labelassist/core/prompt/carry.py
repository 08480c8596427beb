"""One box, one lesion in 3-D: the box's mask carried slice by slice to both neighbours.

From the boxed slice, each next slice is prompted with the bounding box of the previous slice's mask plus a
margin; the carry stops on a side when the new mask is too small, the decoder doubts it (its predicted IoU),
it has moved off the previous mask (too little of it inside the previous mask dilated by the margin), or it
no longer stands out from its surroundings as the boxed slice's mask did (the lesion has ended: off the
lesion the decoder still draws a confident blob of texture inside the box, so size and IoU alone run on).
What it makes are proposals for the reviewer, returned with the slices they cover.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

from labelassist.core.nets.inputs import normalisation_ranges
from labelassist.core.prompt.prompter import BoxPrompter, check_box
from labelassist.errors import Cancelled, ParameterError

__all__ = ["carry_lesion", "CarriedLesion", "mask_box", "mask_contrast", "STOP_RULE"]

# The stop rule's defaults, measured on the demo MRI volumes of seeds 7 and 11 (2 per setting, 23 lesions; not
# the benchmark's seeds), one box per lesion on its largest slice (its bounding box + 3 px), carried up to 4 slices
# past each end. Mean 3-D Dice easy / hard, slices carried past the lesions' ends, lesion slices missed:
#   the prototype's rule (margin 3, 10 px, IoU 0.5, overlap 0.3), no contrast check:  0.66 / 0.21, 168 past, 0 missed
#   (it ran on to the cap: off the lesion the decoder draws a confident blob of texture inside the box)
#   margin 3, contrast 0.25 / 0.4 / 0.55:  0.75 / 0.30, 50, 48;  0.75 / 0.32, 43, 53;  0.73 / 0.34, 32, 61
#   margin 2, contrast 0.25 / 0.4 / 0.55 / 0.7 / 0.85:  0.75 / 0.34, 36, 52;  0.75 / 0.34, 33, 56;
#     0.73 / 0.39, 17, 71;  0.70 / 0.40, 13, 88;  0.68 / 0.35, 13, 101  (margin 5 or 1 was worse; so was IoU 0.7)
#   the overlap check never decided (the next box follows the mask); IoU 0.5 against none changed 2-3 slices.
# A box on every lesion slice gave 0.88 / 0.50 on the same volumes.
STOP_RULE = {"margin": 2, "min_pixels": 10, "min_iou": 0.5, "min_overlap": 0.3, "min_contrast": 0.55}


@dataclass
class CarriedLesion:
    """The masks of one lesion, carried from the boxed slice.

    Attributes
    ----------
    slices : ndarray of int, shape (n,)
        The slices the masks cover, ascending, contiguous, holding ``start``.
    masks : ndarray of bool, shape (n, rows, columns)
        ``masks[i]`` is the mask on slice ``slices[i]``.
    iou : ndarray of float32, shape (n,)
        The decoder's predicted IoU of each mask.
    start : int
        The boxed slice.
    stopped : dict
        Why the carry stopped on each side: ``{"below": reason, "above": reason}`` (``"below"`` towards slice
        0); reasons are ``"edge"`` (the volume's end), ``"small"``, ``"iou"``, ``"overlap"``, ``"contrast"``,
        ``"max_slices"``.
    """

    slices: np.ndarray
    masks: np.ndarray
    iou: np.ndarray
    start: int
    stopped: dict = field(default_factory=dict)

    def to_labels(self, shape, *, label: int = 1) -> np.ndarray:
        """A uint8 label volume of spatial ``shape`` (z, rows, columns) holding ``label`` where the masks are."""
        out = np.zeros(tuple(shape)[:3], np.uint8)
        out[self.slices] = self.masks.astype(np.uint8) * np.uint8(label)
        return out


def mask_box(mask, *, margin: int = 0) -> tuple | None:
    """The bounding box ``(r0, c0, r1, c1)`` (inclusive) of a 2-D mask grown by ``margin`` and kept in the
    slice; None for an empty mask."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    h, w = np.shape(mask)
    return (max(int(rows.min()) - margin, 0), max(int(cols.min()) - margin, 0),
            min(int(rows.max()) + margin, h - 1), min(int(cols.max()) + margin, w - 1))


def _dilate(mask, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask
    from scipy import ndimage

    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return ndimage.binary_dilation(mask, structure=yy**2 + xx**2 <= radius**2)


def mask_contrast(image, mask, *, width: int = 3) -> float:
    """Mean of ``image`` in ``mask`` minus its mean in the ring ``width`` pixels around it (0 for an empty
    mask or ring): how much the mask stands out, with its sign (a dark lesion is negative)."""
    mask = np.asarray(mask, bool)
    ring = _dilate(mask, max(int(width), 1)) & ~mask
    if not mask.any() or not ring.any():
        return 0.0
    return float(image[mask].mean() - image[ring].mean())


def _why_stop(res, previous, contrast, reference, *, margin, min_pixels, min_iou, min_overlap,
              min_contrast) -> str | None:
    """The reason a carried mask ends the carry, or None to keep it. ``contrast``: the mask's
    :func:`mask_contrast`; ``reference``: the boxed slice's."""
    area = int(res.mask.sum())
    if area < min_pixels:
        return "small"
    if res.iou < min_iou:
        return "iou"
    if min_overlap > 0 and (res.mask & _dilate(previous, margin)).sum() < min_overlap * area:
        return "overlap"
    if min_contrast > 0 and abs(reference) > 1e-3 and contrast * np.sign(reference) < min_contrast * abs(reference):
        return "contrast"
    return None


def _check_options(margin, min_pixels, min_iou, min_overlap, min_contrast, max_slices) -> None:
    for name, value in (("margin", margin), ("min_pixels", min_pixels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ParameterError(f"{name} must be a whole number >= 0, got {value!r}")
    for name, value in (("min_iou", min_iou), ("min_overlap", min_overlap), ("min_contrast", min_contrast)):
        if not isinstance(value, (int, float, np.floating)) or not 0 <= float(value) <= 1:
            raise ParameterError(f"{name} must be a fraction in [0, 1], got {value!r}")
    if max_slices is not None and (isinstance(max_slices, bool) or not isinstance(max_slices, (int, np.integer))
                                   or max_slices < 0):
        raise ParameterError(f"max_slices must be None or a whole number >= 0, got {max_slices!r}")


def _check_volume(volume, slice_index) -> np.ndarray:
    vol = np.asarray(volume)
    if vol.ndim not in (3, 4) or min(vol.shape[:3]) < 1:
        raise ParameterError(f"volume must be (z, y, x) or (z, y, x, c), got shape {vol.shape}")
    if isinstance(slice_index, bool) or not isinstance(slice_index, (int, np.integer)) or not (
            0 <= slice_index < vol.shape[0]):
        raise ParameterError(f"slice_index must be a slice of the volume, in [0, {vol.shape[0] - 1}], "
                             f"got {slice_index!r}")
    return vol


def carry_lesion(volume, slice_index: int, box, prompter: BoxPrompter, *, volume_key: Hashable | None = None,
                 ranges=None, margin: int = STOP_RULE["margin"], min_pixels: int = STOP_RULE["min_pixels"],
                 min_iou: float = STOP_RULE["min_iou"], min_overlap: float = STOP_RULE["min_overlap"],
                 min_contrast: float = STOP_RULE["min_contrast"], max_slices: int | None = None,
                 cancel: Callable[[], bool] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> CarriedLesion:
    """The masks of one lesion on the boxed slice and the slices around it.

    Parameters
    ----------
    volume : ndarray, shape (z, y, x) or (z, y, x, c)
        Intensities; slices along the first array axis (NIfTI k), ``c`` 1 or 3 channels.
    slice_index : int
        The slice the box is drawn on.
    box : sequence of 4 ints
        ``(r0, c0, r1, c1)`` on that slice: inclusive rows (array axis 1, y) and columns (axis 2, x).
    prompter : BoxPrompter
        Does the prompting; its cache keeps the embeddings under ``(volume_key, slice)``.
    volume_key : hashable, optional, keyword-only
        Names the volume in the prompter's cache (None: embeddings are not kept).
    ranges : list of (lo, hi), optional, keyword-only
        The volume's normalisation ranges (default: :func:`~labelassist.core.nets.inputs.normalisation_ranges`
        of ``volume``, computed once).
    margin : int, keyword-only
        Pixels added around the previous slice's mask to make the next box, and the dilation of the previous
        mask the overlap is measured in.
    min_pixels : int, keyword-only
        A carried mask smaller than this ends the carry on its side.
    min_iou : float, keyword-only
        A carried mask whose predicted IoU is below this ends the carry.
    min_overlap : float, keyword-only
        A carried mask less than this share of which lies in the previous mask dilated by ``margin`` ends
        the carry (the prompt found something else).
    min_contrast : float, keyword-only
        A carried mask that stands out from the ring around it (:func:`mask_contrast` on the normalised
        slice, with the boxed slice's sign) by less than this share of the boxed slice's mask ends the carry:
        off the lesion the decoder still draws a confident blob of texture inside the box.
    max_slices : int, optional, keyword-only
        Most slices carried on each side (None: up to the volume's ends).
    cancel : callable() -> bool, optional, keyword-only
        Asked before each slice; True raises :class:`~labelassist.errors.Cancelled` and nothing is returned.
    progress : callable(done, total), optional, keyword-only
        Told after each slice (``total`` is the most slices the carry could still visit).

    Returns
    -------
    CarriedLesion
        The boxed slice's mask (kept whatever its size) and every carried mask before a stop, with the
        slices they cover. Proposals to review, not reviewed slices.

    Notes
    -----
    The defaults (:data:`STOP_RULE`: margin 2, 10 px, IoU 0.5, overlap 0.3, contrast 0.55) were measured on
    demo MRI volumes of seeds 7 and 11, not the benchmark's (``benchmarks/bench_prompt.py``); the measurement is
    beside :data:`STOP_RULE`. The contrast check is what stops a carry: without it, it ran on past every lesion.
    """
    _check_options(margin, min_pixels, min_iou, min_overlap, min_contrast, max_slices)
    vol = _check_volume(volume, slice_index)
    box = check_box(box, vol.shape[1:3])
    ranges = normalisation_ranges(vol) if ranges is None else ranges
    n = vol.shape[0]
    limit = n if max_slices is None else int(max_slices)
    total = 1 + min(slice_index, limit) + min(n - 1 - slice_index, limit)
    done = [0]

    def prompt(k, b):
        if cancel is not None and cancel():
            raise Cancelled()
        key = None if volume_key is None else (volume_key, int(k))
        res = prompter.segment(vol[k], b, ranges=ranges, key=key, cancel=cancel)
        done[0] += 1
        if progress is not None:
            progress(done[0], total)
        return res

    def contrast(k, mask):
        return mask_contrast(prompter.normalised(vol[k], ranges=ranges).mean(-1), mask, width=max(margin, 2))

    first = prompt(slice_index, box)
    reference = contrast(slice_index, first.mask)
    found = {int(slice_index): first}
    stopped = {}
    opts = {"margin": margin, "min_pixels": min_pixels, "min_iou": min_iou, "min_overlap": min_overlap,
            "min_contrast": min_contrast}
    for side, step in (("below", -1), ("above", 1)):
        previous, k, reason = first.mask, slice_index + step, "edge"
        while 0 <= k < n:
            b = mask_box(previous, margin=margin)
            if b is None:
                reason = "small"
                break
            if abs(k - slice_index) > limit:
                reason = "max_slices"
                break
            res = prompt(k, b)
            reason = _why_stop(res, previous, contrast(k, res.mask) if min_contrast else 0.0, reference, **opts)
            if reason is not None:
                break
            found[int(k)] = res
            previous, k, reason = res.mask, k + step, "edge"
        stopped[side] = reason
    order = sorted(found)
    return CarriedLesion(slices=np.asarray(order, dtype=np.int64),
                         masks=np.stack([found[k].mask for k in order]),
                         iou=np.asarray([found[k].iou for k in order], dtype=np.float32),
                         start=int(slice_index), stopped=stopped)
