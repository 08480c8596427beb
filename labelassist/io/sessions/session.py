"""Review sessions on disk: one file beside the export, written by rename.

For an export ``<dir>/<name>.nii.gz`` the session is ``<dir>/<name>.review-session.npz``
(:mod:`labelassist.io.sessions.file`: statuses, parameters, model hash, per-slice provenance, the volume's
identity and the label volume, in one file), so a crash leaves either the previous session or the new one,
never a half that condemns the other half. Sessions of version 1 (``<name>.session.json`` + ``.npz``) are
still read, and removed once their successor is written. ``<name>.review-session.lock`` keeps a second
window from writing the same session (:mod:`labelassist.io.sessions.lock`).

A session belongs to one volume: its identity is the source path, the array's shape and a content hash
(computed once per opened volume: :func:`volume_identity` remembers it). Two sources that share a stem
(``scan.nii`` and ``scan.nii.gz``) get distinct exports and sessions (:func:`default_export_path`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
import time
import weakref
from pathlib import Path

import numpy as np

from labelassist.core.review import ReviewState
from labelassist.errors import VolumeError
from labelassist.io.formats.table import split_suffix
from labelassist.io.sessions.file import SliceCompressor, read_session_file, read_session_record, write_session_file
from labelassist.io.volume import Volume

__all__ = [
    "SESSION_FORMAT", "volume_identity", "default_export_path", "export_path_of", "session_path", "lock_path",
    "legacy_session_paths", "save_session", "load_session", "find_session", "session_source", "set_aside",
    "user_data_dir", "SliceCompressor",
]

SESSION_FORMAT = "labelassist-review-session"
SESSION_VERSION = 2
_SESSION_SUFFIX = ".review-session.npz"
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


_IDENTITIES: dict[int, tuple] = {}
_IDENTITIES_LOCK = threading.Lock()


def volume_identity(volume: Volume) -> dict:
    """``{"source", "shape", "content"}``: what a session checks before it is restored.

    The content hash is computed once per volume object (a loader thread may call this first, so that the
    GUI thread never hashes a volume); the volume's array must not be changed afterwards.
    """
    key = id(volume)
    with _IDENTITIES_LOCK:
        hit = _IDENTITIES.get(key)
    if hit is not None and hit[0]() is volume:
        return dict(hit[1])
    identity = {
        "source": str(Path(volume.source_path).resolve()),
        "shape": [int(n) for n in volume.array.shape],
        "content": content_hash(volume.array),
    }
    ref = weakref.ref(volume, lambda _r, k=key: _forget(k))
    with _IDENTITIES_LOCK:
        _IDENTITIES[key] = (ref, identity)
    return dict(identity)


def _forget(key: int) -> None:
    with _IDENTITIES_LOCK:
        hit = _IDENTITIES.get(key)
        if hit is not None and hit[0]() is None:
            del _IDENTITIES[key]


def _stem(path: Path) -> str:
    """The name without its format's suffix (``scan.nii.gz`` -> ``scan``; a folder keeps its name)."""
    return split_suffix(path)[0]


def _export_candidates(src: Path) -> list[Path]:
    """Where the export of ``src`` may go, in order: ``<stem>_labels.nii.gz``, then a name that also says the
    source's suffix (``scan-nii-gz_labels.nii.gz``) for a second source with the same stem, then one with a
    hash of the source path."""
    stem, suffix = split_suffix(src)
    folder = src.parent
    if not (folder.is_dir() and os.access(folder, os.W_OK)):
        folder = user_data_dir() / "exports"
        tag = hashlib.blake2b(str(src.resolve()).encode(), digest_size=4).hexdigest()
        return [folder / f"{stem}-{tag}{_EXPORT_SUFFIX}"]
    kind = suffix.strip(".").replace(".", "-") or "dir"
    tag = hashlib.blake2b(str(src.resolve()).encode(), digest_size=4).hexdigest()
    return [folder / f"{stem}{_EXPORT_SUFFIX}", folder / f"{stem}-{kind}{_EXPORT_SUFFIX}",
            folder / f"{stem}-{tag}{_EXPORT_SUFFIX}"]


def default_export_path(volume: Volume) -> Path:
    """``<source stem>_labels.nii.gz`` beside the source when its folder is writable, else in the user's
    data folder (with a hash of the source path in the name, so two sources never share an export).

    A name whose session belongs to another source is passed over: the export whose session is this
    source's wins, else the first name no other source's session claims.
    """
    return export_path_of(volume.source_path)


def export_path_of(source) -> Path:
    """:func:`default_export_path` of the volume read from ``source`` (a file or folder), without reading it."""
    src = Path(source)
    candidates = _export_candidates(src)
    mine = str(src.resolve())
    owners = [session_source(c) for c in candidates]
    for path, owner in zip(candidates, owners):
        if owner == mine:
            return path
    for path, owner in zip(candidates, owners):
        if owner is None:
            return path
    return candidates[-1]


def session_path(export_path) -> Path:
    """The session file that belongs to ``export_path`` (``<stem>.review-session.npz`` beside it)."""
    export_path = Path(export_path)
    return export_path.with_name(_stem(export_path) + _SESSION_SUFFIX)


def lock_path(export_path) -> Path:
    """The lock file that keeps a second window from writing the session of ``export_path``."""
    export_path = Path(export_path)
    return export_path.with_name(_stem(export_path) + ".review-session.lock")


def legacy_session_paths(export_path) -> tuple[Path, Path]:
    """``(json sidecar, label volume)`` of a version-1 session (read, never written)."""
    export_path = Path(export_path)
    base = export_path.parent / _stem(export_path)
    return base.with_name(base.name + ".session.json"), base.with_name(base.name + ".session.npz")


def session_record(state: ReviewState, *, identity: dict) -> dict:
    """The JSON record of a session (everything but the labels)."""
    return {
        "format": SESSION_FORMAT,
        "format_version": SESSION_VERSION,
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "volume": identity,
        "review": state.to_dict(),
    }


def save_session(state: ReviewState, export_path, *, like: Volume, compressor: SliceCompressor | None = None) -> Path:
    """Write ``state`` beside ``export_path`` in one file, atomically; returns its path.

    ``compressor`` (one per saving thread) keeps the compressed slices between saves, so a save after one
    stroke compresses one slice. A version-1 session beside it is removed once this one is written.
    """
    path = session_path(export_path)
    if state.labels.shape != like.shape:
        raise VolumeError(f"{path}: review labels {state.labels.shape} do not match the volume {like.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = session_record(state, identity=volume_identity(like))
    write_session_file(path, record, state.labels, compressor=compressor)
    for old in legacy_session_paths(export_path):
        if old.exists():
            old.unlink(missing_ok=True)
    return path


def _check_identity(record: dict, like: Volume, path: Path) -> None:
    if record.get("format") != SESSION_FORMAT:
        raise VolumeError(f"{path}: not a readable review session (format {record.get('format')!r})")
    mine, theirs = volume_identity(like), record.get("volume", {})
    if not isinstance(theirs, dict):
        theirs = {}
    for key, what in (("source", "source file"), ("shape", "shape"), ("content", "content")):
        if theirs.get(key) != mine[key]:
            raise VolumeError(f"{path}: this session belongs to another volume ({what} differs)")


def load_session(export_path, *, like: Volume) -> ReviewState | None:
    """The session saved beside ``export_path``, or None when there is none.

    Raises
    ------
    VolumeError
        One line when the session is damaged or belongs to another volume (other source, shape or
        content): the caller decides whether to :func:`set_aside` it and start afresh.
    """
    path = session_path(export_path)
    if not path.is_file():
        return _load_legacy(export_path, like=like)
    record, labels = read_session_file(path, like.shape)
    _check_identity(record, like, path)
    return _state(record, labels, path)


def _state(record: dict, labels, path: Path) -> ReviewState:
    try:
        return ReviewState.from_dict(record["review"], labels)
    except Exception as exc:  # noqa: BLE001 - a damaged session is one line, never a traceback
        raise VolumeError(f"{path}: damaged review session ({exc})".splitlines()[0]) from None


def _load_legacy(export_path, *, like: Volume) -> ReviewState | None:
    """A version-1 session (JSON + label npz, the JSON naming the labels' sha256), or None."""
    meta_path, labels_path = legacy_session_paths(export_path)
    if not meta_path.is_file():
        return None
    try:
        record = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):
        raise VolumeError(f"{meta_path}: not a readable review session (damaged JSON)")
    _check_identity(record, like, meta_path)
    try:
        blob = labels_path.read_bytes()
    except OSError:
        raise VolumeError(f"{meta_path}: its label volume {labels_path.name} is missing") from None
    if hashlib.sha256(blob).hexdigest() != record.get("labels_sha256"):
        raise VolumeError(f"{meta_path}: its label volume {labels_path.name} does not match (damaged session)")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            labels = npz["labels"]
    except Exception as exc:  # noqa: BLE001
        raise VolumeError(f"{meta_path}: damaged review session ({exc})".splitlines()[0]) from None
    return _state(record, labels, meta_path)


def session_source(export_path) -> str | None:
    """The source path recorded by the session beside ``export_path`` (None: no session, or unreadable)."""
    path = session_path(export_path)
    try:
        if path.is_file():
            record = read_session_record(path)
        elif legacy_session_paths(export_path)[0].is_file():
            record = json.loads(legacy_session_paths(export_path)[0].read_text(encoding="utf-8"))
        else:
            return None
        source = record.get("volume", {}).get("source")
    except (VolumeError, OSError, ValueError, AttributeError):
        return None
    return source if isinstance(source, str) else None


def find_session(volume: Volume) -> Path | None:
    """The export path whose session belongs beside ``volume``'s default export, if one exists."""
    export = default_export_path(volume)
    if session_path(export).is_file() or legacy_session_paths(export)[0].is_file():
        return export
    return None


def set_aside(export_path) -> list[Path]:
    """Rename a session that cannot be restored (``*.review-session.npz`` -> ``*.review-session.npz.<time>.bak``,
    a number added when that name is taken) so that a new one never overwrites what a reviewer made; returns
    the new names. Set-aside copies never overwrite each other."""
    moved = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (session_path(export_path), *legacy_session_paths(export_path)):
        if path.exists():
            moved.append(_rename_fresh(path, stamp))
    return moved


def _rename_fresh(path: Path, stamp: str) -> Path:
    """Rename ``path`` to the first free ``<name>.<stamp>[-n].bak`` without ever replacing a file."""
    n = 0
    while True:
        target = path.with_name(f"{path.name}.{stamp}{f'-{n}' if n else ''}.bak")
        try:
            os.link(path, target)  # fails when target exists: no overwrite, even in a race
        except FileExistsError:
            n += 1
            continue
        except OSError:  # a file system without hard links
            if target.exists():
                n += 1
                continue
            os.replace(path, target)
            return target
        path.unlink()
        return target
