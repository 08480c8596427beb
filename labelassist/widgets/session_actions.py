"""Export and session persistence of the :class:`~labelassist.widgets.controller.ReviewController`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, fields
from pathlib import Path

from labelassist.core.propose.pipeline import PipelineParams
from labelassist.core.review import ReviewState
from labelassist.errors import LabelAssistError
from labelassist.io.save import save_labels
from labelassist.io.session import load_session, save_session, set_aside

__all__ = ["SessionMixin"]

_PARAM_NAMES = {f.name for f in fields(PipelineParams)}


class SessionMixin:
    """Save (in a background thread, atomically), restore and export; mixed into the controller, which
    provides ``state``, ``volume``, ``export_path``, ``engine``, ``panel``, ``view`` and ``_say``."""

    def _init_sessions(self) -> None:
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelassist-session")
        self._saving = None

    def _restore(self, volume) -> ReviewState | None:
        try:
            state = load_session(self.export_path, like=volume)
        except LabelAssistError as exc:
            moved = set_aside(self.export_path)
            self._say(f"{exc}; kept it as {moved[0].name if moved else '?'} and started a new review", error=True)
            return None
        if state is None:
            return None
        params = {k: v for k, v in state.params.items() if k in _PARAM_NAMES}
        try:
            self.engine.set_params(**params)
        except (LabelAssistError, TypeError):
            pass
        if self.panel is not None:
            self.panel.set_params(asdict(self.engine.params))
        n = len(state.reviewed_indices())
        self._say(f"Restored the review session: {n} of {state.n_slices} slices reviewed")
        return state

    # -- export and session -----------------------------------------------------------------------
    def export(self, path=None) -> Path | None:
        """Write the label volume (source geometry, atomically) and the session beside it."""
        if self.state is None:
            self._say("Open a volume first", error=True)
            return None
        if self.refit_stale():
            self.view.refresh(None)
        target = Path(path) if path else self.export_path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            out = save_labels(self.state.labels, target, like=self.volume)
            save_session(self._snapshot(), out, like=self.volume)
            if out != self.export_path:
                self.save_session(wait=True)
        except (LabelAssistError, OSError) as exc:
            self._say(f"Export failed: {exc}", error=True)
            return None
        n = len(self.state.reviewed_indices())
        self._say(f"Exported to {out} ({n} of {self.state.n_slices} slices reviewed)")
        self.exported.emit(str(out))
        return out

    def _snapshot(self) -> ReviewState:
        st = self.state
        return ReviewState(st.labels.copy(), statuses=list(st.statuses), params=dict(st.params),
                           model_hash=st.model_hash, slice_info=[dict(d) for d in st.slice_info])

    def save_session(self, *, wait: bool = False) -> None:
        """Save the session beside the export path (in the background unless ``wait``)."""
        if self.state is None or self.volume is None:
            return
        snap, path, like = self._snapshot(), self.export_path, self.volume

        def work():
            try:
                save_session(snap, path, like=like)
            except (LabelAssistError, OSError) as exc:
                self._background_error.emit(f"Could not save the review session: {exc}")

        self._saving = self._saver.submit(work)
        if wait:
            self.flush()

    def flush(self) -> None:
        """Wait for a session save in flight."""
        if self._saving is not None:
            self._saving.result()

    def close(self) -> None:
        """Save the session (when anything was reviewed), stop the engine we made."""
        if self.state is not None and self.state.reviewed_indices():
            self.save_session(wait=True)
        self.flush()
        self._saver.shutdown(wait=True)
        if self._own_engine:
            self.engine.shutdown()
