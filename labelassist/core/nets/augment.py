"""Random geometry shared by the two trainings (the classifier's and the segmenter's)."""

from __future__ import annotations

import numpy as np

__all__ = ["random_affine_theta"]


def random_affine_theta(n: int, gen, *, degrees: float, scale: float, shift: float):
    """``n`` affine matrices (n, 2, 3) for ``F.affine_grid``: rotation within ±``degrees``/2, zoom within
    1 ± ``scale``/2, shift within ±``shift``/2 (in grid units, the image spans [-1, 1]); drawn from ``gen``."""
    import torch

    angle = (torch.rand(n, generator=gen) - 0.5) * np.deg2rad(degrees)
    zoom = 1 + (torch.rand(n, generator=gen) - 0.5) * scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / zoom
    theta[:, 0, 1] = -torch.sin(angle) / zoom
    theta[:, 1, 0] = torch.sin(angle) / zoom
    theta[:, 1, 1] = torch.cos(angle) / zoom
    theta[:, :, 2] = (torch.rand(n, 2, generator=gen) - 0.5) * shift
    return theta
