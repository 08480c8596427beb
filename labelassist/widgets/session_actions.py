"""Export and session persistence of a review (the :class:`~labelassist.widgets.controller.ReviewController`
owns one :class:`SessionKeeper`).

Saves never run on the GUI thread and never queue up: :meth:`SessionKeeper.save` takes a snapshot and hands
it to the saving thread, where the newest snapshot replaces one not yet written (the newest state wins).
While a stroke is in progress (:meth:`SessionKeeper.hold`), no save starts: a session never holds half a
stroke, and the stroke is saved when it ends. One window writes a volume's session: a second window on the
same volume gets no lock and reviews read-only (said), and never writes.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, fields
from pathlib import Path

from qtpy.QtCore import QObject, QTimer, Signal

from labelassist.core.propose.params import PipelineParams
from labelassist.core.review import ReviewState
from labelassist.errors import LabelAssistError
from labelassist.io.save import save_labels
from labelassist.io.sessions.session import (SliceCompressor, load_session, lock_path, save_session, session_source,
                                    set_aside, volume_identity)
from labelassist.io.sessions.lock import SessionLock

__all__ = ["SessionKeeper", "snapshot"]

_PARAM_NAMES = {f.name for f in fields(PipelineParams)}


def snapshot(state: ReviewState) -> ReviewState:
    """A copy of ``state`` that later review actions do not change (what a background save writes)."""
    return ReviewState(state.labels.copy(), statuses=list(state.statuses), params=dict(state.params),
                       model_hash=state.model_hash, slice_info=[dict(d) for d in state.slice_info],
                       display=dict(state.display), lesion_marks=list(state.lesion_marks))


class _Saver:
    """The saving thread: writes the newest pending snapshot, one at a time (no Qt: plain threading)."""

    def __init__(self, on_error):
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending = None  # (state, export path, volume)
        self._busy = False
        self._stop = False
        self._compressors: dict[Path, SliceCompressor] = {}
        self._thread = threading.Thread(target=self._run, name="labelassist-session", daemon=True)
        self._thread.start()

    def submit(self, state, path: Path, like) -> None:
        with self._cond:
            self._pending = (state, path, like)  # a snapshot not yet written is replaced: newest wins
            self._cond.notify_all()

    def flush(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: (self._pending is None and not self._busy) or not self._thread.is_alive())

    def stop(self) -> None:
        self.flush()
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop)
                if self._pending is None:
                    return
                (state, path, like), self._pending = self._pending, None
                self._busy = True
            try:
                compressor = self._compressors.setdefault(Path(path), SliceCompressor())
                save_session(state, path, like=like, compressor=compressor)
            except (LabelAssistError, OSError) as exc:
                self._on_error(f"Could not save the review session: {exc}")
            except Exception as exc:  # noqa: BLE001 - the saving thread must outlive any one save
                self._on_error(f"Could not save the review session: {type(exc).__name__}: {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class SessionKeeper(QObject):
    """Saves a review session (in a background thread, atomically, coalesced), restores it, exports the labels.

    Parameters
    ----------
    controller : ReviewController
        Used through its public API only (``state``, ``volume``, ``export_path``, ``engine``, ``panel``,
        ``view``, ``say``, ``refit_stale``, ``begin_edit``, ``mark_corrected``, ``refresh_strip``, ``statuses_changed``, ``exported``).

    Attributes
    ----------
    read_only : bool
        True when another window holds this volume's session: nothing is saved or exported from here.

    Signals
    -------
    save_failed(str)
        A background save failed (emitted from the saving thread: connect a slot of a GUI-thread object).
    """

    save_failed = Signal(str)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.read_only = False
        self._saver = _Saver(self.save_failed.emit)
        self.save_failed.connect(self._say_failed)  # a bound slot: queued from the saving thread to this one
        self._lock: SessionLock | None = None
        self._holds = 0
        self._deferred = False
        self._stroke: int | None = None  # the slice of the stroke in progress
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(400)
        self._soon.timeout.connect(self.save)

    def _say_failed(self, text: str) -> None:
        self.controller.say(text, error=True)

    # -- opening ----------------------------------------------------------------------------------
    def begin(self, volume, export_path) -> None:
        """Take the session lock of ``export_path`` for ``volume`` (read-only, said, when another window has it)."""
        self.release()
        if volume.format == "layer":  # an image made in napari, no file behind it: no other window can open it
            return
        lock = SessionLock(lock_path(export_path))
        self.read_only = not lock.acquire()
        self._lock = None if self.read_only else lock
        if self.read_only:
            self.controller.say(f"{Path(volume.source_path).name} is open in another labelassist window "
                                f"(process {lock.owner()}): this window is read-only, its changes are not saved",
                                error=True)

    def release(self) -> None:
        """Let the session lock go (after the last save)."""
        self._saver.flush()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self.read_only = False

    def restore(self, volume) -> ReviewState | None:
        """The session saved beside the controller's export path for ``volume`` (its parameters set on the
        engine and the panel), or None; a broken session is set aside (and said) so that a new review starts."""
        c = self.controller
        try:
            state = load_session(c.export_path, like=volume)
        except LabelAssistError as exc:
            if self.read_only:
                c.say(f"{exc}; starting a new review (read-only)", error=True)
                return None
            moved = set_aside(c.export_path)
            c.say(f"{exc}; kept it as {moved[0].name if moved else '?'} and started a new review", error=True)
            return None
        if state is None:
            return None
        params = {k: v for k, v in state.params.items() if k in _PARAM_NAMES}
        try:
            c.engine.set_params(**params)
        except (LabelAssistError, TypeError):
            pass
        if c.panel is not None:
            c.panel.set_params(asdict(c.engine.params))
        n = len(state.reviewed_indices())
        c.say(f"Restored the review session: {n} of {state.n_slices} slices reviewed")
        return state

    # -- export -----------------------------------------------------------------------------------
    def export(self, path=None, *, confirm=None) -> Path | None:
        """Write the label volume (source geometry, atomically; an earlier export kept as a numbered backup)
        and the session beside it; None (said) when it fails or is cancelled.

        ``confirm(text) -> bool`` is asked before writing over an export that belongs to another source
        (no ``confirm``: refused); that source's session is set aside first, never overwritten.
        """
        c = self.controller
        if c.state is None:
            c.say("Open a volume first", error=True)
            return None
        if self.read_only:
            c.say("Not exported: this window is read-only (the volume is open in another window)", error=True)
            return None
        target = Path(path) if path else c.export_path
        if not self._may_write_over(target, confirm):
            return None
        if c.refit_stale():
            c.view.refresh(None)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            labels = c.state.labels if c.area is None else c.state.labels * c.area  # nothing outside the scan
            out = save_labels(labels, target, like=c.volume, backup=True)
            if Path(out) != Path(c.export_path):
                save_session(snapshot(c.state), out, like=c.volume)
            self.save(wait=True)
        except (LabelAssistError, OSError) as exc:
            c.say(f"Export failed: {exc}", error=True)
            return None
        n = len(c.state.reviewed_indices())
        c.say(f"Exported to {out} ({n} of {c.state.n_slices} slices reviewed)")
        c.exported.emit(str(out))
        return out

    def _may_write_over(self, target: Path, confirm) -> bool:
        c = self.controller
        owner = session_source(target)
        if owner is None or owner == volume_identity(c.volume)["source"]:
            return True
        text = f"{target.name} holds the labels of another volume ({owner}): replace them?"
        if confirm is None or not confirm(text):
            c.say(f"Not exported: {target.name} holds the labels of another volume ({Path(owner).name})", error=True)
            return False
        set_aside(target)
        return True

    # -- strokes ----------------------------------------------------------------------------------
    def begin_stroke(self, index: int) -> None:
        """A paint stroke starts on slice ``index``: marked corrected at once (a proposal computed meanwhile
        cannot replace the half-drawn stroke); no save starts until :meth:`end_stroke`."""
        c = self.controller
        if c.state is None or not 0 <= int(index) < c.state.n_slices:
            return
        self.end_stroke()
        self.flush()  # what came before the stroke is on disk before the stroke can be interrupted
        self.hold()
        self._stroke = int(index)
        c.begin_edit(self._stroke)  # an undo of the stroke gives the slice back its status too
        if not c.state.is_reviewed(self._stroke):
            c.mark_corrected([self._stroke], undoable=False)

    def end_stroke(self) -> None:
        """The stroke ended: the session is saved, once, with the whole stroke."""
        if self._stroke is None:
            return
        self._stroke = None
        self.unhold()

    # -- saving -----------------------------------------------------------------------------------
    def hold(self) -> None:
        """A stroke started: no save starts until :meth:`unhold` (saves asked meanwhile run then)."""
        self._holds += 1

    def unhold(self) -> None:
        """The stroke ended: run the save that waited for it, if any."""
        self._holds = max(0, self._holds - 1)
        if self._holds == 0 and self._deferred:
            self._deferred = False
            self.save()

    @property
    def holding(self) -> bool:
        return self._holds > 0

    def save(self, *, wait: bool = False) -> None:
        """Save a snapshot of the review beside the export path (in the background unless ``wait``); during a
        stroke the save is deferred to the stroke's end (:meth:`unhold`)."""
        c = self.controller
        if c.state is None or c.volume is None or self.read_only:
            return
        if self._holds:
            self._deferred = True
            return
        self._saver.submit(snapshot(c.state), Path(c.export_path), c.volume)
        if wait:
            self.flush()

    def save_soon(self) -> None:
        """Save once the changes stop for a moment (a slider dragged through many values saves once)."""
        self._soon.start()

    def flush(self) -> None:
        """Write a save that was waiting (:meth:`save_soon`), then wait until the newest snapshot is written."""
        if self._soon.isActive():
            self._soon.stop()
            self.save()
        self._saver.flush()

    def close(self) -> None:
        """Write what is pending, stop the saving thread and let the lock go."""
        self._holds, self._stroke = 0, None
        if self._deferred or self._soon.isActive():
            self._soon.stop()
            self._deferred = False
            self.save()
        self.release()
        self._saver.stop()
