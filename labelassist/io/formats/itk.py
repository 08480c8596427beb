"""NRRD, MetaImage and DICOM series through SimpleITK; ITK's LPS becomes RAS here, once."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labelassist.errors import ParameterError, VolumeError
from labelassist.io.formats.dicom_series import check_series_geometry
from labelassist.io.formats.limits import FLOAT_BYTES, check_memory
from labelassist.io.formats.quiet import library_output, summarise
from labelassist.io.formats.sniff import check_size_claim, read_head
from labelassist.io.volume import LPS_TO_RAS, Volume, check_affine, check_real, spacing_zyx

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


_ITK_FIX = "fix the header's spacing, direction and origin (ElementSpacing/TransformMatrix, space directions)"


def _affine_of(dim: int, origin, spacing, direction, path) -> np.ndarray:
    """The checked RAS affine of an ITK image's (or reader's) LPS geometry; a 4-D one keeps its first three axes."""
    if dim == 4:
        origin, spacing = tuple(origin)[:3], tuple(spacing)[:3]
        direction = np.asarray(direction, dtype=float).reshape(4, 4)[:3, :3].ravel()
    with np.errstate(all="ignore"):
        try:
            affine = itk_affine(origin, spacing, direction)
        except ValueError as exc:
            raise VolumeError(f"{path}: its geometry cannot be built ({exc}); {_ITK_FIX}") from None
    return check_affine(affine, path, fix=_ITK_FIX)


def _pixel_bytes(reader) -> int:
    import SimpleITK as sitk

    name = sitk.GetPixelIDValueAsString(reader.GetPixelID())
    size = 8 if ("64" in name or "double" in name) else 4 if ("32" in name or "float" in name) else 2 if "16" in name else 1
    parts = 2 if "complex" in name else 1  # real and imaginary
    return size * parts * max(int(reader.GetNumberOfComponents()), 1)


def _refuse_complex(reader, path) -> None:
    """A complex-valued image cannot become intensities without losing its imaginary part: refuse it."""
    import SimpleITK as sitk

    name = sitk.GetPixelIDValueAsString(reader.GetPixelID())
    if "complex" in name:
        check_real(np.complex64, path, name=name)


def _data_file(path: Path, text: str) -> Path | None:
    """The separate data file a detached header (.nhdr ``data file:``, .mhd ``ElementDataFile``) names,
    else None (the voxels follow the header, or a list/pattern of files that SimpleITK resolves)."""
    for line in text.splitlines():
        key, sep, value = line.partition(":=") if ":=" in line else line.partition("=") if "=" in line else line.partition(":")
        value = value.strip()
        if sep and key.strip().lower() in ("elementdatafile", "data file", "datafile"):
            if value.lower() in ("local", "") or value.upper().startswith("LIST") or "%" in value or " " in value:
                return None
            return path.parent / value
    return None


def _check_units(path: Path, text: str) -> None:
    """Refuse an NRRD whose ``space units`` are not millimetres: ITK ignores them, and labels would land
    10x (cm) or 1000x (m) off."""
    header = text.split("\n\n", 1)[0]
    for line in header.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "space units":
            units = [u.strip() for u in value.replace('"', " ").split()]
            other = sorted({u for u in units if u.lower() not in ("mm", "none", "???")})
            if other:
                raise VolumeError(f"{path}: its space units are {', '.join(other)}; labelassist reads millimetres: "
                                  "convert the file to mm (spacing, directions and origin) first")


def _data_bytes_available(path: Path) -> tuple[int, bool, Path | None]:
    """Bytes on disk that can hold the voxels, whether they may be compressed, and the separate data file
    (when there is one, only its bytes count: a detached header holds no voxels)."""
    text = read_head(path, 4096).decode("latin-1", "replace")  # not the whole file: it may be gigabytes
    _check_units(path, text)
    lower = text.lower()
    compressed = any(k in lower for k in ("compresseddata = true", "encoding: gzip", "encoding: gz", "encoding: bz"))
    data = _data_file(path, text)
    if data is None:
        return path.stat().st_size, compressed, None
    if not data.is_file():
        raise VolumeError(f"{path}: its data file {data} is missing; put it next to the header or fix the header's data file name")
    return data.stat().st_size, compressed, data


def read_itk(path: Path, kind: str, *, channel: int | None = None) -> Volume:
    """Read NRRD or MetaImage with SimpleITK (the header is checked before the voxels are read).

    ``kind`` is the format's name in :data:`labelassist.io.formats.table.FORMATS`, ``"nrrd"`` (.nrrd, .nhdr)
    or ``"mha"`` (.mha, .mhd); it becomes the Volume's ``format``.
    """
    import SimpleITK as sitk

    if kind not in ("nrrd", "mha"):
        raise ParameterError(f"kind must be 'nrrd' or 'mha' (a format SimpleITK reads here), got {kind!r}")

    available, compressed, data = _data_bytes_available(path)  # a detached header's data file must be there
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        with library_output(path, library="ITK"):
            reader.ReadImageInformation()
    except RuntimeError as exc:
        raise VolumeError(f"{path}: not a readable {kind.upper()} file ({_short(exc)})") from None
    _refuse_complex(reader, path)
    size = tuple(int(n) for n in reader.GetSize())
    if len(size) > 4:
        raise VolumeError(f"{path}: {len(size)}-D data {size}; labelassist reads 2-D, 3-D and 4-D volumes")
    _affine_of(len(size), reader.GetOrigin(), reader.GetSpacing(), reader.GetDirection(), path)  # before the voxels
    n_voxels = int(np.prod(size, dtype=np.int64))
    if data is not None and not compressed and n_voxels * _pixel_bytes(reader) > available:
        raise VolumeError(
            f"{path}: its data file {data} holds {available:,} bytes but the header claims "
            f"{n_voxels * _pixel_bytes(reader):,}; the data file is truncated or belongs to another header"
        )
    check_size_claim(path, n_voxels=n_voxels, itemsize=_pixel_bytes(reader), available=available, compressed=compressed)
    try:
        with library_output(path, library="ITK"):
            image = reader.Execute()
    except RuntimeError as exc:
        where = f"its data file {data}" if data is not None else "the voxel data"
        raise VolumeError(f"{path}: cannot read {where} ({_short(exc)}); truncated or corrupt?") from None
    return _volume_from_image(image, path, kind, channel=channel)


def _volume_from_image(image, path: Path, fmt: str, *, channel=None, modality: str = "") -> Volume:
    import SimpleITK as sitk

    dim = image.GetDimension()
    array = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    n_comp = image.GetNumberOfComponentsPerPixel()
    if dim == 4:  # (t, z, y, x): the 4th axis as channels
        array = np.moveaxis(array, 0, -1)
    if dim == 2:
        array = array[None]
    affine = _affine_of(dim, image.GetOrigin(), image.GetSpacing(), image.GetDirection(), path)
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
        with library_output(folder, library="GDCM"):
            ids = reader.GetGDCMSeriesIDs(str(folder)) or ()
            series = {sid: reader.GetGDCMSeriesFileNames(str(folder), sid) for sid in ids}
    except RuntimeError as exc:
        raise VolumeError(f"{folder}: cannot list DICOM series ({_short(exc)})") from None
    if not ids:
        raise VolumeError(f"{folder}: no DICOM series with image geometry in this folder")
    best = max(series, key=lambda sid: len(series[sid]))
    if len(series) > 1:
        warnings.warn(
            f"{folder}: {len(series)} DICOM series in one folder; reading the largest "
            f"({len(series[best])} files, series {best})",
            stacklevel=3,
        )
    check_series_geometry(folder, series[best])  # one regular grid, or a one-line refusal (before any pixel)
    _check_series_memory(folder, series[best])
    reader.SetFileNames(series[best])
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        # the slice spacing was checked above (1% or 0.01 mm); ITK's stricter complaint is noise
        with library_output(folder, library="ITK/GDCM", ignore=("Non uniform sampling",)):
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


def _check_series_memory(folder: Path, files) -> None:
    """Refuse, from the first file's header, a series whose voxels (as files x one file's) exceed the memory."""
    import SimpleITK as sitk

    first = sitk.ImageFileReader()
    first.SetFileName(str(files[0]))
    try:
        with library_output(folder, library="GDCM"):
            first.ReadImageInformation()
    except RuntimeError:
        return  # the series reader says what is wrong with it
    n_voxels = int(np.prod(first.GetSize(), dtype=np.int64)) * len(files)
    itemsize = _pixel_bytes(first)
    check_memory(folder, n_voxels * (itemsize + FLOAT_BYTES * max(int(first.GetNumberOfComponents()), 1)),
                 f"its DICOM series of {len(files)} files ({n_voxels:,} voxels)")


def _short(exc: Exception) -> str:
    """The useful last line of an ITK exception (they span many lines), without object addresses."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    msg = next((ln for ln in reversed(lines) if "Description" in ln or "ERROR" in ln), lines[-1] if lines else "")
    return summarise(msg.split("Description:")[-1])
