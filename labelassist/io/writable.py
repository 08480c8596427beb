"""Where a file may be written, checked before any work: not on a kernel file system (``/proc``, ``/sys``...), in
a folder that exists and this user can write in, on a file system that is not read-only. :mod:`labelassist.io.save`
checks again when it writes."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from labelassist.errors import VolumeError

__all__ = ["check_writable", "check_folder", "kernel_file_system", "kernel_message", "refuse_kernel_file_system",
           "KERNEL_FILE_SYSTEMS"]

# File systems the kernel makes up (its state, devices, controls): no file of ours can be written there, and a
# write tried there fails with whatever errno the kernel picks (ENOENT, EACCES, EINVAL, EPERM...).
KERNEL_FILE_SYSTEMS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs",
    "efivarfs", "fusectl", "binfmt_misc", "selinuxfs", "devpts", "mqueue", "nsfs", "hugetlbfs", "rpc_pipefs",
})
# Where the mounts of this process are listed (Linux); elsewhere only the paths below are known.
MOUNTINFO = "/proc/self/mountinfo"
# Used when MOUNTINFO cannot be read: the usual mount points of the kernel file systems.
_KERNEL_MOUNTS = (("/proc", "proc"), ("/sys", "sysfs"))


def check_folder(path: Path) -> None:
    """The folder ``path`` would be written in exists and this user can write in it (else one line)."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise VolumeError(f"{path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        if _read_only(parent):
            raise VolumeError(f"{path}: {parent} is on a read-only file system; choose another folder")
        raise VolumeError(f"{path}: permission denied (cannot write in {parent})")


def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its nearest folder above that exists (``.`` for a relative path that names none)."""
    path = Path(os.path.abspath(path))
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return path.parents[-1] if path.parents else path


def _unescape_mount(text: str) -> str:
    # mountinfo writes a space, tab, newline and backslash of a mount point as \040, \011, \012 and \134
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _mounts() -> list[tuple[str, str]] | None:
    """``(mount point, file system type)`` of every mount of this process, in mount order; None when unknown."""
    try:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    mounts = []
    for line in lines:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        if after:
            mounts.append((_unescape_mount(fields[4]), after[0]))
    return mounts


def kernel_file_system(path) -> tuple[str, str] | None:
    """The kernel file system (``/proc``, ``/sys``, ...) that would hold ``path``, or None when it is not one.

    Parameters
    ----------
    path : str or Path
        A file or folder to be written; it need not exist yet (its nearest existing folder is judged, with
        symbolic links followed, so ``/proc/self/cwd/x`` is where the working folder is).

    Returns
    -------
    tuple of (str, str) or None
        ``(mount point, file system type)``, e.g. ``("/proc", "proc")``, when the file system is one of
        :data:`KERNEL_FILE_SYSTEMS`; None otherwise.
    """
    where = os.path.realpath(_nearest_existing(Path(path)))
    mounts = _mounts()
    if mounts is None:
        mounts = _KERNEL_MOUNTS if sys.platform.startswith("linux") else ()
    best = None
    for point, fstype in mounts:  # the longest mount point above ``where``; a later mount hides an earlier one
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, fstype)
    return best if best is not None and best[1] in KERNEL_FILE_SYSTEMS else None


def kernel_message(path, found: tuple[str, str]) -> str:
    point, fstype = found
    return (f"{path}: cannot write there: {point} is not a place for files (a kernel file system, {fstype}); "
            "choose another folder")


def refuse_kernel_file_system(path) -> None:
    found = kernel_file_system(path)
    if found is not None:
        raise VolumeError(kernel_message(path, found))


def _read_only(folder) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def check_writable(path, *, folder: bool = False) -> Path:
    """Check, before any work, that a file (or, with ``folder=True``, a folder) can be made at ``path``.

    Parameters
    ----------
    path : str or Path
        The file or folder to be written.
    folder : bool, keyword-only
        ``path`` is a folder, made (with its parents) when missing; else a file, whose folder must exist.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    VolumeError
        One line naming ``path`` and the fix: an empty path, a kernel file system (``/proc``, ``/sys``: see
        :data:`KERNEL_FILE_SYSTEMS`), an existing folder where a file is wanted (or a file where a folder is
        wanted), a missing folder, a read-only file system, or a folder this user cannot write in.
    """
    if not str(path).strip():
        raise VolumeError("the output path is empty; name a file to write")
    path = Path(path)
    refuse_kernel_file_system(path)
    if not folder:
        if path.is_dir():
            raise VolumeError(f"{path}: is a folder; name the file to write inside it")
        check_folder(path)
        return path
    if path.exists() and not path.is_dir():
        raise VolumeError(f"{path}: is a file, not a folder; name a folder to write in")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise VolumeError(f"{path}: {existing} is a file, not a folder; name a folder to write in")
    if not os.access(existing, os.W_OK | os.X_OK):
        if _read_only(existing):
            raise VolumeError(f"{path}: {existing} is on a read-only file system; choose another folder")
        raise VolumeError(f"{path}: permission denied (cannot write in {existing})")
    return path
