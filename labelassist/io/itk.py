"""NRRD, MetaImage and DICOM series through SimpleITK; ITK's LPS becomes RAS here, once."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labelassist.errors import ParameterError, VolumeError
from labelassist.io.sniff import check_size_claim
from labelassist.io.volume import LPS_TO_RAS, Volume, spacing_zyx

__all__ = ["read_itk", "read_dicom_series", "itk_affine", "itk_geometry"]


def itk_affine(origin, spacing, direction) -> np.ndarray:
    """RAS voxel-to-world affine (index x, y, z) from ITK's LPS origin, spacing and direction."""
    dim = len(origin)
    d = np.eye(3)
    d[:dim, :dim] = np.asarray(direction, dtype=float).reshape(dim, dim)
    sp = np.ones(3)
    sp[:dim] = spacing
    o = np.zeros(3)
    o[:dim] = origin
    lps = np.eye(4)
    lps[:3, :3] = d * sp[None, :]
    lps[:3, 3] = o
    return LPS_TO_RAS @ lps


def itk_geometry(affine: np.ndarray):
    """ITK (LPS) origin, spacing and flattened direction of a RAS affine (inverse of :func:`itk_affine`)."""
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=float)
    m = lps[:3, :3]
    spacing = np.sqrt((m**2).sum(axis=0))
    direction = m / spacing[None, :]
    return tuple(lps[:3, 3]), tuple(spacing), tuple(direction.ravel())


def _pixel_bytes(reader) -> int:
    import SimpleITK as sitk

    name = sitk.GetPixelIDValueAsString(reader.GetPixelID())
    size = 8 if ("64" in name or "double" in name) else 4 if ("32" in name or "float" in name) else 2 if "16" in name else 1
    return size * max(int(reader.GetNumberOfComponents()), 1)


def _data_bytes_available(path: Path) -> tuple[int, bool]:
    """Bytes on disk that can hold the voxels, and whether they may be compressed."""
    size = path.stat().st_size
    text = path.read_bytes()[:4096].decode("latin-1", "replace").lower()
    compressed = any(k in text for k in ("compresseddata = true", "encoding: gzip", "encoding: gz", "encoding: bz"))
    for line in text.splitlines():
        key, _, value = line.partition("=") if "=" in line else line.partition(":")
        if key.strip() in ("elementdatafile", "data file", "datafile") and value.strip() not in ("local", ""):
            extra = path.parent / value.strip()
            if extra.exists():
                size += extra.stat().st_size
    return size, compressed


def read_itk(path: Path, kind: str, *, channel: int | None = None) -> Volume:
    """Read NRRD or MetaImage with SimpleITK (the header is checked before the voxels are read).

    ``kind`` is the format's name in :data:`labelassist.io.formats.FORMATS`, ``"nrrd"`` (.nrrd, .nhdr)
    or ``"mha"`` (.mha, .mhd); it becomes the Volume's ``format``.
    """
    import SimpleITK as sitk

    if kind not in ("nrrd", "mha"):
        raise ParameterError(f"kind must be 'nrrd' or 'mha' (a format SimpleITK reads here), got {kind!r}")

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise VolumeError(f"{path}: not a readable {kind.upper()} file ({_short(exc)})") from None
    size = tuple(int(n) for n in reader.GetSize())
    if len(size) > 4:
        raise VolumeError(f"{path}: {len(size)}-D data {size}; labelassist reads 2-D, 3-D and 4-D volumes")
    available, compressed = _data_bytes_available(path)
    check_size_claim(
        path,
        n_voxels=int(np.prod(size, dtype=np.int64)),
        itemsize=_pixel_bytes(reader),
        available=available,
        compressed=compressed,
    )
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise VolumeError(f"{path}: cannot read the voxel data ({_short(exc)}); truncated or corrupt?") from None
    return _volume_from_image(image, path, kind, channel=channel)


def _volume_from_image(image, path: Path, fmt: str, *, channel=None, modality: str = "") -> Volume:
    import SimpleITK as sitk

    dim = image.GetDimension()
    array = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    n_comp = image.GetNumberOfComponentsPerPixel()
    if dim == 4:  # (t, z, y, x): the 4th axis as channels
        array = np.moveaxis(array, 0, -1)
        origin, spacing = image.GetOrigin()[:3], image.GetSpacing()[:3]
        direction = np.asarray(image.GetDirection()).reshape(4, 4)[:3, :3].ravel()
    else:
        origin, spacing, direction = image.GetOrigin(), image.GetSpacing(), image.GetDirection()
    if dim == 2:
        array = array[None]
    affine = itk_affine(origin, spacing, direction)
    names: tuple[str, ...] = ()
    if array.ndim == 4:
        n_ch = array.shape[-1]
        if channel is not None:
            if not 0 <= channel < n_ch:
                raise ParameterError(f"channel must be in [0, {n_ch - 1}] for {path}, got {channel}")
            array = array[..., channel]
        elif n_ch == 1:
            array = array[..., 0]
        else:
            names = ("R", "G", "B")[:n_ch] if n_comp == n_ch == 3 else tuple(f"channel {i}" for i in range(n_ch))
    elif channel is not None:
        raise ParameterError(f"channel was given but {path} has no channel axis")
    return Volume(
        array=np.ascontiguousarray(array, dtype=np.float32),
        affine=affine,
        spacing=spacing_zyx(affine),
        source_path=path,
        format=fmt,
        modality=modality,
        channel_names=names,
    )


def read_dicom_series(folder: Path) -> Volume:
    """Read the largest DICOM series of a folder (with a warning when there are several)."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    try:
        ids = reader.GetGDCMSeriesIDs(str(folder)) or ()
    except RuntimeError as exc:
        raise VolumeError(f"{folder}: cannot list DICOM series ({_short(exc)})") from None
    if not ids:
        raise VolumeError(f"{folder}: no DICOM series with image geometry in this folder")
    series = {sid: reader.GetGDCMSeriesFileNames(str(folder), sid) for sid in ids}
    best = max(series, key=lambda sid: len(series[sid]))
    if len(series) > 1:
        warnings.warn(
            f"{folder}: {len(series)} DICOM series in one folder; reading the largest "
            f"({len(series[best])} files, series {best})",
            stacklevel=3,
        )
    reader.SetFileNames(series[best])
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise VolumeError(f"{folder}: cannot read DICOM series {best} ({_short(exc)})") from None
    modality = ""
    try:
        modality = reader.GetMetaData(0, "0008|0060").strip()
    except RuntimeError:
        pass
    vol = _volume_from_image(image, folder, "dicom-series", modality=modality)
    vol.header["dicom_files"] = [Path(f) for f in series[best]]
    vol.header["series_uid"] = best
    return vol


def _short(exc: Exception) -> str:
    """The useful last line of an ITK exception (they span many lines)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    msg = next((ln for ln in reversed(lines) if "Description" in ln or "ERROR" in ln), lines[-1] if lines else "")
    return msg.split("Description:")[-1].strip()[:200]
