"""Export and session persistence of a review (the :class:`~labelassist.widgets.controller.ReviewController`
owns one :class:`SessionKeeper`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields
from pathlib import Path

from qtpy.QtCore import QObject, Signal

from labelassist.core.propose.pipeline import PipelineParams
from labelassist.core.review import ReviewState
from labelassist.errors import LabelAssistError
from labelassist.io.save import save_labels
from labelassist.io.session import load_session, save_session, set_aside

__all__ = ["SessionKeeper", "snapshot"]

_PARAM_NAMES = {f.name for f in fields(PipelineParams)}


def snapshot(state: ReviewState) -> ReviewState:
    """A copy of ``state`` that later review actions do not change (what a background save writes)."""
    return ReviewState(state.labels.copy(), statuses=list(state.statuses), params=dict(state.params),
                       model_hash=state.model_hash, slice_info=[dict(d) for d in state.slice_info])


class SessionKeeper(QObject):
    """Saves a review session (in a background thread, atomically), restores it and exports the labels.

    Parameters
    ----------
    controller : ReviewController
        Used through its public API only (``state``, ``volume``, ``export_path``, ``engine``, ``panel``,
        ``view``, ``say``, ``refit_stale``).

    Signals
    -------
    save_failed(str)
        A background save failed (emitted from the saving thread: connect a slot of a GUI-thread object).
    """

    save_failed = Signal(str)

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelassist-session")
        self._saving = None

    def restore(self, volume) -> ReviewState | None:
        """The session saved beside the controller's export path for ``volume`` (its parameters set on the
        engine and the panel), or None; a broken session is set aside (and said) so that a new review starts."""
        c = self.controller
        try:
            state = load_session(c.export_path, like=volume)
        except LabelAssistError as exc:
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

    def export(self, path=None) -> Path | None:
        """Write the label volume (source geometry, atomically) and the session beside it (and beside the
        export path too when ``path`` differs); None (said) when it fails."""
        c = self.controller
        if c.state is None:
            c.say("Open a volume first", error=True)
            return None
        if c.refit_stale():
            c.view.refresh(None)
        target = Path(path) if path else c.export_path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            out = save_labels(c.state.labels, target, like=c.volume)
            save_session(snapshot(c.state), out, like=c.volume)
            if out != c.export_path:
                self.save(wait=True)
        except (LabelAssistError, OSError) as exc:
            c.say(f"Export failed: {exc}", error=True)
            return None
        n = len(c.state.reviewed_indices())
        c.say(f"Exported to {out} ({n} of {c.state.n_slices} slices reviewed)")
        return out

    def save(self, *, wait: bool = False) -> None:
        """Save a snapshot of the review beside the export path (in the background unless ``wait``)."""
        c = self.controller
        if c.state is None or c.volume is None:
            return
        snap, path, like = snapshot(c.state), c.export_path, c.volume

        def work():
            try:
                save_session(snap, path, like=like)
            except (LabelAssistError, OSError) as exc:
                self.save_failed.emit(f"Could not save the review session: {exc}")

        self._saving = self._saver.submit(work)
        if wait:
            self.flush()

    def flush(self) -> None:
        """Wait for a session save in flight."""
        if self._saving is not None:
            self._saving.result()

    def close(self) -> None:
        """Wait for the save in flight and stop the saving thread."""
        self.flush()
        self._saver.shutdown(wait=True)
