"""What a file is, from its first bytes, before any reader is trusted with it: the checks and magic-byte
tests that :mod:`labelassist.io.formats.table` puts in its table (which sniffs a file in its formats' order)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from labelassist.errors import VolumeError
from labelassist.io.formats.limits import FLOAT_BYTES, check_memory

__all__ = [
    "check_readable_file", "read_head", "gunzip_head", "check_size_claim", "MAX_VOXELS", "GZIP_MAGIC", "TIFF_MAGIC",
    "is_nifti", "is_nrrd", "is_dicom", "is_image", "is_text", "is_metaimage", "is_nifti_or_analyze", "is_mgh", "is_minc",
]

# A hard cap on what any header may ask us to allocate (2**31 voxels = 8 GiB of float32).
MAX_VOXELS = 2**31
# Deflate cannot compress better than about 1032:1; a gzip whose header asks for more is lying.
MAX_DEFLATE_RATIO = 1100


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


def read_head(path: Path, n: int = 1024) -> bytes:
    """The first ``n`` bytes of a file (a one-line error when it cannot be read)."""
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


GZIP_MAGIC = b"\x1f\x8b"
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", *TIFF_MAGIC)


def is_nifti(head: bytes) -> bool:
    """NIfTI-1 (``n+1``/``ni1`` at byte 344) or NIfTI-2 (``n+2``/``ni2`` at byte 4) magic."""
    if len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return True
    return len(head) >= 12 and head[4:8] in (b"n+2\x00", b"ni2\x00")


def is_nifti_or_analyze(head: bytes) -> bool:
    """NIfTI magic, or an Analyze 7.5 header (a .hdr with no magic): ``sizeof_hdr`` 348 (either byte
    order) and ``dim[0]`` (byte 40) between 1 and 7 in the same order."""
    if is_nifti(head):
        return True
    if len(head) < 348:
        return False
    for order in ("<", ">"):
        if int.from_bytes(head[:4], "little" if order == "<" else "big") == 348:
            return 1 <= int.from_bytes(head[40:42], "little" if order == "<" else "big") <= 7
    return False


def is_mgh(head: bytes) -> bool:
    """A FreeSurfer MGH header (big-endian): version 1, four positive sizes, a known voxel type."""
    if len(head) < 28 or head[:4] != b"\x00\x00\x00\x01":
        return False
    sizes = [int.from_bytes(head[i : i + 4], "big", signed=True) for i in range(4, 20, 4)]
    return all(n > 0 for n in sizes) and int.from_bytes(head[20:24], "big") in (0, 1, 3, 4)


def is_minc(head: bytes) -> bool:
    """MINC1 (netCDF classic or 64-bit offset) or MINC2 (HDF5) magic."""
    return head.startswith((b"CDF\x01", b"CDF\x02", b"\x89HDF\r\n\x1a\n"))


def is_nrrd(head: bytes) -> bool:
    """NRRD magic (``NRRD000x``), of a .nrrd file or a detached .nhdr header."""
    return head.startswith(b"NRRD000")


def is_dicom(head: bytes) -> bool:
    """DICOM Part 10: ``DICM`` after the 128-byte preamble (a raw data set has no magic)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def is_image(head: bytes) -> bool:
    """PNG, JPEG, BMP or TIFF magic."""
    return head.startswith(_IMAGE_MAGIC)


def is_text(head: bytes) -> bool:
    """Printable ASCII up to the first blank line (or 256 bytes): a text header or a text file."""
    text = head[:512]
    return bool(text) and all(32 <= b < 127 or b in (9, 10, 13) for b in text.split(b"\n\n")[0][:256])


def _metaimage_header(head: bytes) -> bytes:
    """The text header of a MetaImage: up to the end of its ``ElementDataFile`` line (always its last; the
    voxels of an .mha follow at once, with no blank line), else the whole head."""
    lower = head.lower()
    at = lower.find(b"elementdatafile")
    if at < 0:
        return head
    end = head.find(b"\n", at)
    return head[: end + 1] if end >= 0 else head


def is_metaimage(head: bytes) -> bool:
    """A MetaImage text header (.mha, .mhd): text (no control bytes but tab and line ends) naming
    ``ObjectType`` or ``NDims``; the voxels after a short header are not looked at."""
    header = _metaimage_header(head[:1024])
    lower = header.lower()
    printable = bool(header) and all(b >= 32 and b != 127 or b in (9, 10, 13) for b in header)  # UTF-8 names too
    return printable and (b"objecttype" in lower or b"ndims" in lower)


def check_size_claim(path: Path, *, n_voxels: int, itemsize: int, available: int, compressed: bool) -> None:
    """Refuse a header that asks for more voxels than the file can hold, or than the memory available can
    hold (the raw samples plus their float32 volume), before allocating or inflating anything."""
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
    check_memory(path, n_voxels * (itemsize + FLOAT_BYTES), f"its {n_voxels:,} voxels")
