"""What a review learns from its reviewed slices, for the :class:`~labelassist.widgets.controller.ReviewController`,
which owns one :class:`Learner`: the threshold and gate (calibration), and 'Propagate from reviewed slices'
(docs/architecture.md, the review loop). The learning is the controller's
:class:`~labelassist.core.loop.ReviewSession`'s: its request goes to the engine thread, where
:func:`~labelassist.core.loop.run_request` trains the engine's segmenter on the reviewed slices and predicts the
rest, and the session applies the result. The same three steps run ``simulate-review`` and the benchmarks.
Reviewed slices are never touched."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

__all__ = ["Learner", "run_propagation"]


def run_propagation(ctx, progress, cancel, *, request):
    """Engine-thread job: :func:`~labelassist.core.loop.run_request` with the engine's segmenter
    (``ctx.segmenter``, replaced by the trained one); returns the
    :class:`~labelassist.core.propagate.PropagationResult`."""
    from labelassist.core.loop import run_request

    result = run_request(ctx.pipeline.array, request, model=ctx.segmenter, device=ctx.device, progress=progress,
                         cancel=cancel)
    ctx.segmenter = result.model
    return result


class Learner:
    """Posts the calibration and learning jobs of a review and applies their results to the controller's
    session (which keeps the segmenter's masks, the review queue and the suggested lesions).

    Parameters
    ----------
    controller : ReviewController
        Used through its public API only (``session``, ``state``, ``engine``, ``panel``, ``suggested``, ``view``,
        ``say``, ``follow``, ``statuses_changed``, ``begin_edit``, ``mark_corrected``, ``mark_fresh``,
        ``refit_stale``, ``refresh_strip``, ``save_session``, ``calibrated``, ``current``, ``show_slice``).
    """

    def __init__(self, controller):
        self.controller = controller
        controller.statuses_changed.connect(self.forget_reviewed)

    @property
    def segmenter_slices(self) -> set[int]:
        """Unreviewed slices whose mask is the segmenter's."""
        s = self.controller.session
        return set() if s is None else set(s.segmenter_slices())

    @property
    def queue(self) -> list[int]:
        """Unreviewed slices, the least certain first."""
        s = self.controller.session
        return [] if s is None else s.queue

    @property
    def previous_masks(self):
        """What the reviewer saw after the last propagation (None before one)."""
        s = self.controller.session
        return None if s is None else s.previous_masks

    def seen(self):
        """What the reviewer saw, for the learner's floor (:meth:`~labelassist.core.loop.ReviewSession.seen`)."""
        s = self.controller.session
        return None if s is None else s.seen()

    # -- calibration ------------------------------------------------------------------------------
    def calibrate(self):
        """Post the calibration on the reviewed slices (returns its job; None when there are none: said)."""
        c = self.controller
        if c.state is None:
            return None
        ref = {i: c.state.labels[i].copy() for i in c.state.reviewed_indices()}
        if not ref:
            c.say("Calibration needs reviewed slices: accept, correct or reject a few first", error=True)
            return None
        job = c.follow(c.engine.calibrate(ref), returned=self.apply_calibration,
                       cancelled=lambda: c.say("Calibration cancelled"))
        c.say(f"Calibrating on {len(ref)} reviewed slices...")
        return job

    def apply_calibration(self, result) -> None:
        """Use the calibrated threshold and gate, and re-fit the unreviewed slices with them."""
        c = self.controller
        if c.state is None:
            return
        c.engine.set_params(threshold=result.threshold, gate=result.gate)
        c.state.params = asdict(c.engine.params)
        if c.panel is not None:
            c.panel.set_params(asdict(c.engine.params))
        refitted = c.refit_stale(every=True)
        c.view.refresh(None)
        c.refresh_strip()
        c.say(f"Calibrated on {result.n_slices} reviewed slices: threshold {result.threshold:.2f}, "
              f"gate {result.gate:.2f} (Dice {result.score:.3f}); re-fitted {refitted} slices")
        c.save_session()
        c.calibrated.emit(result)

    # -- the segmenter ----------------------------------------------------------------------------------
    def propagate(self, *, steps: int | None = None):
        """Post the propagation job (returns its :class:`~labelassist.engine.jobs.Job`, or None when there is
        nothing to learn from: said). ``steps``: training steps of every round (None: the defaults)."""
        c = self.controller
        st = c.state
        if st is None:
            c.say("Open a volume first", error=True)
            return None
        if len(st.reviewed_indices(("accepted", "corrected"))) < 1:
            c.say("Propagation needs accepted or corrected slices: review a few first", error=True)
            return None
        request = c.session.propagation_request(steps=steps, fine_tune_steps=steps)
        job = c.engine.call("propagate", run_propagation, request=request)
        session = c.session
        c.follow(job, returned=lambda result: self.apply(result) if c.session is session else None,
                 cancelled=lambda: c.say("Propagation cancelled"))
        c.say(f"Propagating from {len(request.reviewed)} reviewed slices...")
        return job

    def apply(self, result) -> None:
        """Put a :class:`~labelassist.core.propagate.PropagationResult`'s masks on the unreviewed slices (the
        session's rules: a result that empties every one is refused and said), queue them, show the suggestions."""
        c = self.controller
        st = c.state
        if st is None or np.shape(result.masks) != st.labels.shape:
            return
        outcome = c.session.apply_propagation(result)
        if outcome.applied:
            for i in c.session.segmenter_slices():
                c.mark_fresh(i)
        c.view.refresh(None)
        c.refresh_strip()
        c.say(outcome.message(len(st.reviewed_indices())), error=not outcome.applied)
        c.save_session()

    # -- suggested lesions ------------------------------------------------------------------------
    def accept_suggestion(self, index: int | None) -> bool:
        """Add the suggested lesion on slice ``index`` to its label (one undo step where the frontend has one:
        the undo gives the slice back its status too), clear the suggestion there and mark the slice corrected;
        returns whether the label changed (said)."""
        c = self.controller
        if index is None or c.session is None:
            return False
        mask = c.session.suggestion_mask(index)
        if mask is None:
            c.say(f"No suggested lesion on slice {index}: suggestions (green outlines) come with a propagation",
                  error=True)
            return False
        added = int(mask.sum() - (c.state.labels[index] > 0).sum())
        c.begin_edit(index)
        if not c.view.edit_slice(index, mask):
            c.state.labels[index] = mask
        c.suggested[index] = 0
        c.view.refresh(index)
        c.mark_corrected([index], undoable=False)
        c.say(f"Suggested lesion accepted on slice {index} ({added} pixels added): the slice is corrected")
        return True

    def forget_reviewed(self) -> None:
        """A reviewed slice shows no suggestion: the reviewer accepted it without the suggestion, rejected it or
        corrected it (the layer redraws)."""
        c = self.controller
        if c.suggested is None or c.state is None:
            return
        done = c.state.reviewed_indices()
        if len(done) and c.suggested[done].any():
            c.suggested[done] = 0
            c.view.refresh(None)

    def next_suggestion(self) -> int | None:
        """Show the peak slice of the next suggested lesion (the one after the lesion on screen, best first,
        wrapping) on an unreviewed slice; returns it, or None (said)."""
        c = self.controller
        if c.state is None or c.suggested is None:
            return None
        todo = np.zeros(c.state.n_slices, bool)
        todo[c.state.unreviewed_indices()] = True
        area = np.stack([np.bincount(s.ravel(), minlength=256) for s in c.suggested]) * todo[:, None]  # (z, k)
        found = [k for k in range(1, 256) if area[:, k].any()]
        if not found:
            c.say("No suggested lesion on an unreviewed slice: suggestions (green outlines) come with a propagation")
            return None
        peaks = [int(np.argmax(area[:, k])) for k in found]
        here = [n for n, k in enumerate(found) if c.suggested[c.current].max() == k] if c.current is not None else []
        n = (here[0] + 1) % len(found) if here else 0
        c.show_slice(peaks[n])
        c.say(f"Suggested lesion {n + 1} of {len(found)} on slice {peaks[n]}: S adds it to the label, "
              "A accepts the slice without it")
        return peaks[n]

    def next_from_queue(self) -> int | None:
        """The least certain slice still unreviewed (taken off the queue), or None."""
        queue = self.queue
        st = self.controller.state
        while queue:
            i = queue.pop(0)
            if not st.is_reviewed(i):
                return i
        return None
