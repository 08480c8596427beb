"""npe2 writer: a labels layer to NIfTI on the source's grid, with the source's header (through io)."""

from __future__ import annotations

from labelassist.io import save_labels
from labelassist.napari._geometry import volume_for_writer

__all__ = ["write_labels"]


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Write a labels layer (``data`` (z, y, x) or (y, x)) to ``path`` (.nii / .nii.gz), atomically.

    A layer made by labelassist carries the source's geometry and NIfTI header in its metadata; any
    other layer gets the affine of its napari transform.
    """
    like = volume_for_writer(data, meta)
    labels = data if getattr(data, "ndim", 0) == 3 else data[None]
    return [str(save_labels(labels, path, like=like))]
