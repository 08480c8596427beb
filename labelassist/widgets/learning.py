"""What a review learns from its reviewed slices, for the :class:`~labelassist.widgets.controller.ReviewController`,
which owns one :class:`Learner`: the threshold and gate (calibration), and 'Propagate from reviewed slices'
(docs/architecture.md, learning from corrections): the segmenter (a small U-Net) trained in the engine thread on the reviewed
slices predicts every unreviewed one, and the review queue then offers the slice it is least sure of.
Reviewed slices are never touched."""

from __future__ import annotations

import numpy as np

from dataclasses import asdict

from labelassist.core.review import REJECTED

__all__ = ["Learner", "run_propagation"]


def run_propagation(ctx, progress, cancel, *, labels, reviewed, rejected, cam, weak, steps=None,
                    previous_masks=None):
    """Engine-thread job: train/fine-tune the engine's segmenter (``ctx.segmenter``) on the reviewed slices,
    predict the rest; returns ``{"masks", "confidence", "queue", "meta", "suggestions", "suggested"}``: the slice
    range of each suggested lesion, best first, and their volume (``k`` on the k-th, or None). Never in ``masks``,
    so never exported unless the reviewer draws or accepts one."""
    from labelassist.core.propagate.propagation import propagate
    from labelassist.core.propagate.queue import review_queue

    pipe = ctx.pipeline
    result = propagate(pipe.array, labels, reviewed, rejected=rejected, cam=cam, weak=weak,
                       model=ctx.segmenter, device=ctx.device, steps=steps, previous_masks=previous_masks,
                       progress=progress, cancel=cancel)
    ctx.segmenter = result.model
    queue = review_queue(result.confidence, reviewed=reviewed, segmenter_masks=result.masks,
                         fit_masks=weak if weak is not None else None, suggestions=result.suggestions)
    return {"masks": result.masks, "confidence": result.confidence, "queue": queue, "meta": result.meta,
            "suggestions": [s.slices for s in result.suggestions], "suggested": result.suggested}


class Learner:
    """Posts the calibration and learning jobs of a review and applies their results; keeps the segmenter's
    proposals (``segmenter_slices``) and the review queue (``queue``).

    Parameters
    ----------
    controller : ReviewController
        Used through its public API only (``state``, ``engine``, ``panel``, ``cam``, ``suggested``, ``view``,
        ``say``, ``follow``, ``statuses_changed``, ``mark_corrected``, ``mark_fresh``, ``refit_stale``, ``refresh_strip``, ``save_session``, ``calibrated``).
    """

    def __init__(self, controller):
        self.controller = controller
        self.segmenter_slices: set[int] = set()  # unreviewed slices whose proposal comes from the segmenter
        self.queue: list[int] = []  # unreviewed slices, the least certain first
        self.previous_masks = None  # the last propagation's masks: what it showed stays unless shown wrong
        controller.statuses_changed.connect(self.forget_reviewed)

    def reset(self) -> None:
        """A new volume: no segmenter proposal, no queue."""
        self.segmenter_slices = set()
        self.queue = []
        self.previous_masks = None

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

    def apply_calibration(self, result: dict) -> None:
        """Use the calibrated threshold and gate, and re-fit the unreviewed slices with them."""
        c = self.controller
        if c.state is None:
            return
        c.engine.set_params(threshold=result["threshold"], gate=result["gate"])
        c.state.params = asdict(c.engine.params)
        if c.panel is not None:
            c.panel.set_params(asdict(c.engine.params))
        refitted = c.refit_stale(every=True)
        c.view.refresh(None)
        c.refresh_strip()
        c.say(f"Calibrated on {result['n_slices']} reviewed slices: threshold {result['threshold']:.2f}, "
              f"gate {result['gate']:.2f} (Dice {result['score']:.3f}); re-fitted {refitted} slices")
        c.save_session()
        c.calibrated.emit(dict(result))

    # -- the segmenter ----------------------------------------------------------------------------------
    def propagate(self, *, steps: int | None = None):
        """Post the propagation job (returns its :class:`~labelassist.engine.jobs.Job`, or None when there is
        nothing to learn from: said)."""
        c = self.controller
        st = c.state
        if st is None:
            c.say("Open a volume first", error=True)
            return None
        reviewed = st.reviewed_indices()
        if len(st.reviewed_indices(("accepted", "corrected"))) < 1:
            c.say("Propagation needs accepted or corrected slices: review a few first", error=True)
            return None
        computed = all(c.engine.result(i) is not None for i in range(st.n_slices))
        weak = st.labels.copy() if any(st.has_proposal(i) for i in st.unreviewed_indices()) else None
        job = c.engine.call("propagate", run_propagation, labels=st.labels.copy(), reviewed=reviewed,
                            rejected=st.reviewed_indices((REJECTED,)), cam=c.cam.copy() if computed else None,
                            weak=weak, steps=steps, previous_masks=self.seen())
        c.follow(job, returned=self.apply, cancelled=lambda: c.say("Propagation cancelled"))
        c.say(f"Propagating from {len(reviewed)} reviewed slices...")
        return job

    def seen(self):
        """What the reviewer saw, for the learner's floor: the last propagation's masks; before the first one,
        the proposals (CAM + BoundaryFit) on the unreviewed slices and, on each reviewed slice, its proposal as
        the engine computes it; None when no unreviewed slice holds one, or a reviewed slice's proposal is not
        computed (what it showed there is not known, nor whether the reviewer refuted it)."""
        if self.previous_masks is not None:
            return self.previous_masks
        c = self.controller
        st = c.state
        todo = st.unreviewed_indices()
        if not any(st.has_proposal(i) for i in todo):
            return None
        seen = np.zeros_like(st.labels)
        seen[todo] = st.labels[todo]
        for i in st.reviewed_indices():
            mask = c.engine.refit(i)
            if mask is None:
                return None
            seen[i] = mask
        return seen

    def apply(self, result: dict) -> None:
        """Put the segmenter's masks on the unreviewed slices and queue them by confidence."""
        c = self.controller
        st = c.state
        if st is None:
            return
        changed = 0
        for i in st.unreviewed_indices():
            if st.set_proposal(i, result["masks"][i], params={"source": "unet", **result["meta"]},
                               model_hash=st.model_hash):
                self.segmenter_slices.add(i)
                c.mark_fresh(i)
                changed += 1
        self.queue = [i for i in result["queue"] if not st.is_reviewed(i)]
        self.previous_masks = np.asarray(result["masks"], np.uint8).copy() if result["meta"].get("steps") else None
        self.show_suggested(result.get("suggested"))
        c.view.refresh(None)
        c.refresh_strip()
        conf = np.asarray(result["confidence"])
        meta = result["meta"]
        dropped = int(meta.get("dropped_components") or 0)
        apart = (f"; {dropped} spot{'s' if dropped != 1 else ''} apart from every drawn lesion left out (draw a "
                 "lesion on one slice and it is carried)") if dropped else ""
        head = (f"Propagated from {len(st.reviewed_indices())} reviewed slices" if meta.get("steps") else
                "No reviewed slice shows a lesion yet, so the segmenter only predicted (it learns once one does)")
        found = result.get("suggestions") or []
        where = (f"; {len(found)} suggested lesion{'s' if len(found) != 1 else ''} away from the drawn ones (slices "
                 + ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in found) + "): green outlines, Shift+N goes there, S accepts"
                 if found else "")
        c.say(f"{head}: re-predicted {changed} slices "
              f"(mean confidence {conf[st.unreviewed_indices()].mean() if changed else 1.0:.2f}); "
              f"Next goes to the least certain{apart}{where}")
        c.save_session()

    # -- suggested lesions ------------------------------------------------------------------------
    def show_suggested(self, suggested) -> None:
        """Copy a propagation's suggested lesions (``k`` on the k-th; None: none) into ``controller.suggested``, on
        the unreviewed slices only (the layer redraws on the next refresh)."""
        c = self.controller
        if c.suggested is None:
            return
        c.suggested[:] = 0
        if suggested is not None:
            todo = c.state.unreviewed_indices()
            c.suggested[todo] = np.clip(np.asarray(suggested)[todo], 0, 255)

    def accept_suggestion(self, index: int | None) -> bool:
        """Add the suggested lesion on slice ``index`` to its label (one undo step where the frontend has one),
        clear the suggestion there and mark the slice corrected; returns whether the label changed (said)."""
        c = self.controller
        if index is None or c.suggested is None:
            return False
        found = c.suggested[index] > 0
        if not found.any():
            c.say(f"No suggested lesion on slice {index}: suggestions (green outlines) come with a propagation",
                  error=True)
            return False
        mask = ((c.state.labels[index] > 0) | found).astype(np.uint8)
        added = int(mask.sum() - (c.state.labels[index] > 0).sum())
        if not c.view.edit_slice(index, mask):
            c.state.labels[index] = mask
        c.suggested[index] = 0
        c.view.refresh(index)
        c.mark_corrected([index])
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
        st = self.controller.state
        while self.queue:
            i = self.queue.pop(0)
            if not st.is_reviewed(i):
                return i
        return None
