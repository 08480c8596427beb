"""npe2 reader: every format :func:`labelassist.io.load_volume` reads, as an ``image`` layer that carries
the volume's world geometry (affine) and, in its metadata, the Volume and its header."""

from __future__ import annotations

from pathlib import Path


from labelassist.core.display import body_window, window_presets
from labelassist.io.orientation import is_display_image
from labelassist.io import Volume, load_volume
from labelassist.io.formats.table import by_suffix
from labelassist.napari._geometry import GEOMETRY_KEY, VOLUME_KEY, axis_labels, layer_geometry, napari_affine

__all__ = ["get_reader", "read", "image_layer_data"]


def get_reader(path):
    """Return :func:`read` for one path that labelassist reads: a folder (a DICOM series or images) or a
    file whose suffix is one of :data:`labelassist.io.formats.table.READABLE_SUFFIXES`; else None."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if p.is_dir() or by_suffix(p) is not None:
        return read
    return None


def image_layer_data(volume: Volume, *, name: str = "image") -> tuple:
    """A napari LayerDataTuple for ``volume``: grey, RGB, or the first of several modalities."""
    data = volume.array
    kwargs = {}
    if data.ndim == 4 and data.shape[-1] == 3 and volume.format == "image":
        kwargs["rgb"] = True
        lo, hi = float(data.min()), float(data.max())
        kwargs["contrast_limits"] = [lo, hi if hi > lo else lo + 1]
    elif data.ndim == 4:
        data = data[..., 0]  # the engine works on every channel; the picture shows the first
    sample = data[:: max(1, len(data) // 8)]
    window, level = (window_presets(sample)["full range"] if is_display_image(volume)  # ultrasound, pictures
                     else body_window(sample))  # a scan: the tissue's intensities, not the air's
    kwargs.setdefault("contrast_limits", [level - window / 2, level + window / 2])
    if data.ndim - bool(kwargs.get("rgb")) == 3:  # the slider reads "slice" from the first layer on (sized to fit)
        kwargs["axis_labels"] = axis_labels(volume)
    meta = {
        "name": name,
        "affine": napari_affine(volume.affine),
        "metadata": {VOLUME_KEY: volume, GEOMETRY_KEY: layer_geometry(volume)},
        **kwargs,
    }
    return data, meta, "image"


def read(path):
    """Read ``path`` as a list with one image LayerDataTuple (errors are labelassist's one-line ones)."""
    if isinstance(path, list):
        path = path[0]
    return [image_layer_data(load_volume(path))]
