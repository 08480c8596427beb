"""Review sessions on disk: a JSON sidecar and the label volume, beside the export, written atomically.

For an export ``<dir>/<name>.nii.gz`` the session is ``<dir>/<name>.session.json`` (statuses, parameters,
model hash, per-slice provenance, the volume's identity) and ``<dir>/<name>.session.npz`` (the label
volume). The label file is written first and the JSON names its hash, so a crash between the two writes
leaves the previous session readable (the JSON still names the previous labels' hash) or, at worst, a
session reported as damaged: never a session silently mixing two states.

A session belongs to one volume: its identity is the source path, the array's shape and a content hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from labelassist.core.review import ReviewState
from labelassist.errors import VolumeError
from labelassist.io.formats import split_suffix
from labelassist.io.save import atomic_write
from labelassist.io.volume import Volume

__all__ = [
    "SESSION_FORMAT", "volume_identity", "default_export_path", "session_paths", "save_session",
    "load_session", "find_session", "set_aside", "user_data_dir",
]

SESSION_FORMAT = "labelassist-review-session"
SESSION_VERSION = 1
_EXPORT_SUFFIX = "_labels.nii.gz"


def user_data_dir() -> Path:
    """Where exports go when the source's folder is read-only (``LABELASSIST_DATA_DIR`` overrides)."""
    env = os.environ.get("LABELASSIST_DATA_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs

        return Path(platformdirs.user_data_dir("labelassist", appauthor=False))
    except ImportError:
        if sys.platform == "win32":
            return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "labelassist"
        if sys.platform == "darwin":
            return Path.home() / "Library" / "Application Support" / "labelassist"
        return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "labelassist"


def content_hash(array: np.ndarray) -> str:
    """blake2b of the array's bytes (and shape/dtype): a volume's content identity."""
    a = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{a.shape}{a.dtype.str}".encode())
    h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def volume_identity(volume: Volume) -> dict:
    """``{"source", "shape", "content"}``: what a session checks before it is restored."""
    return {
        "source": str(Path(volume.source_path).resolve()),
        "shape": [int(n) for n in volume.array.shape],
        "content": content_hash(volume.array),
    }


def _stem(path: Path) -> str:
    """The name without its format's suffix (``scan.nii.gz`` -> ``scan``; a folder keeps its name)."""
    return split_suffix(path)[0]


def default_export_path(volume: Volume) -> Path:
    """``<source stem>_labels.nii.gz`` beside the source when its folder is writable, else in the user's
    data folder (with a hash of the source path in the name, so two sources never share an export)."""
    src = Path(volume.source_path)
    name = _stem(src) + _EXPORT_SUFFIX
    folder = src.parent
    if folder.is_dir() and os.access(folder, os.W_OK):
        return folder / name
    tag = hashlib.blake2b(str(src.resolve()).encode(), digest_size=4).hexdigest()
    return user_data_dir() / "exports" / f"{_stem(src)}-{tag}{_EXPORT_SUFFIX}"


def session_paths(export_path) -> tuple[Path, Path]:
    """``(json sidecar, label volume)`` of the session that belongs to ``export_path``."""
    export_path = Path(export_path)
    base = export_path.parent / _stem(export_path)
    return base.with_name(base.name + ".session.json"), base.with_name(base.name + ".session.npz")


def save_session(state: ReviewState, export_path, *, like: Volume) -> Path:
    """Write ``state`` beside ``export_path`` (atomically, labels first); returns the JSON path."""
    meta_path, labels_path = session_paths(export_path)
    if state.labels.shape != like.shape:
        raise VolumeError(f"{meta_path}: review labels {state.labels.shape} do not match the volume {like.shape}")
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, labels=state.labels)
    blob = buf.getvalue()
    atomic_write(labels_path, lambda tmp: Path(tmp).write_bytes(blob), ".npz")
    record = {
        "format": SESSION_FORMAT,
        "format_version": SESSION_VERSION,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "volume": volume_identity(like),
        "labels_file": labels_path.name,
        "labels_sha256": hashlib.sha256(blob).hexdigest(),
        "review": state.to_dict(),
    }
    text = json.dumps(record, indent=1)
    atomic_write(meta_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), ".json")
    return meta_path


def load_session(export_path, *, like: Volume) -> ReviewState | None:
    """The session saved beside ``export_path``, or None when there is none.

    Raises
    ------
    VolumeError
        One line when the session is damaged or belongs to another volume (other source, shape or
        content): the caller decides whether to :func:`set_aside` it and start afresh.
    """
    meta_path, labels_path = session_paths(export_path)
    if not meta_path.is_file():
        return None
    try:
        record = json.loads(meta_path.read_text(encoding="utf-8"))
        ok = isinstance(record, dict) and record.get("format") == SESSION_FORMAT
    except (OSError, ValueError):
        ok = False
    if not ok:
        raise VolumeError(f"{meta_path}: not a readable review session (damaged JSON)")
    mine, theirs = volume_identity(like), record.get("volume", {})
    for key, what in (("source", "source file"), ("shape", "shape"), ("content", "content")):
        if theirs.get(key) != mine[key]:
            raise VolumeError(f"{meta_path}: this session belongs to another volume ({what} differs)")
    try:
        blob = (meta_path.parent / record["labels_file"]).read_bytes()
    except (OSError, KeyError, TypeError):
        raise VolumeError(f"{meta_path}: its label volume {labels_path.name} is missing") from None
    if hashlib.sha256(blob).hexdigest() != record.get("labels_sha256"):
        raise VolumeError(f"{meta_path}: its label volume {labels_path.name} does not match (damaged session)")
    try:
        with np.load(io.BytesIO(blob)) as npz:
            labels = npz["labels"]
        return ReviewState.from_dict(record["review"], labels)
    except Exception as exc:  # noqa: BLE001 - a damaged session is one line, never a traceback
        raise VolumeError(f"{meta_path}: damaged review session ({exc})".splitlines()[0]) from None


def find_session(volume: Volume) -> Path | None:
    """The export path whose session belongs beside ``volume``'s default export, if one exists."""
    export = default_export_path(volume)
    return export if session_paths(export)[0].is_file() else None


def set_aside(export_path) -> list[Path]:
    """Rename a session that cannot be restored (``*.session.json`` -> ``*.session.json.<time>.bak``) so
    that a new one never overwrites what a reviewer made; returns the new names."""
    moved = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in session_paths(export_path):
        if path.exists():
            target = path.with_name(f"{path.name}.{stamp}.bak")
            os.replace(path, target)
            moved.append(target)
    return moved
