"""One writer per review session: an advisory lock on ``<export stem>.review-session.lock``.

The lock is the operating system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), held on an open
file: it goes away with the process, so a window killed by a crash never leaves a session locked. A second
window (of this process or another) on the same volume does not get it and opens the review read-only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["SessionLock"]


class SessionLock:
    """An exclusive, non-blocking lock on ``path`` (created when missing).

    Parameters
    ----------
    path : str or Path
        The lock file. Its text is the owner's process id, for the message a refused window shows.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock; False when another window holds it (see :meth:`owner`)."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return True  # a folder we cannot write in: no session will be written there anyway
        if not _try_lock(fd):
            os.close(fd)
            return False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def owner(self) -> str:
        """The process id written by the holder ('?' when unknown)."""
        try:
            text = self.path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return "?"
        return text if text.isdigit() else "?"

    def release(self) -> None:
        """Let the lock go (the file stays: removing it could race with a window taking it)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            _unlock(fd)
        os.close(fd)

    def __del__(self):  # a lock forgotten by its owner goes with it
        with contextlib.suppress(Exception):
            self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
