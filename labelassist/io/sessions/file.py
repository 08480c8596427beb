"""The review-session file: one ``.npz`` holding the record (JSON) and the label volume, written by rename.

One file, so that no crash can leave half a session that condemns the other half: the reader sees either
the previous file or the new one. Inside (an uncompressed zip, as :func:`numpy.savez` writes it):

- ``record``: the UTF-8 JSON of the session (format, version, the volume's identity, the review record);
- ``offsets``: int64 ``(z + 1,)``, where each slice's bytes start and end in ``blobs``;
- ``blobs``: the slices of the label volume, each zlib-compressed on its own (uint8 ``(y, x)``).

Compressing slice by slice lets a :class:`SliceCompressor` keep the bytes of the slices that did not change
since the last save, so a save after one stroke recompresses one slice, not the volume.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from labelassist.errors import VolumeError
from labelassist.io.save import atomic_write

__all__ = ["SliceCompressor", "write_session_file", "read_session_record", "read_session_file"]

_MEMBERS = {"record.npy", "offsets.npy", "blobs.npy"}
# A record is a few kB per hundred slices; anything far larger is not a session.
_MAX_RECORD_BYTES = 64 * 2**20


class SliceCompressor:
    """Compressed slices of the last label volume it saw; only slices that changed are compressed again.

    Not thread-safe: one saving thread owns it.
    """

    def __init__(self, *, level: int = 1):
        self.level = level
        self._labels: np.ndarray | None = None
        self._blobs: list[bytes] = []

    def blobs(self, labels: np.ndarray) -> list[bytes]:
        """The compressed slices of ``labels`` (uint8 ``(z, y, x)``; kept as the reference for the next call,
        so pass an array nobody edits afterwards, e.g. a snapshot)."""
        labels = np.ascontiguousarray(labels, dtype=np.uint8)
        old = self._labels
        if old is None or old.shape != labels.shape:
            self._blobs = [zlib.compress(s.tobytes(), self.level) for s in labels]
        else:
            for z in range(labels.shape[0]):
                if not np.array_equal(labels[z], old[z]):
                    self._blobs[z] = zlib.compress(labels[z].tobytes(), self.level)
        self._labels = labels
        return list(self._blobs)


def write_session_file(path, record: dict, labels: np.ndarray, *, compressor: SliceCompressor | None = None) -> None:
    """Write ``record`` and ``labels`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    blobs = (compressor or SliceCompressor()).blobs(labels)
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    text = json.dumps(record, indent=1).encode("utf-8")
    data = np.frombuffer(b"".join(blobs), np.uint8)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, record=np.frombuffer(text, np.uint8), offsets=offsets, blobs=data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write, ".npz", durable=True)


def _members(path: Path) -> None:
    """Refuse a file that is not a session zip of stored (never inflated) members."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise VolumeError(f"{path}: not a readable review session ({exc})".splitlines()[0]) from None
    names = {i.filename for i in infos}
    if names != _MEMBERS or any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise VolumeError(f"{path}: not a review session written by labelassist (unexpected contents)")


def read_session_record(path) -> dict:
    """The JSON record of the session file ``path`` (the labels are not read).

    Raises
    ------
    VolumeError
        One line when the file is not a readable session.
    """
    path = Path(path)
    _members(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = npz["record"]
            if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > _MAX_RECORD_BYTES:
                raise ValueError("bad record")
            record = json.loads(raw.tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise VolumeError(f"{path}: damaged review session ({exc})".splitlines()[0]) from None
    if not isinstance(record, dict):
        raise VolumeError(f"{path}: damaged review session (its record is not an object)")
    return record


def read_session_file(path, shape) -> tuple[dict, np.ndarray]:
    """``(record, labels)`` of the session file ``path``, the labels checked against ``shape`` (z, y, x).

    Raises
    ------
    VolumeError
        One line when the file is damaged or its labels do not have ``shape``.
    """
    path = Path(path)
    record = read_session_record(path)
    z, plane = int(shape[0]), int(np.prod(shape[1:]))
    try:
        with np.load(path, allow_pickle=False) as npz:
            offsets, blobs = npz["offsets"], npz["blobs"]
        ok = (offsets.dtype == np.int64 and offsets.shape == (z + 1,) and offsets[0] == 0
              and bool(np.all(np.diff(offsets) >= 0)) and int(offsets[-1]) == blobs.size and blobs.dtype == np.uint8)
        if not ok:
            raise ValueError("its slice table does not match the volume")
        labels = np.empty((z, plane), np.uint8)
        raw = blobs.tobytes()
        for i in range(z):
            d = zlib.decompressobj()
            out = d.decompress(raw[offsets[i]:offsets[i + 1]], plane + 1)
            if len(out) != plane or not d.eof:
                raise ValueError(f"slice {i} is damaged")
            labels[i] = np.frombuffer(out, np.uint8)
    except (OSError, ValueError, KeyError, zlib.error, zipfile.BadZipFile) as exc:
        raise VolumeError(f"{path}: damaged review session ({exc})".splitlines()[0]) from None
    return record, labels.reshape(tuple(int(s) for s in shape))
