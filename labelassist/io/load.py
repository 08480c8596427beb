"""``load_volume``: one entry point for every format, and one-line errors for every bad input."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from labelassist.errors import LabelAssistError, VolumeError
from labelassist.io.sniff import check_readable_file, expected_format, format_name, sniff
from labelassist.io.volume import Volume

__all__ = ["load_volume", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def load_volume(path, *, channel: int | None = None, labels: bool = False) -> Volume:
    """Read a scan, an image or a folder of them as a :class:`Volume`.

    Parameters
    ----------
    path : str or Path
        NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd), a DICOM file (single- or
        multi-frame), an image (PNG, JPG, BMP, TIFF), or a folder holding a DICOM series or images.
    channel : int, optional
        For data with a 4th axis (multi-modal NIfTI, ...): keep only this channel. ``None`` keeps up to
        4 channels as the last array axis.
    labels : bool
        The file is a label volume (a mask): an all-zero one is normal, so it gets no warning.

    Returns
    -------
    Volume
        Its ``array`` is float32 (z, y, x[, c]) and its ``affine`` maps voxels to RAS millimetres.

    Raises
    ------
    VolumeError
        One line naming the file and what is wrong (missing, empty, truncated, lying header, 5-D...).
    ParameterError
        A bad ``channel``.

    Warns
    -----
    UserWarning
        All-NaN or constant data; several DICOM series in one folder (the largest is read).
    """
    path = Path(path)
    try:
        volume = _load(path, channel)
    except LabelAssistError:
        raise
    except MemoryError:
        raise VolumeError(f"{path}: not enough memory to read this volume") from None
    except Exception as exc:  # noqa: BLE001 - no library failure may reach the user as a traceback
        raise VolumeError(f"{path}: cannot read ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if not labels:
        _warn_degenerate(volume)
    return volume


def _load(path: Path, channel: int | None) -> Volume:
    if path.is_dir():
        return _load_folder(path, channel)
    check_readable_file(path)
    actual = sniff(path)
    promised = expected_format(path)
    if promised is not None and actual != promised:
        if promised == "dicom" and actual in ("unknown",):
            actual = "dicom"  # DICOM without the 128-byte preamble: let pydicom decide
        else:
            raise VolumeError(
                f"{path}: the extension says {format_name(promised)} but the content is {format_name(actual)}"
            )
    if actual == "nifti":
        from labelassist.io.nifti import read_nifti

        return read_nifti(path, channel=channel)
    if actual in ("nrrd", "mha"):
        from labelassist.io.itk import read_itk

        return read_itk(path, actual, channel=channel)
    if actual == "dicom":
        _no_channel(path, channel)
        from labelassist.io.dicom import read_dicom_file

        return read_dicom_file(path)
    if actual == "image":
        _no_channel(path, channel)
        from labelassist.io.images import read_image

        return read_image(path)
    raise VolumeError(
        f"{path}: not an image or volume labelassist reads ({format_name(actual)}); "
        "expected NIfTI, NRRD, MetaImage, DICOM, PNG, JPG, BMP or TIFF"
    )


def _no_channel(path: Path, channel):
    if channel is not None:
        from labelassist.errors import ParameterError

        raise ParameterError(f"channel applies to 4-D volumes only, not to {path}")


def _load_folder(folder: Path, channel: int | None) -> Volume:
    if not os.access(folder, os.R_OK | os.X_OK):
        raise VolumeError(f"{folder}: permission denied (cannot list the folder)")
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise VolumeError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    dicoms = [p for p in files if _is_dicom(p)]
    if dicoms:
        _no_channel(folder, channel)
        if len(dicoms) == 1:
            from labelassist.io.dicom import read_dicom_file

            return read_dicom_file(dicoms[0])
        from labelassist.io.itk import read_dicom_series

        return read_dicom_series(folder)
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
        _no_channel(folder, channel)
        from labelassist.io.images import read_image_folder

        return read_image_folder(folder)
    raise VolumeError(f"{folder}: no DICOM files or images (PNG, JPG, BMP, TIFF) in this folder")


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom", ".ima"):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def _warn_degenerate(volume: Volume) -> None:
    a = volume.array
    finite = np.isfinite(a)
    if not finite.any():
        warnings.warn(f"{volume.source_path}: every value is NaN or infinite; nothing to see", stacklevel=3)
        return
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if lo == hi:
        warnings.warn(f"{volume.source_path}: constant data (every voxel is {lo:g})", stacklevel=3)
