"""Loading a volume off the GUI thread: one :class:`VolumeLoad` handle per load, shared by both frontends.

A load runs in a worker thread of its own (never the engine thread: it must not wait behind a model job, and it
never imports torch). It reads the file (:func:`labelassist.io.load_volume`) or builds a volume from memory (a
napari layer), then computes the volume's identity once (:func:`labelassist.io.sessions.session.volume_identity`, which
the session code keeps on the volume), so that the GUI thread never hashes a large array. The handle has the
shape of the engine's jobs and of superqt's workers::

    load = load_volume_async("scan.nii.gz")
    load.progress.connect(show_step)      # (step, done, total); total 0: busy, the reader cannot tell
    load.returned.connect(use_the_volume)
    load.failed.connect(show_the_line)    # the LabelAssistError's one line
    load.cancel()                         # cooperative: nothing is returned from now on

:class:`LoadProgress` is the small status widget both frontends show: the step, a bar, a Cancel button.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from labelassist.errors import Cancelled, LabelAssistError

__all__ = ["VOLUME_FILTER", "VolumeLoad", "load_volume_async", "load_layer_async", "LoadProgress", "import_in_background",
           "RUNNING", "RETURNED", "FAILED", "CANCELLED"]

VOLUME_FILTER = ("Volumes and images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm *.png *.jpg *.jpeg *.bmp "
                 "*.tif *.tiff);;All files (*)")  # for the Open dialogs of both frontends
RUNNING, RETURNED, FAILED, CANCELLED = "running", "returned", "failed", "cancelled"
_OUTCOMES = (RETURNED, FAILED, CANCELLED)


class _Relay(QObject):
    """Signals emitted from the worker thread; queued to the handle (which lives in the GUI thread). They carry
    text and numbers only: the volume waits on the handle (a Python object through a queued signal from a
    Python thread upset PySide's reference counts at exit)."""

    progress = Signal(str, int, int)
    outcome = Signal(str, str)


class VolumeLoad(QObject):
    """The GUI-thread handle of one volume load running in a worker thread.

    Made by :func:`load_volume_async` or :func:`load_layer_async` (which start it); the work is
    ``read(progress, cancel) -> Volume`` followed by the volume's identity.

    Parameters
    ----------
    read : callable(progress, cancel) -> Volume
        Runs in the worker thread. ``progress(step, done, total)`` reports a step (``total`` 0: busy);
        ``cancel()`` is True once the load was cancelled.
    name : str
        What is loaded (a file name), for messages.

    Signals
    -------
    progress(str step, int done, int total)
        Coarse steps: checking the file, reading (busy: ``total`` 0), the identity.
    returned(object)
        The :class:`~labelassist.io.Volume`. Never emitted by a cancelled or failed load.
    failed(str)
        One line (a :class:`~labelassist.errors.LabelAssistError`'s text, or the file and the error).
    cancelled()
        The load was cancelled; it returns nothing.
    finished()
        Always last, whatever the outcome.
    """

    progress = Signal(str, int, int)
    returned = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, read: Callable, *, name: str = "volume", parent=None):
        super().__init__(parent)
        self.name = str(name)
        self.state = RUNNING
        self.result = None  # the volume, once returned
        self.error = ""  # the one line, once failed
        self.step = ""  # the last step reported
        self._read = read
        self._volume = None  # set by the worker just before it reports RETURNED
        self._cancel = threading.Event()
        self._relay = _Relay()
        self._relay.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._relay.outcome.connect(self._on_outcome, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name=f"labelassist-load-{self.name}", daemon=True)

    def __repr__(self) -> str:
        return f"<VolumeLoad {self.name!r} {self.state}>"

    @property
    def done(self) -> bool:
        """True once the load returned, failed or was cancelled (``finished`` was emitted)."""
        return self.state in _OUTCOMES

    def start(self) -> VolumeLoad:
        """Start the worker thread (once); returns the handle."""
        if not self._thread.is_alive() and not self.done and self._thread.ident is None:
            self._thread.start()
        return self

    def cancel(self) -> None:
        """Cancel the load: it emits ``cancelled`` and ``finished`` at once and never ``returned``.

        Cooperative: the worker stops at its next step (a reader in the middle of a file finishes that
        file first, and its volume is dropped). A finished load ignores this."""
        if self.done:
            return
        self._cancel.set()
        self._settle(CANCELLED)

    def wait(self, timeout: float | None = None) -> bool:
        """Process GUI events until the load is done (or ``timeout`` seconds); True when it returned."""
        if not self.done:
            loop = QEventLoop()
            self.finished.connect(loop.quit)
            if timeout is not None:
                QTimer.singleShot(int(timeout * 1000), loop.quit)
            if not self.done:  # finished may have come while connecting
                loop.exec()
            self.finished.disconnect(loop.quit)
        return self.state == RETURNED

    # -- worker thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            volume = self._read(self._report, self._cancel.is_set)
            self._check()
            self._report("identity", 0, 0)
            from labelassist.io.sessions.session import volume_identity

            volume_identity(volume)  # hashed here, once: the session code keeps it on the volume
            self._check()
            self._volume = volume
            self._send("outcome", RETURNED, "")
        except Cancelled:
            self._send("outcome", CANCELLED, "")
        except LabelAssistError as exc:
            self._send("outcome", FAILED, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except MemoryError:
            self._send("outcome", FAILED, f"{self.name}: not enough memory to load this volume")
        except Exception as exc:  # noqa: BLE001 - a load never ends in a traceback
            self._send("outcome", FAILED, f"{self.name}: cannot load ({type(exc).__name__}: {exc})".splitlines()[0])

    def _report(self, step: str, done: int, total: int) -> None:
        self._check()
        self._send("progress", str(step), int(done), int(total))

    def _send(self, name: str, *args) -> None:
        with contextlib.suppress(RuntimeError):  # the load was settled and its Qt objects deleted: nobody listens
            getattr(self._relay, name).emit(*args)

    def _check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    # -- GUI thread -----------------------------------------------------------------------------------
    def _on_progress(self, step: str, done: int, total: int) -> None:
        if not self.done:
            self.step = step
            self.progress.emit(step, done, total)

    def _on_outcome(self, outcome: str, text: str) -> None:
        volume, self._volume = self._volume, None
        if self.done:  # cancelled meanwhile: the volume is dropped
            return
        if outcome == RETURNED:
            self.result = volume
        elif outcome == FAILED:
            self.error = text
        self._settle(outcome)

    def _settle(self, outcome: str) -> None:
        if self.done:
            return
        self.state = outcome
        if outcome == RETURNED:
            self.returned.emit(self.result)
        elif outcome == FAILED:
            self.failed.emit(self.error)
        else:
            self.result = None
            self.cancelled.emit()
        self.finished.emit()
        self._read = None


def _read_file(path: Path):
    def read(progress, cancel):
        from labelassist.errors import VolumeError
        from labelassist.io import load_volume

        progress("checking the file", 0, 3)
        if not path.exists():
            raise VolumeError(f"{path}: no such file or folder")
        progress(f"reading {path.name}", 0, 0)  # busy: the readers do not report their progress
        volume = load_volume(path)
        progress("checked", 2, 3)
        return volume

    return read


def load_volume_async(path, *, parent=None) -> VolumeLoad:
    """Start loading ``path`` (any format :func:`labelassist.io.load_volume` reads) in a worker thread.

    Parameters
    ----------
    path : str or Path
        A file or a folder.
    parent : QObject, optional
        Owner of the handle.

    Returns
    -------
    VolumeLoad
        Started; connect to its signals (they are queued, so connecting right away misses nothing).
    """
    path = Path(path)
    return VolumeLoad(_read_file(path), name=path.name or str(path), parent=parent).start()


def load_layer_async(make_volume: Callable[[], object], *, name: str = "layer", parent=None) -> VolumeLoad:
    """Start building a volume from memory (``make_volume()``, e.g. from a napari layer) in a worker thread,
    then its identity: the GUI thread neither copies nor hashes the array.

    Parameters
    ----------
    make_volume : callable() -> Volume
        Runs in the worker thread; may raise :class:`~labelassist.errors.LabelAssistError`.
    name : str
        What is loaded, for messages.
    parent : QObject, optional
        Owner of the handle.

    Returns
    -------
    VolumeLoad
        Started.
    """
    def read(progress, cancel):
        progress(f"preparing {name}", 0, 0)
        return make_volume()

    return VolumeLoad(read, name=name, parent=parent).start()


class LoadProgress(QWidget):
    """A load's step, a bar (busy while the reader cannot tell) and a Cancel button; hidden when idle.

    :meth:`follow` shows one :class:`VolumeLoad` until it finishes; Cancel cancels it.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop loading this volume")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.load: VolumeLoad | None = None
        self.cancel_button.clicked.connect(self._cancel)
        self.setVisible(False)

    def follow(self, load: VolumeLoad) -> None:
        """Show ``load`` until it finishes."""
        self.load = load
        self.label.setText(f"Loading {load.name}...")
        self.bar.setRange(0, 0)
        load.progress.connect(self._on_progress)
        load.finished.connect(lambda ld=load: self._on_finished(ld))
        self.setVisible(not load.done)

    def _on_progress(self, step: str, done: int, total: int) -> None:
        self.label.setText(f"{step[:1].upper()}{step[1:]}...")
        self.bar.setRange(0, max(total, 0))
        self.bar.setValue(min(done, total) if total > 0 else 0)

    def _on_finished(self, load) -> None:
        if load is self.load:
            self.load = None
            self.setVisible(False)

    def _cancel(self) -> None:
        if self.load is not None:
            self.load.cancel()


_IMPORTERS: set = set()  # held until done: a parentless QObject would go with its last Python reference


class _Importer(QObject):
    done = Signal()

    def __init__(self, name: str, then: Callable[[], object], parent=None):
        super().__init__(parent)
        self._then = then
        self.done.connect(self._finish, Qt.ConnectionType.QueuedConnection)
        _IMPORTERS.add(self)
        threading.Thread(target=self._run, args=(name,), name=f"labelassist-import-{name}", daemon=True).start()

    def _run(self, name: str) -> None:
        with contextlib.suppress(Exception):  # ``then`` imports it again in the GUI thread and reports the error
            importlib.import_module(name)
        try:
            self.done.emit()
        except RuntimeError:  # the parent (and this object) is gone: nothing to call
            _IMPORTERS.discard(self)

    def _finish(self) -> None:
        _IMPORTERS.discard(self)
        self.deleteLater()
        self._then()


def import_in_background(name: str, then: Callable[[], object], *, parent=None) -> None:
    """Import module ``name`` in a worker thread, then call ``then()`` in the GUI thread.

    For what is slow to import and not needed to draw a window (torch and torchvision: seconds): the GUI thread
    keeps painting meanwhile. ``then`` is not called when ``parent`` (a QObject) was deleted by then.
    """
    _Importer(name, then, parent=parent)
