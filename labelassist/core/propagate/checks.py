"""Checks of what :func:`~labelassist.core.propagate.propagation.propagate` and
:func:`~labelassist.core.propagate.propagation.predict` are given: each failure is one line that names the
argument and what to give instead."""

from __future__ import annotations

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["check_image", "check_cam", "check_options", "check_previous", "slice_index"]


def check_image(image) -> np.ndarray:
    """``image`` as an array, when it is a volume (z, y, x) or (z, y, x, c)."""
    a = np.asarray(image)
    if a.ndim not in (3, 4):
        raise ParameterError(f"image must be a volume (z, y, x) or (z, y, x, c), got shape {a.shape}")
    return a


def check_cam(cam, shape, meta) -> np.ndarray | None:
    """The CAM the segmenter of ``meta`` takes (NaN as 0), or None when it was trained without one."""
    if bool(meta.get("use_cam")) and cam is None:
        raise ParameterError("this segmenter was trained with the CAM as an input: pass cam (z, y, x) too")
    if not meta.get("use_cam"):
        return None
    cam = np.asarray(cam, dtype=np.float32)
    if cam.shape != tuple(shape):
        raise ParameterError(f"cam has shape {cam.shape} but the volume's slices are {tuple(shape)}; they must match")
    return np.nan_to_num(cam)


def check_previous(previous_masks, shape) -> np.ndarray:
    """``previous_masks`` as an array of the volume's shape (z, y, x)."""
    a = np.asarray(previous_masks)
    if a.shape != tuple(shape):
        raise ParameterError(f"previous_masks has shape {a.shape} but the volume is {tuple(shape)}: pass the "
                             "previous propagation's masks of this volume")
    return a


def slice_index(i, z: int, name: str) -> int:
    """``i`` as a slice index of a volume of ``z`` slices; ``name`` is the argument it came from."""
    try:
        k = int(i)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must hold slice indices, got {i!r}") from None
    if not 0 <= k < z:
        raise ParameterError(f"{name} slice {i} is outside the volume's 0-{z - 1}")
    return k


def check_options(reviewed, *, new: bool, weak, shape, weak_weight, threshold, context, batch_size, steps,
                  gate_margin: float = 0.0) -> None:
    """The options of :func:`~labelassist.core.propagate.propagation.propagate`, after its reviewed slices.

    ``reviewed`` is a :class:`~labelassist.core.propagate.targets.ReviewedSlices`; a ``new`` segmenter needs a
    reviewed slice that shows a lesion (one from earlier volumes can predict without).
    """
    if new and not reviewed.indices:
        raise ParameterError("reviewed is empty: accept or correct at least one slice that shows a lesion first")
    if new and not reviewed.positive.any():
        raise ParameterError("no reviewed slice shows a lesion: accept or correct at least one slice with a lesion "
                             "first")
    if weak is not None and np.shape(weak) != tuple(shape):
        raise ParameterError(f"weak has shape {np.shape(weak)} but the volume is {tuple(shape)}; they must match")
    if not 0.0 <= weak_weight <= 1.0 or not 0.0 < threshold < 1.0:
        raise ParameterError(f"weak_weight must be in [0, 1] and threshold in (0, 1); got {weak_weight}, {threshold}")
    if context < 0 or batch_size < 1 or (steps is not None and steps < 0):
        raise ParameterError(f"context and steps must be >= 0 and batch_size >= 1; got {context}, {steps}, "
                             f"{batch_size}")
    if not gate_margin >= 0.0:
        raise ParameterError(f"gate_margin must be >= 0 (inf: no gate); got {gate_margin}")
