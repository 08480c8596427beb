"""Classifier checkpoints: the state dict plus a metadata record, loaded with ``weights_only=True``."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from labelassist.core.nets.classifier import ARCHS, CLASS_NAMES, OUTPUT_STRIDES, POOLS, build_classifier
from labelassist.core.nets.inputs import MODEL_MEAN, MODEL_STD
from labelassist.errors import CheckpointError

__all__ = ["FORMAT", "save_checkpoint", "load_checkpoint", "default_meta", "checkpoint_hash", "atomic_torch_save",
           "read_torch_blob", "check_meta", "check_finite_weights", "check_zip_size", "MAX_CHECKPOINT_BYTES",
           "MAX_CHECKPOINT_RATIO"]

FORMAT = "labelassist-classifier"
FORMAT_VERSION = 1
REQUIRED = ("arch", "in_channels", "input_size", "class_names", "normalisation")
# The ranges a checkpoint's integer meta fields must lie in (inclusive): checked before anything is built.
META_RANGES = {"in_channels": (1, 16), "input_size": (16, 1024)}
# Most bytes a checkpoint may hold, on disk and inflated (the sum of its zip members' declared sizes, which
# torch.load allocates): our largest model, a float32 ResNet50, is about 100 MB and a segmenter about 1 MB;
# more is a zip bomb or not ours (issue 27).
MAX_CHECKPOINT_BYTES = 512 * 2**20
# Most a zip member of more than _RATIO_FLOOR bytes may inflate, as a multiple of its compressed size:
# torch.save stores every member uncompressed (1:1), and trained weights barely deflate even when someone
# re-zips them; a stream of zeros deflates 1000:1, the zip bomb's trick.
MAX_CHECKPOINT_RATIO = 20
_RATIO_FLOOR = 2**20


def default_meta(arch: str = "resnet18", *, in_channels: int = 3, input_size: int = 128, output_stride: int = 32,
                 pool: str = "avg") -> dict:
    """The metadata record of a new classifier (``training`` is filled in by training)."""
    return {
        "arch": arch,
        "in_channels": int(in_channels),
        "input_size": int(input_size),
        "output_stride": int(output_stride),
        "pool": str(pool),
        "class_names": list(CLASS_NAMES),
        "normalisation": {"method": "percentile", "low": 0.5, "high": 99.5, "mean": MODEL_MEAN, "std": MODEL_STD},
        "training": {},
    }


def save_checkpoint(model, path, *, meta: dict, half: bool = False) -> Path:
    """Write ``{"format", "format_version", "meta", "state_dict"}`` atomically (temp file, then rename).

    ``half=True`` stores floating tensors as float16 (the shipped demo model); they load back as float32.
    """
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: meta lacks {', '.join(missing)}; start from default_meta()")
    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in model.state_dict().items()
    }
    return atomic_torch_save(
        {"format": FORMAT, "format_version": FORMAT_VERSION, "meta": meta, "state_dict": state}, path
    )


def load_checkpoint(path, *, device="cpu"):
    """Load a classifier: returns ``(model in eval mode on device, meta)``; a bad file is one line."""
    path = Path(path)
    meta, state = read_torch_blob(path, fmt=FORMAT, hint="train one with 'labelassist train'", what="classifier")
    check_meta(meta, path)
    check_finite_weights(state, path)
    try:
        model = build_classifier(meta["arch"], in_channels=int(meta["in_channels"]),
                                 output_stride=int(meta.get("output_stride", 32)), pool=meta.get("pool", "avg"))
    except Exception as exc:  # noqa: BLE001 - a bad record must be one line
        raise CheckpointError(f"{path}: checkpoint meta does not describe a model ({exc})") from None
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{path}: weights do not fit a {meta['arch']} ({first})") from None
    return model.to(device).eval(), meta


def check_meta(meta: dict, path) -> None:
    """Every meta field a classifier is built and run from, in its range; else a one-line CheckpointError."""
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: checkpoint meta lacks {', '.join(missing)}")
    if meta["arch"] not in ARCHS:
        raise CheckpointError(f"{path}: unknown architecture {meta['arch']!r}; expected one of {', '.join(ARCHS)}")
    for key, (lo, hi) in META_RANGES.items():
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise CheckpointError(f"{path}: checkpoint meta {key} is {value!r}; it must be a whole number in "
                                  f"[{lo}, {hi}]: the checkpoint is damaged, retrain it")
    choices = {"output_stride": (meta.get("output_stride", 32), OUTPUT_STRIDES),
               "pool": (meta.get("pool", "avg"), POOLS)}
    for key, (value, allowed) in choices.items():
        if isinstance(value, bool) or not isinstance(value, (int, str)) or value not in allowed:
            raise CheckpointError(f"{path}: checkpoint meta {key} is {value!r}; it must be one of "
                                  f"{', '.join(map(str, allowed))}: the checkpoint is damaged, retrain it")


def check_finite_weights(state: dict, path) -> None:
    """Refuse a state dict with a NaN or Inf in any floating tensor (one line naming the first one)."""
    import torch

    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{path}: weight {name!r} is not a tensor: the checkpoint is damaged; retrain it")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: weights hold NaN/Inf values ({name}): the checkpoint is damaged; "
                                  "retrain or reload it")


def atomic_torch_save(blob: dict, path) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename: a crash never leaves half a file.

    Raises
    ------
    CheckpointError
        One line naming ``path``, why and the fix, when the file system refuses the write (a full disk, no
        permission, a read-only or kernel file system such as ``/proc``, a missing folder: any
        :class:`OSError` with an errno); the temporary file is removed and an earlier ``path`` is untouched.
    """
    import torch

    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:  # a file object: a failed write is an OSError with its errno
            torch.save(blob, fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None:  # the OS said no
            raise _write_error(path, exc) from None
        raise
    return path


# Kernel file systems at their usual places: a checkpoint written there fails with whatever errno the kernel
# picks (ENOENT, EACCES, EINVAL, ...); the error says so instead (the command line checks before any work,
# with labelassist.io.save.kernel_file_system, which reads the mount table).
_KERNEL_FOLDERS = ("/proc", "/sys")


def _write_error(path: Path, exc: OSError) -> CheckpointError:
    """One line for a checkpoint the file system would not take: the path, why (the errno) and the fix."""
    folder = path.parent if str(path.parent) else Path(".")
    why = exc.strerror or type(exc).__name__
    code = exc.errno
    where = os.path.realpath(folder)
    kernel = next((k for k in _KERNEL_FOLDERS if where == k or where.startswith(k + "/")), None)
    if kernel is not None:
        fix = f"{kernel} is not a place for files (a kernel file system; {why}): choose another folder"
    elif code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = f"the disk is full ({why}): free some space or choose another folder"
    elif code in (errno.EACCES, errno.EPERM):
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
    return CheckpointError(f"{path}: model not written, {fix} (the earlier file, if any, is untouched)")


def read_torch_blob(path, *, fmt: str, hint: str, what: str) -> tuple[dict, dict]:
    """``(meta, state_dict)`` of a checkpoint of format ``fmt``, read with ``weights_only=True``; one-line errors."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    check_zip_size(path)
    try:
        blob = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors of every kind
        raise CheckpointError(f"{path}: not a readable model checkpoint ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise CheckpointError(f"{path}: not a labelassist {what} checkpoint ({hint})")
    meta, state = blob.get("meta"), blob.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{path}: checkpoint lacks its meta or state_dict")
    return meta, state


def check_zip_size(path) -> None:
    """Refuse a checkpoint that would make ``torch.load`` allocate more than a model of ours, before it is read.

    ``torch.load`` allocates each zip member's declared size and inflates it; a few MB of deflated zeros can
    declare gigabytes. Judged on the file's size and its zip central directory alone (nothing is inflated):

    - the file is larger than :data:`MAX_CHECKPOINT_BYTES`;
    - it is not a zip (torch.save has written zips since torch 1.6; the legacy format allocates whatever its
      pickle claims, so it is not read);
    - its members declare more than :data:`MAX_CHECKPOINT_BYTES` in all;
    - a member of more than 1 MiB inflates more than :data:`MAX_CHECKPOINT_RATIO` times its compressed size.

    Raises
    ------
    CheckpointError
        One line naming ``path``, what is wrong and the fix.
    """
    import zipfile

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the model file ({exc.strerror or type(exc).__name__})") from None
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path}: the file is {size:,} bytes, more than a model checkpoint holds "
                              f"({MAX_CHECKPOINT_BYTES:,}): not a labelassist model; use the model file you trained")
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise CheckpointError(f"{path}: not a readable model checkpoint (not a zip archive, as torch.save writes "
                              "them): use a model file saved by labelassist") from None
    total = sum(int(info.file_size) for info in members)
    if total > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path}: its members inflate to {total:,} bytes, more than a model checkpoint holds "
                              f"({MAX_CHECKPOINT_BYTES:,}): a zip bomb or not a labelassist model; "
                              "use the model file you trained")
    for info in members:
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_CHECKPOINT_RATIO * max(info.compress_size, 1):
            raise CheckpointError(f"{path}: its member {info.filename} inflates from {info.compress_size:,} to "
                                  f"{info.file_size:,} bytes, {info.file_size / max(info.compress_size, 1):.0f} "
                                  f"times (a model's weights do not compress; at most {MAX_CHECKPOINT_RATIO}): "
                                  "a zip bomb or not a labelassist model; use the model file you trained")


def checkpoint_hash(path) -> str:
    """sha256 of the file: the model's identity in a review session."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
