"""Figures a person looks at: the four layers of a few slices side by side (matplotlib, Agg)."""

from __future__ import annotations

import numpy as np

__all__ = ["layer_overview"]


def layer_overview(image, cams, boundaries, masks, path, *, truth=None, slices=None, titles=None, origin="lower"):
    """Save a PNG: one row per slice with ``image``, ``grad-cam``, ``perimeter`` and ``boundaryfit``.

    ``image`` (z, y, x) in [0, 1]; ``cams`` (z, y, x); ``boundaries`` bool (z, y, x); ``masks`` (z, y, x);
    ``truth`` (z, y, x), optional, drawn as a green contour on the last panel. ``origin``: ``"lower"`` (row 0 at
    the bottom: the demo MRI's axial slices, anterior up) or ``"upper"`` (an ultrasound frame, as stored).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    slices = list(range(min(len(image), 3))) if slices is None else list(slices)
    fig, axes = plt.subplots(len(slices), 4, figsize=(12, 3.1 * len(slices)), squeeze=False)
    names = ("image", "grad-cam", "perimeter", "boundaryfit")
    for row, z in zip(axes, slices):
        img = image[z]
        for ax in row:
            ax.imshow(img, cmap="gray", origin=origin, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        row[1].imshow(cams[z], cmap="jet", alpha=0.45, origin=origin, vmin=0, vmax=1)
        edge = np.ma.masked_where(~boundaries[z].astype(bool), boundaries[z])
        row[2].imshow(edge, cmap="autumn", origin=origin, interpolation="nearest")
        fit = np.ma.masked_where(masks[z] == 0, masks[z])
        row[3].imshow(fit, cmap="cool", alpha=0.55, origin=origin, interpolation="nearest", vmin=0, vmax=1)
        if truth is not None and truth[z].any():
            row[3].contour(truth[z], [0.5], colors="lime", linewidths=1.0)
        label = titles[z] if titles is not None else f"slice {z}"
        for ax, name in zip(row, names):
            ax.set_title(f"{name} — {label}", fontsize=9)
    fig.tight_layout()
    fig.savefig(str(path), dpi=80)
    plt.close(fig)
    return path
