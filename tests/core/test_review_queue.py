"""The review queue: uncertain before confident, disagreement counts, reviewed slices never offered."""

import numpy as np
import pytest

from labelassist.core.review_queue import disagreement, review_queue
from labelassist.errors import ParameterError


def test_uncertain_slice_comes_before_a_confident_one():
    assert review_queue([0.95, 0.2, 0.99, 0.6]) == [1, 3, 0, 2]


def test_reviewed_slices_are_never_offered():
    q = review_queue([0.1, 0.2, 0.3, 0.4], reviewed=[0, 2])
    assert q == [1, 3]
    assert review_queue([0.5, 0.5], reviewed=[0, 1]) == []


def test_disagreement_between_net_and_fit_raises_priority():
    net = np.zeros((3, 4, 4), np.uint8)
    fit = net.copy()
    fit[2, 1:3, 1:3] = 1  # BoundaryFit sees a lesion the net does not
    np.testing.assert_allclose(disagreement(net, fit), [0, 0, 1])
    assert review_queue([0.9, 0.8, 0.9], net_masks=net, fit_masks=fit)[0] == 2


def test_ties_go_to_the_slice_farthest_from_what_was_reviewed():
    assert review_queue(np.full(6, 0.5), reviewed=[0])[0] == 5


def test_bad_input_is_one_line():
    with pytest.raises(ParameterError, match="outside the volume"):
        review_queue([0.5, 0.5], reviewed=[7])
    with pytest.raises(ParameterError, match="must match"):
        review_queue([0.5], net_masks=np.zeros((1, 2, 2)), fit_masks=np.zeros((1, 3, 3)))
