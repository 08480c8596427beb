"""The other formats nibabel reads, on their own geometry (RAS, as NIfTI): Analyze and NIfTI pairs (a
``.hdr`` header and its ``.img`` voxels), FreeSurfer MGH (``.mgh``, gzip-compressed ``.mgz``) and MINC
(MINC1 is netCDF; MINC2 is HDF5 and needs h5py). Slices are the third voxel axis (k), as for NIfTI:
``array[k, j, i] == nibabel data[i, j, k]``; a 4th axis (MGH frames) is the channel axis.

Which suffix is which is the format table's business (:mod:`labelassist.io.formats.table`): the readers here
are given the paths to read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from labelassist.errors import ParameterError, VolumeError
from labelassist.io.formats.nifti import MAX_CHANNELS
from labelassist.io.formats.quiet import library_log
from labelassist.io.formats.sniff import GZIP_MAGIC, check_size_claim, read_head
from labelassist.io.volume import Volume, check_affine, check_real, spacing_zyx

__all__ = ["read_pair", "read_mgh", "read_minc", "HDF5_MAGIC"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def read_pair(header: Path, data: Path, *, channel: int | None = None, source: Path | None = None) -> Volume:
    """An Analyze 7.5 or NIfTI-1 pair: ``header`` (.hdr) and ``data`` (.img); ``source`` is the path asked
    for (either file), which becomes the Volume's ``source_path``."""
    import nibabel as nib

    source = source or header
    if not header.is_file():
        raise VolumeError(f"{source}: its header {header} is missing; an Analyze/NIfTI .img needs its .hdr next to it")
    if not data.is_file():
        raise VolumeError(f"{source}: its data file {data} is missing; put it next to the header {header.name}")
    img = _load(nib, header, source)
    hdr = img.header
    check_real(hdr.get_data_dtype(), source)
    offset = int(hdr.get_data_offset())
    n_voxels = int(np.prod(img.shape, dtype=np.int64))
    need, have = n_voxels * hdr.get_data_dtype().itemsize, data.stat().st_size
    if need + offset > have:
        raise VolumeError(f"{source}: its data file {data} holds {have:,} bytes but the header claims {need + offset:,}; "
                          "the data file is truncated or belongs to another header")
    check_size_claim(source, n_voxels=n_voxels, itemsize=hdr.get_data_dtype().itemsize, available=have, compressed=False)
    extra = {}
    if isinstance(hdr, nib.Nifti1Header):  # a NIfTI pair: keep its forms, as a single-file header
        extra["nifti_header"] = nib.Nifti1Header.from_header(hdr)
    return _volume(img, source, "nifti", channel, extra)


def read_mgh(path: Path, *, channel: int | None = None) -> Volume:
    """A FreeSurfer MGH file (``.mgh``, or ``.mgz`` gzip-compressed) with its vox2ras geometry."""
    import nibabel as nib

    img = _load(nib, path, path)
    _check_claim(img, path, compressed=read_head(path, 2) == GZIP_MAGIC)
    return _volume(img, path, "mgh", channel, {})


def read_minc(path: Path, *, channel: int | None = None) -> Volume:
    """A MINC1 (netCDF) or MINC2 (HDF5) file; MINC2 needs h5py, and a 4-D MINC file is refused."""
    import nibabel as nib

    if read_head(path, 8) == HDF5_MAGIC and importlib.util.find_spec("h5py") is None:
        raise VolumeError(f"{path}: a MINC2 (HDF5) file; reading it needs h5py (pip install h5py), or convert it with mincconvert")
    img = _load(nib, path, path)
    if len(img.shape) > 3:
        raise VolumeError(f"{path}: {len(img.shape)}-D MINC data {tuple(img.shape)}; extract one 3-D volume first (mincreshape)")
    _check_claim(img, path, compressed=False)
    return _volume(img, path, "minc", channel, {})


def _load(nib, path: Path, source: Path):
    try:
        with library_log(source, logger="nibabel.global", library="nibabel"):
            return nib.load(str(path))
    except Exception as exc:  # noqa: BLE001 - nibabel raises many kinds
        first = (str(exc).splitlines()[0] if str(exc) else "")[:160]
        raise VolumeError(f"{source}: cannot read the header ({type(exc).__name__}: {first})") from None


def _check_claim(img, path: Path, *, compressed: bool) -> None:
    check_size_claim(path, n_voxels=int(np.prod(img.shape, dtype=np.int64)), itemsize=img.get_data_dtype().itemsize,
                     available=path.stat().st_size, compressed=compressed)


def _volume(img, path: Path, fmt: str, channel: int | None, header: dict) -> Volume:
    affine = check_affine(img.affine, path)
    check_real(img.get_data_dtype(), path)  # MINC may hold complex voxels
    shape = tuple(int(n) for n in img.shape)
    if len(shape) > 4:
        raise VolumeError(f"{path}: {len(shape)}-D data {shape}; labelassist reads 2-D, 3-D and 4-D volumes")
    try:
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - a library failure must not become a traceback
        first = (str(exc).splitlines()[0] if str(exc) else "")[:160]
        raise VolumeError(f"{path}: cannot read the voxel data ({type(exc).__name__}: {first}); "
                          "the file is truncated or corrupt") from None
    data, names = _channels(data, channel, path)
    array = np.ascontiguousarray(data.transpose(2, 1, 0, 3) if data.ndim == 4 else data.transpose(2, 1, 0))
    return Volume(array=array, affine=affine, spacing=spacing_zyx(affine), source_path=path, format=fmt,
                  channel_names=names, header=header)


def _channels(data: np.ndarray, channel: int | None, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """The data as (i, j, k) or (i, j, k, c), as read_nifti does: a 4th axis is the channel axis."""
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 4:
        if channel is not None:
            raise ParameterError(f"channel was given but {path} has no channel axis (shape {data.shape})")
        return data, ()
    n_ch = data.shape[3]
    if channel is not None:
        if not 0 <= channel < n_ch:
            raise ParameterError(f"channel must be in [0, {n_ch - 1}] for {path}, got {channel}")
        return data[..., channel], ()
    if n_ch == 1:
        return data[..., 0], ()
    if n_ch > MAX_CHANNELS:
        raise ParameterError(
            f"{path} has {n_ch} volumes along its 4th axis: choose one with channel= (--channel) in [0, {n_ch - 1}]"
        )
    return data, tuple(f"channel {i}" for i in range(n_ch))
