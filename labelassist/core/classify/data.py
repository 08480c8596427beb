"""The classifier's training data: slice labels from masks, checks, the split by volume, the model's input
tensors and augmentation for MRI and ultrasound."""

from __future__ import annotations

import hashlib

import numpy as np

from labelassist.core.nets.augment import random_affine_theta
from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD, normalise_volume, to_model_input
from labelassist.errors import ParameterError

__all__ = ["labels_from_mask", "data_hash", "check_training_data", "split_volumes", "stack_slices", "augment"]

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


def data_hash(volumes, labels) -> str:
    """A short fingerprint of a training set (shapes, a sample of slices, all labels) for the training record."""
    h = hashlib.sha256()
    for v, lab in zip(volumes, labels):
        a = np.ascontiguousarray(v, dtype=np.float32)
        h.update(str(a.shape).encode())
        h.update(a[:: max(1, len(a) // HASH_SLICES)].tobytes())
        h.update(np.asarray(lab, np.int64).tobytes())
    return h.hexdigest()[:16]


def check_training_data(volumes, labels) -> tuple[list[np.ndarray], int]:
    """``(labels as int64 arrays, channels per volume)`` when every volume has one 0/1 label per slice, both
    classes occur and all volumes have the same channel count."""
    labels = [np.asarray(lab, np.int64).ravel() for lab in labels]
    for i, (v, lab) in enumerate(zip(volumes, labels)):
        if len(v) != len(lab):
            raise ParameterError(f"volume {i} has {len(v)} slices but {len(lab)} labels")
    all_y = np.concatenate(labels)
    if all_y.sum() == 0:
        raise ParameterError("every slice is labelled negative: the classifier needs slices that show a lesion")
    if all_y.sum() == len(all_y):
        raise ParameterError("every slice is labelled positive: the classifier needs slices without a lesion too")
    channels = {1 if v.ndim == 3 else v.shape[-1] for v in volumes}
    if len(channels) > 1:
        raise ParameterError(f"volumes have different channel counts {sorted(channels)}; train on one kind")
    return labels, channels.pop()


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


def stack_slices(volumes, labels, idx, *, input_size: int, channels: int):
    """``(x, y, volume of each slice)`` of the volumes ``idx``: each normalised on its own, as the pipeline does;
    ``(None, None, None)`` when ``idx`` is empty."""
    import torch

    xs, ys, vs = [], [], []
    for i in idx:
        norm = normalise_volume(volumes[i])
        xs.append(to_model_input(norm, input_size=input_size, in_channels=channels if channels > 1 else 1))
        ys.append(torch.from_numpy(labels[i]))
        vs.append(np.full(len(labels[i]), i))
    if not xs:
        return None, None, None
    return torch.cat(xs), torch.cat(ys), np.concatenate(vs)


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
