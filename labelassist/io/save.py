"""Labels out: on the source's voxel grid, atomically, never over the source."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError
from labelassist.io.formats.table import WRITABLE_SUFFIXES, by_suffix, split_suffix
from labelassist.io.volume import Volume
from labelassist.io.writable import (KERNEL_FILE_SYSTEMS, check_folder, check_writable,  # noqa: F401 (re-exported)
                                     kernel_file_system, kernel_message, refuse_kernel_file_system)

__all__ = ["save_labels", "save_map", "atomic_write", "check_output_path", "check_writable", "kernel_file_system",
           "write_error", "backup_path", "keep_backup", "KERNEL_FILE_SYSTEMS"]  # the where-to-write checks: .writable

def _suffix(path: Path) -> str:
    """The output's suffix (lower case), one of the formats' :data:`WRITABLE_SUFFIXES`."""
    suffix = split_suffix(path)[1].lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise VolumeError(f"{path}: unsupported output extension; use one of {', '.join(WRITABLE_SUFFIXES)}")
    return suffix


def _source_files(like: Volume) -> list[Path]:
    files = [like.source_path]
    for key in ("image_files", "dicom_files"):
        files += list(like.header.get(key, ()))
    return [Path(f) for f in files]


def _refuse_source(path: Path, like: Volume) -> None:
    target = path.resolve()
    for src in _source_files(like):
        src = src.resolve()
        if target == src or (src.is_dir() and src in target.parents and like.format != "image"):
            raise VolumeError(f"{path}: refusing to overwrite the source {src}; choose another output path")
        if src.is_dir() and target.parent == src and like.format in ("dicom-series",):
            raise VolumeError(f"{path}: refusing to write into the source DICOM folder {src}")


def check_output_path(path, *, source=None) -> Path:
    """Check, before any work, that labels can be written to ``path``; returns it as a Path.

    Refused with one line naming ``path`` (:class:`VolumeError`): a kernel file system (``/proc``, ``/sys``:
    :func:`kernel_file_system`), an existing folder, a suffix labels are not written in (not one of
    :data:`WRITABLE_SUFFIXES`), a folder that does not exist, is read-only or cannot be written in, or the
    ``source`` volume itself (or a file inside the source's DICOM folder). :func:`save_labels` checks again
    when it writes, and a write that fails all the same is one line too (:func:`atomic_write`).
    """
    path = Path(path)
    refuse_kernel_file_system(path)
    if path.is_dir():
        raise VolumeError(f"{path}: is a folder; name the label file to write, e.g. {path / 'labels.nii.gz'}")
    _suffix(path)
    check_folder(path)
    if source is None:
        return path
    source, target = Path(source).resolve(), path.resolve()
    if target == source:
        raise VolumeError(f"{path}: refusing to overwrite the source {source}; choose another output path")
    if source.is_dir() and source in target.parents:
        from labelassist.io.formats.table import find_format

        fmt = find_format(source)
        if fmt is not None and fmt.name == "dicom-series":
            raise VolumeError(f"{path}: refusing to write into the source DICOM folder {source}; "
                              "choose another output path")
    return path


# Writes that fail for lack of room: said in one line, the temporary file removed.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def atomic_write(path: Path, write: Callable[[Path], None], suffix: str, *, durable: bool = False) -> None:
    """Write through ``write(tmp)`` to a temporary file beside ``path``, then rename it into place.

    ``durable``: also flush the folder after the rename, so the new file survives a power cut (the caller's
    ``write`` fsyncs the file itself). Any refusal of the file system (a full disk, a file-size limit, no
    permission, a read-only or kernel file system, a folder gone: any :class:`OSError` with an errno) raises a
    one-line :class:`~labelassist.errors.VolumeError` (:func:`write_error`); nothing is left behind and an
    earlier ``path`` is untouched. An OSError a writer raises itself, with no errno, passes through.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and exc.errno is not None:  # the OS said no (not a writer's own OSError)
            raise write_error(path, exc) from None
        raise
    if durable:
        _sync_folder(path.parent)


_UNTOUCHED = " (the earlier file, if any, is untouched)"


def write_error(path, exc: OSError) -> VolumeError:
    """The one-line :class:`~labelassist.errors.VolumeError` for an :class:`OSError` met writing ``path``.

    The line starts with ``path``, says why in words (from the errno, or the kernel file system the folder is
    on) and names the fix; it is returned, for the caller to raise ``from None``.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    why = exc.strerror or type(exc).__name__
    found = kernel_file_system(path)
    if found is not None:
        return VolumeError(kernel_message(path, found))
    code = exc.errno
    if code in _NO_ROOM:
        return VolumeError(f"{path}: not written, the disk is full ({why}): free some space or choose "
                           f"another folder{_UNTOUCHED}")
    if code in (errno.EACCES, errno.EPERM):
        fix = f"permission denied in {folder} ({why}): choose a folder you can write in"
    elif code == errno.EROFS:
        fix = f"{folder} is on a read-only file system ({why}): choose another folder"
    elif code in (errno.ENOENT, errno.ENOTDIR):
        fix = (f"the folder {folder} takes no new files ({why}): choose another folder" if folder.is_dir() else
               f"the folder {folder} does not exist ({why}): create it or choose another folder")
    elif code == errno.ENAMETOOLONG:
        fix = f"the name is too long ({why}): choose a shorter file name"
    elif code == errno.EISDIR:
        fix = f"a folder is in the way ({why}): name a file, not a folder"
    else:
        fix = f"the file system refused it ({why}): choose another folder"
    return VolumeError(f"{path}: not written, {fix}{_UNTOUCHED}")


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):  # not every platform opens folders (Windows)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def backup_path(path) -> Path:
    """The first free numbered backup name of ``path``: ``scan_labels.nii.gz`` -> ``scan_labels.backup-1.nii.gz``."""
    path = Path(path)
    stem, suffix = split_suffix(path)
    n = 1
    while (candidate := path.with_name(f"{stem}.backup-{n}{suffix}")).exists():
        n += 1
    return candidate


def keep_backup(path) -> Path | None:
    """Keep the file at ``path`` (if any) under a new numbered backup name that nothing else uses (a hard
    link when the file system has them, else a copy); returns the backup's path."""
    path = Path(path)
    if not path.is_file():
        return None
    while True:
        target = backup_path(path)
        try:
            os.link(path, target)  # fails rather than overwrite a backup made meanwhile
            return target
        except FileExistsError:
            continue
        except OSError:
            made = False
            try:
                with open(path, "rb") as src, open(target, "xb") as dst:
                    made = True
                    shutil.copyfileobj(src, dst)
            except FileExistsError:
                continue
            except OSError as exc:
                if made:  # half a backup is no backup
                    with contextlib.suppress(OSError):
                        target.unlink()
                raise VolumeError(f"{path}: not replaced, its backup {target.name} could not be kept "
                                  f"({exc.strerror or type(exc).__name__}); free some space or choose another "
                                  "folder (the earlier file is untouched)") from None
            return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _label_array(labels, like: Volume, path: Path) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != like.shape:
        raise VolumeError(f"{path}: labels have shape {labels.shape} but the source volume is {like.shape} (z, y, x)")
    if labels.dtype.kind == "b":
        return labels.astype(np.uint8)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.array_equal(labels, np.round(labels)):
            raise VolumeError(f"{path}: labels must be whole numbers (got non-integer values)")
    elif labels.dtype.kind not in "iu":
        raise VolumeError(f"{path}: labels must be integers or booleans, got {labels.dtype}")
    lo, hi = (labels.min(), labels.max()) if labels.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise VolumeError(f"{path}: label values must be in [0, 65535], got [{lo}, {hi}]")
    return labels.astype(np.uint8 if hi <= 255 else np.uint16)


def _write_volume(data: np.ndarray, path: Path, like: Volume, suffix: str) -> None:
    if by_suffix(path).name == "nifti":
        import nibabel as nib

        from labelassist.io.formats.nifti import nifti_image_for

        img = nifti_image_for(data, like, dtype=data.dtype)
        atomic_write(path, lambda tmp: nib.save(img, str(tmp)), suffix)
        return
    import SimpleITK as sitk

    from labelassist.io.formats.itk import itk_geometry

    image = sitk.GetImageFromArray(data)
    origin, spacing, direction = itk_geometry(like.affine)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    atomic_write(path, lambda tmp: sitk.WriteImage(image, str(tmp), True), suffix)


def save_labels(labels, path, *, like: Volume, backup: bool = False) -> Path:
    """Write a label volume that lies exactly on ``like`` in world space.

    Parameters
    ----------
    labels : array_like of int or bool, shape ``like.shape`` (z, y, x)
        0 is background. Written as uint8, or uint16 when a label exceeds 255.
    path : str or Path
        Output file: ``.nii.gz`` / ``.nii`` (NIfTI, the source's qform and sform with their codes
        when the source is NIfTI), ``.nrrd`` or ``.mha``.
    like : Volume
        The volume the labels belong to.
    backup : bool
        Keep a file already at ``path`` as a numbered backup (:func:`keep_backup`) before replacing it.

    Returns
    -------
    Path
        The written file. For image inputs the PNG masks go to ``<stem>_masks/`` beside it, one per
        source image with the source image's name, holding the label values (0 = background).

    Raises
    ------
    VolumeError
        A shape mismatch, values outside [0, 65535], an unsupported extension, a missing output folder, a
        kernel file system (``/proc``, ``/sys``), or a path that is the source itself; and any refusal of the
        file system while writing (:func:`write_error`: a full disk, no permission, a read-only disk...). The
        write is atomic: on failure nothing is left behind and an earlier file at ``path`` is untouched.
    """
    path = Path(path)
    suffix = _suffix(path)
    refuse_kernel_file_system(path)
    check_folder(path)
    _refuse_source(path, like)
    data = _label_array(labels, like, path)
    if backup:
        keep_backup(path)
    _write_volume(data, path, like, suffix)
    if like.format == "image":
        _write_pngs(data, path, like)
    return path


def save_map(values, path, *, like: Volume) -> Path:
    """Write a float map (a CAM, a probability) as float32 on ``like``'s grid (NIfTI, NRRD or MHA)."""
    path = Path(path)
    suffix = _suffix(path)
    refuse_kernel_file_system(path)
    check_folder(path)
    _refuse_source(path, like)
    values = np.asarray(values, dtype=np.float32)
    if values.shape != like.shape:
        raise VolumeError(f"{path}: map has shape {values.shape} but the source volume is {like.shape}")
    _write_volume(values, path, like, suffix)
    return path


def _write_pngs(data: np.ndarray, path: Path, like: Volume) -> None:
    import cv2

    stem = split_suffix(path)[0]
    folder = path.parent / f"{stem}_masks"
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from None
    files = like.header.get("image_files") or [Path(f"slice_{i:04d}.png") for i in range(len(data))]
    if len(files) != len(data):  # a multi-page TIFF: one file, many slices
        files = [Path(f"{Path(files[0]).stem}_{i:04d}.png") for i in range(len(data))]
    sources = {p.resolve() for p in _source_files(like)}
    for plane, name in zip(data, files):
        out = folder / f"{Path(name).stem}.png"
        if out.resolve() in sources:
            raise VolumeError(f"{out}: refusing to overwrite the source image")

        def write(tmp, plane=plane, out=out):
            if not cv2.imwrite(str(tmp), np.ascontiguousarray(plane)):
                raise VolumeError(f"{out}: could not write the PNG mask")

        atomic_write(out, write, ".png")
