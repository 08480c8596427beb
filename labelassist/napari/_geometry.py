"""Voxel-to-world geometry between labelassist volumes (RAS affine on x, y, z) and napari layers (an
affine on the array axes z, y, x).

napari slices along world axis 0, so the world axes are the RAS axes in the order that best follows the
array axes (an axial volume gets world axes S, A, R; a sagittal one R, S, A): slicing stays orthogonal
and a voxel's world position is its RAS position, permuted. The permutation rides in the metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labelassist.io import Volume
from labelassist.io.sessions.session import user_data_dir
from labelassist.io.volume import spacing_zyx

__all__ = ["world_axes", "axis_labels", "SLICE_LABEL", "napari_affine", "ras_affine", "layer_geometry",
           "volume_from_layer", "volume_for_writer", "VOLUME_KEY", "GEOMETRY_KEY"]

VOLUME_KEY = "labelassist_volume"  # the full Volume (image layers made by labelassist)
GEOMETRY_KEY = "labelassist_geometry"  # affine, shape, source, format, header (every labelassist layer)
_RAS = "RAS"
SLICE_LABEL = "slice"  # the slider's axis label: it counts the volume's slices (napari's default label is "-3")


def world_axes(affine) -> str:
    """RAS letters of napari's world axes for the array axes (z, y, x), e.g. ``"SAR"`` for axial."""
    a = np.abs(np.asarray(affine, float)[:3, :3])
    order = [int(np.argmax(a[:, col])) for col in (2, 1, 0)]  # voxel x, y, z columns <- array x, y, z
    return "".join(_RAS[i] for i in order) if len(set(order)) == 3 else "SAR"


def axis_labels(volume: Volume) -> tuple[str, str, str]:
    """napari axis labels of a volume's layers: ``("slice", "A", "R")`` for an axial volume (world axes S, A, R)."""
    axes = world_axes(volume.affine)
    return SLICE_LABEL, axes[1], axes[2]


def napari_affine(affine, axes: str | None = None) -> np.ndarray:
    """The 4x4 napari affine (array z, y, x -> world ``axes``) of a RAS voxel-to-world affine."""
    affine = np.asarray(affine, float)
    rows = [_RAS.index(c) for c in (axes or world_axes(affine))]
    out = np.eye(4)
    out[:3, :3] = affine[rows][:, [2, 1, 0]]
    out[:3, 3] = affine[rows, 3]
    return out


def ras_affine(matrix, axes: str = "SAR") -> np.ndarray:
    """Inverse of :func:`napari_affine`."""
    matrix = np.asarray(matrix, float)
    rows = [_RAS.index(c) for c in axes]
    out = np.eye(4)
    out[np.ix_(rows, [2, 1, 0])] = matrix[:3, :3]
    out[rows, 3] = matrix[:3, 3]
    return out


def _layer_matrix(layer) -> np.ndarray:
    """The layer's data-to-world map as a 4x4 matrix on (z, y, x) (a 2-D layer gets a unit z axis)."""
    nd = layer.ndim
    origin = np.asarray(layer.data_to_world(np.zeros(nd)), float)
    cols = [np.asarray(layer.data_to_world(np.eye(nd)[j]), float) - origin for j in range(nd)]
    m = np.eye(4)
    k = 4 - nd - 1  # leading axes a 2-D layer lacks
    for j, c in enumerate(cols):
        m[k:3, k + j] = c[-(3 - k):]
    m[k:3, 3] = origin[-(3 - k):]
    return m


def layer_geometry(volume: Volume) -> dict:
    """Metadata that lets the writer put labels back on ``volume``'s grid (and header)."""
    return {
        "affine": np.asarray(volume.affine, float).tolist(),
        "shape": list(volume.shape),
        "world_axes": world_axes(volume.affine),
        "source_path": str(volume.source_path),
        "format": volume.format,
        "header": volume.header,
    }


def volume_from_layer(layer) -> Volume:
    """The :class:`Volume` behind an image layer: labelassist's own, or one made from the layer's data
    and world geometry (a 2-D image becomes one slice)."""
    vol = layer.metadata.get(VOLUME_KEY)
    if isinstance(vol, Volume):
        return vol
    data = np.asarray(layer.data, dtype=np.float32)
    rgb = bool(getattr(layer, "rgb", False))
    spatial = data.ndim - rgb
    if spatial == 2:
        data = data[None]
    elif spatial != 3:
        raise ValueError(f"layer {layer.name!r}: labelassist reviews 2-D images and 3-D volumes, got {spatial}-D")
    affine = ras_affine(_layer_matrix(layer))
    source = getattr(getattr(layer, "source", None), "path", None)
    # a layer made in napari (no file): its session and export live in the user's data folder, never the cwd
    path = Path(source) if source else layer_home() / f"{layer.name}.layer"
    return Volume(array=data, affine=affine, spacing=spacing_zyx(affine), source_path=path,
                  format="layer", header={})


def volume_for_writer(data, meta: dict) -> Volume:
    """A geometry-only Volume for writing ``data`` (z, y, x) with a layer's metadata (or its affine)."""
    data = np.asarray(data)
    geom = (meta.get("metadata") or {}).get(GEOMETRY_KEY)
    shape = data.shape if data.ndim == 3 else (1, *data.shape[-2:])
    if geom and tuple(geom["shape"]) == tuple(shape):
        affine = np.asarray(geom["affine"], float)
        return Volume(array=np.broadcast_to(np.float32(0), shape), affine=affine, spacing=spacing_zyx(affine),
                      source_path=Path(geom["source_path"]), format=geom["format"], header=dict(geom["header"]))
    matrix = np.asarray(meta.get("affine", np.eye(data.ndim + 1)), float)
    scale = np.asarray(meta.get("scale", np.ones(data.ndim)), float)
    translate = np.asarray(meta.get("translate", np.zeros(data.ndim)), float)
    m = np.eye(data.ndim + 1)
    m[:-1, :-1] = matrix[:-1, :-1] @ np.diag(scale)
    m[:-1, -1] = matrix[:-1, :-1] @ translate + matrix[:-1, -1]
    if data.ndim == 2:
        full = np.eye(4)
        full[1:3, 1:3], full[1:3, 3] = m[:2, :2], m[:2, 2]
        m = full
    affine = ras_affine(m)
    return Volume(array=np.broadcast_to(np.float32(0), shape), affine=affine, spacing=spacing_zyx(affine),
                  source_path=Path("labels.layer"), format="layer", header={})


def layer_home() -> Path:
    """Where the review of a layer that has no file goes (made on first use)."""
    home = user_data_dir() / "layers"
    home.mkdir(parents=True, exist_ok=True)
    return home
