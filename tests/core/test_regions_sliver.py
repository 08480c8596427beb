"""Removing regions leaves no sliver: the wall pixels between removed (or unlabelled) regions go with them."""

import numpy as np

from labelassist.core.regions import RegionMap, apply_region, region_pixels, slice_regions


def three_regions():
    """Regions A | B | C of a 12 x 18 slice, walls at columns 5 and 11; the mask covers A, B and their wall."""
    wall = np.zeros((12, 18), bool)
    wall[:, 5] = wall[:, 11] = True
    labels = slice_regions(wall)
    rmap = RegionMap(labels)
    mask = np.zeros((12, 18), np.uint8)
    mask[:, :12] = 1  # A, B and both walls (as BoundaryFit keeps a wall that touches a kept region)
    return rmap, mask


def test_removing_two_adjacent_regions_leaves_no_labelled_pixel_between_them():
    rmap, mask = three_regions()
    a, b = rmap.at(6, 2), rmap.at(6, 8)
    wall_owner = rmap.at(6, 5)
    assert wall_owner in (a, b)  # the wall went to one of its neighbours
    apply_region(mask, rmap, a, add=False)
    apply_region(mask, rmap, b, add=False)
    assert not mask.any()


def test_a_sliver_owned_by_an_unlabelled_neighbour_goes_with_the_removed_region():
    wall = np.zeros((12, 18), bool)
    wall[:, 5] = True
    rmap = RegionMap(slice_regions(wall))
    a = rmap.at(6, 2)
    mask = np.zeros((12, 18), np.uint8)
    mask[rmap.labels == a] = 1
    mask[:, 5] = 1  # the wall, kept with A, though the wall pixels may belong to C (which is not in the mask)
    mask[:, 6] = 1  # and one more column of C: a 1-2 px strip along A
    apply_region(mask, rmap, a, add=False)
    assert not mask.any()
    assert region_pixels(mask, rmap, 0, add=False) is None  # air: no region


def test_a_neighbour_mostly_in_the_mask_keeps_its_pixels():
    rmap, mask = three_regions()
    a, b = rmap.at(6, 2), rmap.at(6, 8)
    c = rmap.at(6, 14)
    mask[rmap.labels == c] = 1  # a lesion beside A and B
    mask[3, 13] = 0
    apply_region(mask, rmap, a, add=False)
    assert mask[rmap.labels == b].all()  # B is a lesion the reviewer keeps: not one pixel of it goes
    apply_region(mask, rmap, b, add=False)
    lesion = rmap.labels == c
    lesion[3, 13] = False
    np.testing.assert_array_equal(mask.astype(bool), lesion)  # A and B gone, C whole (the wall it owns too)
