"""How much memory a file may make us allocate: the free memory of this machine, and the check every reader
makes with it on a header's claim BEFORE any voxel is read or inflated (issue 16, memory bombs)."""

from __future__ import annotations

from pathlib import Path

from labelassist.errors import VolumeError

__all__ = ["available_memory", "check_memory", "MAX_SLICE_PIXELS", "FLOAT_BYTES"]

# Largest slice (rows x columns) any reader accepts: 16384 x 16384.
MAX_SLICE_PIXELS = 16384 * 16384
# Every reader hands out float32 voxels.
FLOAT_BYTES = 4
# When neither psutil nor /proc/meminfo says (not Linux, no psutil): assume this much is free.
_UNKNOWN_AVAILABLE = 8 * 2**30


# A container's memory limit and use: cgroup v2, then v1 (a limit this large or more means none).
CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))
_NO_LIMIT = 2**60


def _cgroup_room() -> int | None:
    """Bytes this process's container may still allocate under its memory limit, or None (no limit)."""
    for limit_file, usage_file in CGROUP_FILES:
        try:
            with open(limit_file, encoding="ascii") as fh:
                limit = fh.read().strip()
            with open(usage_file, encoding="ascii") as fh:
                usage = int(fh.read().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= _NO_LIMIT:
            return None
        return max(int(limit) - usage, 0)
    return None


def available_memory() -> int:
    """Bytes of memory available to a new allocation now: the machine's (psutil, else /proc/meminfo
    MemAvailable), or less when a container's memory limit (cgroup) leaves less."""
    machine = _machine_available()
    room = _cgroup_room()
    return machine if room is None else min(machine, room)


def _machine_available() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - not installed, or no answer on this platform
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _UNKNOWN_AVAILABLE


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_memory(path: Path, need: int, what: str) -> None:
    """Refuse (one line naming ``path``) reading ``what`` when it needs more than the available memory.

    ``need`` is what reading takes at its peak: the file's own samples plus the float32 volume made of them.
    """
    have = available_memory()
    if need > have:
        raise VolumeError(
            f"{path}: reading {what} needs {_size(need)} of memory but only {_size(have)} is available; "
            "free memory, crop or downsample the volume, or check that its header is not corrupt"
        )
