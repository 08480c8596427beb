"""The volume as the pipeline sees it, normalised slice by slice on demand instead of copied whole.

:func:`~labelassist.core.nets.inputs.normalise_volume` copies the whole volume (4 bytes a voxel) to scale it;
the pipeline reads each slice twice (CAM batch, perimeter map), so it keeps the volume's percentile range and
scales the slices it reads: the same operations on the same float32 values, so the same bytes
(tests/core/test_pipeline_memory.py holds it to ``normalise_volume``; the two must change together).
"""

from __future__ import annotations

import numpy as np

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
        self.ranges = ranges_of(self.array, low=low, high=high)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        out = np.array(self.array[index], dtype=np.float32, copy=True)
        channels = [slice(None)] if self.ndim <= 3 else [(..., c) for c in range(self.shape[-1])]
        for ch, rng in zip(channels, self.ranges):
            o = out[ch]
            if rng is None:
                o[...] = 0.0
                continue
            lo, hi = rng
            np.nan_to_num(o, copy=False, nan=lo, posinf=hi, neginf=lo)
            if hi <= lo:
                o[...] = 0.0
                continue
            o -= lo
            o /= hi - lo
            np.clip(o, 0.0, 1.0, out=o)
        return out

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def ranges_of(array, *, low: float = 0.5, high: float = 99.5) -> list:
    """Per channel, the ``(lo, hi)`` percentile range :func:`normalise_volume` scales ``array`` with (None: no
    finite voxel), from its sample of at most ~2M voxels."""
    a = np.asarray(array, dtype=np.float32)
    channels = [slice(None)] if a.ndim <= 3 else [(..., c) for c in range(a.shape[-1])]
    out = []
    for ch in channels:
        o = a[ch]
        sample = o.ravel()[:: max(1, o.size // 2_000_000)]
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            out.append(None)
            continue
        lo, hi = (float(v) for v in np.percentile(sample, [low, high]))
        out.append((lo, hi))
    return out
