"""What the segmenter is fed, for :mod:`labelassist.core.propagate.propagation`: inputs at a working size
(each slice with its neighbours as 2.5-D context and, optionally, the CAM as channels), lesion-centred
crops, augmentation and the loss.

Every helper takes tensors and returns tensors; random draws come from the generator passed in, in a
fixed order, so a seed reproduces a training run exactly.
"""

from __future__ import annotations

import numpy as np

from labelassist.core.nets.augment import random_affine_theta
from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD

__all__ = ["working_size", "stack_inputs", "resize_masks", "augment", "crop_batch", "lesion_weights",
           "segmenter_loss", "LESION_CROP_SHARE", "LESION_WEIGHT_FLOOR"]

# -- augmentation (lesions in MRI and ultrasound come at any angle, size and brightness) ---------------
# Chance that a sample is mirrored left-right.
FLIP_CHANCE = 0.5
# Rotation within +-15 degrees, zoom within 1 +- 0.15, shift within +-0.08 of the image's span [-1, 1].
ROTATION_DEGREES = 30
ZOOM_RANGE = 0.3
SHIFT_RANGE = 0.16
# Intensity jitter of the image channels (not of the CAM): gamma exp(+-0.3), gain 1 +- 0.15,
# offset +-0.05 and Gaussian noise of standard deviation 0.02, all on the [0, 1] scale.
LOG_GAMMA_RANGE = 0.6
GAIN_RANGE = 0.3
OFFSET_RANGE = 0.1
NOISE_STD = 0.02
# Intensities are clamped to at least this before the gamma (0 ** gamma has no gradient).
GAMMA_FLOOR = 1e-6

# -- crops ---------------------------------------------------------------------------------------------
# Share of crops centred near a lesion pixel when the sample has one (the rest anywhere on the slice).
LESION_CROP_SHARE = 0.7
# A lesion-centred crop's centre is moved by about crop / CROP_JITTER_PARTS pixels at most each way, so the
# lesion is not always in the middle.
CROP_JITTER_PARTS = 3

# -- loss ----------------------------------------------------------------------------------------------
# Smoothing of the soft Dice term (pixels): an empty target and an empty prediction score 0 loss.
DICE_SMOOTH = 1
# Floor of the weight sum the binary cross-entropy is divided by (a batch of weak targets only).
MIN_WEIGHT_SUM = 1.0
# Least share of a batch's cross-entropy weight that its lesion pixels hold (issue 27): their weight is raised to
# it when the batch holds less lesion. Unweighted, the lesion's pull is its share of the batch, and that share
# falls as the reviewer reviews more: lesion-free slices take 3/8 of every batch and small lesion ends dilute the
# rest (hard demo MRI, 15 reviewed slices: 40 lesion pixels a batch, 0.12 %, against 110 with its 3 largest lesion
# slices alone). The net then stayed on the all-background plateau for its 200 steps and predicted no lesion
# anywhere. Batches of large lesions (several % of the batch) are not reweighted.
LESION_WEIGHT_FLOOR = 0.05
# At most this many times their own weight: a batch whose only lesion is a speck of soft target (a resampled
# lesion's edge) does not hand it a twentieth of the batch. Hard demo MRI, 15 reviewed slices: about 40.
LESION_WEIGHT_MAX = 100.0
# Lesion weight below which a batch counts as lesion-free in lesion_weights (keeps its scale finite).
LESION_WEIGHT_EPS = 1e-6


def working_size(shape, max_size: int, depth: int) -> int:
    """The side (pixels) the segmenter works at: the slice's longest side rounded up to a multiple of
    ``2 ** depth`` (the U-Net halves it ``depth`` times), at most ``max_size``."""
    step = 2**depth
    return int(min(max_size, -(-max(shape) // step) * step))


def stack_inputs(norm, cam, context: int, size: int):
    """(z, C, S, S) float32 tensor: each slice with its ``context`` neighbours (clamped) and the CAM.

    ``norm`` is the volume scaled to [0, 1] ((z, y, x) or (z, y, x, c)); image channels are normalised with
    ``MODEL_MEAN``/``MODEL_STD``, the CAM in [0, 1] is mapped to [-1, 1].
    """
    import torch
    import torch.nn.functional as F

    z = norm.shape[0]
    vol = norm if norm.ndim == 4 else norm[..., None]  # (z, y, x, c)
    t = torch.from_numpy(np.ascontiguousarray(vol.transpose(0, 3, 1, 2)))  # (z, c, y, x)
    t = (F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=max(t.shape[-2:]) > size)
         - MODEL_MEAN) / MODEL_STD
    parts = [t[np.clip(np.arange(z) + d, 0, z - 1)] for d in range(-context, context + 1)]
    if cam is not None:
        c = torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32))[:, None]
        parts.append(F.interpolate(c, size=(size, size), mode="bilinear", align_corners=False) * 2 - 1)
    return torch.cat(parts, 1).contiguous()


def resize_masks(masks, size: int):
    """Masks (n, y, x) to soft targets (n, S, S) in [0, 1]: area-averaged down, bilinear up."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32))[:, None]
    return F.interpolate(t, size=(size, size), mode="area" if t.shape[-1] >= size else "bilinear")[:, 0]


def augment(x, y, w, gen, n_image: int):
    """Flips, small rotation/scale/shift (inputs, targets and weights alike), intensity jitter on the first
    ``n_image`` channels; draws from the torch generator ``gen``."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < FLIP_CHANCE
    x, y, w = (torch.where(flip.view(-1, *[1] * (a.ndim - 1)), a.flip(-1), a) for a in (x, y, w))
    theta = random_affine_theta(n, gen, degrees=ROTATION_DEGREES, scale=ZOOM_RANGE, shift=SHIFT_RANGE)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x01 = x * MODEL_STD + MODEL_MEAN  # pad with black (0), not with the mean grey
    x01 = F.grid_sample(x01, grid, align_corners=False, padding_mode="zeros")
    y = F.grid_sample(y[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]
    w = F.grid_sample(w[:, None], grid, align_corners=False, padding_mode="border")[:, 0]
    img = x01[:, :n_image]
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * LOG_GAMMA_RANGE)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * GAIN_RANGE
    offset = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * OFFSET_RANGE
    noise = torch.randn(img.shape, generator=gen) * NOISE_STD
    img = (img.clamp(GAMMA_FLOOR, 1) ** gamma) * gain + offset + noise
    x01 = torch.cat([img, x01[:, n_image:]], 1)
    return (x01 - MODEL_MEAN) / MODEL_STD, y, w


def crop_batch(x, y, w, crop: int, rng):
    """A ``crop`` square per sample: near a random lesion pixel when there is one (:data:`LESION_CROP_SHARE`
    of the time), else anywhere; draws from the numpy generator ``rng``."""
    import torch

    size = x.shape[-1]
    low, high = -crop // CROP_JITTER_PARTS, crop // CROP_JITTER_PARTS + 1  # floor division: -22 to 21 for 64
    xs, ys, ws = [], [], []
    for k in range(len(x)):
        fg = (y[k] > 0.5).nonzero()
        if len(fg) and rng.random() < LESION_CROP_SHARE:
            cy, cx = fg[rng.integers(len(fg))].tolist()
            cy, cx = cy + int(rng.integers(low, high)), cx + int(rng.integers(low, high))
        else:
            cy, cx = (int(v) for v in rng.integers(0, size, 2))
        top = int(np.clip(cy - crop // 2, 0, size - crop))
        left = int(np.clip(cx - crop // 2, 0, size - crop))
        win = (slice(top, top + crop), slice(left, left + crop))
        xs.append(x[k][(slice(None), *win)])
        ys.append(y[k][win])
        ws.append(w[k][win])
    return torch.stack(xs), torch.stack(ys), torch.stack(ws)


def lesion_weights(y, w, truth=None, floor: float = LESION_WEIGHT_FLOOR):
    """Per-pixel weights ``w`` with the reviewer's lesion (``w * y`` of the samples ``truth`` marks, all when None)
    scaled so that it holds at least ``floor`` of the batch's weight (:data:`LESION_WEIGHT_FLOOR`; at most
    :data:`LESION_WEIGHT_MAX` times); ``w`` itself when it already does or the batch shows none.

    Weak targets (``truth`` False) are not scaled: a pseudo-label is a hint at a low weight, and scaling it would
    scale its false lesions too. A soft target keeps its meaning (a pixel's best probability is still its target):
    only how much it counts changes.
    """
    t = y if truth is None else y * truth.view(-1, *[1] * (y.ndim - 1)).to(y.dtype)
    lesion = (w * t).sum()
    rest = w.sum() - lesion
    scale = (floor / (1 - floor) * rest / lesion.clamp_min(LESION_WEIGHT_EPS)).clamp(1.0, LESION_WEIGHT_MAX)
    return w * (1 + (scale - 1) * t)


def segmenter_loss(logits, y, w, truth=None):
    """Weighted binary cross-entropy (the reviewer's lesion weighted up to :data:`LESION_WEIGHT_FLOOR` of the batch,
    :func:`lesion_weights`; ``truth`` (n,) bool marks the samples of reviewed slices) plus weighted soft Dice of
    ``logits`` against soft targets ``y``."""
    import torch.nn.functional as F

    bce = ((F.binary_cross_entropy_with_logits(logits, y, reduction="none") * lesion_weights(y, w, truth)).sum()
           / w.sum().clamp_min(MIN_WEIGHT_SUM))
    p = logits.sigmoid()
    dice = 1 - (2 * (w * p * y).sum() + DICE_SMOOTH) / ((w * p).sum() + (w * y).sum() + DICE_SMOOTH)
    return bce + dice
