"""Synthetic lesions: the mask is where the image changed, lesions stay in the brain, easy is easier than hard,
and the ultrasound images have real speckle statistics. A small phantom head stands in for the template."""

import numpy as np
import pytest
from scipy import ndimage

from labelassist.demo.synth import lesion_weight, make_mri_case
from labelassist.demo.us_synth import burn_in_screen, make_ultrasound_case, make_ultrasound_cine


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


def _lesion_masks(params, mask):
    """Each lesion's own part of the mask: the connected part holding its centre (and no other lesion's)."""
    lab, _ = ndimage.label(mask)
    at = [int(lab[int(round(p["centre"][0])), int(round(p["centre"][1]))]) for p in params]
    return [(p, lab == k) for p, k in zip(params, at) if k and at.count(k) == 1]


@pytest.mark.parametrize("setting", ["easy", "hard"])
def test_ultrasound_lesions_darker_or_brighter_as_drawn_and_masks_0_1(setting):
    polarities = set()
    for rng_seed in range(6):
        img, mask, params = make_ultrasound_case(rng=np.random.default_rng(rng_seed), setting=setting, lesions=2)
        clean, none, _ = make_ultrasound_case(rng=np.random.default_rng(rng_seed), setting=setting, lesions=0)
        assert len(params) == 2 and set(np.unique(mask)) <= {0, 1} and not none.any()
        for p, own in _lesion_masks(params, mask.astype(bool)):
            polarities.add(p["polarity"])
            change = img[own].astype(float).mean() - clean[own].mean()
            assert change < 0 if p["polarity"] == "hypo" else change > 0, (rng_seed, p)
        beside = ~ndimage.binary_dilation(mask.astype(bool), iterations=16)  # diffuse edges fade over ~10 px
        beside[int(min(p["centre"][0] for p in params)):] = False  # rows below a lesion may be shadowed/enhanced
        np.testing.assert_array_equal(img[beside], clean[beside])
    assert polarities == {"hypo", "hyper"}  # both kinds are drawn


def test_ultrasound_easy_lesions_stand_out_more_than_hard():
    def contrast(setting):
        out = []
        for seed in range(6):
            img, mask, _ = make_ultrasound_case(rng=np.random.default_rng(seed), setting=setting, lesions=1)
            clean, _, _ = make_ultrasound_case(rng=np.random.default_rng(seed), setting=setting, lesions=0)
            out.append(abs(clean[mask > 0].astype(float).mean() - img[mask > 0].mean()))
        return np.mean(out)

    assert contrast("easy") > 1.5 * contrast("hard") > 0


def test_ultrasound_cine_lesions_grow_and_fade_over_frames_with_breathing():
    frames, mask, params = make_ultrasound_cine(rng=np.random.default_rng(3), setting="easy", frames=20, lesions=1)
    clean, none, _ = make_ultrasound_cine(rng=np.random.default_rng(3), setting="easy", frames=20, lesions=0)
    assert frames.shape == mask.shape == (20, 256, 256) and frames.dtype == np.uint8 and not none.any()
    area = mask.sum(axis=(1, 2))
    on = np.flatnonzero(area)
    assert [int(on[0]), int(on[-1])] == params[0]["frames"] and 0 < on[0] and on[-1] < 19  # appears, then fades
    peak = int(np.argmax(area))
    assert area[on[0]] < area[peak] > area[on[-1]]  # a volume's cross-sections: small, large, small
    assert (frames[peak][mask[peak] > 0].astype(float).mean() - clean[peak][mask[peak] > 0].mean() < 0) == (
        params[0]["polarity"] == "hypo")
    moved = np.abs(clean[0].astype(float) - clean[len(clean) // 2]).mean()
    assert moved > 5  # breathing and new speckle: frames differ
    np.testing.assert_array_equal(frames[:, 0, 0], 0)  # outside the sector


def test_screen_burns_in_text_ruler_bar_and_a_frame_counter_around_the_scan():
    frames, _, _ = make_ultrasound_cine(rng=np.random.default_rng(0), frames=4, lesions=0)
    screen, (r0, c0) = burn_in_screen(frames, rng=np.random.default_rng(0))
    h, w = frames.shape[1:]
    assert screen.shape[:1] == (4,) and screen.shape[-1] == 3 and screen.shape[1] >= h + 48
    np.testing.assert_array_equal(screen[:, r0:r0 + h, c0:c0 + w, 0], frames)  # the scan untouched, grey
    outside = screen.copy()
    outside[:, r0:r0 + h, c0:c0 + w] = 0
    assert (outside[0].max(-1) > 200).sum() > 300  # text, ruler and bar
    chroma = outside[0].max(-1).astype(int) - outside[0].min(-1)
    assert (chroma > 100).sum() > 100  # a coloured logo and marker
    assert (outside[0] != outside[1]).any()  # the frame counter changes
    with pytest.raises(ValueError, match="screen must be at least"):
        burn_in_screen(frames, rng=np.random.default_rng(0), screen=(100, 100))
