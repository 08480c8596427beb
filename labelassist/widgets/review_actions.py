"""The review actions of the :class:`~labelassist.widgets.controller.ReviewController` (accept, reject, correct,
undo, next slice), on its :class:`~labelassist.core.loop.ReviewSession`: a mixin, the controller's other half,
kept apart so that each file holds one responsibility (the controller: engine, volume, parameters, computing)."""

from __future__ import annotations

from labelassist.errors import ParameterError

__all__ = ["ReviewActions"]


class ReviewActions:
    """Review actions of a controller that has ``session``, ``state``, ``view``, ``panel``, ``learner``,
    ``sessions``, ``current``, ``say``, ``show_slice``, ``save_session``, the ``statuses_changed`` signal and a
    ``_stale`` set of slices whose proposal predates a fit change."""

    # -- review -----------------------------------------------------------------------------------
    def _index(self, index) -> int | None:
        if self.state is None:
            self.say("Open a volume first", error=True)
            return None
        return self.current if index is None else int(index)

    def accept(self, index: int | None = None) -> None:
        """Accept the slice's label as it stands (a corrected slice stays 'corrected')."""
        i = self._index(index)
        if i is None:
            return
        status = self.session.accept(i)
        self._reviewed(f"Slice {i} {status}")

    def reject(self, index: int | None = None) -> None:
        """Reject the slice: it shows no lesion (its label becomes empty)."""
        i = self._index(index)
        if i is None:
            return
        self.session.reject(i)
        self.view.refresh(i)
        self._reviewed(f"Slice {i} rejected (empty)")

    def mark_lesion(self, index: int | None = None) -> None:
        """Y: the slice shows a lesion (a *yes* for the classifier's training) without drawing it; again: take it
        back."""
        i = self._index(index)
        if i is None:
            return
        on = i not in self.state.lesion_marks
        try:
            self.session.mark_lesion(i, on)
        except ParameterError as exc:
            self.say(str(exc), error=True)
            return
        self._reviewed(f"Slice {i}: lesion (a yes for File > Train)" if on else f"Slice {i}: lesion mark taken back")

    def accept_suggestion(self, index: int | None = None) -> bool:
        """Add the suggested lesion on slice ``index`` (default: on screen) to its label (:class:`Learner`)."""
        return self.learner.accept_suggestion(self._index(index))

    def mark_corrected(self, indices, *, undoable: bool = True) -> None:
        """The labels of these slices changed (a stroke, an undo, a redo: the labels already hold it): corrected,
        but a slice an undo put back as it was before its last edit gets its status back (:meth:`begin_edit`;
        ``undoable=False``: corrected whatever they hold)."""
        if self.state is None:
            return
        if undoable:
            touched, restored = self.session.edited(indices)
        else:
            touched, restored = self.session.correct(indices), []
        self._stale.difference_update(touched)
        if restored:
            self.view.refresh(None)
            self._reviewed(f"Undone: slice{'s' if len(restored) > 1 else ''} {', '.join(map(str, restored))} "
                           f"{self.state.status(restored[0])} again")
        if touched:
            self._reviewed(f"Slice{'s' if len(touched) > 1 else ''} {', '.join(map(str, touched))} corrected")

    def begin_edit(self, index: int) -> None:
        """An edit of slice ``index`` starts: an undo that puts its mask back gives it back its status too."""
        if self.session is not None:
            self.session.begin_edit(index)

    def begin_stroke(self, index: int) -> None:
        """A paint stroke starts on slice ``index``: marked corrected at once, saved when it ends."""
        self.sessions.begin_stroke(index)

    def end_stroke(self) -> None:
        """The stroke in progress ended (see :meth:`SessionKeeper.end_stroke`)."""
        self.sessions.end_stroke()

    def next_unreviewed(self) -> None:
        if self.state is None:
            return
        j = self.session.next_slice(self.current)
        if j is None:
            self.say("Every slice is reviewed: export when ready")
            return
        self.show_slice(j)

    def _reviewed(self, text: str) -> None:
        self.refresh_strip()
        self.statuses_changed.emit()
        self.say(text)
        self.save_session()

    def mark_fresh(self, index: int) -> None:
        """Slice ``index``'s proposal is up to date: no re-fit is due when it is shown or exported."""
        self._stale.discard(int(index))

    def refresh_strip(self) -> None:
        """Show the statuses on the panel's slice strip."""
        if self.panel is None or self.state is None:
            return
        st = self.state
        self.panel.set_statuses(st.statuses, [st.has_proposal(i) for i in range(st.n_slices)], self.current,
                                lesion=st.lesion_marks, probability=self.engine.probabilities() or None)

    def calibrate(self):
        """Grid search of threshold and gate on the reviewed slices, then re-fit the rest (:class:`Learner`)."""
        return self.learner.calibrate()  # ``calibrated`` is emitted once the learner applied the result
