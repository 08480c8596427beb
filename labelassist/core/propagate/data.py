"""Training data for the segmentation net of :mod:`labelassist.core.propagate.propagation`: inputs at a working size,
2.5-D context and the CAM as channels, lesion-centred crops, augmentation and the loss."""

from __future__ import annotations

import numpy as np

from labelassist.core.nets.augment import random_affine_theta
from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD


def _working_size(shape, max_size, depth):
    step = 2**depth
    return int(min(max_size, -(-max(shape) // step) * step))


def _stack_inputs(norm, cam, context, size):
    """(z, C, S, S) float32 tensor: each slice with its ``context`` neighbours (clamped) and the CAM."""
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


def _resize_masks(masks, size):
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32))[:, None]
    return F.interpolate(t, size=(size, size), mode="area" if t.shape[-1] >= size else "bilinear")[:, 0]


def _augment(x, y, w, gen, n_image):
    """Flips, small rotation/scale/shift (inputs, targets and weights alike), intensity jitter on image channels."""
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x, y, w = (torch.where(flip.view(-1, *[1] * (a.ndim - 1)), a.flip(-1), a) for a in (x, y, w))
    theta = random_affine_theta(n, gen, degrees=30, scale=0.3, shift=0.16)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x01 = x * MODEL_STD + MODEL_MEAN  # pad with black (0), not with the mean grey
    x01 = F.grid_sample(x01, grid, align_corners=False, padding_mode="zeros")
    y = F.grid_sample(y[:, None], grid, align_corners=False, padding_mode="zeros")[:, 0]
    w = F.grid_sample(w[:, None], grid, align_corners=False, padding_mode="border")[:, 0]
    img = x01[:, :n_image]
    gamma = torch.exp((torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.6)
    gain = 1 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.3
    offset = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.1
    noise = torch.randn(img.shape, generator=gen) * 0.02
    img = (img.clamp(1e-6, 1) ** gamma) * gain + offset + noise
    x01 = torch.cat([img, x01[:, n_image:]], 1)
    return (x01 - MODEL_MEAN) / MODEL_STD, y, w


def _crop(x, y, w, crop, rng):
    """A ``crop`` square per sample: around a random lesion pixel when there is one (70 % of the time), else anywhere."""
    size = x.shape[-1]
    xs, ys, ws = [], [], []
    for k in range(len(x)):
        fg = (y[k] > 0.5).nonzero()
        if len(fg) and rng.random() < 0.7:
            cy, cx = fg[rng.integers(len(fg))].tolist()
            cy, cx = cy + int(rng.integers(-crop // 3, crop // 3 + 1)), cx + int(rng.integers(-crop // 3, crop // 3 + 1))
        else:
            cy, cx = (int(v) for v in rng.integers(0, size, 2))
        top = int(np.clip(cy - crop // 2, 0, size - crop))
        left = int(np.clip(cx - crop // 2, 0, size - crop))
        win = (slice(top, top + crop), slice(left, left + crop))
        xs.append(x[k][(slice(None), *win)])
        ys.append(y[k][win])
        ws.append(w[k][win])
    import torch

    return torch.stack(xs), torch.stack(ys), torch.stack(ws)


def _loss(logits, y, w):
    import torch.nn.functional as F

    bce = (F.binary_cross_entropy_with_logits(logits, y, reduction="none") * w).sum() / w.sum().clamp_min(1.0)
    p = logits.sigmoid()
    dice = 1 - (2 * (w * p * y).sum() + 1) / ((w * p).sum() + (w * y).sum() + 1)
    return bce + dice
