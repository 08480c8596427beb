"""The worker that lives in the engine's QThread: it owns the model, the device and the pipeline.

Every public job is a ``_job_<name>(job_id, payload)`` method, called from :meth:`Worker.run_job` (a
queued slot). It returns the job's result; :class:`~labelassist.errors.Cancelled` means "no result";
any other exception becomes one line on ``failed``.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from qtpy.QtCore import QObject, Signal, Slot

from labelassist.errors import Cancelled, LabelAssistError, ParameterError

__all__ = ["Worker", "one_line"]

log = logging.getLogger(__name__)

CALIBRATION_GATES = tuple(np.round(np.linspace(0.0, 0.9, 10), 2))


def one_line(exc: BaseException) -> str:
    """A user-facing one-line message for an exception."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, LabelAssistError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker(QObject):
    """Runs jobs in the engine thread. Created by :class:`~labelassist.engine.Engine`, never directly."""

    model_changed = Signal(dict, str)
    progress = Signal(str, int, int)
    slice_ready = Signal(int)
    finished = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, engine_shared, device="auto"):
        super().__init__()
        self.shared = engine_shared  # the Engine's thread-safe request/cancel state
        self.device_request = device
        self.device = None
        self.model = None
        self.meta: dict = {}
        self.model_info: dict = {}
        self.pipe = None
        self.token = None  # the volume token the pipeline belongs to
        self.params = None

    # -- dispatch ---------------------------------------------------------------------------------
    @Slot(str, int, object)
    def run_job(self, name: str, job_id: int, payload) -> None:
        handler = getattr(self, f"_job_{name}", None)
        try:
            if handler is None:
                raise ParameterError(f"unknown engine job {name!r}")
            result = handler(job_id, payload)
        except Cancelled:
            self.finished.emit(name, None)
        except Exception as exc:  # noqa: BLE001 - the worker must survive every job
            log.debug("engine job %s failed", name, exc_info=True)
            self.failed.emit(name, one_line(exc))
        else:
            self.finished.emit(name, result)

    def _cancel_fn(self, job_id: int):
        return lambda: self.shared.is_cancelled(job_id)

    # -- model and volume -------------------------------------------------------------------------
    def _ensure_device(self):
        if self.device is None:
            import os

            import torch

            from labelassist.core.nets.device import resolve_device

            self.device = resolve_device(self.device_request)
            # leave a core to the GUI thread: a CPU run on every core starves the event loop
            cores = os.cpu_count() or 1
            if torch.get_num_threads() >= cores > 1:
                torch.set_num_threads(cores - 1)
        return self.device

    def _job_model(self, job_id, path):
        from labelassist.core.nets.checkpoint import checkpoint_hash, load_checkpoint
        from labelassist.core.nets.device import device_name
        from labelassist.core.nets.inputs import check_channels
        from labelassist.io.resources import demo_model_path

        demo = path is None
        path = demo_model_path() if demo else path
        if demo and not path.is_file():
            raise ParameterError(f"no demo model at {path}: load a checkpoint (train one with 'labelassist train')")
        model, meta = load_checkpoint(path, device=self._ensure_device())
        if self.pipe is not None:
            a = self.pipe.array
            check_channels(1 if a.ndim == 3 else a.shape[-1], int(meta["in_channels"]))
        self.model, self.meta = model, meta
        self.model_info = {
            "path": str(path), "hash": checkpoint_hash(path), "demo": demo, "meta": meta,
            "arch": meta.get("arch", "?"), "input_size": int(meta.get("input_size", 0)),
        }
        if self.pipe is not None:  # a new model: every CAM (and what follows from it) is stale
            self.pipe.set_model(model, meta)
        self.model_changed.emit(dict(self.model_info), device_name(self.device))
        return dict(self.model_info)

    def _job_params(self, job_id, params):
        self.params = params
        if self.pipe is not None:
            self.pipe.set_params(params)
        return None

    def _job_volume_open(self, job_id, payload):
        from labelassist.core.propose.pipeline import Pipeline

        token, array, batch_size = payload
        if self.model is None:
            self._job_model(job_id, None)
        self.pipe = None
        kwargs = {"params": self.params} if self.params is not None else {}
        self.pipe = Pipeline(array, self.model, self.meta, device=self.device, batch_size=batch_size, **kwargs)
        self.token = token
        return {"token": token, "n_slices": self.pipe.n_slices}

    def _need_pipe(self):
        if self.pipe is None or self.token != self.shared.token:
            raise ParameterError("no volume is open: open a volume first")
        return self.pipe

    # -- computing --------------------------------------------------------------------------------
    def _job_slice(self, job_id, payload):
        index = self.shared.take_slice_request()
        if index is None:
            return None
        pipe = self._need_pipe()
        pipe.run([index])
        self.slice_ready.emit(index)
        return index

    def _job_volume(self, job_id, indices):
        pipe = self._need_pipe()
        idx = list(range(pipe.n_slices)) if indices is None else [int(i) for i in indices]
        cancel = self._cancel_fn(job_id)
        total = 2 * len(idx)
        chunk = max(1, pipe.batch_size)
        for start in range(0, len(idx), chunk):
            part = idx[start : start + chunk]
            offset = 2 * start

            def progress(done, _n, offset=offset, part=part):
                # pipe.run counts 2 units per slice of its part: CAM first, then perimeter and fit
                self.progress.emit("volume", offset + done, total)

            pipe.run(part, progress=progress, cancel=cancel)
            for i in part:
                self.slice_ready.emit(i)
        return {"indices": idx}

    def _job_calibrate(self, job_id, reference: dict):
        from labelassist.core.evaluate.calibrate import calibrate

        pipe = self._need_pipe()
        if not reference:
            raise ParameterError("calibration needs reviewed slices: accept, correct or reject a few first")
        idx = sorted(int(i) for i in reference)
        cancel = self._cancel_fn(job_id)
        pipe.run(idx, cancel=cancel)
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
        return {"threshold": float(out.thresholds[0]), "gate": float(out.gate), "score": float(out.score),
                "n_slices": len(idx)}

    def _job_call(self, job_id, payload):
        """A job given as a callable ``fn(worker, progress, cancel, **kwargs)`` (train, propagate, ...)."""
        name, fn, kwargs = payload

        def progress(done, total):
            self.progress.emit(name, int(done), int(total))

        return fn(self, progress, self._cancel_fn(job_id), **kwargs)

    def _job_shutdown(self, job_id, payload):
        self.pipe = self.model = None
        return None


class SharedState:
    """What the GUI thread and the worker share: the coalesced slice request and the cancel marks."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slice_request: int | None = None
        self._slice_queued = False
        self._cancelled_upto = 0
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

    def cancel_upto(self, job_id: int) -> None:
        with self._lock:
            self._cancelled_upto = max(self._cancelled_upto, job_id)

    def is_cancelled(self, job_id: int) -> bool:
        return job_id <= self._cancelled_upto
