"""``load_volume``: one entry point for every format of :data:`labelassist.io.formats.table.FORMATS`, and
one-line errors for every bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labelassist.errors import LabelAssistError, ParameterError, VolumeError
from labelassist.io.formats.table import check_format
from labelassist.io.formats.us_frames import prepare_ultrasound
from labelassist.io.volume import Volume

__all__ = ["load_volume"]


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
        volume = prepare_ultrasound(volume, channel=channel)  # its scan area; grey B-mode as one channel
    return volume


def _load(path: Path, channel: int | None) -> Volume:
    fmt = check_format(path)
    if channel is not None and not fmt.channels:
        raise ParameterError(f"channel applies to 4-D volumes only, not to {path}")
    return fmt.read(path, channel=channel)


def _warn_degenerate(volume: Volume) -> None:
    a = volume.array
    finite = np.isfinite(a)
    if not finite.any():
        warnings.warn(f"{volume.source_path}: every value is NaN or infinite; nothing to see", stacklevel=3)
        return
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if lo == hi:
        warnings.warn(f"{volume.source_path}: constant data (every voxel is {lo:g})", stacklevel=3)
