"""Suggested lesions: what the net finds away from every drawn lesion comes back apart from the masks (never
exported unaccepted), ranked, and the review queue sends the reviewer to the best one."""

import numpy as np
import pytest

from labelassist.core.propagate.propagation import propagate
from labelassist.core.propagate.queue import review_queue
from labelassist.core.propagate.suggest import Suggestion, suggest_lesions
from labelassist.errors import ParameterError


def _probability():
    """A kept lesion on slices 6-7, a sure blob on slices 2-4, a less sure one on slice 9, a sure speck on 1."""
    p = np.zeros((12, 20, 20), np.float32)
    p[2:5, 3:7, 3:7] = 0.9
    p[6:8, 12:16, 12:16] = 0.95
    p[9, 2:6, 12:16] = 0.85
    p[1, 15, 2] = 0.99
    kept = np.zeros(p.shape, np.uint8)
    kept[6:8, 12:16, 12:16] = 1
    return p, kept


def test_lesions_away_from_the_kept_ones_are_suggested_best_first():
    p, kept = _probability()
    labels, found = suggest_lesions(p, kept, [6])
    assert [(s.label, s.slices, s.peak, s.size) for s in found] == [(1, (2, 4), 2, 48), (2, (9, 9), 9, 16)]
    assert found[0].score == pytest.approx(0.9) and found[1].score == pytest.approx(0.85)
    assert labels.dtype == np.int32 and (labels[2:5, 3:7, 3:7] == 1).all() and (labels[9, 2:6, 12:16] == 2).all()
    assert not labels[kept > 0].any() and not labels[1].any()  # the kept lesion, and a speck, are not suggested
    # fewer wanted, a higher threshold: the best only
    assert [s.label for s in suggest_lesions(p, kept, [6], max_suggestions=1)[1]] == [1]
    assert [s.slices for s in suggest_lesions(p, kept, [6], threshold=0.88)[1]] == [(2, 4)]
    assert suggest_lesions(p, kept, [6], min_size=20)[1][0].slices == (2, 4)  # 16 voxels on slice 9: too small


def test_nothing_on_a_reviewed_slice_or_at_a_kept_lesions_edge_is_suggested():
    p, kept = _probability()
    p[6, 16:18, 12:16] = 0.9  # the kept lesion's edge, one pixel beyond its mask
    labels, found = suggest_lesions(p, kept, [2, 3, 4, 6])
    assert [s.slices for s in found] == [(9, 9)]
    assert not labels[2:5].any() and not labels[6].any()


def test_the_cam_counts_only_where_it_is_high():
    p, kept = _probability()
    cam = np.zeros_like(p)
    cam[10, 10:14, 2:6] = 0.95
    cam[11] = 0.5  # a lukewarm heat map everywhere on a slice: no suggestion
    found = suggest_lesions(p, kept, [6], cam=cam)[1]
    assert (10, 10) in [s.slices for s in found] and not any(s.slices[1] == 11 for s in found)


def test_the_appearance_learner_counts_above_its_threshold_and_alone_only_when_not_a_speck():
    p, kept = _probability()
    app = np.zeros_like(p)
    app[10:12, 10:15, 2:6] = 0.6  # 40 voxels only the appearance learner sees
    app[11, 16:19, 16:19] = 0.99  # 9 voxels: texture, not a lesion
    app[0] = 0.4  # below its threshold
    found = suggest_lesions(p, kept, [6], appearance=app, max_suggestions=5)[1]
    assert [s.slices for s in found] == [(2, 4), (9, 9), (10, 11)] and found[2].size == 40
    assert found[2].score == pytest.approx(0.6)
    assert [s.slices for s in suggest_lesions(p, kept, [6], appearance=app, appearance_threshold=0.7,
                                              max_suggestions=5)[1]] == [(2, 4), (9, 9)]


@pytest.mark.parametrize("kwargs, match", [
    (dict(masks=np.zeros((3, 4, 4))), "masks have shape"),
    (dict(cam=np.zeros((3, 4, 4))), "cam has shape"),
    (dict(appearance=np.zeros((3, 4, 4))), "appearance has shape"),
    (dict(appearance_threshold=1.5), "appearance_threshold must be in"),
    (dict(threshold=0.0), "threshold must be in"),
    (dict(min_size=-1), "must be >= 0"),
])
def test_bad_input_is_one_line(kwargs, match):
    args = dict(masks=np.zeros((2, 4, 4)), reviewed=[0])
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        suggest_lesions(np.zeros((2, 4, 4)), **args)


def test_the_queue_weighs_suggestions_by_their_score_only_when_asked():
    conf = np.full(10, 0.5)
    conf[7] = 0.0  # the slice the segmenter is least sure of
    found = [Suggestion(1, (2, 3), 3, 20, 0.7), Suggestion(2, (8, 8), 8, 5, 0.4)]
    queue = review_queue(conf, reviewed=[5], suggestions=found, suggestion_weight=1.0)
    assert queue[:3] == [3, 7, 8] and 5 not in queue and sorted(queue) == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert review_queue(conf, reviewed=[5, 3], suggestions=found, suggestion_weight=1.0)[:2] == [7, 8]
    # by default a suggestion does not reorder the queue (the reviewer reaches it with Shift+N)
    assert review_queue(conf, reviewed=[5], suggestions=found) == review_queue(conf, reviewed=[5])
    assert review_queue(conf, reviewed=[5])[0] == 7


def test_propagate_returns_an_undrawn_lesion_as_a_suggestion_never_in_the_masks():
    """A second disc the reviewer never marked: not in the masks (which are what is exported), suggested."""
    rng = np.random.default_rng(0)
    img = rng.normal(100, 6, (12, 32, 32)).astype(np.float32)
    yy, xx = np.mgrid[:32, :32]
    drawn = ((yy - 10) ** 2 + (xx - 10) ** 2 <= 20) & np.isin(np.arange(12), range(2, 7))[:, None, None]
    other = ((yy - 24) ** 2 + (xx - 24) ** 2 <= 16) & np.isin(np.arange(12), [9, 10])[:, None, None]
    img[drawn | other] += 60
    labels = np.zeros(img.shape, np.uint8)
    labels[[0, 3, 5]] = drawn[[0, 3, 5]]
    res = propagate(img, labels, [0, 3, 5], seed=0, steps=60, batch_size=6, crop=None, device="cpu", tta=False)
    assert not res.masks[other].any()
    assert res.suggestions and res.suggestions[0].peak in (9, 10)
    assert (res.suggested[other] == 1).mean() > 0.5 and not res.suggested[drawn].any()
    assert review_queue(res.confidence, reviewed=[0, 3, 5], suggestions=res.suggestions,
                        suggestion_weight=1.0)[0] in (9, 10)
