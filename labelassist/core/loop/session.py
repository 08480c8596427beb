"""``ReviewSession``: one volume's review, below Qt (docs/architecture.md, the review loop).

Both GUIs (through :class:`~labelassist.widgets.controller.ReviewController`), ``labelassist simulate-review``,
``labelassist propagate`` and the benchmarks drive this one object, so a figure of docs/benchmarks.md measures
what ships. It owns:

- the :class:`~labelassist.core.review.ReviewState` (labels, statuses, provenance per slice: saved with the
  session);
- the **proposals** (CAM + BoundaryFit) kept apart from the labels: they are the learner's weak targets and what
  the reviewer saw before the first propagation, whatever the labels hold since;
- where each slice's mask comes from (:meth:`source`): the proposal, the segmenter or the reviewer. A proposal is
  written into the labels only while the slice's mask is a proposal: reopening a session, showing a slice or a new
  parameter setting never replaces a segmenter's mask by a CAM proposal;
- the learner's bookkeeping: what the reviewer saw (:meth:`seen`), the review queue, the suggested lesions;
- the undo of review edits: a snapshot of a slice's mask and status before an edit, restored when an undo puts
  the mask back (:meth:`begin_edit`, :meth:`edited`).

The learning itself (one propagation) is :mod:`labelassist.core.loop.learn`: :meth:`propagation_request` in,
:func:`~labelassist.core.loop.learn.run_request` in whatever thread owns the model, :meth:`apply_propagation` out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED, REVIEWED, UNREVIEWED, ReviewState
from labelassist.errors import ParameterError

__all__ = ["ReviewSession", "SliceSnapshot", "PROPOSAL", "SEGMENTER", "PROMPT", "REVIEWER", "SOURCES",
           "HISTORY_DEPTH"]

# PROMPT: a lesion carried to an unreviewed slice by box prompts of a foundation model (the box tool's carry).
PROPOSAL, SEGMENTER, PROMPT, REVIEWER = "proposal", "segmenter", "prompt", "reviewer"
SOURCES = (PROPOSAL, SEGMENTER, PROMPT, REVIEWER)
# Snapshots kept per slice for undo (the app's editor keeps 200 steps over all slices).
HISTORY_DEPTH = 50


@dataclass(frozen=True)
class SliceSnapshot:
    """A slice as it was before a review edit: its mask, status, provenance record and suggested lesions."""

    index: int
    mask: np.ndarray
    status: str
    info: dict
    suggested: np.ndarray


class ReviewSession:
    """The review of one volume (module docstring).

    Parameters
    ----------
    state : ReviewState
        The labels and statuses (a new one, or one restored from disk: the segmenter's masks it holds stay).
    seed : int
        Base seed of the learner: the propagation after ``n`` reviewed slices uses ``seed + n`` (the same in
        every frontend, so the same review gives the same masks).

    Attributes
    ----------
    proposals : ndarray (z, y, x) uint8
        The newest CAM + BoundaryFit proposal of each slice (zeros where none is computed).
    proposed : ndarray (z,) bool
        Which slices have a proposal in ``proposals``.
    suggested : ndarray (z, y, x) uint8
        The learner's suggested lesions (``k`` on the k-th; never exported unless accepted).
    suggestions : list of (int, int)
        The slice range of each suggested lesion, best first.
    queue : list of int
        Unreviewed slices, the one to review next first (empty before the first propagation).
    """

    def __init__(self, state: ReviewState, *, seed: int = 0):
        self.state = state
        self.seed = int(seed)
        shape = state.labels.shape
        self.proposals = np.zeros(shape, np.uint8)
        self.proposed = np.zeros(shape[0], bool)
        self.suggested = np.zeros(shape, np.uint8)
        self.suggestions: list = []
        self.queue: list[int] = []
        self.rounds = 0  # propagations applied
        self.previous_masks = None  # what the reviewer saw after the last propagation
        self.area = None  # an ultrasound scan area (bool (y, x)): no learner or prompt mask outside it
        if any(self.source(i) == SEGMENTER for i in range(state.n_slices)):
            self.previous_masks = state.labels.copy()  # a restored session: its masks are what was shown
        self._history: dict[int, list[SliceSnapshot]] = {}

    @classmethod
    def new(cls, shape, *, params: dict | None = None, model_hash: str = "", seed: int = 0) -> ReviewSession:
        """A session of an unreviewed volume of spatial shape (z, y, x)."""
        return cls(ReviewState.new(shape, params=params, model_hash=model_hash), seed=seed)

    # -- queries ----------------------------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """The label volume under review (frontends draw and paint on this very array)."""
        return self.state.labels

    @property
    def n_slices(self) -> int:
        return self.state.n_slices

    def source(self, index: int) -> str:
        """Where slice ``index``'s mask comes from: ``"reviewer"`` (reviewed), ``"segmenter"``, ``"prompt"`` (a
        carried lesion, :meth:`carry_prompt`), ``"proposal"``, or ``""`` (nothing yet)."""
        st = self.state
        if st.is_reviewed(index):
            return REVIEWER
        info = st.slice_info[index]
        if info.get("source") == PROMPT:
            return PROMPT
        if info.get("source") == SEGMENTER or info.get("params", {}).get("source") == "unet":
            return SEGMENTER
        return PROPOSAL if "proposed" in info else ""

    def segmenter_slices(self) -> list[int]:
        """Unreviewed slices whose mask is the segmenter's."""
        return [i for i in self.state.unreviewed_indices() if self.source(i) == SEGMENTER]

    def seen(self):
        """What the reviewer saw, for the learner's floor (:func:`~labelassist.core.propagate.keeps.hold_previous`):
        the last propagation's masks; before the first one the proposals, or None when a reviewed slice has none
        (what it showed there is not known, nor whether the reviewer refuted it) or no slice has one."""
        if self.previous_masks is not None:
            return self.previous_masks
        done = self.state.reviewed_indices()
        if not self.proposed.any() or not self.proposed[done].all():
            return None
        return self.proposals.copy()

    def weak_targets(self):
        """The proposals as the learner's weak targets: float32 (z, y, x), NaN on slices without a proposal (not
        targets at all); None when no slice has one."""
        if not self.proposed.any():
            return None
        weak = self.proposals.astype(np.float32)
        weak[~self.proposed] = np.nan
        return weak

    def next_slice(self, after: int = -1) -> int | None:
        """The slice to review next: the queue's first still unreviewed one (taken off the queue), else the next
        unreviewed slice after ``after``; None when every slice is reviewed."""
        while self.queue:
            i = self.queue.pop(0)
            if not self.state.is_reviewed(i):
                return i
        return self.state.next_unreviewed(after)

    # -- proposals --------------------------------------------------------------------------------
    def set_proposal(self, index: int, mask, *, params: dict | None = None, model_hash: str = "") -> bool:
        """Keep slice ``index``'s CAM + BoundaryFit proposal; it becomes the slice's mask only while that is a
        proposal (not the segmenter's, not reviewed). Returns whether the labels changed."""
        i = int(index)
        if not 0 <= i < self.n_slices:
            raise ParameterError(f"slice index must be in [0, {self.n_slices - 1}], got {index}")
        m = (np.asarray(mask) > 0).astype(np.uint8)
        if m.shape != self.proposals.shape[1:]:
            raise ParameterError(f"mask must have the slice shape {self.proposals.shape[1:]}, got {m.shape}")
        self.proposals[i] = m
        self.proposed[i] = True
        if self.source(i) not in (PROPOSAL, ""):
            return False
        return self.state.set_proposal(i, m, params=params, model_hash=model_hash)

    def keep_proposals(self, masks) -> None:
        """Proposals made elsewhere (e.g. ``labelassist run``'s output, one mask per slice): kept apart as the
        learner's weak targets and what the reviewer saw; the labels are not touched."""
        m = (np.nan_to_num(np.asarray(masks, np.float32)) > 0).astype(np.uint8)
        if m.shape != self.proposals.shape:
            raise ParameterError(f"proposals have shape {m.shape} but the volume is {self.proposals.shape}; they "
                                 "must match")
        self.proposals[:] = m
        self.proposed[:] = True

    def inside(self, masks) -> np.ndarray:
        """``masks`` (a slice or a volume) cleared outside :attr:`area` (unchanged when there is none)."""
        masks = np.asarray(masks)
        return masks if self.area is None else masks * np.asarray(self.area, bool).astype(masks.dtype)

    def set_prediction(self, masks) -> int:
        """A segmenter's masks (z, y, x) on every unreviewed slice (a prediction before any review, or a
        propagation's: :meth:`apply_propagation`); they stand until the reviewer decides. A lesion carried by box
        prompts stays on its slices (the prediction is added to it). Returns how many slices were set."""
        n, masks = 0, self.inside(masks)
        for i in self.state.unreviewed_indices():
            if self.source(i) == PROMPT:
                self.state.labels[i] = np.maximum(self.state.labels[i], (np.asarray(masks[i]) > 0).astype(np.uint8))
                continue
            self.state.set_proposal(i, masks[i], params={"source": "unet"}, model_hash=self.state.model_hash)
            self.state.slice_info[i]["source"] = SEGMENTER
            n += 1
        self.previous_masks = np.asarray(self.state.labels, np.uint8).copy()
        return n

    # -- box prompts (the box tool) ---------------------------------------------------------------------
    def record_prompt(self, index: int, identity: dict, box) -> None:
        """Slice ``index``'s mask holds what a box prompt of the model ``identity`` (its name, version, sha256)
        gave: kept in the slice's provenance (saved with the session), with the box ``(r0, c0, r1, c1)``."""
        info = self.state.slice_info[int(index)]
        entry = info.setdefault("prompt", {"boxes": []})
        entry["model"] = dict(identity)
        entry["boxes"] = [*entry.get("boxes", []), [int(v) for v in box]]

    def carry_prompt(self, masks: dict, identity: dict, boxes: dict) -> list[int]:
        """A lesion carried to other slices by box prompts (``{slice: mask}``, ``{slice: box}``): added to each
        unreviewed slice's mask as a proposal to review (source ``"prompt"``: no CAM proposal replaces it, a
        propagation adds to it); reviewed slices are left as they are. Returns the slices changed, sorted."""
        changed = []
        for k in sorted(int(i) for i in masks):
            if not 0 <= k < self.n_slices or self.state.is_reviewed(k):
                continue
            m = self.inside(np.asarray(masks[k]) > 0)
            if not (m & (self.state.labels[k] == 0)).any():
                continue
            self.state.labels[k][m] = 1
            info = self.state.slice_info[k]
            if "proposed" not in info:  # shown as proposed, to review
                info["proposed"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            info["source"] = PROMPT
            self.record_prompt(k, identity, boxes.get(k, (0, 0, 0, 0)))
            changed.append(k)
        return changed

    # -- learning ----------------------------------------------------------------------------------
    def propagation_request(self, *, steps: int | None = None, fine_tune_steps: int | None = None):
        """The learner's inputs as the review stands (:func:`~labelassist.core.loop.learn.request_from`)."""
        from labelassist.core.loop.learn import request_from

        return request_from(self, steps=steps, fine_tune_steps=fine_tune_steps)

    def apply_propagation(self, result):
        """Put a propagation's masks on the unreviewed slices (:func:`~labelassist.core.loop.learn.apply_result`);
        returns its :class:`~labelassist.core.loop.learn.PropagationOutcome`."""
        from labelassist.core.loop.learn import apply_result

        return apply_result(self, result)

    # -- review -----------------------------------------------------------------------------------
    def review(self, index: int, status: str, *, mask=None) -> None:
        """Set slice ``index``'s status (``rejected`` empties it; ``mask``, optional, replaces its labels); a
        reviewed slice shows no suggestion."""
        self.state.set_status(index, status, mask=mask)
        if status in REVIEWED:
            self.suggested[int(index)] = 0

    def accept(self, index: int) -> str:
        """Accept the slice as it stands (a corrected slice stays corrected); returns the status."""
        status = CORRECTED if self.state.status(index) == CORRECTED else ACCEPTED
        self.review(index, status)
        return status

    def reject(self, index: int) -> None:
        self.review(index, REJECTED)

    def mark_lesion(self, index: int, on: bool = True) -> None:
        """The reviewer says slice ``index`` shows a lesion (a yes for training) without drawing it, or takes it
        back (:meth:`~labelassist.core.review.ReviewState.mark_lesion`)."""
        self.state.mark_lesion(index, on)

    def correct(self, indices) -> list[int]:
        """The reviewer edited these slices (the labels hold the edit): corrected; returns them, sorted."""
        touched = sorted({int(i) for i in np.atleast_1d(indices) if 0 <= int(i) < self.n_slices})
        for i in touched:
            self.review(i, CORRECTED)
        return touched

    def suggestion_mask(self, index: int, *, with_label: bool = True):
        """Slice ``index``'s label with its suggested lesion added (None when it has no suggestion)."""
        found = self.suggested[int(index)] > 0
        if not found.any():
            return None
        return ((self.state.labels[int(index)] > 0) | found).astype(np.uint8) if with_label else found

    # -- undo -------------------------------------------------------------------------------------
    def begin_edit(self, index: int) -> None:
        """An edit of slice ``index`` starts (a stroke, an accepted suggestion): its mask and status are kept, and
        restored when an undo puts that mask back (:meth:`edited`)."""
        i = int(index)
        if not 0 <= i < self.n_slices:
            return
        st = self.state
        snap = SliceSnapshot(i, st.labels[i].copy(), st.statuses[i], dict(st.slice_info[i]), self.suggested[i].copy())
        stack = self._history.setdefault(i, [])
        stack.append(snap)
        del stack[:-HISTORY_DEPTH]

    def edited(self, indices) -> tuple[list[int], list[int]]:
        """Slices whose labels an edit, an undo or a redo changed: a slice whose mask is again what it was before
        its last edit gets that status (and its suggested lesions) back: an undo; the others are corrected. Returns
        (corrected, restored)."""
        corrected, restored = [], []
        for i in sorted({int(k) for k in np.atleast_1d(indices) if 0 <= int(k) < self.n_slices}):
            stack = self._history.get(i) or []
            if stack and np.array_equal(stack[-1].mask, self.state.labels[i]):
                snap = stack.pop()
                self.state.statuses[i] = snap.status
                self.state.slice_info[i] = dict(snap.info)
                self.suggested[i] = snap.suggested
                restored.append(i)
            else:
                self.review(i, CORRECTED)
                corrected.append(i)
        return corrected, restored

    def forget_history(self) -> None:
        """Drop the undo snapshots (the frontend cleared its undo history)."""
        self._history.clear()

    @property
    def unreviewed(self) -> list[int]:
        return self.state.unreviewed_indices()

    def is_unreviewed(self, index: int) -> bool:
        return self.state.status(index) == UNREVIEWED
