"""The review session below Qt (issue 27): one object that both GUIs, simulate-review and the benchmarks drive."""

import numpy as np
import pytest

from labelassist.core.loop import PROPOSAL, REVIEWER, SEGMENTER, ReviewSession
from labelassist.core.review import ACCEPTED, CORRECTED, REJECTED, UNREVIEWED, ReviewState
from labelassist.engine.testing import propagation_result
from labelassist.errors import ParameterError

SHAPE = (5, 16, 16)


def square(y, x, r=2):
    m = np.zeros(SHAPE[1:], np.uint8)
    m[y - r:y + r, x - r:x + r] = 1
    return m


@pytest.fixture
def session():
    s = ReviewSession.new(SHAPE, seed=7)
    for i in range(SHAPE[0]):
        s.set_proposal(i, square(8, 8))
    return s


def test_a_proposal_never_replaces_the_segmenters_mask_nor_the_reviewers(session):
    session.review(0, CORRECTED, mask=square(4, 4))
    net = np.zeros(SHAPE, np.uint8)
    net[1:] = square(12, 12)
    assert session.apply_propagation(propagation_result(net)).applied
    assert session.source(0) == REVIEWER and session.source(2) == SEGMENTER
    assert not session.set_proposal(2, square(3, 3))  # a new threshold: the segmenter's mask stands...
    assert np.array_equal(session.labels[2], square(12, 12))
    assert np.array_equal(session.proposals[2], square(3, 3))  # ...and the proposal is kept apart, as a weak target
    assert not session.set_proposal(0, square(3, 3)) and np.array_equal(session.labels[0], square(4, 4))


def test_a_reopened_session_keeps_the_segmenters_masks(session):
    session.review(0, CORRECTED, mask=square(4, 4))
    net = np.zeros(SHAPE, np.uint8)
    net[1:] = square(12, 12)
    session.apply_propagation(propagation_result(net))
    record, labels = session.state.to_dict(), session.labels.copy()  # what the session file holds
    reopened = ReviewSession(ReviewState.from_dict(record, labels))
    for i in range(SHAPE[0]):  # every slice shown again: its CAM + BoundaryFit proposal computed again
        reopened.set_proposal(i, square(8, 8))
    assert np.array_equal(reopened.labels, labels)
    assert [reopened.source(i) for i in range(SHAPE[0])] == [REVIEWER] + [SEGMENTER] * 4
    assert np.array_equal(reopened.seen(), labels)  # what the reviewer saw last, for the learner's floor


def test_proposals_are_the_weak_targets_nan_where_none_is_computed():
    s = ReviewSession.new(SHAPE)
    assert s.weak_targets() is None
    s.set_proposal(1, square(8, 8))
    weak = s.weak_targets()
    assert np.array_equal(weak[1], square(8, 8)) and np.isnan(weak[[0, 2, 3, 4]]).all()
    assert s.source(1) == PROPOSAL and s.source(0) == ""


def test_the_request_holds_the_review_the_proposals_and_what_the_reviewer_saw(session):
    session.review(1, CORRECTED, mask=square(5, 5))
    session.reject(3)
    req = session.propagation_request(steps=9)
    assert req.reviewed == (1, 3) and req.rejected == (3,) and req.seed == 7 + 2 and req.steps == 9
    assert np.array_equal(req.weak, np.stack([square(8, 8)] * 5).astype(np.float32))
    assert np.array_equal(req.previous_masks[1], square(8, 8))  # slice 1 showed its proposal before the correction
    assert np.array_equal(req.labels[1], square(5, 5)) and not req.labels[3].any()
    session.labels[1] = 0  # the review goes on while the learner runs: the request does not change
    assert req.labels[1].any() and req.same_as(req) and not req.same_as(session.propagation_request(steps=9))


def test_before_the_first_propagation_a_reviewed_slice_without_its_proposal_hides_what_was_seen():
    s = ReviewSession.new(SHAPE)
    s.set_proposal(1, square(8, 8))
    s.review(2, CORRECTED, mask=square(4, 4))  # corrected before its proposal was computed
    assert s.seen() is None


def test_a_result_that_empties_every_unreviewed_slice_is_refused_and_said(session):
    session.review(0, CORRECTED, mask=square(4, 4))
    before = session.labels.copy()
    outcome = session.apply_propagation(propagation_result(np.zeros(SHAPE, np.uint8)))
    assert not outcome.applied and outcome.emptied
    assert np.array_equal(session.labels, before)  # the previous masks stay
    assert "predicted no lesion on any unreviewed slice: kept the previous masks" in outcome.message(1)
    assert session.source(2) == PROPOSAL


def test_the_queue_skips_reviewed_slices_and_falls_back_to_the_next_unreviewed(session):
    session.review(0, ACCEPTED)
    session.apply_propagation(propagation_result(np.stack([square(8, 8)] * 5)))
    assert sorted(session.queue) == [1, 2, 3, 4]
    first = session.queue[0]
    assert session.next_slice() == first
    for i in range(1, 5):
        session.review(i, REJECTED)
    assert session.next_slice() is None


def test_an_undo_gives_the_slice_back_its_status_with_its_mask(session):
    suggested = np.zeros(SHAPE, np.int32)
    suggested[2] = square(3, 3)
    session.apply_propagation(propagation_result(np.stack([square(8, 8)] * 5), suggested=suggested, ranges=[(2, 2)]))
    mask = session.suggestion_mask(2)
    assert mask is not None and mask.sum() == square(8, 8).sum() + square(3, 3).sum()
    session.begin_edit(2)  # S: accept the suggestion, one undo step
    session.labels[2] = mask
    assert session.correct([2]) == [2] and session.state.status(2) == CORRECTED
    session.labels[2] = square(8, 8)  # Ctrl+Z puts the mask back...
    corrected, restored = session.edited([2])
    assert restored == [2] and not corrected and session.state.status(2) == UNREVIEWED  # ...and the status
    assert session.source(2) == SEGMENTER  # and where the mask came from
    session.labels[2] = mask  # redo
    assert session.edited([2]) == ([2], []) and session.state.status(2) == CORRECTED


def test_bad_slices_and_masks_are_one_line_errors(session):
    with pytest.raises(ParameterError, match=r"slice index must be in \[0, 4\]"):
        session.set_proposal(9, square(8, 8))
    with pytest.raises(ParameterError, match="mask must have the slice shape"):
        session.set_proposal(1, np.zeros((3, 3)))
