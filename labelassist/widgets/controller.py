"""``ReviewController``: all review logic, shared by the napari plugin and the standalone app.

It owns the engine, the review state and the slice on screen; a frontend renders (a ``ReviewView``) and forwards
slice changes and strokes. A proposal never overwrites a reviewed slice; a threshold or gate change re-fits the
slice on screen at once and the others when shown or exported; the session is saved after every review action
(``SessionKeeper``). Each engine job is followed through its own signals, so another's job never reaches the review.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QObject, QTimer, Signal

from labelassist.core.loop import ReviewSession
from labelassist.core.propose.params import invalidated_stages
from labelassist.core.regions import signal_walls, volume_air_level
from labelassist.core.review import ReviewState
from labelassist.errors import LabelAssistError
from labelassist.io.sessions.session import default_export_path
from labelassist.widgets.learning import Learner
from labelassist.widgets.review_actions import ReviewActions
from labelassist.widgets.session_actions import SessionKeeper
from labelassist.widgets.view import ReviewView, Shortcut
from labelassist.widgets.wiring import SHORTCUT_KEYS, connect_panel, model_text, review_shortcuts

if TYPE_CHECKING:
    from labelassist.engine import Engine

__all__ = ["ReviewController", "SHORTCUT_KEYS"]


class ReviewController(ReviewActions, QObject):
    """Review one volume at a time with one engine.

    Parameters
    ----------
    view : ReviewView, optional
        The frontend adapter (a do-nothing one by default: handy in tests and scripts).
    panel : ControlPanel, optional
        Wired both ways when given.
    engine : Engine, optional
        Made (and shut down by :meth:`close`) when not given.
    model : path, optional
        Classifier checkpoint to load at once; None loads the shipped demo model.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ... for a new engine.
    auto_compute : bool
        Compute a slice when it is shown and has no result yet (interactive, coalesced).

    Signals
    -------
    statuses_changed(), current_changed(int), message(str, bool is_error), volume_opened(object),
    exported(str path), calibrated(ReviewCalibration)

    Attributes
    ----------
    session : ReviewSession or None
        The review of the open volume (labels, statuses, proposals, the learner's bookkeeping): the object the
        command line and the benchmarks drive too; ``state`` is its :class:`~labelassist.core.review.ReviewState`.
    learner : Learner
        Calibration, the segmenter (:meth:`propagate`) and suggested lesions (``suggested``, never exported unaccepted).
    sessions : SessionKeeper
        Saves, restores and exports the review.
    """

    statuses_changed = Signal()
    current_changed = Signal(int)
    message = Signal(str, bool)
    volume_opened = Signal(object)
    exported = Signal(str)
    calibrated = Signal(object)

    def __init__(self, view: ReviewView | None = None, *, panel=None, engine: Engine | None = None,
                 model=None, device="auto", auto_compute: bool = True, parent=None):
        super().__init__(parent)
        self.view = view or ReviewView()
        self._own_engine = engine is None
        if engine is None:
            from labelassist.engine import Engine  # torch: seconds, after the window is shown

            engine = Engine(device=device)
        self.engine = engine
        self.panel = None
        self.auto_compute = auto_compute
        self.volume = None
        self.session: ReviewSession | None = None
        self.cam = self.perimeter = self.suggested = self.air = None  # suggested: the learner's, never exported
        self.export_path: Path | None = None
        self.current = 0
        self._stale: set[int] = set()
        self._closed = False
        self._slice_job = None
        self.learner = Learner(self)
        self.sessions = SessionKeeper(self, parent=self)  # says its own failed saves
        self._refit_timer = QTimer(self)
        self._refit_timer.setSingleShot(True)
        self._refit_timer.setInterval(0)
        self._refit_timer.timeout.connect(self._refit_current)
        e = self.engine
        e.slice_ready.connect(self._on_slice_ready)
        e.model_changed.connect(self._on_model)
        e.notice.connect(self.say)  # out of GPU memory: smaller batches or the CPU, said in one line
        if panel is not None:
            self.attach_panel(panel)
        self.view.install_shortcuts(self.shortcuts())
        self.load_model(model)

    @property
    def state(self) -> ReviewState | None:
        """The open volume's review state (labels, statuses, provenance), or None."""
        return None if self.session is None else self.session.state

    # -- wiring -----------------------------------------------------------------------------------
    def shortcuts(self) -> list[Shortcut]:
        return review_shortcuts(self)

    def attach_panel(self, panel) -> None:
        """Connect a :class:`~labelassist.widgets.control_panel.ControlPanel` both ways."""
        self.panel = panel
        connect_panel(self, panel)

    def say(self, text: str, *, error: bool = False) -> None:
        """Tell the reviewer (``message`` signal: the panel, the status bar); nothing once closed."""
        if not self._closed:  # an engine notice can come after close(), when the panel may be gone
            self.message.emit(text, error)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: the jobs still in flight are ignored."""
        return self._closed

    def follow(self, job, *, returned=None, cancelled=None):
        """Follow a job this review posted: its error is said as ``"name: message"``; ``returned(result)`` and
        ``cancelled()`` run on its outcome unless the controller is closed by then. Returns ``job``."""
        job.failed.connect(lambda text: None if self._closed else self.say(f"{job.name}: {text}", error=True))
        if returned is not None:
            job.returned.connect(lambda result: None if self._closed else returned(result))
        if cancelled is not None:
            job.cancelled.connect(lambda: None if self._closed else cancelled())
        return job

    # -- volume and model -------------------------------------------------------------------------
    def open_volume(self, volume, *, export_path=None, restore: bool = True) -> None:
        """Review ``volume`` (a :class:`~labelassist.io.Volume`); restores its session when one exists."""
        if self.volume is not None:
            self.save_session(wait=True)
        shape = volume.shape
        self.volume = volume
        self.cam = np.zeros(shape, np.float32)
        self.perimeter = np.zeros(shape, np.uint8)
        self.air = volume_air_level(volume.array)  # the grey level below which the image shows no body
        self.export_path = Path(export_path) if export_path else default_export_path(volume)
        self._stale = set()
        self._follow_modality(volume)
        self.sessions.begin(volume, self.export_path)
        state = self.sessions.restore(volume) if restore else None
        if state is None:
            state = ReviewState.new(shape, params=asdict(self.engine.params),
                                    model_hash=self.engine.model_info.get("hash", ""))
        self.session = ReviewSession(state)  # a restored session keeps the segmenter's masks it holds
        self.suggested = self.session.suggested
        self.area = None  # an ultrasound volume's scan area, once the engine found it (nothing proposed outside)
        self.view.show_area(None)
        self.follow(self.engine.open_volume(volume), returned=lambda r, v=volume: self._opened(v, r))
        self.view.show_volume(volume, cam=self.cam, perimeter=self.perimeter, labels=state.labels)
        self.view.show_suggestions(self.suggested)
        self.current = min(max(int(self.view.current_index()), 0), shape[0] - 1)
        if self.panel is not None:
            self.panel.export_hint = str(self.export_path)
        self.refresh_strip()
        self.volume_opened.emit(volume)
        self.go_to(self.current)

    def _follow_modality(self, volume) -> None:
        """Parameters the user has not changed follow the volume's modality (ultrasound has its own defaults:
        :mod:`labelassist.core.propose.profiles`); a restored session then sets its own."""
        from labelassist.core.propose.profiles import default_params
        from labelassist.io.formats.us_regions import volume_modality

        own = default_params(volume_modality(volume))
        if self.engine.params != own and self.engine.params in (default_params(""), default_params("US")):
            self.engine.set_params(own)
            if self.panel is not None:
                self.panel.set_params(asdict(self.engine.params))

    def _opened(self, volume, result: dict) -> None:
        if volume is self.volume and result.get("area") is not None:
            self.area = self.session.area = np.asarray(result["area"]) > 0  # its views numbered: a mask here
            self.view.show_area(self.area)

    def load_model(self, path=None):
        """Load a classifier checkpoint in the engine (None: the demo model); returns the job."""
        return self.follow(self.engine.load_model(path))

    def _on_model(self, info: dict, device: str) -> None:
        if self._closed:  # a model signal queued before close() can arrive after it (the panel may be gone)
            return
        if self.panel is not None:
            self.panel.set_model_text(model_text(info, device))
        if self.state is None:
            return
        old = self.state.model_hash
        self.state.model_hash = info.get("hash", "")
        if old and old != self.state.model_hash and self.state.reviewed_indices():
            self.say("The model differs from the one of this session: reviewed slices are kept, "
                      "unreviewed proposals will be recomputed")
        self._stale = {i for i in self.state.unreviewed_indices() if self.state.has_proposal(i)}
        if self.auto_compute and self.engine.alive:  # a model signal can arrive after the window closed
            self._compute_slice(self.current)

    # -- parameters -------------------------------------------------------------------------------
    def set_params(self, **changes) -> None:
        """Change pipeline parameters; fit-only changes re-fit the slice on screen at once."""
        try:
            params = self.engine.set_params(**changes)
        except (LabelAssistError, TypeError) as exc:
            self.say(str(exc), error=True)
            if self.panel is not None:
                self.panel.set_params(asdict(self.engine.params))
            return
        if self.state is None:
            return
        self.state.params = asdict(params)
        self.sessions.save_soon()  # threshold and gate are part of the session (a slider burst saves once)
        self._stale = {i for i in self.state.unreviewed_indices() if self.state.has_proposal(i)}
        if invalidated_stages(changes) <= {"fit"}:
            self._refit_timer.start()  # coalesced: a burst of slider moves costs one re-fit
        else:
            self.engine.cancel()  # a run with the old CAM or perimeter is moot
            self._compute_slice(self.current)

    def set_display(self, window: float, level: float) -> None:
        """The reviewer's window and level: kept in the session (a drag saves once), restored on reopening."""
        if self.state is None:
            return
        display = {"window": float(window), "level": float(level)}
        if display != self.state.display:
            self.state.display = display
            self.sessions.save_soon()

    def _propose(self, index: int) -> bool:
        """Re-fit slice ``index``'s proposal; it goes into the labels only while the slice's mask is a proposal
        (the segmenter's mask and the reviewer's stand: :meth:`ReviewSession.set_proposal`). True when the labels
        changed."""
        mask = self.engine.refit(index)
        if mask is None:
            return False
        self._stale.discard(index)
        return self.session.set_proposal(index, mask, params=asdict(self.engine.params),
                                         model_hash=self.state.model_hash)

    def _refit_current(self) -> None:
        if self.state is not None and self._propose(self.current):
            self.view.refresh_labels(self.current)

    def refit_stale(self, *, every: bool = False) -> int:
        """Re-fit every unreviewed slice whose proposal predates a fit change (``every``: every unreviewed
        slice with a result, but the segmenter's); returns how many changed."""
        if self.state is None:
            return 0
        n = sum(bool(self._propose(i)) for i in (self.state.unreviewed_indices() if every else sorted(self._stale)))
        if every:
            self._stale.clear()
        return n

    # -- navigation and computing -----------------------------------------------------------------
    def go_to(self, index: int) -> None:
        """The frontend shows slice ``index``: refit it if stale, compute it if it has no result."""
        if self.state is None:
            return
        i = min(max(int(index), 0), self.state.n_slices - 1)
        changed, self.current = i != self.current, i
        if i in self._stale and self._propose(i):
            self.view.refresh_labels(i)
        if self.auto_compute and self.engine.alive and self.engine.result(i) is None:
            self._compute_slice(i)
        if self.panel is not None:
            self.refresh_strip()
        if changed:
            self.current_changed.emit(i)

    def show_slice(self, index: int) -> None:
        """Ask the frontend to show slice ``index`` (and follow it)."""
        self.view.set_current_index(int(index))
        self.go_to(index)

    def _compute_slice(self, index: int):
        job = self.engine.compute_slice(index)
        if job is not self._slice_job:  # a request that coalesced into the waiting job is followed already
            self._slice_job = self.follow(job)
        return job

    def run_slice(self, index: int | None = None):
        """Compute slice ``index`` (default: the current one); returns the job (None: no volume)."""
        if self.state is None:
            return None
        return self._compute_slice(self.current if index is None else index)

    def run_volume(self, indices=None):
        """Compute every slice (or ``indices``); returns the job (None: no volume, said)."""
        if self.state is None:
            self.say("Open a volume first", error=True)
            return None
        return self.follow(self.engine.compute_volume(indices),
                           returned=lambda r: self._volume_done(f"Computed {len(r['indices'])} slices"),
                           cancelled=lambda: self._volume_done("Run cancelled"))

    def cancel(self) -> None:
        """Cancel the engine's long jobs (volume runs, calibration, learning)."""
        self.engine.cancel()

    def propagate(self, *, steps: int | None = None):
        """Train the segmenter on the reviewed slices (in the engine thread) and re-predict the unreviewed ones;
        returns the job (None when there is nothing to learn from, said)."""
        return self.learner.propagate(steps=steps)

    def _on_slice_ready(self, index: int) -> None:
        if self._closed or self.state is None:
            return
        view = self.engine.result(index)
        if view is None:
            return
        if view.cam is not None:
            self.cam[index] = view.cam
        if view.perimeter is not None:  # walls drawn where the image has signal: walls in the air are noise
            self.perimeter[index] = signal_walls(view.perimeter, self.volume.array[index], air=self.air)
        self._propose(index)
        if index == self.current:
            self.view.refresh(index)
        self.refresh_strip()

    def _volume_done(self, text: str) -> None:
        self.view.refresh(None)
        self.say(text)

    # -- export and session -----------------------------------------------------------------------
    def export(self, path=None, *, confirm=None) -> Path | None:
        """Write the label volume and the session beside it (:meth:`SessionKeeper.export`; ``confirm(text)``)."""
        return self.sessions.export(path, confirm=confirm)  # emits ``exported`` when written

    def save_session(self, *, wait: bool = False) -> None:
        """Save the session beside the export path (in the background unless ``wait``)."""
        self.sessions.save(wait=wait)

    def close(self) -> None:
        """Save the session (when anything was reviewed), stop the engine we made; a second call does nothing."""
        if self._closed:
            return
        if self.state is not None and self.state.reviewed_indices():
            self.save_session(wait=True)
        self._closed = True
        self.sessions.close()
        if self._own_engine:
            self.engine.shutdown()
