"""Jobs of the engine thread: the handle a caller gets for one piece of posted work (:class:`Job`, in the
GUI thread) and what a job function gets in the engine thread (:class:`JobContext`).

Every :class:`~labelassist.engine.Engine` method that posts work returns its :class:`Job`; the caller
connects to that job's own signals (in the shape of superqt's workers), so no handler ever has to guess
which job a result belongs to::

    job = engine.call("propagate", fn, labels=labels)
    job.returned.connect(use_the_result)
    job.failed.connect(show_the_error)
    job.cancel()  # cooperative: fn's ``cancel()`` returns True from now on
"""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QObject, Signal

from labelassist.errors import ParameterError

__all__ = ["Job", "JobContext", "QUEUED", "RUNNING", "RETURNED", "FAILED", "CANCELLED"]

QUEUED, RUNNING, RETURNED, FAILED, CANCELLED = "queued", "running", "returned", "failed", "cancelled"
_OUTCOMES = (RETURNED, FAILED, CANCELLED)


class Job(QObject):
    """The GUI-thread handle of one job posted to the engine thread (made by the engine, never directly).

    Parameters
    ----------
    name : str
        What the job does (``"volume"``, ``"calibrate"``, a :meth:`~labelassist.engine.Engine.call` name...):
        for progress bars and messages only.
    job_id : int
        The engine's number of the job (increasing in posting order).
    on_cancel : callable() -> None, optional
        Asks the engine thread to stop the job (see :meth:`cancel`).

    Signals
    -------
    started()
        The engine thread began the job.
    progress(int done, int total)
        Units of work done so far.
    returned(object)
        The job's result. Never emitted by a cancelled or failed job.
    failed(str)
        A one-line message; the engine stays usable.
    cancelled()
        The job stopped on :meth:`cancel` (or the engine's cancel or shutdown) and returns nothing.
    finished()
        Always the last signal, whichever the outcome.
    """

    started = Signal()
    progress = Signal(int, int)
    returned = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, name: str, job_id: int, *, on_cancel: Callable[[], None] | None = None, parent=None):
        super().__init__(parent)
        self.name = str(name)
        self.id = int(job_id)
        self.state = QUEUED
        self.result = None  # the returned value, once returned
        self.error = ""  # the one-line message, once failed
        self._on_cancel = on_cancel
        self._cancel_requested = False

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self.state}>"

    @property
    def done(self) -> bool:
        """True once the job returned, failed or was cancelled (``finished`` was emitted)."""
        return self.state in _OUTCOMES

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def cancel(self) -> None:
        """Ask the job to stop: a queued job never runs, a running one stops at its next check of
        ``cancel()`` (between batches). It then emits ``cancelled`` (never ``returned``) and ``finished``.
        A job that does not check in time may still return; a finished job ignores this."""
        if self.done or self._cancel_requested:
            return
        self._cancel_requested = True
        if self._on_cancel is not None:
            self._on_cancel()

    # -- reported by the engine (GUI thread) -------------------------------------------------------
    def set_running(self) -> None:
        """The engine thread began the job (for the engine)."""
        if self.state == QUEUED:
            self.state = RUNNING
            self.started.emit()

    def set_progress(self, done: int, total: int) -> None:
        """Report progress (for the engine)."""
        if not self.done:
            self.progress.emit(int(done), int(total))

    def set_result(self, value) -> None:
        """The job returned ``value`` (for the engine): emits ``returned`` then ``finished``."""
        if self._settle(RETURNED):
            self.result = value
            self.returned.emit(value)
            self.finished.emit()

    def set_error(self, message: str) -> None:
        """The job failed (for the engine): emits ``failed`` then ``finished``."""
        if self._settle(FAILED):
            self.error = str(message)
            self.failed.emit(self.error)
            self.finished.emit()

    def set_cancelled(self) -> None:
        """The job stopped without a result (for the engine): emits ``cancelled`` then ``finished``."""
        if self._settle(CANCELLED):
            self.cancelled.emit()
            self.finished.emit()

    def _settle(self, outcome: str) -> bool:
        if self.done:
            return False
        self.state = outcome
        return True


class JobContext:
    """What a job function gets in the engine thread: ``fn(ctx, progress, cancel, **kwargs)``.

    One context lives as long as the engine thread; jobs run one at a time, in order, so a job may read and
    set its attributes without locks. Only the engine thread may touch it (the GUI thread reads results
    through :meth:`~labelassist.engine.Engine.result`).

    Attributes
    ----------
    model, meta : the classifier and its checkpoint metadata (None and {} before a model is loaded).
    model_info : dict
        ``{"path", "hash", "demo", "arch", "input_size", "meta"}`` of the loaded classifier.
    params : PipelineParams or None
        The parameters set last (None: the pipeline's defaults).
    segmenter : Segmenter or None
        The propagation net learned from the reviewer's corrections (kept from volume to volume).
    prompts : labelassist.engine.prompting.Prompts or None
        The box tool's LiteMedSAM and its slice embeddings (loaded on the first box).
    modality : str
        The open volume's: ``"US"`` for ultrasound (its own demo model), else ``""``.
    shared : the engine's thread-safe request and cancel state.
    """

    def __init__(self, shared, *, device="auto"):
        self.shared = shared
        self.device_request = device
        self.model = None
        self.meta: dict = {}
        self.model_info: dict = {}
        self.params = None
        self.modality = ""
        self.segmenter = None
        self.prompts = None  # the box tool's LiteMedSAM and its embeddings (engine.prompting.Prompts), once used
        self._device = None
        self._pipe = None
        self._token = None

    @property
    def device(self):
        """The torch device, resolved on first use (and a CPU core is left to the GUI thread)."""
        if self._device is None:
            import os

            import torch

            from labelassist.core.nets.device import resolve_device

            self._device = resolve_device(self.device_request)
            # leave a core to the GUI thread: a CPU run on every core starves the event loop
            cores = os.cpu_count() or 1
            if torch.get_num_threads() >= cores > 1:
                torch.set_num_threads(cores - 1)
        return self._device

    @property
    def pipeline(self):
        """The open volume's :class:`~labelassist.core.propose.pipeline.Pipeline`; ParameterError when none."""
        pipe = self.peek_pipeline()
        if pipe is None:
            raise ParameterError("no volume is open: open a volume first")
        return pipe

    def peek_pipeline(self):
        """The open volume's pipeline, or None (never raises: the GUI thread reads results through it)."""
        pipe, token = self._pipe, self._token
        return pipe if pipe is not None and token == self.shared.token else None

    @property
    def volume_token(self):
        """The token of the open volume (it names the volume in caches), or None when none is open."""
        return self._token if self.peek_pipeline() is not None else None

    def set_pipeline(self, pipe, token=None) -> None:
        """Make ``pipe`` the pipeline of the volume ``token`` (None: no volume is open)."""
        self._pipe, self._token = pipe, token

    def close(self) -> None:
        """Let go of the pipeline and the networks (the engine shuts down)."""
        self._pipe = self._token = None
        self.model = self.segmenter = self.prompts = None
