"""The classifier's training data: slice labels from masks, checks, the split by volume, the model's inputs of
each volume, the slices of several volumes gathered batch by batch, and augmentation for MRI and ultrasound."""

from __future__ import annotations

import hashlib

import numpy as np

from labelassist.core.nets.augment import random_affine_theta
from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD, normalise_volume, to_model_input
from labelassist.errors import ParameterError

__all__ = ["labels_from_mask", "data_hash", "hash_sample", "data_hash_of_samples", "check_training_data",
           "check_model_inputs", "split_volumes", "model_inputs", "SliceSet", "augment"]

# -- augmentation (lesions come at any side, angle, size and brightness) -------------------------------
# Chances that a sample is mirrored left-right, and upside down (rarer: anatomy has an up).
FLIP_H_CHANCE = 0.5
FLIP_V_CHANCE = 0.2
# Rotation within +-10 degrees, zoom within 1 +- 0.1, shift within +-0.05 of the image's span [-1, 1].
ROTATION_DEGREES = 20
ZOOM_RANGE = 0.2
SHIFT_RANGE = 0.1
# Intensity jitter on the [0, 1] scale: gamma exp(+-0.25), gain 1 +- 0.1, offset +-0.05.
LOG_GAMMA_RANGE = 0.5
GAIN_RANGE = 0.2
OFFSET_RANGE = 0.1
# Intensities are clamped to at least this before the gamma (0 ** gamma has no gradient).
GAMMA_FLOOR = 1e-6

# -- the split -----------------------------------------------------------------------------------------
# Random splits tried for a validation set that holds both classes before the last one is taken.
SPLIT_TRIES = 50
# Slices per volume that enter data_hash (every len // 8-th): enough to tell data sets apart, fast.
HASH_SLICES = 8


def labels_from_mask(mask) -> np.ndarray:
    """Image-level labels of a mask volume (z, y, x): a slice is positive when it has any lesion voxel."""
    m = np.asarray(mask)
    return (np.nan_to_num(m.reshape(len(m), -1)) > 0.5).any(axis=1).astype(np.int64)


def hash_sample(volume) -> tuple[tuple, np.ndarray]:
    """``(shape, slices)`` of a volume that enter :func:`data_hash`: every ``len // HASH_SLICES``-th slice, as float32."""
    a = np.asarray(volume)
    return a.shape, np.ascontiguousarray(a[:: max(1, len(a) // HASH_SLICES)], dtype=np.float32)


def data_hash_of_samples(samples, labels) -> str:
    """:func:`data_hash` from each volume's :func:`hash_sample` (an iterable, so they can come one at a time)."""
    h = hashlib.sha256()
    for (shape, sample), lab in zip(samples, labels):
        h.update(str(tuple(shape)).encode())
        h.update(np.ascontiguousarray(sample, dtype=np.float32).tobytes())
        h.update(np.asarray(lab, np.int64).tobytes())
    return h.hexdigest()[:16]


def data_hash(volumes, labels) -> str:
    """A short fingerprint of a training set (shapes, a sample of slices, all labels) for the training record."""
    return data_hash_of_samples((hash_sample(v) for v in volumes), labels)


def _check_labels(lengths, labels) -> list[np.ndarray]:
    """Labels as int64 arrays when each of the volumes with ``lengths`` slices has one 0/1 label per slice and
    both classes occur."""
    labels = [np.asarray(lab, np.int64).ravel() for lab in labels]
    for i, (n, lab) in enumerate(zip(lengths, labels)):
        if n != len(lab):
            raise ParameterError(f"volume {i} has {n} slices but {len(lab)} labels")
    all_y = np.concatenate(labels)
    if all_y.sum() == 0:
        raise ParameterError("every slice is labelled negative: the classifier needs slices that show a lesion")
    if all_y.sum() == len(all_y):
        raise ParameterError("every slice is labelled positive: the classifier needs slices without a lesion too")
    return labels


def _one_channel_count(channels) -> int:
    channels = set(channels)
    if len(channels) > 1:
        raise ParameterError(f"volumes have different channel counts {sorted(channels)}; train on one kind")
    return channels.pop()


def check_training_data(volumes, labels) -> tuple[list[np.ndarray], int]:
    """``(labels as int64 arrays, channels per volume)`` when every volume has one 0/1 label per slice, both
    classes occur and all volumes have the same channel count."""
    labels = _check_labels([len(v) for v in volumes], labels)
    return labels, _one_channel_count(1 if v.ndim == 3 else v.shape[-1] for v in volumes)


def check_model_inputs(inputs, labels) -> tuple[list[np.ndarray], int]:
    """:func:`check_training_data` for each volume's :func:`model_inputs` (n, C, s, s): also one input size."""
    for i, x in enumerate(inputs):
        if len(x.shape) != 4 or x.shape[-1] != x.shape[-2]:
            raise ParameterError(f"inputs {i} has shape {tuple(x.shape)}; give each volume's model_inputs (n, C, s, s)")
    sizes = {int(x.shape[-1]) for x in inputs}
    if len(sizes) > 1:
        raise ParameterError(f"inputs have different sizes {sorted(sizes)}; compute them all at one input_size")
    labels = _check_labels([len(x) for x in inputs], labels)
    return labels, _one_channel_count(int(x.shape[1]) for x in inputs)


def split_volumes(n_volumes: int, val_fraction: float, labels, rng) -> tuple[list[int], list[int]]:
    """``(training, validation)`` volume indices: ``val_fraction`` of the VOLUMES held out (never slices of a
    training volume), preferring a validation set that holds both classes; drawn from ``rng``."""
    if n_volumes < 2 or val_fraction <= 0:
        return list(range(n_volumes)), []
    n_val = min(max(1, int(round(n_volumes * val_fraction))), n_volumes - 1)
    for _ in range(SPLIT_TRIES):
        order = rng.permutation(n_volumes)
        val = sorted(order[:n_val].tolist())
        ys = np.concatenate([labels[i] for i in val])
        if 0 < ys.sum() < len(ys):
            break
    return sorted(order[n_val:].tolist()), val


def model_inputs(volume, *, input_size: int) -> np.ndarray:
    """The model's inputs of one volume (z, y, x[, c]): float32 (z, c, input_size, input_size), the volume
    normalised on its own as the pipeline does (grey stays one channel; batches repeat it to three)."""
    norm = normalise_volume(volume)
    channels = 1 if norm.ndim == 3 else norm.shape[-1]
    return to_model_input(norm, input_size=input_size, in_channels=channels).numpy()


class SliceSet:
    """The slices of the volumes ``idx`` as one set, gathered from each volume's inputs batch by batch.

    ``inputs[i]`` is volume i's :func:`model_inputs` or anything with its ``shape`` that indexing by an integer
    array reads rows of (a memory map, a reader of a file): only the rows of a batch are ever copied.
    ``set[key]`` (an index array, tensor or slice) is a float32 tensor; ``y`` the labels (int64 tensor) and
    ``volume`` the volume index of each slice.
    """

    def __init__(self, inputs, labels, idx):
        import torch

        self._arrays = [inputs[i] for i in idx]
        self._starts = np.cumsum([0] + [len(labels[i]) for i in idx])
        self.y = torch.from_numpy(np.concatenate([labels[i] for i in idx]))
        self.volume = np.concatenate([np.full(len(labels[i]), i) for i in idx])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, key):
        import torch

        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key, np.int64).reshape(-1)
        which = np.searchsorted(self._starts, rows, side="right") - 1
        out = np.empty((len(rows), *self._arrays[0].shape[1:]), np.float32)
        for v in np.unique(which):
            sel = which == v
            out[sel] = self._arrays[v][rows[sel] - self._starts[v]]
        return torch.from_numpy(out)


def augment(x, gen):
    """Flips, small rotation and scale, intensity jitter (gain, offset, gamma) on a normalised batch; draws
    from the torch generator ``gen``."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    flip_h = torch.rand(n, generator=gen) < FLIP_H_CHANCE
    flip_v = torch.rand(n, generator=gen) < FLIP_V_CHANCE
    x = torch.where(flip_h[:, None, None, None], x.flip(-1), x)
    x = torch.where(flip_v[:, None, None, None], x.flip(-2), x)
    theta = random_affine_theta(n, gen, degrees=ROTATION_DEGREES, scale=ZOOM_RANGE, shift=SHIFT_RANGE)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x01 = (x * MODEL_STD + MODEL_MEAN).clamp(0, 1)
    x01 = F.grid_sample(x01, grid, align_corners=False, padding_mode="zeros")
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * LOG_GAMMA_RANGE)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * GAIN_RANGE
    offset = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * OFFSET_RANGE
    x01 = (x01.clamp(GAMMA_FLOOR, 1) ** gamma) * gain + offset
    return (x01 - MODEL_MEAN) / MODEL_STD
