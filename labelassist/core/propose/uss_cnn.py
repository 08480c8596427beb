"""The papers' small unsupervised segmentation CNN (docs/architecture.md, pipeline maths), trained per image.

conv3x3-BN-ReLU, then conv1x1-BN-ReLU twice, then a 1x1 classifier over ``n_channels`` clusters. Each
step: the argmax cluster of every pixel, replaced by the majority cluster inside its superpixel, is the
target of a cross-entropy step. It stops after ``steps`` or when fewer than ``min_clusters`` clusters
remain. The result is the connected components of the final clusters.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labelassist.errors import ParameterError

__all__ = ["refine_clusters"]


def _net(in_ch: int, n_channels: int):
    import torch.nn as nn

    def block(i, o, k):
        return [nn.Conv2d(i, o, k, padding=k // 2), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(in_ch, n_channels, 3), *block(n_channels, n_channels, 1), *block(n_channels, n_channels, 1),
        nn.Conv2d(n_channels, n_channels, 1), nn.BatchNorm2d(n_channels),
    )


def _majority(target: np.ndarray, superpixels: np.ndarray, n_channels: int) -> np.ndarray:
    """Replace every pixel's cluster by the most frequent cluster of its superpixel."""
    n_sp = int(superpixels.max()) + 1
    votes = np.zeros((n_sp, n_channels), np.int64)
    np.add.at(votes, (superpixels.ravel(), target.ravel()), 1)
    return votes.argmax(axis=1)[superpixels]


def refine_clusters(image, superpixels, *, steps: int = 30, n_channels: int = 32, min_clusters: int = 3,
                    lr: float = 0.1, seed: int = 0) -> np.ndarray:
    """Clusters of ``image`` refined by the unsupervised CNN; int32 labels ``1..n`` (connected components).

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, 3) in [0, 1]
    superpixels : ndarray of int (H, W)
    steps, n_channels, min_clusters, lr, seed
        Training steps, feature/cluster channels, the stop criterion, SGD learning rate, torch seed.
    """
    import torch

    if int(steps) < 1 or int(n_channels) < 2 or int(min_clusters) < 1:
        raise ParameterError(
            f"steps must be >= 1, n_channels >= 2 and min_clusters >= 1; got {steps}, {n_channels}, {min_clusters}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        img = np.asarray(image, np.float32)
        x = torch.from_numpy(img[None, None] if img.ndim == 2 else img.transpose(2, 0, 1)[None].copy())
        net = _net(x.shape[1], n_channels)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        sp = np.asarray(superpixels)
        sp = sp - sp.min()
        clusters = None
        net.train()
        for _ in range(steps):
            opt.zero_grad()
            out = net(x)[0]  # (C, H, W)
            clusters = out.argmax(0).numpy()
            if len(np.unique(clusters)) < min_clusters:
                break
            target = torch.from_numpy(_majority(clusters, sp, n_channels))
            loss = loss_fn(out.permute(1, 2, 0).reshape(-1, n_channels), target.reshape(-1))
            loss.backward()
            opt.step()
    labels = np.zeros(clusters.shape, np.int32)
    offset = 0
    for c in np.unique(clusters):  # connected components of each cluster
        comp, n = ndimage.label(clusters == c)
        labels[comp > 0] = comp[comp > 0] + offset
        offset += n
    return labels
