"""The appearance learner: a lesion nobody drew, looking like the drawn one, is found after one corrected slice;
only what the reviewer judged teaches background; a lesion found before and away from the drawn ones stays while
it looks like them; bad input is one line."""

import numpy as np
import pytest

from labelassist.core.nets.inputs import normalise_volume
from labelassist.core.propagate.appearance import (FeatureCache, appearance_features, appearance_probability,
                                                   training_voxels)
from labelassist.core.propagate.keeps import hold_found
from labelassist.core.propagate.propagation import propagate
from labelassist.core.propagate.targets import reviewed_slices
from labelassist.errors import Cancelled, ParameterError


def _two_lesions(z=14, size=48, seed=0, b_gain=60):
    """Textured tissue (a body in air) with two bright balls (alike by default): A on slices 2-6, B on 8-12."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    img = 80 + 25 * ndimage.gaussian_filter(rng.normal(0, 1, (z, size, size)), (0, 3, 3)).astype(np.float32)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    zz, yy, xx = np.mgrid[:z, :size, :size]
    img[(yy - size / 2) ** 2 + (xx - size / 2) ** 2 > (size / 2 - 2) ** 2] = 0  # air around the body
    a = (zz - 4) ** 2 / 4 + (yy - 14) ** 2 / 25 + (xx - 14) ** 2 / 25 <= 1
    b = (zz - 10) ** 2 / 4 + (yy - 32) ** 2 / 25 + (xx - 32) ** 2 / 25 <= 1
    img[a] += 60
    img[b] += b_gain
    return img, a, b


def _one_corrected(a, z=4):
    labels = np.zeros(a.shape, np.uint8)
    labels[z] = a[z]
    return labels, [z]


def test_a_lesion_nobody_drew_of_the_drawn_ones_appearance_is_suggested_after_one_corrected_slice(monkeypatch):
    import labelassist.core.propagate.propagation as propagation

    img, a, b = _two_lesions()
    labels, reviewed = _one_corrected(a)
    real = propagation.predict_tensor  # a segmenter that sees nothing away from the drawn slice (as on faint lesions)
    monkeypatch.setattr(propagation, "predict_tensor", lambda *args, **kw: real(*args, **kw) * 0)
    fast = dict(steps=5, batch_size=6, crop=None, device="cpu", tta=False, seed=0)
    res = propagate(img, labels, reviewed, appearance=FeatureCache(), **fast)
    assert not res.masks[b].any()  # the masks keep only what is joined to a drawn lesion
    assert res.suggestions, "the undrawn ball is suggested"
    best = res.suggested == res.suggestions[0].label
    assert (best & b).sum() >= 0.5 * b.sum() and res.suggestions[0].slices[0] >= 7
    assert res.meta["appearance"] is True and res.meta["appearance_s"] >= 0
    assert propagate(img, labels, reviewed, **fast).suggestions == []  # the segmenter alone finds nothing


def test_only_what_the_reviewer_judged_teaches_background():
    img, a, b = _two_lesions()
    norm = normalise_volume(img)
    labels = np.zeros(a.shape, np.uint8)
    labels[4] = a[4]
    truth = reviewed_slices(labels, [4, 13], rejected=[13], shape=img.shape)
    idx, y = training_voxels(norm, truth)
    z = idx // (img.shape[1] * img.shape[2])
    assert set(np.unique(z)) == {4, 13}  # nothing of an unreviewed slice (B's slices among them)
    assert (y[z == 13] == 0).all() and (z[y == 0] == 13).sum() > 0.9 * (norm[13] > 0.05).sum()  # rejected: background
    from scipy import ndimage

    plane = idx % (img.shape[1] * img.shape[2])
    near = ndimage.binary_dilation(a[4], iterations=3)
    assert not near.ravel()[plane[(z == 4) & (y == 0)]].any()  # not the drawn lesion's edge
    assert y[z == 4].sum() == a[4].sum()  # every drawn lesion voxel is a lesion example


def test_a_rejected_slice_teaches_background():
    img, a, b = _two_lesions(b_gain=35)  # B: bright, less so than the drawn lesion
    norm = normalise_volume(img)
    feats = appearance_features(norm)
    labels, _ = _one_corrected(a)
    before = appearance_probability(feats, norm, reviewed_slices(labels, [4], shape=img.shape))
    after = appearance_probability(feats, norm, reviewed_slices(labels, [4, 10], rejected=[10], shape=img.shape))
    assert before[9][b[9]].mean() > 0.5 > after[9][b[9]].mean()  # the reviewer said B's look is no lesion
    assert after[3][a[3]].mean() > 0.5  # and A's still is


def test_a_lesion_found_before_away_from_the_drawn_ones_stays_while_it_looks_like_them():
    img, a, b = _two_lesions()
    labels, reviewed = _one_corrected(a)
    truth = reviewed_slices(labels, reviewed, shape=img.shape)
    previous = (a | b).astype(np.uint8)
    masks = a.astype(np.uint8)
    p = np.zeros(img.shape, np.float32)
    p[b] = 0.8
    info = hold_found(masks, previous, truth, p)
    assert info["held_found"] == 1 and (masks[b] == 1).all()
    masks = a.astype(np.uint8)
    assert hold_found(masks, previous, truth, p * 0.5)["held_found"] == 0 and not masks[b].any()


def test_the_feature_cache_computes_once_per_volume_and_cancels():
    img, a, _ = _two_lesions(z=6)
    norm = normalise_volume(img)
    cache = FeatureCache()
    first = cache.get(norm)
    assert first.shape == (*img.shape, first.shape[-1]) and first.dtype == np.float16
    assert cache.get(norm.copy()) is first  # the same volume again: not recomputed
    assert cache.get(norm[::-1].copy()) is not first
    with pytest.raises(Cancelled):
        FeatureCache().get(norm, cancel=lambda: True)


def test_features_of_another_volume_are_one_line():
    img, a, _ = _two_lesions(z=6)
    norm = normalise_volume(img)
    labels, _ = _one_corrected(a)
    with pytest.raises(ParameterError, match="compute them from this image"):
        appearance_probability(np.zeros((6, 10, 10, 3), np.float16), norm, reviewed_slices(labels, [4], shape=img.shape))
    with pytest.raises(ParameterError, match="image must be"):
        appearance_features(np.zeros((4, 4)))
