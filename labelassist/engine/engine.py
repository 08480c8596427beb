"""``Engine``: the GUI-side handle of the engine thread (docs/architecture.md, engine and jobs).

Lives in the GUI thread; every method returns at once. Work goes to a :class:`~labelassist.engine.worker.Worker`
in a QThread by queued signal, and every method that posts work returns the work's
:class:`~labelassist.engine.jobs.Job`, whose own signals bring its progress and outcome back. Reading results
(:meth:`Engine.result`) and re-fitting one slice from cached region minima (:meth:`Engine.refit`, numpy only,
well under a frame) are the only work done on the GUI thread.
"""

from __future__ import annotations

import atexit
import itertools
import weakref
from dataclasses import dataclass, replace

import numpy as np
import torchvision  # noqa: F401 - imported here, in the GUI thread, before the engine thread runs. The crash this
# once avoided is triton's LLVM loaded beside Mesa's (labelassist.engine.keep_triton_out, set by the entry points);
# this import still helps a library user who never calls it.
from qtpy.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

from labelassist.core.propose.pipeline import PipelineParams, SliceResult, slice_mask
from labelassist.engine.jobs import Job
from labelassist.engine.worker import SharedState, Worker
from labelassist.errors import ParameterError

__all__ = ["Engine", "SliceView", "Job"]

# Engines whose thread runs, held strongly: an engine garbage-collected with its QThread running aborts the
# process ("QThread: Destroyed while thread is still running"); shutdown() or the exit hooks remove it.
_LIVE: set = set()
_HOOKED: weakref.WeakSet = weakref.WeakSet()  # applications whose aboutToQuit stops the engines


def _shutdown_all() -> None:
    """Stop every engine thread still running (at exit: a QThread destroyed while running crashes)."""
    for engine in list(_LIVE):
        engine.shutdown()


atexit.register(_shutdown_all)


def _hook_quit() -> None:
    app = QCoreApplication.instance()
    if app is not None and app not in _HOOKED:
        app.aboutToQuit.connect(_shutdown_all)
        _HOOKED.add(app)


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

    Jobs run one at a time, in the order they were posted. Each posting method returns the job's
    :class:`~labelassist.engine.jobs.Job`: connect to *its* signals to use a result. The engine's own
    signals are engine-wide (the model, the slices, busy and progress for a status bar).

    Signals
    -------
    model_changed(dict, str)
        ``{"path", "hash", "demo", "arch", "input_size", "meta"}`` of the loaded classifier, device name.
    slice_ready(int)
        A slice's CAM, perimeter and region minima are available (:meth:`result`, :meth:`refit`).
    busy_changed(bool)
        True while jobs are queued or running.
    job_posted(object)
        A job was posted (its :class:`~labelassist.engine.jobs.Job`): a status bar or log may follow it.
    progress(str, int, int)
        Any job's name, units done, units in all (for a status bar).
    failed(str, str)
        Any job's name and its one-line error, after the job's own ``failed``: for a status bar or a message
        box. Act on a job's outcome through its own signals (:class:`~labelassist.engine.jobs.Job`).
    notice(str)
        One line for the user while work goes on, e.g. "GPU out of memory at batch 16: retrying with 8"
        (:class:`~labelassist.core.nets.device.OomFallback`).
    """

    model_changed = Signal(dict, str)
    progress = Signal(str, int, int)
    slice_ready = Signal(int)
    failed = Signal(str, str)
    notice = Signal(str)
    busy_changed = Signal(bool)
    job_posted = Signal(object)
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
        self._jobs: dict[int, Job] = {}  # posted and not finished, by id
        self._long: set[int] = set()  # ids of the jobs that cancel() stops
        self._slice_job: Job | None = None
        self._refining: set[int] = set()  # slices whose refined mask (crf, sam) the engine thread is asked for
        self._thread = QThread()
        self._thread.setObjectName("labelassist-engine")
        self._worker = Worker(self._shared, device=device)
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run_job, Qt.QueuedConnection)
        w = self._worker
        w.model_changed.connect(self._on_model, Qt.QueuedConnection)
        w.slice_ready.connect(self.slice_ready, Qt.QueuedConnection)
        w.started.connect(self._on_started, Qt.QueuedConnection)
        w.progress.connect(self._on_progress, Qt.QueuedConnection)
        w.returned.connect(self._on_returned, Qt.QueuedConnection)
        w.failed.connect(self._on_failed, Qt.QueuedConnection)
        w.cancelled.connect(self._on_cancelled, Qt.QueuedConnection)
        w.notice.connect(self.notice, Qt.QueuedConnection)
        self._thread.start()
        self._alive = True
        _LIVE.add(self)
        _hook_quit()

    # -- jobs -------------------------------------------------------------------------------------
    def _post(self, kind: str, payload=None, *, long: bool = False, name: str | None = None) -> Job:
        if not self._alive:
            raise ParameterError("the engine was shut down; open the volume again")
        job_id = next(self._ids)
        shared = self._shared
        job = Job(name or kind, job_id, on_cancel=lambda: shared.cancel(job_id))
        self._jobs[job_id] = job
        if long:
            self._long.add(job_id)
        if len(self._jobs) == 1:
            self.busy_changed.emit(True)
        self._submit.emit(kind, job_id, payload)
        self.job_posted.emit(job)
        return job

    def load_model(self, path=None) -> Job:
        """Load a classifier checkpoint in the engine thread (None: the shipped demo model).

        The job returns the model's info (as ``model_changed`` gives it)."""
        return self._post("model", None if path is None else str(path))

    def open_volume(self, volume_or_array) -> Job:
        """Work on this volume (a :class:`~labelassist.io.Volume` or a (z, y, x[, c]) array) from now on.

        The jobs of the previous volume are cancelled. The job returns ``{"token", "n_slices", "area"}``: an
        ultrasound volume's scan area (int8 (H, W): 0 outside, ``k`` in view ``k``; found as the file was read or in
        the engine thread: nothing is proposed outside it), or None."""
        from labelassist.io.formats.us_regions import volume_regions

        array = getattr(volume_or_array, "array", volume_or_array)
        array = np.asarray(array)
        regions = volume_regions(volume_or_array) if hasattr(volume_or_array, "array") else None
        found = getattr(volume_or_array, "header", {}).get("scan_area") if regions is not None else None  # as read
        if array.ndim not in (3, 4):
            raise ParameterError(f"volume must be (z, y, x) or (z, y, x, c), got shape {array.shape}")
        self.cancel()  # jobs of the previous volume are moot
        self._shared.token = next(self._tokens)
        self.shape = tuple(int(n) for n in array.shape[:3])
        return self._post("volume_open", (self._shared.token, array, self.batch_size, regions, found))

    def set_params(self, params: PipelineParams | None = None, **changes) -> PipelineParams:
        """Change parameters (checked here: a bad value raises ``ParameterError`` at once)."""
        new = replace(params or self.params, **changes)
        if new != self.params:
            self.params = new
            self._refining.clear()  # the refined masks asked for were for the old parameters
            self._post("params", new)
        return new

    def compute_slice(self, index: int) -> Job:
        """Compute one slice (interactive: requests coalesce, the newest wins).

        While a slice job waits in the queue, a new request changes the slice it computes and returns that
        same job. The job returns the index it computed (None when a cancel dropped the request)."""
        if self._shared.request_slice(index) or self._slice_job is None:
            self._slice_job = self._post("slice")
        return self._slice_job

    def compute_volume(self, indices=None) -> Job:
        """Compute every slice (or ``indices``) in CAM batches; cancellable between batches.

        The job returns ``{"indices": [...]}``; ``slice_ready`` comes for each slice as it is done."""
        return self._post("volume", None if indices is None else [int(i) for i in indices], long=True)

    def calibrate(self, reference: dict) -> Job:
        """Grid search of threshold and gate against ``{slice index: reference mask}``.

        The job returns a :class:`~labelassist.core.evaluate.calibrate.ReviewCalibration`."""
        ref = {int(i): np.asarray(m).copy() for i, m in reference.items()}
        return self._post("calibrate", ref, long=True)

    def call(self, name: str, fn, **kwargs) -> Job:
        """Run ``fn(ctx, progress, cancel, **kwargs)`` in the engine thread (train, propagate, ...).

        ``ctx`` is the engine thread's :class:`~labelassist.engine.jobs.JobContext` (``pipeline``, ``device``,
        ``model``, ``meta``, ``segmenter``), ``progress(done, total)`` reports, ``cancel()`` says whether to
        stop (raise :class:`~labelassist.errors.Cancelled`, or return early). The job, named ``name``,
        returns ``fn``'s value."""
        return self._post("call", (fn, kwargs), long=True, name=name)

    def cancel(self) -> None:
        """Cancel the running and queued long jobs (volume runs, calibrations, calls): they emit
        ``cancelled`` instead of a result."""
        for job_id in sorted(self._long):
            self._jobs[job_id].cancel()

    @property
    def alive(self) -> bool:
        """False once :meth:`shutdown` ran: signals still queued from the worker must post nothing."""
        return self._alive

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    # -- reading results (GUI thread) -------------------------------------------------------------
    def result(self, index: int) -> SliceView | None:
        """A snapshot of slice ``index`` of the open volume, or None before anything is computed."""
        pipe = self._worker.context.peek_pipeline()
        if pipe is None or not 0 <= index < pipe.n_slices:
            return None
        r = pipe.results[index]
        view = SliceView(r.cam, r.probability, r.perimeter, r.regions, r.region_min)
        return None if view.cam is None and view.perimeter is None else view

    def probabilities(self) -> list:
        """p(lesion) of every slice of the open volume (None where not computed yet); [] before a volume."""
        pipe = self._worker.context.peek_pipeline()
        return [] if pipe is None else [r.probability for r in pipe.results]

    def refit(self, index: int) -> np.ndarray | None:
        """The fitted mask of slice ``index`` for the current parameters (numpy gather), or None when its
        CAM or perimeter is not computed yet (or is being recomputed)."""
        view = self.result(index)
        p = self.params
        if view is None or view.cam is None or view.probability is None:
            return None
        if p.fit and (view.regions is None or view.perimeter is None):
            return None
        if p.fit and p.refine != "boundaryfit":  # without the fit: the thresholded CAM, a gather
            return self._refined(index)
        snap = SliceResult(cam=view.cam, probability=view.probability, regions=view.regions,
                           perimeter=view.perimeter, region_min=view.region_min)
        return slice_mask(snap, p)

    def _refined(self, index: int) -> np.ndarray | None:
        """A refiner's mask (the dense CRF, LiteMedSAM: they need the slice's image, LiteMedSAM seconds) is made in
        the engine thread: the pipeline's own mask once it holds one for these parameters; else None, and the slice
        is computed there once (its CAM and perimeter are cached; ``slice_ready`` follows)."""
        pipe = self._worker.context.peek_pipeline()
        if pipe is None or not 0 <= index < pipe.n_slices:
            return None
        mask = pipe.results[index].mask
        if pipe.params == self.params and mask is not None:
            self._refining.discard(index)
            return mask
        if index not in self._refining:
            self._refining.add(index)
            self.compute_slice(index)
        return None

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel everything, stop the thread and free the model; jobs not done by then are cancelled."""
        if not self._alive:
            return
        for job in list(self._jobs.values()):
            job.cancel()
        self._submit.emit("shutdown", 0, None)
        self._alive = False
        _LIVE.discard(self)
        self._thread.quit()
        self._thread.wait(timeout_ms)
        left, self._jobs = list(self._jobs.values()), {}
        self._long.clear()
        for job in left:
            job.set_cancelled()

    # -- signals from the worker ------------------------------------------------------------------
    def _on_model(self, info: dict, device: str):
        self.model_info, self.device_name = dict(info), device
        self.model_changed.emit(info, device)

    def _on_started(self, job_id: int):
        job = self._jobs.get(job_id)
        if job is not None:
            job.set_running()

    def _on_progress(self, job_id: int, done: int, total: int):
        job = self._jobs.get(job_id)
        if job is not None:
            job.set_progress(done, total)
            self.progress.emit(job.name, done, total)

    def _end(self, job_id: int) -> Job | None:
        job = self._jobs.pop(job_id, None)
        if job is not None:
            self._long.discard(job_id)
            self._shared.forget(job_id)
            if not self._jobs:
                self.busy_changed.emit(False)
        return job

    def _on_returned(self, job_id: int, result):
        job = self._end(job_id)
        if job is not None:
            job.set_result(result)

    def _on_cancelled(self, job_id: int):
        job = self._end(job_id)
        if job is not None:
            job.set_cancelled()

    def _on_failed(self, job_id: int, message: str):
        job = self._end(job_id)
        if job is not None:
            job.set_error(message)
            self.failed.emit(job.name, message)
