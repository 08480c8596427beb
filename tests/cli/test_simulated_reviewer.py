"""The simulated reviewer's look at suggested lesions (``simulate-review --follow-suggestions``): a suggestion on a
lesion is corrected next, a false one is looked at once and then left alone."""

from types import SimpleNamespace

import numpy as np

from labelassist.cli._simulation import _look_at_suggestions
from labelassist.core.propagate.suggest import Suggestion


def _result(*boxes):
    """A propagation result whose k-th suggestion fills box k (z0, z1, y0, y1), peak at its middle slice."""
    suggested = np.zeros((10, 16, 16), np.int32)
    found = []
    for k, (z0, z1, y0, y1) in enumerate(boxes, start=1):
        suggested[z0:z1, y0:y1, 2:6] = k
        found.append(Suggestion(k, (z0, z1 - 1), (z0 + z1) // 2, int((suggested == k).sum()), 0.9))
    return SimpleNamespace(suggested=suggested, suggestions=found)


def test_a_suggestion_on_a_lesion_goes_first_after_a_look_at_each_false_one():
    truth = np.zeros((10, 16, 16), np.uint8)
    truth[6:9, 10:14, 2:6] = 1  # the lesion under the second suggestion
    res = _result((1, 3, 0, 4), (6, 9, 10, 14))
    queue, dismissed = [2, 5, 7], np.zeros(truth.shape, bool)
    looks, lead = _look_at_suggestions(res, truth, queue, reviewed=[0], dismissed=dismissed)
    assert (looks, lead) == (2, 7) and queue == [7, 2, 5]  # its peak slice next, nothing lost from the queue
    assert dismissed[1:3, 0:4, 2:6].all() and dismissed.sum() == 2 * 4 * 4  # the false one is remembered


def test_a_false_suggestion_seen_before_costs_no_second_look_and_moves_nothing():
    truth = np.zeros((10, 16, 16), np.uint8)
    res = _result((1, 3, 0, 4))
    queue, dismissed = [4, 5], np.zeros(truth.shape, bool)
    assert _look_at_suggestions(res, truth, queue, reviewed=[], dismissed=dismissed) == (1, None)
    assert _look_at_suggestions(_result((2, 4, 0, 4)), truth, queue, reviewed=[], dismissed=dismissed) == (0, None)
    assert queue == [4, 5]


def test_a_suggestion_mostly_off_the_lesion_is_not_followed():
    truth = np.zeros((10, 16, 16), np.uint8)
    truth[1:3, 0:1, 3:6] = 1
    res = _result((1, 3, 0, 4))  # 2 x 4 x 4 = 32 voxels, 6 of them on a lesion: under a quarter
    queue = [5]
    assert _look_at_suggestions(res, truth, queue, reviewed=[], dismissed=np.zeros(truth.shape, bool)) == (1, None)
    assert queue == [5]
