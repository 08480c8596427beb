"""'Learn from reviewed slices' (docs/architecture.md, learning from corrections) for the :class:`~labelassist.widgets.controller.ReviewController`:
a small U-Net trained in the engine thread on the reviewed slices predicts every unreviewed one, and the
review queue then offers the slice it is least sure of. Reviewed slices are never touched."""

from __future__ import annotations

import numpy as np

from labelassist.core.review import REJECTED

__all__ = ["LearningMixin", "run_propagation"]


def run_propagation(worker, progress, cancel, *, labels, reviewed, rejected, cam, weak, steps=None):
    """Engine-thread job: train/fine-tune the worker's segmenter on the reviewed slices, predict the rest."""
    from labelassist.core.propagate.propagation import propagate
    from labelassist.core.propagate.queue import review_queue

    pipe = worker._need_pipe()
    result = propagate(pipe.array, labels, reviewed, rejected=rejected, cam=cam, weak=weak,
                       model=getattr(worker, "segmenter", None), device=worker._ensure_device(),
                       steps=steps, progress=progress, cancel=cancel)
    worker.segmenter = result.model
    queue = review_queue(result.confidence, reviewed=reviewed, net_masks=result.masks,
                         fit_masks=weak if weak is not None else None)
    return {"masks": result.masks, "confidence": result.confidence, "queue": queue, "meta": result.meta}


class LearningMixin:
    """Mixed into the controller (which provides ``state``, ``engine``, ``cam``, ``view``, ``_say``)."""

    def _init_learning(self) -> None:
        self.net_slices: set[int] = set()  # unreviewed slices whose proposal comes from the net
        self.queue: list[int] = []  # unreviewed slices, the least certain first

    def learn(self, *, steps: int | None = None) -> None:
        """Train the net on the reviewed slices (in the engine thread) and re-predict the unreviewed ones."""
        if self.state is None:
            self._say("Open a volume first", error=True)
            return
        st = self.state
        reviewed = st.reviewed_indices()
        if len(st.reviewed_indices(("accepted", "corrected"))) < 1:
            self._say("Learning needs accepted or corrected slices: review a few first", error=True)
            return
        computed = all(self.engine.result(i) is not None for i in range(st.n_slices))
        weak = st.labels.copy() if any(st.has_proposal(i) for i in st.unreviewed_indices()) else None
        self.engine.call("propagate", run_propagation, labels=st.labels.copy(), reviewed=reviewed,
                         rejected=st.reviewed_indices((REJECTED,)), cam=self.cam.copy() if computed else None,
                         weak=weak, steps=steps)
        self._say(f"Learning from {len(reviewed)} reviewed slices...")

    def _apply_learning(self, result: dict) -> None:
        st = self.state
        changed = 0
        for i in st.unreviewed_indices():
            if st.set_proposal(i, result["masks"][i], params={"source": "unet", **result["meta"]},
                               model_hash=st.model_hash):
                self.net_slices.add(i)
                self._stale.discard(i)
                changed += 1
        self.queue = [i for i in result["queue"] if not st.is_reviewed(i)]
        self.view.refresh(None)
        self._update_strip()
        conf = np.asarray(result["confidence"])
        meta = result["meta"]
        dropped = int(meta.get("dropped_components") or 0)
        apart = (f"; {dropped} spot{'s' if dropped != 1 else ''} apart from every drawn lesion left out (draw a "
                 "lesion on one slice and it is carried)") if dropped else ""
        head = (f"Learned from {len(st.reviewed_indices())} reviewed slices" if meta.get("steps") else
                "No reviewed slice shows a lesion yet, so the net only predicted (it learns once one does)")
        self._say(f"{head}: re-predicted {changed} slices "
                  f"(mean confidence {conf[st.unreviewed_indices()].mean() if changed else 1.0:.2f}); "
                  f"Next goes to the least certain{apart}")
        self.save_session()

    def _next_from_queue(self) -> int | None:
        while self.queue:
            i = self.queue.pop(0)
            if not self.state.is_reviewed(i):
                return i
        return None
