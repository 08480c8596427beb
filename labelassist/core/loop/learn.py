"""One round of learning from the reviewer (docs/architecture.md, the review loop): what a
:class:`~labelassist.core.loop.session.ReviewSession` hands the learner, running it, and what comes back.

``request = session.propagation_request()`` (on the GUI thread, or the command line's), then
``result = run_request(image, request, model=...)`` (in the engine thread, or the command line's), then
``outcome = session.apply_propagation(result)``. Both GUIs, ``simulate-review``, ``propagate`` and the benchmarks
take these three steps and no other, so the GUI learns from the very inputs the benchmarks measure: the
reviewer's labels on reviewed slices, the CAM + BoundaryFit proposals as weak targets, what the reviewer saw as
the floor, and a seed set by the number of reviewed slices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labelassist.errors import ParameterError

__all__ = ["PropagationRequest", "PropagationOutcome", "run_request", "request_from", "apply_result", "FEATURES"]

# The appearance learner's features of the volume under review (core.propagate.appearance): computed on the first
# round, in the thread that runs the learner, and kept while the same volume comes back (made on first use).
FEATURES = None


def _features():
    global FEATURES
    if FEATURES is None:
        from labelassist.core.propagate.appearance import FeatureCache

        FEATURES = FeatureCache()
    return FEATURES


@dataclass(frozen=True)
class PropagationRequest:
    """What the learner is given (arrays are copies: the review may go on while it runs).

    Attributes
    ----------
    labels : ndarray (z, y, x) uint8
        The label volume; only the reviewed slices are read.
    reviewed, rejected : tuple of int
        Reviewed slices (rejected ones among them) and the rejected ones.
    weak : ndarray (z, y, x) float32 or None
        The CAM + BoundaryFit proposals (NaN on slices without one).
    previous_masks : ndarray (z, y, x) uint8 or None
        What the reviewer saw (:meth:`~labelassist.core.loop.session.ReviewSession.seen`).
    seed : int
        The session's seed plus the number of reviewed slices.
    steps, fine_tune_steps : int or None
        Training steps of a new segmenter and of a kept one (None: the defaults of
        :mod:`~labelassist.core.propagate.training`).
    """

    labels: np.ndarray
    reviewed: tuple
    rejected: tuple
    weak: np.ndarray | None
    previous_masks: np.ndarray | None
    seed: int
    steps: int | None = None
    fine_tune_steps: int | None = None

    def same_as(self, other: PropagationRequest) -> bool:
        """Whether two requests hold the same inputs (arrays compared by value, NaN equal to NaN)."""
        def same(a, b):
            if a is None or b is None:
                return a is None and b is None
            return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=np.asarray(a).dtype.kind == "f")

        return (same(self.labels, other.labels) and self.reviewed == other.reviewed
                and self.rejected == other.rejected and same(self.weak, other.weak)
                and same(self.previous_masks, other.previous_masks) and self.seed == other.seed
                and self.steps == other.steps and self.fine_tune_steps == other.fine_tune_steps)


@dataclass(frozen=True)
class PropagationOutcome:
    """What applying a propagation did to the session.

    Attributes
    ----------
    applied : bool
        False when the result was refused (``emptied``): the previous masks stay.
    changed : int
        Unreviewed slices given the segmenter's mask.
    learned : bool
        Whether the segmenter trained (False: it only predicted, no reviewed slice shows a lesion).
    emptied : bool
        The result marked no lesion on any unreviewed slice although the previous masks showed some.
    mean_confidence : float
        Over the unreviewed slices.
    dropped : int
        Spots apart from every drawn lesion left out of the masks.
    suggestions : list of (int, int)
        The slice range of each suggested lesion, best first.
    meta : dict
        The run's figures (``PropagationResult.meta``).
    """

    applied: bool
    changed: int
    learned: bool
    emptied: bool
    mean_confidence: float
    dropped: int
    suggestions: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def message(self, n_reviewed: int) -> str:
        """The one line the GUIs show."""
        if self.emptied:
            return (f"The segmenter predicted no lesion on any unreviewed slice: kept the previous masks (learned "
                    f"from {n_reviewed} reviewed slices; correct or reject a slice the masks show wrongly and "
                    "propagate again)")
        head = (f"Propagated from {n_reviewed} reviewed slices" if self.learned else
                "No reviewed slice shows a lesion yet, so the segmenter only predicted (it learns once one does)")
        s = "s" if self.dropped != 1 else ""
        apart = (f"; {self.dropped} spot{s} apart from every drawn lesion left out (draw a lesion on one slice "
                 "and it is carried)") if self.dropped else ""
        n = len(self.suggestions)
        where = (f"; {n} suggested lesion{'s' if n != 1 else ''} away from the drawn ones (slices "
                 + ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in self.suggestions)
                 + "): green outlines, Shift+N goes there, S accepts") if n else ""
        return (f"{head}: re-predicted {self.changed} slices (mean confidence {self.mean_confidence:.2f}); "
                f"Next goes to the least certain{apart}{where}")


def request_from(session, *, steps: int | None = None, fine_tune_steps: int | None = None) -> PropagationRequest:
    """The :class:`PropagationRequest` of ``session``'s review as it stands (copies)."""
    from labelassist.core.review import REJECTED

    st = session.state
    reviewed = tuple(st.reviewed_indices())
    seen = session.seen()
    return PropagationRequest(labels=st.labels.copy(), reviewed=reviewed, rejected=tuple(st.reviewed_indices((REJECTED,))),
                              weak=session.weak_targets(), previous_masks=None if seen is None else seen.copy(),
                              seed=session.seed + len(reviewed), steps=steps, fine_tune_steps=fine_tune_steps)


def run_request(image, request: PropagationRequest, *, model=None, device="auto", connected: bool = True,
                appearance: bool = True, progress: Callable[[int, int], None] | None = None,
                cancel: Callable[[], bool] | None = None):
    """Train (a new segmenter, or fine-tune ``model``) on the request's reviewed slices and predict the others:
    :func:`~labelassist.core.propagate.propagation.propagate` with the request's inputs; returns its
    :class:`~labelassist.core.propagate.PropagationResult`. ``connected=False`` (the command line's
    ``--all-lesions``) keeps lesions no reviewed lesion touches too. ``appearance``: the appearance learner's
    suggestions too (:mod:`~labelassist.core.propagate.appearance`; its features kept in :data:`FEATURES`).

    Raises
    ------
    ParameterError
        ``model`` was trained with the CAM as an input, which the review loop does not give.
    """
    from labelassist.core.propagate.propagation import propagate

    if model is not None and model.meta.get("use_cam"):
        raise ParameterError("this segmenter was trained with the heat map as an input, which the review loop does "
                             "not give: start a new segmenter (leave out its checkpoint)")
    return propagate(image, request.labels, list(request.reviewed), rejected=list(request.rejected), weak=request.weak,
                     model=model, device=device, steps=request.steps if model is None else request.fine_tune_steps,
                     seed=request.seed, previous_masks=request.previous_masks, connected=connected,
                     appearance=_features() if appearance else None, progress=progress, cancel=cancel)


def apply_result(session, result) -> PropagationOutcome:
    """Put ``result``'s masks on the unreviewed slices of ``session`` (reviewed slices are never touched), queue
    them and keep its suggested lesions. A result that marks no lesion on any unreviewed slice while the masks
    there showed some is refused: the previous masks stay (``outcome.emptied``)."""
    from labelassist.core.propagate.queue import review_queue

    st = session.state
    todo = st.unreviewed_indices()
    masks = np.asarray(result.masks, np.uint8)
    conf = np.asarray(result.confidence, float)
    mean = float(conf[todo].mean()) if todo else 1.0
    meta = dict(result.meta)
    learned = bool(meta.get("steps"))
    if todo and not masks[todo].any() and st.labels[todo].any():
        return PropagationOutcome(applied=False, changed=0, learned=learned, emptied=True, mean_confidence=mean,
                                  dropped=0, meta=meta)
    changed = session.set_prediction(masks)
    reviewed = st.reviewed_indices()
    session.queue = [i for i in review_queue(conf, reviewed=reviewed, segmenter_masks=masks,
                                             fit_masks=session.proposals, suggestions=result.suggestions)
                     if not st.is_reviewed(i)]
    session.suggested[:] = 0
    if result.suggested is not None and todo:
        session.suggested[todo] = session.inside(np.clip(np.asarray(result.suggested)[todo], 0, 255))
    session.suggestions = [tuple(s.slices) for s in result.suggestions]
    session.rounds += 1
    return PropagationOutcome(applied=True, changed=changed, learned=learned, emptied=False, mean_confidence=mean,
                              dropped=int(meta.get("dropped_components") or 0), suggestions=list(session.suggestions),
                              meta=meta)
