"""A learner that never undoes the reviewer: a new net worse on the reviewed slices is refused and the previous
prediction kept; otherwise the two nets' probabilities are merged (the higher); reviewed slices stay untouched."""

import numpy as np
import pytest
import torch

import labelassist.core.propagate.propagation as propagation
from labelassist.core.propagate.keeps import keep_or_merge, reviewed_dice
from labelassist.core.propagate.predict import predict
from labelassist.core.propagate.propagation import propagate
from labelassist.core.propagate.targets import reviewed_slices

FAST = dict(steps=60, batch_size=6, crop=None, device="cpu", tta=False)
FIRST = [0, 4, 7, 11]


def _volume(z=12, size=32, seed=0):
    """Noisy slices with a bright disc on slices 3-8 that drifts across the slice; its mask is the truth."""
    rng = np.random.default_rng(seed)
    img = rng.normal(100, 6, (z, size, size)).astype(np.float32)
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((z, size, size), np.uint8)
    for k in range(3, 9):
        cy, cx, r = 10 + 2 * (k - 3), 12 + (k - 3), 4 + (k % 2)
        mask[k] = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    img[mask > 0] += 60
    return img, mask


@pytest.fixture(scope="module")
def first_round():
    img, mask = _volume()
    labels = np.zeros_like(mask)
    labels[FIRST] = mask[FIRST]
    return img, mask, labels, propagate(img, labels, FIRST, seed=0, **FAST)


def _blind(segmenter, data, settings, **kwargs):
    """A 'training' that leaves a net predicting nothing anywhere (its head: zero weights, bias -20)."""
    with torch.no_grad():
        segmenter.net.head.weight.zero_()
        segmenter.net.head.bias.fill_(-20.0)
    return [1.0] * settings.steps


def test_the_learner_keeps_the_previous_prediction_when_a_new_net_is_worse(first_round, monkeypatch):
    img, mask, labels, res = first_round
    assert res.masks[[5, 6]].any()  # the previous net carries the lesion onto unreviewed slices
    monkeypatch.setattr(propagation, "train_segmenter", _blind)
    labels = res.masks.copy()
    labels[5] = mask[5]  # one more correction
    out = propagate(img, labels, FIRST + [5], model=res.model, seed=1, **FAST)
    assert out.meta["kept_previous"] and out.meta["dice_new"] < out.meta["dice_previous"]
    held = [i for i in range(len(img)) if i not in FIRST + [5]]
    previous = predict(img, res.model, device="cpu", tta=False)[1]
    np.testing.assert_allclose(out.probability[held].astype(np.float32), previous[held].astype(np.float32),
                               atol=1e-3)
    assert out.masks[[3, 6, 8]].any(axis=(1, 2)).all()  # the lesion is still carried on, not wiped out
    np.testing.assert_array_equal(out.masks[FIRST + [5]], labels[FIRST + [5]])  # reviewed slices untouched
    # the previous net goes on: a refused net is not the one fine-tuned next time
    for a, b in zip(out.model.net.state_dict().values(), res.model.net.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert out.model is not res.model and out.model.meta["training"]["history"][-1]["kept_previous"]


def test_a_new_net_no_worse_is_merged_with_the_previous():
    """Each voxel takes the higher probability: what the new net adds shows, what it alone loses stays."""
    truth = reviewed_slices(np.ones((3, 4, 4), np.uint8), [0], shape=(3, 4, 4))
    new, old = torch.full((3, 4, 4), 0.9), torch.full((3, 4, 4), 0.9)
    new[1, :2] = 0.1  # the new net loses half a lesion on slice 1
    old[2, :, :2] = 0.1  # and finds what the previous one missed on slice 2
    out, record = keep_or_merge(new, old, truth, (4, 4), threshold=0.5)
    assert not record["kept_previous"] and record["dice_new"] == record["dice_previous"] == 1.0
    torch.testing.assert_close(out, torch.full((3, 4, 4), 0.9))
    out, _ = keep_or_merge(new, old, truth, (4, 4), threshold=0.5, merge=False)
    torch.testing.assert_close(out, new)


def test_the_gate_refuses_a_new_net_that_misses_the_reviewed_lesion():
    truth = reviewed_slices(np.ones((3, 4, 4), np.uint8), [1], shape=(3, 4, 4))
    new, old = torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.9)
    out, record = keep_or_merge(new, old, truth, (4, 4), threshold=0.5)
    assert record == {"kept_previous": True, "dice_new": 0.0, "dice_previous": 1.0}
    assert out is old


def test_reviewed_dice_of_nothing_against_nothing_is_one():
    assert reviewed_dice(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), threshold=0.5) == 1.0
    assert reviewed_dice(np.ones((1, 2, 2)), np.ones((1, 2, 2)), threshold=0.5) == 1.0


def test_a_negative_gate_margin_is_one_line():
    from labelassist.errors import ParameterError

    img, mask = _volume()
    with pytest.raises(ParameterError, match="gate_margin must be >= 0"):
        propagate(img, mask, [4], steps=1, device="cpu", gate_margin=-0.1)


def test_what_the_previous_result_showed_stays_unless_the_reviewer_showed_it_wrong():
    from labelassist.core.propagate.keeps import hold_previous

    labels = np.zeros((4, 8, 8), np.uint8)
    labels[1, 2:5, 2:5] = 1  # the reviewer's newest correction adds lesion on slice 1
    truth = reviewed_slices(labels, [1], shape=(4, 8, 8))
    previous = np.zeros((4, 8, 8), np.uint8)
    previous[2, 2:5, 2:5] = 1  # the previous result showed a lesion on unreviewed slice 2
    previous[1, 3, 3] = 1  # and part of it on slice 1: the reviewer confirmed it
    previous[3, 6:8, 0:2] = 1  # and a lesion on slice 3 that no reviewed slice touches: not held
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[1] = labels[1]  # the new nets both lost slice 2's lesion
    record = hold_previous(masks, previous, truth)
    assert record == {"held_previous": 9, "over_predicted": False, "refuted": 0}
    assert masks[2, 2:5, 2:5].all() and np.array_equal(masks[1], labels[1])  # reviewed slice: the truth
    assert not masks[3].any()
    previous[1, 6:8, 6:8] = 1  # 4 px marked lesion where the reviewer drew none: within noise
    previous[2, 6:8, 6:8] = 1  # (that lesion goes on to slice 2, and was not confirmed either)
    masks[2] = 0
    assert hold_previous(masks, previous, truth)["held_previous"] == 9
    previous[1, 6:8, 5] = 1  # 6 px of it now: that lesion is refuted, the confirmed one still stands
    masks[2] = 0
    assert hold_previous(masks, previous, truth) == {"held_previous": 9, "over_predicted": True, "refuted": 1}
    assert masks[2, 2:5, 2:5].all() and not masks[2, 6:8, 6:8].any()
    previous[1, 0:2, 2:5] = 1  # 6 px the reviewer left out, joined to the confirmed lesion: refuted with it
    previous[1, 2, 2:5] = 1
    masks[2] = 0
    assert hold_previous(masks, previous, truth)["held_previous"] == 0 and not masks[2].any()


def test_a_proposed_lesion_that_spills_over_on_a_reviewed_slice_still_stands():
    from labelassist.core.propagate.keeps import hold_previous

    labels = np.zeros((4, 8, 8), np.uint8)
    labels[1, 2:5, 2:5] = 1  # the reviewer's lesion on slice 1: 9 px
    truth = reviewed_slices(labels, [1], shape=(4, 8, 8))
    previous = np.zeros((4, 8, 8), np.uint8)
    previous[1, 2:5, 2:7] = 1  # the proposal there: 9 px right, 6 px spilt over the edge
    previous[2, 2:5, 2:5] = 1  # and the lesion on unreviewed slice 2, which the new net lost
    masks = labels.copy()
    assert hold_previous(masks, previous, truth)["refuted"] == 1 and not masks[2].any()  # a net's: refuted
    record = hold_previous(masks, previous, truth, proposals=True)  # drawn slice by slice: mostly right
    assert record == {"held_previous": 9, "over_predicted": False, "refuted": 0} and masks[2, 2:5, 2:5].all()
    previous[1, 5:8, :] = 1  # now mostly wrong on the reviewed slice (9 right, 30 wrong): refuted
    masks[2] = 0
    assert hold_previous(masks, previous, truth, proposals=True)["refuted"] == 1 and not masks[2].any()


def test_propagate_holds_the_previous_masks_and_checks_their_shape(first_round, monkeypatch):
    from labelassist.errors import ParameterError

    img, mask, labels, res = first_round
    monkeypatch.setattr(propagation, "train_segmenter", _blind)  # a new net that sees nothing at all
    shown = res.masks.copy()
    labels = res.masks.copy()
    labels[5] = mask[5]
    out = propagate(img, labels, FIRST + [5], model=res.model, seed=1, gate_margin=float("inf"), merge=False,
                    previous_masks=shown, **FAST)
    unreviewed = [i for i in range(len(img)) if i not in FIRST + [5]]
    assert out.meta["held_previous"] > 0 and not out.meta["over_predicted"]
    assert np.array_equal(out.masks[unreviewed] > 0, shown[unreviewed] > 0)  # nothing the reviewer saw is undone
    with pytest.raises(ParameterError, match="previous_masks has shape"):
        propagate(img, labels, FIRST + [5], model=res.model, previous_masks=shown[:3], **FAST)


def test_the_first_net_keeps_a_proposed_lesion_the_reviewer_trimmed_on_one_slice(monkeypatch):
    img, mask = _volume()
    monkeypatch.setattr(propagation, "train_segmenter", _blind)  # a first net that sees nothing at all
    proposals = mask.copy()  # the proposals the reviewer saw (CAM + BoundaryFit): the lesion on every slice,
    rows = np.nonzero(mask[4].any(1))[0]
    proposals[4, rows.max() + 1, 8:14] = 1  # spilling 6 px past its edge on slice 4
    labels = np.zeros_like(mask)
    labels[4] = mask[4]  # which the reviewer trimmed
    out = propagate(img, labels, [4], seed=0, previous_masks=proposals, **FAST)
    unreviewed = [i for i in range(len(img)) if i != 4]
    assert out.meta["held_previous"] > 0 and not out.meta["over_predicted"]
    assert np.array_equal(out.masks[unreviewed] > 0, proposals[unreviewed] > 0)  # the first net undid nothing
