"""The volume as the pipeline sees it, normalised slice by slice on demand instead of copied whole.

:func:`~labelassist.core.nets.inputs.normalise_volume` copies the whole volume (4 bytes a voxel) to scale it;
the pipeline reads each slice twice (CAM batch, perimeter map), so it keeps the volume's percentile range and
scales the slices it reads with the same two functions (``normalisation_ranges``, ``apply_normalisation``),
so the same bytes (tests/core/test_pipeline_memory.py holds it to ``normalise_volume``).
"""

from __future__ import annotations

import numpy as np

from labelassist.core.nets.inputs import apply_normalisation, normalisation_ranges

__all__ = ["NormalisedVolume"]


class NormalisedVolume:
    """``normalise_volume(array)`` read by index: ``nv[i]``, ``nv[[i, j]]``, ``nv[a:b]`` (float32 copies).

    Parameters
    ----------
    array : ndarray (z, y, x) or (z, y, x, c)
        The volume (not copied; must not change while this is used).
    low, high : float, keyword-only
        The percentiles, as :func:`~labelassist.core.nets.inputs.normalise_volume` takes them.
    """

    def __init__(self, array, *, low: float = 0.5, high: float = 99.5):
        self.array = np.asarray(array)
        self.shape, self.ndim = self.array.shape, self.array.ndim
        self.ranges = normalisation_ranges(self.array, low=low, high=high)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        return apply_normalisation(np.array(self.array[index], dtype=np.float32, copy=True), self.ranges)

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)
