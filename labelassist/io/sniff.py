"""What a file is, from its first bytes, before any reader is trusted with it."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from labelassist.errors import VolumeError

__all__ = ["sniff", "expected_format", "check_readable_file", "MAX_VOXELS", "check_size_claim"]

# A hard cap on what any header may ask us to allocate (2**31 voxels = 8 GiB of float32).
MAX_VOXELS = 2**31
# Deflate cannot compress better than about 1032:1; a gzip whose header asks for more is lying.
MAX_DEFLATE_RATIO = 1100

_EXTENSIONS = {
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".nrrd": "nrrd",
    ".nhdr": "nrrd",
    ".mha": "mha",
    ".mhd": "mha",
    ".dcm": "dicom",
    ".dicom": "dicom",
    ".ima": "dicom",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".bmp": "image",
    ".tif": "image",
    ".tiff": "image",
}

_NAMES = {
    "nifti": "a NIfTI file",
    "nrrd": "an NRRD file",
    "mha": "a MetaImage file",
    "dicom": "a DICOM file",
    "image": "an image",
    "gzip": "a gzip file",
    "text": "a text file",
    "unknown": "an unknown kind of file",
}


def format_name(kind: str) -> str:
    return _NAMES.get(kind, kind)


def expected_format(path: Path) -> str | None:
    """The format an extension promises (``None`` for no or an unknown extension)."""
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        return "nifti"
    return _EXTENSIONS.get(path.suffix.lower())


def check_readable_file(path: Path) -> int:
    """Raise a one-line VolumeError unless ``path`` is a non-empty readable file; returns its size."""
    if not path.exists():
        raise VolumeError(f"{path}: no such file or folder")
    if not path.is_file():
        raise VolumeError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise VolumeError(f"{path}: the file is empty")
    if not os.access(path, os.R_OK):
        raise VolumeError(f"{path}: permission denied (cannot read the file)")
    return size


def _head(path: Path, n: int = 1024) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise VolumeError(f"{path}: cannot read ({exc.strerror or exc})") from None


def gunzip_head(path: Path, n: int = 1024) -> bytes:
    """The first ``n`` decompressed bytes of a gzip file (a one-line error if it is not valid gzip)."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise VolumeError(f"{path}: not a valid gzip file ({exc}); is it truncated?") from None


def sniff(path: Path) -> str:
    """Format of a file from its magic bytes: nifti, nrrd, mha, dicom, image, gzip, text or unknown."""
    head = _head(path)
    if head[:2] == b"\x1f\x8b":
        inner = gunzip_head(path)
        return "nifti" if _is_nifti(inner) else "gzip"
    return _kind(head)


def _is_nifti(head: bytes) -> bool:
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return True
    return len(head) >= 12 and head[4:8] in (b"n+2\x00", b"ni2\x00")


def _kind(head: bytes) -> str:
    if _is_nifti(head):
        return "nifti"
    if head.startswith(b"NRRD000"):
        return "nrrd"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")):
        return "image"
    text = head[:512]
    if text and all(32 <= b < 127 or b in (9, 10, 13) for b in text.split(b"\n\n")[0][:256]):
        lower = text.lower()
        if b"objecttype" in lower or b"ndims" in lower:
            return "mha"
        return "text"
    return "unknown"


def check_size_claim(path: Path, *, n_voxels: int, itemsize: int, available: int, compressed: bool) -> None:
    """Refuse a header that asks for more voxels than the file can hold (before allocating anything)."""
    if n_voxels > MAX_VOXELS:
        raise VolumeError(
            f"{path}: header claims {n_voxels:,} voxels, more than labelassist reads ({MAX_VOXELS:,}); "
            "the header is corrupt or the volume must be cropped first"
        )
    need = n_voxels * itemsize
    limit = available * MAX_DEFLATE_RATIO if compressed else available
    if need > limit:
        raise VolumeError(
            f"{path}: header claims {n_voxels:,} voxels ({need:,} bytes) but the file holds only "
            f"{available:,} bytes{' compressed' if compressed else ''}; the file is truncated or its header lies"
        )
