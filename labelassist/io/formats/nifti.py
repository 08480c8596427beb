"""NIfTI-1/2 in and out, keeping qform/sform and their codes exactly."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import numpy as np

from labelassist.errors import ParameterError, VolumeError
from labelassist.io.formats.quiet import library_log
from labelassist.io.formats.sniff import GZIP_MAGIC, check_size_claim, gunzip_head, read_head
from labelassist.io.volume import Volume, check_affine, check_real, spacing_zyx

__all__ = ["read_nifti", "nifti_image_for"]

MAX_CHANNELS = 4  # a 4th dimension up to this is read as channels (modalities); longer needs channel=


def _header(path: Path, compressed: bool):
    import nibabel as nib

    if compressed:
        head = gunzip_head(path, 540)
    else:
        with open(path, "rb") as fh:
            head = fh.read(540)
    cls = nib.Nifti2Header if head[4:7] in (b"n+2", b"ni2") else nib.Nifti1Header
    try:
        return cls.from_fileobj(io.BytesIO(head), check=False)
    except Exception as exc:  # noqa: BLE001 - nibabel raises many kinds
        raise VolumeError(f"{path}: not a valid NIfTI header ({exc})".splitlines()[0]) from None


def _data_dtype(hdr, path: Path) -> np.dtype:
    """The voxels' dtype, or a one-line error for a datatype code nibabel does not know (or "none")."""
    code = int(hdr["datatype"])
    try:
        dtype = hdr.get_data_dtype()
    except (KeyError, ValueError, TypeError):
        dtype = None
    if dtype is None or dtype.kind == "V" or dtype.itemsize == 0:
        raise VolumeError(f"{path}: unknown NIfTI datatype code {code}; fix the header's datatype "
                          "(2 = uint8, 4 = int16, 8 = int32, 16 = float32, 64 = float64)")
    check_real(dtype, path)
    return dtype


def _check_forms(hdr, path: Path) -> None:
    """Refuse, before the voxels are read, a header whose affine (the one nibabel uses) is NaN/Inf or singular."""
    with np.errstate(all="ignore"):
        try:
            affine = hdr.get_best_affine()
        except Exception as exc:  # noqa: BLE001 - nibabel fails on a quaternion it cannot use
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise VolumeError(f"{path}: its voxel-to-world affine cannot be built ({first}); "
                              "fix the header (qform/sform)") from None
    check_affine(affine, path)


def _nib_load(path: Path, hdr, compressed: bool):
    """nibabel's image and its data; a file whose name nibabel does not know (``scan``, ``scan.dat``, a
    gzip named ``.nii``) is read through a file object, as what its content is."""
    import nibabel as nib

    if path.name.lower().endswith(".nii.gz" if compressed else ".nii"):
        img = nib.load(str(path))
        return img, np.asanyarray(img.dataobj)
    cls = nib.Nifti2Image if isinstance(hdr, nib.Nifti2Header) else nib.Nifti1Image
    with (gzip.open if compressed else open)(path, "rb") as fh:
        img = cls.from_file_map({"image": nib.FileHolder(fileobj=fh)})
        return img, np.asanyarray(img.dataobj)


def read_nifti(path: Path, *, channel: int | None = None) -> Volume:
    """Read a .nii/.nii.gz file as a :class:`Volume` (array[k, j, i] == nibabel data[i, j, k]).

    Whether it is gzip-compressed is read from its content, so a NIfTI file with another name reads too.
    """
    compressed = read_head(path, 2) == GZIP_MAGIC  # the content says, whatever the name says
    hdr = _header(path, compressed)
    _check_forms(hdr, path)
    dtype = _data_dtype(hdr, path)
    shape = tuple(int(n) for n in hdr.get_data_shape())
    if len(shape) > 4:
        raise VolumeError(f"{path}: {len(shape)}-D data {shape}; labelassist reads 2-D, 3-D and 4-D volumes")
    if any(n <= 0 for n in shape):
        raise VolumeError(f"{path}: header gives an empty data shape {shape}")
    n_voxels = int(np.prod(shape, dtype=np.int64))
    offset = int(hdr.get_data_offset())
    check_size_claim(
        path,
        n_voxels=n_voxels,
        itemsize=dtype.itemsize,
        available=max(path.stat().st_size - (0 if compressed else offset), 0),
        compressed=compressed,
    )
    try:
        with library_log(path, logger="nibabel.global", library="nibabel"):
            img, data = _nib_load(path, hdr, compressed)
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile, ValueError) as exc:
        raise VolumeError(f"{path}: cannot read the voxel data ({exc}); the file is truncated or corrupt") from None
    except Exception as exc:  # noqa: BLE001 - a library failure must not become a traceback
        raise VolumeError(f"{path}: cannot read as NIfTI ({type(exc).__name__}: {exc})") from None

    data = np.asarray(data, dtype=np.float32)
    names: tuple[str, ...] = ()
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim == 4:
        n_ch = data.shape[3]
        if channel is not None:
            if not 0 <= channel < n_ch:
                raise ParameterError(f"channel must be in [0, {n_ch - 1}] for {path}, got {channel}")
            data = data[..., channel]
        elif n_ch > MAX_CHANNELS:
            raise ParameterError(
                f"{path} has {n_ch} volumes along its 4th axis: choose one with channel= (--channel) in [0, {n_ch - 1}]"
            )
        elif n_ch == 1:
            data = data[..., 0]
        else:
            names = tuple(f"channel {i}" for i in range(n_ch))
    elif channel is not None:
        raise ParameterError(f"channel was given but {path} has no channel axis (shape {shape})")
    array = np.ascontiguousarray(data.transpose(2, 1, 0, 3) if data.ndim == 4 else data.transpose(2, 1, 0))
    affine = check_affine(img.affine, path)
    return Volume(
        array=array,
        affine=affine,
        spacing=spacing_zyx(affine),
        source_path=path,
        format="nifti",
        channel_names=names,
        header={"nifti_header": img.header.copy()},
    )


def nifti_image_for(data_zyx: np.ndarray, like: Volume, *, dtype):
    """A nibabel image of ``data_zyx`` (array order) on ``like``'s grid, with its header when it has one.

    A NIfTI source keeps its qform and sform and their codes exactly; any other source gets its
    affine as both, with code 1 (scanner).
    """
    import nibabel as nib

    data = np.asarray(data_zyx).transpose(2, 1, 0).astype(dtype, copy=False)
    src = like.header.get("nifti_header")
    if src is not None:
        hdr = src.copy()
        cls = nib.Nifti2Image if isinstance(hdr, nib.Nifti2Header) else nib.Nifti1Image
        qform, qcode = hdr.get_qform(coded=True)
        sform, scode = hdr.get_sform(coded=True)
        img = cls(data, None, header=hdr)
        img.header.set_data_shape(data.shape)
        img.header.set_data_dtype(dtype)
        img.header.set_slope_inter(1.0, 0.0)
        img.header["cal_min"] = 0
        img.header["cal_max"] = 0
        # The constructor may touch the forms; put back exactly what the source had.
        img.header.set_qform(qform if qform is not None else hdr.get_qform(), code=int(qcode))
        img.header.set_sform(sform if sform is not None else hdr.get_sform(), code=int(scode))
        img.update_header()
        img.header.set_qform(qform if qform is not None else hdr.get_qform(), code=int(qcode))
        img.header.set_sform(sform if sform is not None else hdr.get_sform(), code=int(scode))
        return img
    img = nib.Nifti1Image(data, like.affine)
    img.header.set_data_dtype(dtype)
    img.header.set_qform(like.affine, code=1)
    img.header.set_sform(like.affine, code=1)
    xyzt = img.header.get_xyzt_units()
    if xyzt[0] == "unknown":
        img.header.set_xyzt_units("mm")
    return img
