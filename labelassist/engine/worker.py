"""The worker that lives in the engine's QThread: it runs the jobs, one at a time and in order.

Every job is a ``_job_<name>(job_id, payload)`` method, called from :meth:`Worker.run_job` (a queued slot).
What the jobs share (the model, the device, the open volume's pipeline) is the worker's
:class:`~labelassist.engine.jobs.JobContext`, which is also what a :meth:`~labelassist.engine.Engine.call`
function gets. A job's return value goes out on ``returned(job_id, value)``;
:class:`~labelassist.errors.Cancelled` means "no result" (``cancelled(job_id)``); any other exception
becomes one line on ``failed(job_id, message)``. A job that runs out of GPU memory goes on with smaller
batches or on the CPU (:class:`~labelassist.core.nets.device.OomFallback`); each step is one line on
``notice(message)``.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from qtpy.QtCore import QObject, Signal, Slot

from labelassist.engine.jobs import JobContext
from labelassist.errors import Cancelled, LabelAssistError, ParameterError

__all__ = ["Worker", "SharedState", "one_line"]

log = logging.getLogger(__name__)

CALIBRATION_GATES = tuple(np.round(np.linspace(0.0, 0.9, 10), 2))


def one_line(exc: BaseException) -> str:
    """A user-facing one-line message for an exception."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, LabelAssistError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker(QObject):
    """Runs jobs in the engine thread. Created by :class:`~labelassist.engine.Engine`, never directly.

    Signals (all by job id; the engine turns them into its :class:`~labelassist.engine.jobs.Job` signals)
    -------
    started(int), progress(int, int done, int total), returned(int, object), failed(int, str),
    cancelled(int); and, for every job, model_changed(dict, str), slice_ready(int) and notice(str) (one line for
    the user: the GPU ran out of memory and the work went on with smaller batches or on the CPU).
    """

    model_changed = Signal(dict, str)
    slice_ready = Signal(int)
    started = Signal(int)
    progress = Signal(int, int, int)
    returned = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    notice = Signal(str)

    def __init__(self, engine_shared, device="auto"):
        super().__init__()
        self.shared = engine_shared  # the Engine's thread-safe request/cancel state
        self.context = JobContext(engine_shared, device=device)

    # -- dispatch ---------------------------------------------------------------------------------
    @Slot(str, int, object)
    def run_job(self, name: str, job_id: int, payload) -> None:
        from labelassist.core.nets.device import report_fallbacks

        handler = getattr(self, f"_job_{name}", None)
        self.started.emit(job_id)
        try:
            if handler is None:
                raise ParameterError(f"unknown engine job {name!r}")
            with report_fallbacks(self.notice.emit):  # out of GPU memory in any job: one line, work goes on
                result = handler(job_id, payload)
        except Cancelled:
            self.cancelled.emit(job_id)
        except Exception as exc:  # noqa: BLE001 - the worker must survive every job
            log.debug("engine job %s failed", name, exc_info=True)
            self.failed.emit(job_id, one_line(exc))
        else:
            self.returned.emit(job_id, result)

    def _cancel_fn(self, job_id: int):
        return lambda: self.shared.is_cancelled(job_id)

    def _progress_fn(self, job_id: int):
        return lambda done, total: self.progress.emit(job_id, int(done), int(total))

    def _check(self, job_id: int) -> None:
        if self.shared.is_cancelled(job_id):
            raise Cancelled()

    # -- model and volume -------------------------------------------------------------------------
    def _job_model(self, job_id, path):
        from labelassist.core.nets.checkpoint import checkpoint_hash, load_checkpoint
        from labelassist.core.nets.device import device_name
        from labelassist.core.nets.inputs import check_channels
        from labelassist.io.resources import demo_model_path

        self._check(job_id)
        ctx = self.context
        demo = path is None
        path = demo_model_path(ctx.modality) if demo else path
        if demo and not path.is_file():
            raise ParameterError(f"no demo model at {path}: load a checkpoint (train one with 'labelassist train')")
        model, meta = load_checkpoint(path, device=ctx.device)
        pipe = ctx.peek_pipeline()
        if pipe is not None:
            a = pipe.array
            check_channels(1 if a.ndim == 3 else a.shape[-1], int(meta["in_channels"]))
        ctx.model, ctx.meta = model, meta
        ctx.model_info = {
            "path": str(path), "hash": checkpoint_hash(path), "demo": demo, "meta": meta,
            "arch": meta.get("arch", "?"), "input_size": int(meta.get("input_size", 0)),
        }
        if pipe is not None:  # a new model: every CAM (and what follows from it) is stale
            pipe.set_model(model, meta)
        self.model_changed.emit(dict(ctx.model_info), device_name(ctx.device))
        return dict(ctx.model_info)

    def _job_params(self, job_id, params):
        ctx = self.context
        ctx.params = params
        pipe = ctx.peek_pipeline()
        if pipe is not None:
            pipe.set_params(params)
        return None

    def _job_volume_open(self, job_id, payload):
        from labelassist.core.propose.pipeline import Pipeline
        from labelassist.io.resources import demo_model_path

        token, array, batch_size, regions, found = payload  # found: the ScanArea read with the file, or None
        ctx = self.context
        ctx.set_pipeline(None)
        ctx.modality = "US" if regions is not None else ""
        own = demo_model_path(ctx.modality)  # the demo model in use follows the volume's modality
        if ctx.model is None or (ctx.model_info.get("demo") and str(own) != ctx.model_info["path"] and own.is_file()):
            self._job_model(job_id, None)
        kwargs = {"params": ctx.params} if ctx.params is not None else {}
        area = None
        if regions is not None:  # ultrasound: only the scan area, never the scanner's text and bars
            from labelassist.core.scan_area import scan_area

            area = (found if found is not None else scan_area(array, regions=regions)).labels
        pipe = Pipeline(array, ctx.model, ctx.meta, device=ctx.device, batch_size=batch_size,
                        on_fallback=self.notice.emit, area=area, **kwargs)
        ctx.set_pipeline(pipe, token)
        return {"token": token, "n_slices": pipe.n_slices, "area": area}

    # -- computing --------------------------------------------------------------------------------
    def _job_slice(self, job_id, payload):
        index = self.shared.take_slice_request()  # first: a later request then queues a new job
        self._check(job_id)
        if index is None:
            return None
        self.context.pipeline.run([index])
        self.slice_ready.emit(index)
        return index

    def _job_volume(self, job_id, indices):
        self._check(job_id)
        pipe = self.context.pipeline
        idx = list(range(pipe.n_slices)) if indices is None else [int(i) for i in indices]
        cancel, report = self._cancel_fn(job_id), self._progress_fn(job_id)
        total = 2 * len(idx)
        chunk = max(1, pipe.batch_size)
        for start in range(0, len(idx), chunk):
            part = idx[start : start + chunk]
            offset = 2 * start

            def progress(done, _n, offset=offset):
                # pipe.run counts 2 units per slice of its part: CAM first, then perimeter and fit
                report(offset + done, total)

            pipe.run(part, progress=progress, cancel=cancel)
            for i in part:
                self.slice_ready.emit(i)
        return {"indices": idx}

    def _job_calibrate(self, job_id, reference: dict):
        from labelassist.core.evaluate.calibrate import ReviewCalibration, calibrate

        self._check(job_id)
        pipe = self.context.pipeline
        if not reference:
            raise ParameterError("calibration needs reviewed slices: accept, correct or reject a few first")
        idx = sorted(int(i) for i in reference)
        pipe.run(idx, cancel=self._cancel_fn(job_id))
        for i in idx:
            if pipe.results[i].regions is None:
                pipe.ensure_perimeter(i)  # fit=False runs skip the perimeter; calibration needs its regions
        res = [pipe.results[i] for i in idx]
        out = calibrate(
            np.stack([r.cam.astype(np.float32) for r in res]),
            np.stack([r.regions for r in res]),
            np.stack([np.asarray(reference[i]) > 0 for i in idx]),
            gates=CALIBRATION_GATES,
            probabilities=np.array([r.probability for r in res]),
            perimeter=np.stack([r.perimeter for r in res]),
        )
        return ReviewCalibration(threshold=float(out.thresholds[0]), gate=float(out.gate), score=float(out.score),
                                 n_slices=len(idx))

    def _job_call(self, job_id, payload):
        """A job given as a callable ``fn(ctx, progress, cancel, **kwargs)`` (train, propagate, ...)."""
        fn, kwargs = payload
        self._check(job_id)
        return fn(self.context, self._progress_fn(job_id), self._cancel_fn(job_id), **kwargs)

    def _job_shutdown(self, job_id, payload):
        self.context.close()
        return None


class SharedState:
    """What the GUI thread and the worker share: the volume token, the coalesced slice request and the
    cancelled jobs."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slice_request: int | None = None
        self._slice_queued = False
        self._cancelled: set[int] = set()
        self.token = None

    def request_slice(self, index: int) -> bool:
        """Record the newest wanted slice; True when a job must be queued (none is waiting)."""
        with self._lock:
            self._slice_request = int(index)
            if self._slice_queued:
                return False
            self._slice_queued = True
            return True

    def take_slice_request(self) -> int | None:
        with self._lock:
            index, self._slice_request, self._slice_queued = self._slice_request, None, False
            return index

    def cancel(self, job_id: int) -> None:
        """Mark job ``job_id`` cancelled (its ``cancel()`` returns True from now on)."""
        with self._lock:
            self._cancelled.add(int(job_id))

    def forget(self, job_id: int) -> None:
        """Job ``job_id`` is over: drop its cancel mark."""
        with self._lock:
            self._cancelled.discard(int(job_id))

    def is_cancelled(self, job_id: int) -> bool:
        return job_id in self._cancelled
