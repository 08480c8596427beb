"""Weak targets with holes: NaN in ``weak`` is "no pseudo-label here" (a slice not proposed yet), never "no lesion"."""

import numpy as np
import pytest

from labelassist.core.propagate.propagation import propagate
from labelassist.core.propagate.targets import reviewed_slices, training_set, weak_agreement


def _volume(z=12, size=16):
    img = np.random.default_rng(0).normal(100, 6, (z, size, size)).astype(np.float32)
    mask = np.zeros((z, size, size), np.uint8)
    mask[3:9, 5:10, 5:10] = 1
    img[mask > 0] += 60
    return img, mask


def test_unreviewed_slices_without_a_pseudo_label_are_no_weak_targets():
    import torch

    _, mask = _volume()
    truth = reviewed_slices(mask, [4, 7], shape=mask.shape)
    weak = mask.astype(np.float32)
    weak[[0, 1, 5]] = np.nan  # never proposed: slice 5 has a lesion, it must not be taught "empty"
    weak[6, :8] = np.nan  # half a slice unknown
    data = training_set(torch.zeros(12, 3, 16, 16), truth, weak=weak, weight=0.1)
    used = [i for i in range(12) if i not in (0, 1, 4, 5, 7)]
    assert len(data.pools["weak"]) == len(used)
    first = data.pools["weak"][0]
    np.testing.assert_array_equal(data.targets[first:].numpy() > 0.5, np.nan_to_num(weak[used]) > 0)
    w6 = data.weights[first + used.index(6)]
    assert float(w6[:8].max()) == 0 and float(w6[8:].min()) == pytest.approx(0.1)
    assert float(data.weights[first + used.index(8)].min()) == pytest.approx(0.1)
    nothing = np.full(mask.shape, np.nan, np.float32)
    assert training_set(torch.zeros(12, 3, 16, 16), truth, weak=nothing, weight=0.1).pools["weak"] == []


def test_the_agreement_ignores_reviewed_slices_without_a_pseudo_label():
    _, mask = _volume()
    truth = reviewed_slices(mask, [4, 7], shape=mask.shape)
    weak = mask.astype(np.float32)
    weak[4] = np.nan
    assert weak_agreement(weak, truth) == 1.0  # slice 7 agrees; slice 4 was not proposed, so it is no miss
    weak[7] = np.nan
    assert weak_agreement(weak, truth) is None


def test_propagate_counts_only_the_proposed_slices_as_weak_targets():
    img, mask = _volume()
    weak = np.full(mask.shape, np.nan, np.float32)
    weak[[2, 3, 8]] = mask[[2, 3, 8]]
    labels = np.zeros_like(mask)
    labels[[4, 7]] = mask[[4, 7]]
    res = propagate(img, labels, [4, 7], weak=weak, steps=2, device="cpu", crop=None, tta=False)
    assert res.meta["weak"] == 3 and res.meta["weak_agreement"] is None
