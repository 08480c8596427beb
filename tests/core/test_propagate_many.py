"""Issue 27: many reviewed slices, most of them lesion-free, made the segmenter predict nothing.

A faint lesion on 15 of 40 slices; 12 reviewed slices, 4 of them through the lesion. Before the fix the net sat on
the all-background plateau: every lesion pixel had all its last features off, so its probability was the sigmoid
of the output bias (0.49 here), below the 0.8 threshold on every slice.
"""

import numpy as np
import pytest

from labelassist.core.evaluate.metrics import dice
from labelassist.core.propagate.propagation import propagate

REVIEWED = [0, 3, 6, 9, 13, 17, 21, 25, 30, 33, 36, 39]  # the lesion (slices 12-26) on 13, 17, 21 and 25


def _volume(z=40, size=64, contrast=8.0, seed=0):
    """A noisy head with a ring that changes from slice to slice, and a faint disc on slices 12-26 that drifts and
    shrinks towards its ends (radius 5 to 3.25 pixels, 8 grey levels over noise of 6)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    head = ((yy - 32) ** 2 / 28**2 + (xx - 32) ** 2 / 24**2) <= 1
    img = np.where(head, 100.0, 5.0)[None].repeat(z, 0) + rng.normal(0, 6.0, (z, size, size))
    for k in range(z):
        img[k][np.abs(np.hypot(yy - 34, xx - 30) - 6 - 2 * np.sin(k / 5)) < 1.5] += 25
    mask = np.zeros((z, size, size), np.uint8)
    for k in range(12, 27):
        r = 5 - abs(k - 19) / 4
        mask[k] = (yy - 18 - (k - 12) // 4) ** 2 + (xx - 44) ** 2 <= r * r
    img[mask > 0] += contrast
    return img.astype(np.float32), mask


@pytest.fixture(scope="module")
def many():
    img, mask = _volume()
    labels = np.zeros_like(mask)
    labels[REVIEWED] = mask[REVIEWED]
    return img, mask, propagate(img, labels, REVIEWED, seed=2, device="cpu", tta=False)


def test_many_lesion_free_reviewed_slices_still_carry_the_lesion(many):
    img, mask, res = many
    unrev = [i for i in range(len(img)) if i not in REVIEWED]
    lesion = [i for i in unrev if mask[i].any()]
    assert len(lesion) == 11
    found = [i for i in lesion if res.masks[i].any()]
    assert len(found) >= 9, f"only {found} of the unreviewed lesion slices {lesion} got a mask"
    assert dice(res.masks[unrev], mask[unrev]) > 0.6
    p = res.probability[unrev].astype(np.float32)
    assert np.median(p[mask[unrev] > 0]) > 0.8  # before: 0.49 on every lesion pixel (the sigmoid of the bias)
    assert not res.masks[[i for i in unrev if i < 10 or i > 28]].any()  # far from the lesion: nothing


def test_the_lesion_weighs_at_least_its_floor_of_a_batch():
    import torch

    from labelassist.core.propagate.data import LESION_WEIGHT_FLOOR, LESION_WEIGHT_MAX, lesion_weights

    y = torch.zeros(8, 64, 64)
    w = torch.ones(8, 64, 64)
    y[0, :8, :8] = 1  # 64 lesion pixels of 32768: each counts 27 times
    out = lesion_weights(y, w)
    assert float((out * y).sum() / out.sum()) == pytest.approx(LESION_WEIGHT_FLOOR, rel=1e-4)
    assert torch.equal(out[y == 0], w[y == 0])  # the background keeps its weight
    speck = torch.zeros_like(y)
    speck[0, 0, 0] = 0.1  # a speck of soft target weighs at most LESION_WEIGHT_MAX times as much
    assert float(lesion_weights(speck, w).max()) == pytest.approx(1 + (LESION_WEIGHT_MAX - 1) * 0.1)
    y[:, :20, :20] = 1  # about 10 % lesion: left as it is
    assert torch.equal(lesion_weights(y, w), w)
    assert torch.equal(lesion_weights(torch.zeros(2, 8, 8), torch.ones(2, 8, 8)), torch.ones(2, 8, 8))


def test_a_new_segmenter_starts_near_no_lesion():
    import torch

    from labelassist.core.propagate.training import PRIOR_PROBABILITY, new_segmenter

    seg = new_segmenter(1, (32, 32), use_cam=False, context=1, max_size=32, base_channels=8, depth=3,
                        threshold=0.8, seed=0, device="cpu")
    assert float(torch.sigmoid(seg.net.head.bias.detach())) == pytest.approx(PRIOR_PROBABILITY)
