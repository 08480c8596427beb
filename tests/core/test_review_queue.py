"""The review queue: uncertain before confident, disagreement counts, reviewed slices never offered."""

import numpy as np
import pytest

from labelassist.core.propagate.queue import disagreement, lost_lesion, review_queue
from labelassist.errors import ParameterError


def test_uncertain_slice_comes_before_a_confident_one():
    assert review_queue([0.95, 0.2, 0.99, 0.6]) == [1, 3, 0, 2]


def test_reviewed_slices_are_never_offered():
    q = review_queue([0.1, 0.2, 0.3, 0.4], reviewed=[0, 2])
    assert q == [1, 3]
    assert review_queue([0.5, 0.5], reviewed=[0, 1]) == []


def test_disagreement_between_net_and_fit_raises_priority():
    seg = np.zeros((3, 4, 4), np.uint8)
    fit = seg.copy()
    fit[2, 1:3, 1:3] = 1  # BoundaryFit sees a lesion the segmenter does not
    np.testing.assert_allclose(disagreement(seg, fit), [0, 0, 1])
    assert review_queue([0.9, 0.8, 0.9], segmenter_masks=seg, fit_masks=fit)[0] == 2


def test_ties_go_to_the_slice_farthest_from_what_was_reviewed():
    assert review_queue(np.full(6, 0.5), reviewed=[0])[0] == 5


def test_a_drawn_lesion_the_net_loses_on_the_next_slice_comes_first():
    """The reviewer drew a small lesion on slice 3; the segmenter marks nothing on slice 4 (and carries it to 2).
    Slice 4 comes before a slice far away the segmenter is less sure of: the lesion goes on there or ends."""
    masks = np.zeros((8, 10, 10), np.uint8)
    masks[3, 4:6, 4:6] = 1  # reviewed: the drawn lesion
    masks[2, 4:6, 4:5] = 1  # the segmenter keeps half of it on slice 2
    lost = lost_lesion(masks, [3])
    np.testing.assert_allclose(lost, [0, 0, 0.5, 0, 1, 0, 0, 0])
    conf = np.full(8, 0.9)
    conf[7] = 0.5  # far away and unsure
    assert review_queue(conf, reviewed=[3], segmenter_masks=masks)[0] == 4
    assert review_queue(conf, reviewed=[3], segmenter_masks=masks, continuity_weight=0)[0] == 7
    # a lesion that only shrinks (the segmenter keeps half or more of it) does not jump the queue
    assert review_queue(conf, reviewed=[3], segmenter_masks=masks)[:2] == [4, 7]
    # the segmenter marking something elsewhere on slice 4 does not count as carrying the lesion
    masks[4, 0:2, 0:2] = 1
    assert lost_lesion(masks, [3])[4] == 1


def test_bad_input_is_one_line():
    with pytest.raises(ParameterError, match="outside the volume"):
        review_queue([0.5, 0.5], reviewed=[7])
    with pytest.raises(ParameterError, match="must match"):
        review_queue([0.5], segmenter_masks=np.zeros((1, 2, 2)), fit_masks=np.zeros((1, 3, 3)))
