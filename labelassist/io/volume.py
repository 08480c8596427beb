"""The in-memory volume every room works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Volume", "orientation_code", "spacing_zyx", "check_affine", "check_real", "LPS_TO_RAS"]

# DICOM and ITK give geometry in LPS+ (x to the patient's left, y to posterior); a Volume's world is RAS+
# (NIfTI's): the one matrix that turns one into the other (it is its own inverse), for every reader.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
LPS_TO_RAS.flags.writeable = False


def orientation_code(affine: np.ndarray) -> str:
    """Three-letter RAS-style orientation code of a voxel-to-world affine, e.g. ``"RAS"``, ``"LPS"``.

    The letters name, for voxel axes i, j, k (x, y, z; the array's last, middle and first axes),
    the world direction each one points to (world = RAS+, as in NIfTI).
    """
    import nibabel.orientations as nio

    return "".join(nio.aff2axcodes(np.asarray(affine, dtype=float)))


def spacing_zyx(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size in millimetres in ARRAY order (dz, dy, dx) from a voxel-to-world affine."""
    zooms = np.sqrt((np.asarray(affine, dtype=float)[:3, :3] ** 2).sum(axis=0))  # along x, y, z
    return float(zooms[2]), float(zooms[1]), float(zooms[0])


def check_affine(affine, path, *, fix: str = "fix the header (qform/sform)") -> np.ndarray:
    """``affine`` as a float64 (4, 4) array, or a one-line :class:`VolumeError` naming ``path``.

    Every reader calls this on the voxel-to-world affine it built, so that no volume with NaN/Inf or a
    singular (non-invertible: a zero or repeated column) geometry gets in, and no label is written with one.
    ``fix`` ends the message: what to repair in this format's header.
    """
    from labelassist.errors import VolumeError

    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise VolumeError(f"{path}: its voxel-to-world affine has shape {affine.shape}, not (4, 4)")
    if not np.all(np.isfinite(affine)):
        raise VolumeError(f"{path}: its voxel-to-world affine has NaN/Inf values; {fix}")
    if np.linalg.matrix_rank(affine[:3, :3]) < 3:
        raise VolumeError(f"{path}: its voxel-to-world affine is singular (a zero or repeated axis, no inverse); "
                          f"{fix}")
    return affine


def check_real(dtype, path, *, name: str | None = None) -> None:
    """Refuse, in one line naming ``path``, complex voxels (``dtype`` of kind ``"c"``): turning them into
    intensities would silently drop the imaginary part. ``name`` is the dtype as the format calls it."""
    from labelassist.errors import VolumeError

    if np.dtype(dtype).kind == "c":
        raise VolumeError(f"{path}: complex voxels ({name or np.dtype(dtype).name}); labelassist reads real "
                          "intensities: save the magnitude (or the real part) with another tool first, e.g. numpy.abs")


@dataclass
class Volume:
    """A scan or image stack, with the geometry to put labels back exactly on it.

    Attributes
    ----------
    array : ndarray of float32, shape (z, y, x) or (z, y, x, c)
        Intensities. ``z`` indexes slices (NIfTI k, the third voxel axis; a DICOM series' instance
        order; a frame of a cine; an image of a folder). ``c`` holds colour or modality channels.
    affine : ndarray of float64, shape (4, 4)
        Voxel to world (RAS+, millimetres), NIfTI convention: ``affine @ [x, y, z, 1]`` where
        ``x, y, z`` are the indices of ``array[z, y, x]``. Use :meth:`voxel_to_world` to avoid
        getting the order wrong.
    spacing : tuple of 3 floats
        Voxel size in millimetres in ARRAY order ``(dz, dy, dx)``.
    source_path : Path
        The file or folder the volume was read from.
    format : str
        One of ``"nifti"``, ``"dicom-series"``, ``"dicom"``, ``"nrrd"``, ``"mha"``, ``"image"``: the
        name of its format in :data:`labelassist.io.formats.table.FORMATS` (a folder of images is ``"image"``).
    modality : str
        DICOM modality (``"MR"``, ``"CT"``, ``"US"``, ...) or ``""`` when unknown.
    channel_names : tuple of str
        Names of the ``c`` axis entries (e.g. ``("R", "G", "B")``, modalities) or ``()`` for grey.
    header : dict
        What a writer needs to reproduce the source's header: for NIfTI ``{"nifti_header":
        nibabel header}`` (qform/sform and their codes); for images ``{"image_files": [Path, ...]}``
        (one per slice, in slice order); other formats may add their own keys.
    """

    array: np.ndarray
    affine: np.ndarray
    spacing: tuple[float, float, float]
    source_path: Path
    format: str
    modality: str = ""
    channel_names: tuple[str, ...] = ()
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Spatial shape ``(z, y, x)`` (without the channel axis)."""
        return tuple(int(n) for n in self.array.shape[:3])  # type: ignore[return-value]

    @property
    def n_channels(self) -> int:
        return 1 if self.array.ndim == 3 else int(self.array.shape[3])

    @property
    def orientation(self) -> str:
        """Orientation code of the voxel axes x, y, z (e.g. ``"RAS"``, ``"LPS"``, ``"LSA"``)."""
        return orientation_code(self.affine)

    def voxel_to_world(self, zyx: np.ndarray) -> np.ndarray:
        """World (RAS mm) coordinates of voxel indices given in ARRAY order ``(..., 3)`` = (z, y, x)."""
        zyx = np.asarray(zyx, dtype=float)
        xyz1 = np.concatenate([zyx[..., ::-1], np.ones(zyx.shape[:-1] + (1,))], axis=-1)
        return (xyz1 @ self.affine.T)[..., :3]

    def world_to_voxel(self, ras: np.ndarray) -> np.ndarray:
        """Voxel indices in ARRAY order (z, y, x), as floats, of world points ``(..., 3)``."""
        ras = np.asarray(ras, dtype=float)
        ras1 = np.concatenate([ras, np.ones(ras.shape[:-1] + (1,))], axis=-1)
        xyz = (ras1 @ np.linalg.inv(self.affine).T)[..., :3]
        return xyz[..., ::-1]

    def __repr__(self) -> str:  # short: arrays are big
        return (
            f"Volume(shape={self.array.shape}, format={self.format!r}, "
            f"orientation={self.orientation!r}, spacing={self.spacing}, source={str(self.source_path)!r})"
        )
