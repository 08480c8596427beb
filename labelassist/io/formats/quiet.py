"""Keep C libraries' log lines (ITK, GDCM, libpng, libtiff, OpenCV) off the user's terminal.

Those libraries write straight to file descriptor 2, past Python's ``sys.stderr``. A reader runs their
calls inside :func:`library_output`, which sends descriptor 2 to a temporary file for the call; what was
written there becomes one Python warning naming the file (when the read succeeded) or is dropped (when it
failed: the reader's one-line error says it better).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
import warnings

__all__ = ["library_output", "library_log", "summarise"]

_LOCK = threading.RLock()  # descriptor 2 is the process's: one capture at a time
_LOCATION = re.compile(r"^(WARNING|ERROR|Warning|Error): In .*, line \d+$")
_ADDRESS = re.compile(r"\s*\(0x[0-9a-fA-F]+\)")


def summarise(text: str, *, ignore: tuple[str, ...] = (), limit: int = 200) -> str:
    """One line of a library's log text: no source locations, object addresses, blank lines, or lines
    holding any of the ``ignore`` strings (what the caller has already checked itself)."""
    lines = []
    for line in text.splitlines():
        line = _ADDRESS.sub("", line).strip()
        if line and not _LOCATION.match(line) and line not in lines and not any(s in line for s in ignore):
            lines.append(line)
    return "; ".join(lines)[:limit]


@contextlib.contextmanager
def library_output(path, *, library: str, ignore: tuple[str, ...] = ()):
    """Run the block with descriptor 2 captured; on success, what a library wrote becomes one warning.

    Parameters
    ----------
    path : str or Path
        The file being read (the warning names it).
    library : str
        Who speaks (``"ITK"``, ``"libpng"``...), named in the warning.
    ignore : tuple of str
        Lines holding any of these are dropped (the caller checked that matter itself).
    """
    with _LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, AttributeError, ValueError):  # no descriptor 2 (a windowed app): nothing to capture
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            failed = True
            try:
                yield
                failed = False
            finally:
                with contextlib.suppress(OSError, AttributeError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace")
    said = summarise(text, ignore=ignore)
    if said and not failed:
        warnings.warn(f"{path}: {library} says: {said}", stacklevel=3)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def library_log(path, *, logger: str, library: str):
    """Run the block with a Python library's ``logger`` (e.g. nibabel's ``"nibabel.global"``, which prints
    header repairs on stderr) collected; on success, what it logged becomes one warning naming ``path``."""
    log = logging.getLogger(logger)
    collect = _Collect()
    with _LOCK:
        handlers, propagate = list(log.handlers), log.propagate
        for h in handlers:
            log.removeHandler(h)
        log.addHandler(collect)
        log.propagate = False
        try:
            yield
        finally:
            log.removeHandler(collect)
            for h in handlers:
                log.addHandler(h)
            log.propagate = propagate
    said = summarise("\n".join(collect.lines))
    if said:
        warnings.warn(f"{path}: {library} says: {said}", stacklevel=3)
