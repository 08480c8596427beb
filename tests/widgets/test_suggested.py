"""Suggested lesions in a review (issue 18): shown apart from the label, never exported unless accepted."""

import numpy as np
import pytest

from labelassist.engine.testing import propagation_result
from labelassist.core.review import ACCEPTED, CORRECTED, UNREVIEWED
from labelassist.io import load_volume
from labelassist.widgets import ControlPanel, ReviewController, ReviewView

pytestmark = pytest.mark.gui


class EditingView(ReviewView):
    """A frontend with its own undo: records the edits the controller asks for, and applies them."""

    def __init__(self):
        self.labels, self.suggested, self.edits = None, None, []

    def show_volume(self, volume, *, cam, perimeter, labels):
        self.labels = labels

    def show_suggestions(self, suggested):
        self.suggested = suggested

    def edit_slice(self, index, mask):
        self.edits.append((index, mask.copy()))
        self.labels[index] = mask
        return True


@pytest.fixture
def ctl(qtbot, tiny_model, volume):
    view, panel = EditingView(), ControlPanel()
    qtbot.addWidget(panel)
    c = ReviewController(view, panel=panel, model=tiny_model, device="cpu", auto_compute=False)
    c.open_volume(volume)
    yield c
    c.close()


def suggest(c, *, slices=(2, 3), box=(slice(40, 50), slice(40, 50))):
    """A propagation's result with one suggested lesion on ``slices`` (the labels unchanged)."""
    suggested = np.zeros(c.state.labels.shape, np.int32)
    for z in slices:
        suggested[(z, *box)] = 1
    c.learner.apply(propagation_result(c.state.labels, suggested=suggested, ranges=[(min(slices), max(slices))]))


def test_a_suggestion_is_shown_on_unreviewed_slices_only_and_said(ctl):
    ctl.accept(3)
    messages = []
    ctl.message.connect(lambda text, error: messages.append(text))
    suggest(ctl)
    assert ctl.view.suggested is ctl.suggested  # the frontend draws the controller's array
    assert ctl.suggested[2, 45, 45] and not ctl.suggested[3].any()  # slice 3 was reviewed: no suggestion there
    assert not ctl.state.labels[2, 40:50, 40:50].any()  # a suggestion is not a label
    assert "1 suggested lesion" in messages[-1] and "slices 2-3" in messages[-1]


def test_a_suggestion_is_never_exported_unless_accepted(ctl, tmp_path):
    suggest(ctl)
    out = ctl.export(tmp_path / "before.nii.gz")
    assert not load_volume(out, labels=True).array[:, 40:50, 40:50].any()
    assert ctl.accept_suggestion(2)
    out = ctl.export(tmp_path / "after.nii.gz")
    exported = load_volume(out, labels=True).array
    assert exported[2, 40:50, 40:50].all()  # accepted on slice 2 ...
    assert not exported[3, 40:50, 40:50].any()  # ... and only there


def test_accepting_a_suggestion_is_one_frontend_edit_and_marks_the_slice_corrected(ctl):
    ctl.state.labels[2, 10:14, 10:14] = 1  # the reviewer's own pixels stay
    suggest(ctl)
    assert ctl.accept_suggestion(2)
    (index, mask), = ctl.view.edits  # one edit: one undo step in the frontend
    assert index == 2 and mask[40:50, 40:50].all() and mask[10:14, 10:14].all()
    assert ctl.state.status(2) == CORRECTED and ctl.state.status(3) == UNREVIEWED
    assert not ctl.suggested[2].any() and ctl.suggested[3].any()  # the rest of the lesion is still suggested


def test_the_s_key_accepts_the_suggestion_on_screen_and_says_so_where_there_is_none(ctl):
    suggest(ctl, slices=(0,))
    keys = {s.key: s for s in ctl.shortcuts()}
    keys["S"].callback()  # slice 0 is on screen
    assert ctl.state.labels[0, 40:50, 40:50].all() and ctl.state.status(0) == CORRECTED
    messages = []
    ctl.message.connect(lambda text, error: messages.append((text, error)))
    before = ctl.state.labels.copy()
    assert not ctl.accept_suggestion(4)
    assert messages[-1][1] and "No suggested lesion on slice 4" in messages[-1][0]
    assert np.array_equal(ctl.state.labels, before) and ctl.state.status(4) != ACCEPTED


def test_shift_n_goes_from_suggested_lesion_to_suggested_lesion(ctl):
    suggested = np.zeros(ctl.state.labels.shape, np.int32)
    suggested[1, 40:44, 40:44] = 1  # lesion 1: larger on slice 2, its peak
    suggested[2, 40:50, 40:50] = 1
    suggested[4, 10:20, 10:20] = 2  # lesion 2 on slice 4
    ctl.learner.apply(propagation_result(ctl.state.labels, suggested=suggested, ranges=[(1, 2), (4, 4)]))
    next_suggestion = {s.key: s for s in ctl.shortcuts()}["Shift+N"].callback
    seen = []
    ctl.message.connect(lambda text, error: seen.append(text))
    assert [next_suggestion() for _ in range(3)] == [2, 4, 2] and ctl.current == 2  # wraps round
    assert "lesion 1 of 2 on slice 2" in seen[-1]
    ctl.accept(4)  # accepted without the suggestion: it is gone, and not visited again
    assert not ctl.suggested[4].any() and ctl.state.labels[4].sum() == 0
    assert next_suggestion() == 2
    ctl.reject(2)
    ctl.reject(1)
    assert next_suggestion() is None and "No suggested lesion" in seen[-1]


def test_without_a_frontend_undo_the_controller_writes_the_label(qtbot, tiny_model, volume):
    c = ReviewController(ReviewView(), model=tiny_model, device="cpu", auto_compute=False)
    try:
        c.open_volume(volume)
        suggest(c)
        assert c.accept_suggestion(3) and c.state.labels[3, 40:50, 40:50].all()
    finally:
        c.close()


def test_a_new_propagation_replaces_the_suggestions(ctl):
    suggest(ctl, slices=(1,))
    suggest(ctl, slices=(4,), box=(slice(5, 9), slice(5, 9)))
    assert not ctl.suggested[1].any() and ctl.suggested[4, 6, 6]


def test_the_next_propagation_is_given_the_masks_the_reviewer_saw(qtbot, ctl, monkeypatch):
    """The learner's floor (never take back what it showed unless shown wrong) needs the last propagation's masks."""
    import labelassist.core.propagate.propagation as propagation

    seen = []

    def fake(image, labels, reviewed, **kwargs):
        seen.append(kwargs.get("previous_masks"))
        z = len(labels)
        return propagation.PropagationResult(masks=labels.copy(), probability=np.zeros(labels.shape, np.float16),
                                             confidence=np.ones(z), model=None, meta={"steps": 1})

    monkeypatch.setattr(propagation, "propagate", fake)
    ctl.state.labels[1, 5:9, 5:9] = 1
    ctl.mark_corrected([1])
    job = ctl.propagate()
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert seen == [None]  # the first propagation has nothing to hold
    shown = ctl.learner.previous_masks.copy()
    assert shown[1, 5:9, 5:9].all()
    ctl.state.labels[2, 20:24, 20:24] = 1
    ctl.mark_corrected([2])
    job = ctl.propagate()
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert np.array_equal(seen[-1], shown)  # what the reviewer saw before the correction on slice 2


def test_the_first_propagation_is_given_the_proposals_the_reviewer_saw(qtbot, ctl, monkeypatch):
    """Before any propagation the reviewer saw CAM + BoundaryFit: the floor holds the lesions of it they confirm."""
    import labelassist.core.propagate.propagation as propagation

    seen = []

    def fake(image, labels, reviewed, **kwargs):
        seen.append(kwargs.get("previous_masks"))
        return propagation.PropagationResult(masks=labels.copy(), probability=np.zeros(labels.shape, np.float16),
                                             confidence=np.ones(len(labels)), model=None, meta={"steps": 1})

    monkeypatch.setattr(propagation, "propagate", fake)
    proposal = np.zeros(ctl.state.labels.shape[1:], np.uint8)
    proposal[10:20, 10:20] = 1
    assert ctl.session.set_proposal(3, proposal)
    ctl.state.labels[1, 5:9, 5:9] = 1
    ctl.mark_corrected([1])
    assert ctl.learner.seen() is None  # slice 1's proposal is not computed: what the reviewer refuted is unknown
    ctl.session.set_proposal(1, np.zeros_like(proposal))  # computed: it showed nothing (the label stays)
    assert ctl.state.labels[1, 5:9, 5:9].all()
    job = ctl.propagate()
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert np.array_equal(seen[0][3], proposal) and not seen[0][1].any()  # what the reviewer saw
