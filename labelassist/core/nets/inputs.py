"""Intensities to what the classifier sees, and maps back to the slice grid (docs/architecture.md, pipeline maths)."""

from __future__ import annotations

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["normalise_volume", "normalisation_ranges", "apply_normalisation", "to_model_input", "check_channels", "resize_to",
           "MODEL_MEAN", "MODEL_STD"]

# After the [0, 1] robust scaling, the model sees (x - MODEL_MEAN) / MODEL_STD (stored in checkpoints).
MODEL_MEAN = 0.5
MODEL_STD = 0.25


def normalise_volume(array, *, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Robust scaling to [0, 1]: clip to the ``low``-``high`` percentiles of the whole volume.

    Percentiles are taken over all slices (per channel for a (z, y, x, c) array), so a slice without a
    lesion is not stretched into one. NaN becomes 0; a constant volume becomes zeros.
    """
    if not 0 <= low < high <= 100:
        raise ParameterError(f"low and high must satisfy 0 <= low < high <= 100, got {low}, {high}")
    a = np.asarray(array, dtype=np.float32)
    out = np.array(a, dtype=np.float32, copy=True)  # the one full-size allocation; the rest is in place
    apply_normalisation(out, normalisation_ranges(out, low=low, high=high))
    return out


def _channels(ndim: int, n: int) -> list:
    return [slice(None)] if ndim <= 3 else [(..., c) for c in range(n)]


def normalisation_ranges(array, *, low: float = 0.5, high: float = 99.5) -> list:
    """Per channel, the ``(lo, hi)`` percentiles :func:`normalise_volume` scales ``array`` with (None where no
    voxel is finite), from a sample of at most ~2M voxels."""
    a = np.asarray(array, dtype=np.float32)
    out = []
    for ch in _channels(a.ndim, a.shape[-1]):
        o = a[ch]
        sample = o.ravel()[:: max(1, o.size // 2_000_000)]  # percentiles from at most ~2M voxels
        sample = sample[np.isfinite(sample)]
        out.append(None if sample.size == 0 else tuple(float(v) for v in np.percentile(sample, [low, high])))
    return out


def apply_normalisation(out: np.ndarray, ranges: list) -> np.ndarray:
    """Scale float32 ``out`` (a volume or some of its slices, channels last) in place to [0, 1] with the
    per-channel ``ranges`` of :func:`normalisation_ranges`: NaN and -Inf to the low end, +Inf to the high."""
    channels = [slice(None)] if len(ranges) == 1 else [(..., c) for c in range(len(ranges))]
    for ch, rng in zip(channels, ranges):
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


def to_model_input(slices, *, input_size: int, in_channels: int):
    """Slices (N, H, W[, C]) in [0, 1] to the model's tensor (N, in_channels, S, S), normalised.

    Grey is replicated when the model expects 3 channels; C channels are stacked when C == in_channels.
    """
    import torch
    import torch.nn.functional as F

    x = np.asarray(slices, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ParameterError(f"slices must be (N, H, W) or (N, H, W, C), got shape {np.shape(slices)}")
    check_channels(x.shape[-1], in_channels)
    if x.shape[-1] != in_channels:  # grey replicated to the 3 channels of an RGB-shaped model
        x = np.repeat(x, in_channels, axis=-1)
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    if t.shape[-2:] != (input_size, input_size):
        t = F.interpolate(t, size=(input_size, input_size), mode="bilinear", align_corners=False,
                          antialias=max(t.shape[-2:]) > input_size)
    return (t - MODEL_MEAN) / MODEL_STD


def check_channels(channels: int, in_channels: int) -> None:
    """A model sees ``in_channels``; grey (1 channel) may be replicated to 3, nothing else is adapted."""
    if channels != in_channels and not (channels == 1 and in_channels == 3):
        raise ParameterError(
            f"the model expects {in_channels} channel(s) but the volume has {channels}; "
            f"choose a channel (--channel) or a model trained on {channels} channel(s)"
        )


def resize_to(maps, shape) -> np.ndarray:
    """Maps (N, S, S) back to the slice grid (N, H, W), bilinear."""
    import torch
    import torch.nn.functional as F

    m = np.asarray(maps, dtype=np.float32)
    if m.shape[-2:] == tuple(shape):
        return m
    t = F.interpolate(torch.from_numpy(m)[:, None], size=tuple(shape), mode="bilinear", align_corners=False)
    return t[:, 0].numpy()
