"""``Engine``: the GUI-side handle of the engine thread (docs/architecture.md, engine and jobs).

Lives in the GUI thread; every method returns at once. Jobs go to a :class:`~labelassist.engine.worker.Worker`
in a QThread by queued signal; results come back by signal. Reading results (:meth:`Engine.result`) and
re-fitting one slice from cached region minima (:meth:`Engine.refit`, numpy only, well under a frame) are
the only work done on the GUI thread.
"""

from __future__ import annotations

import atexit
import itertools
import weakref
from dataclasses import dataclass, replace

import numpy as np
import torchvision  # noqa: F401 - imported here, in the GUI thread: importing it (and triton's shared
# libraries) for the first time in the engine thread while Qt's OpenGL loads in this one can crash
from qtpy.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

from labelassist.core.propose.pipeline import PipelineParams, SliceResult, slice_mask
from labelassist.engine.worker import SharedState, Worker
from labelassist.errors import ParameterError

__all__ = ["Engine", "SliceView", "FIT_FIELDS"]

_LIVE: weakref.WeakSet = weakref.WeakSet()  # engines whose thread runs


def _shutdown_all() -> None:
    """Stop every engine thread still running (at exit: a QThread destroyed while running crashes)."""
    for engine in list(_LIVE):
        engine.shutdown()


atexit.register(_shutdown_all)

# Parameters that change only the fit: a re-fit from cached region minima, no CAM or perimeter work.
FIT_FIELDS = ("threshold", "gate", "fit", "min_size", "fill_holes", "largest_only")  # replaced by params.invalidated_stages


@dataclass(frozen=True)
class SliceView:
    """A read-only snapshot of one slice's results, for drawing (fields may be None while computing)."""

    cam: np.ndarray | None
    probability: float | None
    perimeter: np.ndarray | None
    regions: np.ndarray | None
    region_min: np.ndarray | None


class Engine(QObject):
    """One engine thread owning the model and device, for one open volume at a time.

    Signals
    -------
    model_changed(dict, str)
        ``{"path", "hash", "demo", "arch", "input_size", "meta"}`` of the loaded classifier, device name.
    progress(str, int, int)
        Job name, units done, units in all.
    slice_ready(int)
        A slice's CAM, perimeter and region minima are available (:meth:`result`, :meth:`refit`).
    finished(str, object)
        Job name and its result; None when the job was cancelled.
    failed(str, str)
        Job name and a one-line message. The engine stays usable.
    busy_changed(bool)
        True while jobs are queued or running.
    """

    model_changed = Signal(dict, str)
    progress = Signal(str, int, int)
    slice_ready = Signal(int)
    finished = Signal(str, object)
    failed = Signal(str, str)
    busy_changed = Signal(bool)
    _submit = Signal(str, int, object)

    def __init__(self, parent=None, *, device="auto", batch_size: int = 16):
        super().__init__(parent)
        self.params = PipelineParams()
        self.model_info: dict = {}
        self.device_name = ""
        self.batch_size = int(batch_size)
        self._shared = SharedState()
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._pending = 0
        self._last_long = 0
        self._thread = QThread()
        self._thread.setObjectName("labelassist-engine")
        self._worker = Worker(self._shared, device=device)
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run_job, Qt.QueuedConnection)
        self._worker.model_changed.connect(self._on_model, Qt.QueuedConnection)
        self._worker.progress.connect(self.progress, Qt.QueuedConnection)
        self._worker.slice_ready.connect(self.slice_ready, Qt.QueuedConnection)
        self._worker.finished.connect(self._on_finished, Qt.QueuedConnection)
        self._worker.failed.connect(self._on_failed, Qt.QueuedConnection)
        self._thread.start()
        self._alive = True
        _LIVE.add(self)
        app = QCoreApplication.instance()
        if app is not None and not getattr(app, "_labelassist_quit_hook", False):
            app.aboutToQuit.connect(_shutdown_all)
            app._labelassist_quit_hook = True

    # -- jobs -------------------------------------------------------------------------------------
    def _post(self, name: str, payload=None, *, long: bool = False) -> int:
        if not self._alive:
            raise ParameterError("the engine was shut down; open the volume again")
        job_id = next(self._ids)
        if long:
            self._last_long = job_id
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._submit.emit(name, job_id, payload)
        return job_id

    def load_model(self, path=None) -> None:
        """Load a classifier checkpoint in the engine thread (None: the shipped demo model)."""
        self._post("model", None if path is None else str(path))

    def open_volume(self, volume_or_array) -> None:
        """Work on this volume (a :class:`~labelassist.io.Volume` or a (z, y, x[, c]) array) from now on."""
        array = getattr(volume_or_array, "array", volume_or_array)
        array = np.asarray(array)
        if array.ndim not in (3, 4):
            raise ParameterError(f"volume must be (z, y, x) or (z, y, x, c), got shape {array.shape}")
        self.cancel()  # jobs of the previous volume are moot
        self._shared.token = next(self._tokens)
        self.shape = tuple(int(n) for n in array.shape[:3])
        self._post("volume_open", (self._shared.token, array, self.batch_size))

    def set_params(self, params: PipelineParams | None = None, **changes) -> PipelineParams:
        """Change parameters (checked here: a bad value raises ``ParameterError`` at once)."""
        new = replace(params or self.params, **changes)
        if new != self.params:
            self.params = new
            self._post("params", new)
        return new

    def compute_slice(self, index: int) -> None:
        """Compute one slice (interactive: requests coalesce, the newest wins)."""
        if self._shared.request_slice(index):
            self._post("slice")

    def compute_volume(self, indices=None) -> int:
        """Compute every slice (or ``indices``) in CAM batches; cancellable between batches."""
        return self._post("volume", None if indices is None else [int(i) for i in indices], long=True)

    def calibrate(self, reference: dict) -> int:
        """Grid search of threshold and gate against ``{slice index: reference mask}``."""
        ref = {int(i): np.asarray(m).copy() for i, m in reference.items()}
        return self._post("calibrate", ref, long=True)

    def call(self, name: str, fn, **kwargs) -> int:
        """Run ``fn(worker, progress, cancel, **kwargs)`` in the engine thread (train, propagate, ...);
        its return value arrives on ``finished("call", (name, value))``."""

        def job(worker, progress, cancel, **kw):
            return name, fn(worker, progress, cancel, **kw)

        return self._post("call", (name, job, kwargs), long=True)

    def cancel(self) -> None:
        """Cancel the running and queued long jobs (they finish with None)."""
        self._shared.cancel_upto(self._last_long)

    @property
    def alive(self) -> bool:
        """False once :meth:`shutdown` ran: signals still queued from the worker must post nothing."""
        return self._alive

    @property
    def busy(self) -> bool:
        return self._pending > 0

    # -- reading results (GUI thread) -------------------------------------------------------------
    def result(self, index: int) -> SliceView | None:
        """A snapshot of slice ``index`` of the open volume, or None before anything is computed."""
        pipe = self._worker.pipe
        if pipe is None or self._worker.token != self._shared.token or not 0 <= index < pipe.n_slices:
            return None
        r = pipe.results[index]
        view = SliceView(r.cam, r.probability, r.perimeter, r.regions, r.region_min)
        return None if view.cam is None and view.perimeter is None else view

    def refit(self, index: int) -> np.ndarray | None:
        """The fitted mask of slice ``index`` for the current parameters (numpy gather), or None when its
        CAM or perimeter is not computed yet (or is being recomputed)."""
        view = self.result(index)
        p = self.params
        if view is None or view.cam is None or view.probability is None:
            return None
        if p.fit and (view.regions is None or view.perimeter is None):
            return None
        snap = SliceResult(cam=view.cam, probability=view.probability, regions=view.regions,
                           perimeter=view.perimeter, region_min=view.region_min)
        return slice_mask(snap, p)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel everything, stop the thread and free the model."""
        if not self._alive:
            return
        self.cancel()
        self._shared.cancel_upto(next(self._ids))
        self._submit.emit("shutdown", 0, None)
        self._alive = False
        _LIVE.discard(self)
        self._thread.quit()
        self._thread.wait(timeout_ms)

    # -- signals from the worker ------------------------------------------------------------------
    def _done(self):
        self._pending = max(0, self._pending - 1)
        if self._pending == 0:
            self.busy_changed.emit(False)

    def _on_model(self, info: dict, device: str):
        self.model_info, self.device_name = dict(info), device
        self.model_changed.emit(info, device)

    def _on_finished(self, name: str, result):
        if name == "shutdown":
            return
        self._done()
        self.finished.emit(name, result)

    def _on_failed(self, name: str, message: str):
        self._done()
        self.failed.emit(name, message)
