"""Synthetic lesions: the mask is where the image changed, lesions stay in the brain, easy is easier than hard,
and the ultrasound images have real speckle statistics. A small phantom head stands in for the template."""

import numpy as np
import pytest
from scipy import ndimage

from labelassist.demo.synth import lesion_weight, make_mri_case, make_ultrasound_case


@pytest.fixture(scope="module")
def phantom():
    """A 40 x 48 x 40 'head': a brain ellipsoid with a darker core (white vs grey matter) and smooth folds."""
    z, y, x = np.mgrid[:40, :48, :40].astype(float)
    r = np.sqrt(((z - 20) / 16) ** 2 + ((y - 24) / 20) ** 2 + ((x - 20) / 16) ** 2)
    brain = r < 1
    t1 = np.where(brain, 0.6 + 0.3 * (r < 0.6) + 0.05 * np.sin(y / 2) * np.cos(x / 3), 0.0).astype(np.float32)
    return t1, brain


def _twins(t1, brain, seed, setting, lesions):
    """The same draw with and without its lesions."""
    img, mask, params = make_mri_case(t1, brain, rng=np.random.default_rng(seed), setting=setting, lesions=lesions)
    clean, none, _ = make_mri_case(t1, brain, rng=np.random.default_rng(seed), setting=setting, lesions=0)
    assert not none.any()
    return img, clean, mask.astype(bool), params


@pytest.mark.parametrize("setting", ["easy", "hard"])
def test_mask_is_where_the_image_changed(phantom, setting):
    t1, brain = phantom
    img, clean, mask, params = _twins(t1, brain, 2, setting, 2)
    assert len(params) == 2 and mask.any() and mask.sum() <= sum(p["voxels"] for p in params)
    diff = np.abs(img - clean)
    far = ~ndimage.binary_dilation(mask, iterations=8)
    np.testing.assert_array_equal(diff[far], 0)  # nothing else changed: same pose, bias, gain and noise
    brain_range = np.percentile(clean[clean > 0.3 * clean.max()], 99) - np.percentile(clean[clean > 0.3 * clean.max()], 1)
    assert diff[mask].mean() > 0.04 * brain_range
    # lesions lie in the brain: the lesion-free image is bright there, not background noise
    assert clean[mask].min() > 0.3 * np.median(clean[clean > 0.3 * clean.max()])


def test_lesion_free_volume_and_determinism(phantom):
    t1, brain = phantom
    a = make_mri_case(t1, brain, rng=np.random.default_rng(5), setting="hard")
    b = make_mri_case(t1, brain, rng=np.random.default_rng(5), setting="hard")
    c = make_mri_case(t1, brain, rng=np.random.default_rng(6), setting="hard")
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes() and a[2] == b[2]
    assert not np.array_equal(a[0], c[0])
    img, mask, params = make_mri_case(t1, brain, rng=np.random.default_rng(5), setting="easy", lesions=0)
    assert params == [] and not mask.any() and img.dtype == np.float32 and img.shape == t1.shape


def test_easy_lesions_larger_and_more_contrasting_than_hard(phantom):
    """Measured on the images, not only on the drawn parameters."""
    t1, brain = phantom
    size, contrast = {"easy": [], "hard": []}, {"easy": [], "hard": []}
    for setting in size:
        for seed in range(4):
            img, clean, mask, params = _twins(t1, brain, seed, setting, 1)
            size[setting].append(mask.sum())
            contrast[setting].append(np.abs(img - clean)[mask].mean() / np.median(clean[brain]))
    assert np.mean(size["easy"]) > 4 * np.mean(size["hard"])
    assert np.mean(contrast["easy"]) > 2 * np.mean(contrast["hard"])


def test_lesions_are_textured_not_flat_discs(phantom):
    t1, brain = phantom
    img, clean, mask, params = _twins(t1, brain, 3, "easy", 1)
    change = (img - clean)[ndimage.binary_erosion(mask, iterations=1)]
    assert change.std() > 0.1 * np.abs(change).mean()  # heterogeneous inside


def test_lesion_weight_is_half_on_the_margin():
    w = lesion_weight((41, 41), (20, 20), (10, 10), np.random.default_rng(0), edge=1.0, irregular=0.0)
    assert w[20, 20] > 0.99 and abs(w[20, 30] - 0.5) < 0.05 and w[20, 35] < 0.01 and w[0, 0] == 0
    sharp = lesion_weight((41, 41), (20, 20), (10, 10), np.random.default_rng(0), edge=0.5, irregular=0.0)
    diffuse = lesion_weight((41, 41), (20, 20), (10, 10), np.random.default_rng(0), edge=4.0, irregular=0.0)
    assert ((sharp > 0.1) & (sharp < 0.9)).sum() < ((diffuse > 0.1) & (diffuse < 0.9)).sum()


def test_bad_arguments_name_the_fix(phantom):
    t1, brain = phantom
    with pytest.raises(ValueError, match="setting must be one of easy, hard"):
        make_mri_case(t1, brain, rng=np.random.default_rng(0), setting="medium")
    with pytest.raises(ValueError, match="template and brain_mask must be 3-D and alike"):
        make_mri_case(t1, brain[:-1], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="radii must be > 0"):
        lesion_weight((9, 9), (4, 4), (0, 3), np.random.default_rng(0), edge=1, irregular=0)


def test_ultrasound_range_fov_and_speckle_statistics():
    img, mask, params = make_ultrasound_case(rng=np.random.default_rng(0), setting="easy", lesions=0)
    assert img.dtype == np.uint8 and img.shape == (256, 256) and params == [] and not mask.any()
    assert img[0, 0] == 0 and img[0, -1] == 0 and img[128, 128] > 0  # sector field of view
    # fully developed speckle: the echo amplitude (undoing the 40 dB log compression) has a coefficient of
    # variation near Rayleigh's 0.52 in small homogeneous blocks (median over blocks, so edges don't count)
    amp = 10 ** (img.astype(float) / 255 * 40 / 20)
    blocks = [amp[y:y + 8, x:x + 8] for y in range(40, 200, 8) for x in range(64, 192, 8)
              if img[y:y + 8, x:x + 8].min() > 0]
    cv = np.median([b.std() / b.mean() for b in blocks])
    assert 0.4 < cv < 0.65
    # and it is log-compressed: the grey-level coefficient of variation is much smaller
    grey = np.median([np.log10(b).std() / np.log10(b).mean() for b in blocks])
    assert grey < 0.6 * cv


@pytest.mark.parametrize("setting", ["easy", "hard"])
def test_ultrasound_lesions_are_hypoechoic_and_masks_0_1(setting):
    rng_seed = 4
    img, mask, params = make_ultrasound_case(rng=np.random.default_rng(rng_seed), setting=setting, lesions=2)
    clean, none, _ = make_ultrasound_case(rng=np.random.default_rng(rng_seed), setting=setting, lesions=0)
    assert len(params) == 2 and set(np.unique(mask)) == {0, 1} and not none.any()
    inside = mask.astype(bool)
    assert img[inside].mean() < clean[inside].mean()  # darker than the same tissue without the lesion
    beside = ~ndimage.binary_dilation(inside, iterations=12)  # diffuse edges fade out over ~10 pixels
    beside[int(min(p["centre"][0] for p in params)):] = False  # rows below a lesion may be shadowed/enhanced
    np.testing.assert_array_equal(img[beside], clean[beside])


def test_ultrasound_easy_lesions_darker_than_hard():
    def drop(setting):
        out = []
        for seed in range(4):
            img, mask, _ = make_ultrasound_case(rng=np.random.default_rng(seed), setting=setting, lesions=1)
            clean, _, _ = make_ultrasound_case(rng=np.random.default_rng(seed), setting=setting, lesions=0)
            out.append(clean[mask > 0].mean() - img[mask > 0].mean())
        return np.mean(out)

    assert drop("easy") > 1.5 * drop("hard") > 0
