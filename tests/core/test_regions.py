"""The region tool's core: every pixel in one region, a click adds then removes a region, air does nothing, a drag
meets the regions it crosses, finer regions cover the region they split."""

import numpy as np
import pytest

from labelassist.core.propose.perimeter import perimeter_map
from labelassist.core.regions import (RegionMap, VolumeRegions, apply_region, finer_regions, regions_along,
                                      slice_regions)
from labelassist.errors import ParameterError


def _body(rng, shape=(64, 64)):
    """A bright disc (the body) holding a brighter blob, in noisy air near 0."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    body = (yy - 32) ** 2 + (xx - 32) ** 2 < 24**2
    blob = (yy - 28) ** 2 + (xx - 36) ** 2 < 6**2
    img = np.where(body, 0.5, 0.0) + np.where(blob, 0.4, 0.0) + rng.normal(0, 0.01, shape)
    return np.clip(img, 0, 1).astype(np.float32), body, blob


@pytest.fixture
def slice_and_regions(rng):
    img, body, blob = _body(rng)
    return img, body, blob, slice_regions(perimeter_map(img, n_segments=40).perimeter, image=img)


def test_every_body_pixel_is_in_one_region_and_the_air_in_none(slice_and_regions):
    img, body, blob, regions = slice_and_regions
    assert regions.shape == img.shape and regions.dtype == np.int32
    inner = body & (np.hypot(*np.mgrid[:64, :64] - 32) < 21)
    assert (regions[inner] > 0).all()  # walls joined a region: no hole inside the body
    assert (regions[~body & (np.hypot(*np.mgrid[:64, :64] - 32) > 27)] == 0).all()
    assert sorted(np.unique(regions)) == list(range(regions.max() + 1))  # consecutive labels


def test_without_image_every_pixel_gets_a_region():
    wall = np.zeros((10, 12), bool)
    wall[:, 5] = True
    wall[4, :5] = True
    regions = slice_regions(wall)
    assert (regions > 0).all() and set(np.unique(regions)) == {1, 2, 3}


def test_a_click_adds_then_removes_a_region_and_the_mask_returns(slice_and_regions, rng):
    _, _, blob, regions = slice_and_regions
    rmap = RegionMap(regions)
    mask = (rng.random(regions.shape) < 0.2).astype(np.uint8)
    before = mask.copy()
    label = rmap.at(28, 36)  # the blob's centre
    box = apply_region(mask, rmap, label, add=True)
    assert box is not None and (mask[regions == label] == 1).all()
    np.testing.assert_array_equal(mask[regions != label], before[regions != label])  # nothing else moved
    assert mask[box].sum() >= (regions == label).sum()  # the box holds the change
    assert apply_region(mask, rmap, label, add=True) is None  # again: nothing to change
    apply_region(mask, rmap, label, add=False)
    assert (mask[regions == label] == 0).all()
    from scipy import ndimage

    ring = ndimage.binary_dilation(regions == label, structure=np.ones((3, 3))) & (regions != label)
    far = (regions != label) & ~ring  # a removal changes only the region and slivers in the ring around it
    np.testing.assert_array_equal(mask[far], before[far])
    gone = ring & (before > 0) & (mask == 0)
    assert not (gone & ndimage.binary_dilation(far & (before > 0), structure=np.ones((3, 3)))).any()  # slivers only


def test_a_click_in_the_air_or_outside_does_nothing(slice_and_regions):
    _, _, _, regions = slice_and_regions
    rmap = RegionMap(regions)
    mask = np.zeros(regions.shape, np.uint8)
    assert rmap.at(1, 1) == 0 and rmap.at(-3, 10) == 0 and rmap.at(10, 99) == 0
    assert apply_region(mask, rmap, rmap.at(1, 1), add=True) is None
    assert apply_region(mask, regions, 0, add=True) is None  # a plain label image works too
    assert not mask.any()


def test_a_drag_meets_the_regions_it_crosses_in_order(slice_and_regions):
    _, _, _, regions = slice_and_regions
    rmap = RegionMap(regions)
    met = regions_along(rmap, [(32, 5), (32, 60)])  # two points: the line between them counts
    row = [int(v) for v in regions[32, 5:61] if v]
    assert met == list(dict.fromkeys(row)) and len(met) >= 2 and 0 not in met
    assert regions_along(rmap, []) == [] and regions_along(rmap, [(1, 1)]) == []


def test_finer_regions_split_one_region_into_parts_that_cover_it_exactly(slice_and_regions):
    img, body, _, regions = slice_and_regions
    label = int(np.bincount(regions[body]).argmax())  # the largest body region
    finer = finer_regions(img, regions, label, n_segments=6)
    inside = regions == label
    parts = np.unique(finer[inside])
    assert len(parts) >= 3 and 0 not in parts
    np.testing.assert_array_equal(finer[~inside], regions[~inside])  # the rest is untouched
    assert not set(parts.tolist()) & set(np.unique(regions[~inside]).tolist())  # new labels, not others'
    mask = np.zeros(img.shape, np.uint8)
    fmap = RegionMap(finer)
    for p in parts:
        apply_region(mask, fmap, int(p), add=True)
    np.testing.assert_array_equal(mask.astype(bool), inside)  # the parts together are the region, exactly


def test_volume_regions_are_computed_once_per_slice(rng):
    img, _, _ = _body(rng)
    vol = np.stack([img, img])
    walls = [perimeter_map(s, n_segments=40).perimeter for s in vol]
    regions = VolumeRegions(walls, vol)
    assert regions[1] is regions[1] and regions[0].labels.max() > 1
    with pytest.raises(ParameterError, match="slice index must be in"):
        regions[2]


def test_bad_input_is_one_line(slice_and_regions):
    img, _, _, regions = slice_and_regions
    with pytest.raises(ParameterError, match="perimeter_slice must be 2-D"):
        slice_regions(np.zeros((2, 4, 4), bool))
    with pytest.raises(ParameterError, match="must be a region of the slice"):
        finer_regions(img, regions, 0)
    with pytest.raises(ParameterError, match="mask_slice has shape"):
        apply_region(np.zeros((3, 3), np.uint8), regions, 1, add=True)


def test_signal_walls_keeps_walls_in_the_body_and_drops_those_in_the_air():
    from labelassist.core.regions import signal_walls, volume_air_level

    image = np.zeros((40, 40), np.float32)
    image[10:30, 10:30] = 100.0  # the body; the rest is air
    walls = np.zeros((40, 40), np.uint8)
    walls[20, :] = 1  # a wall across the body and the air on both sides
    kept = signal_walls(walls, image, air=volume_air_level(image[None]))
    assert kept[20, 10:30].all()  # in the body
    assert kept[20, 8] and not kept[20, 7]  # up to 2 px off the body's edge (reach), not further
    assert not kept[20, :5].any() and not kept[20, 35:].any()
    with pytest.raises(ParameterError, match="image has shape"):
        signal_walls(walls, image[:, :20], air=1.0)
