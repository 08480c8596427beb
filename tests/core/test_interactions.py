"""The simulated reviewer's effort: region clicks first, then one stroke per connected error of more than 4 px, the
slice ending equal to the truth; drawing by hand counted the same way until every lesion slice is drawn."""

import numpy as np
import pytest

from labelassist.core.evaluate.interactions import (box_missed, click_regions, correct_slice, count_strokes,
                                                    hand_interactions)
from labelassist.errors import ParameterError


def _quarters():
    """20 x 20: region 1 the left half, 2 the top right quarter, 3 the bottom right one."""
    regions = np.ones((20, 20), np.int32)
    regions[:10, 10:] = 2
    regions[10:, 10:] = 3
    return regions


def test_clicks_fix_whole_regions_then_strokes_fix_what_is_left():
    regions = _quarters()
    truth = np.zeros((20, 20), np.uint8)
    truth[:, :10] = 1  # the left region is lesion
    truth[14:17, 14:17] = 1  # and a 9 px part of region 3: a stroke, not a click (most of region 3 is not lesion)
    proposal = np.zeros_like(truth)
    proposal[:10, 10:] = 1  # region 2 proposed, none of it lesion: one removing click
    proposal[2:4, 2:7] = 1  # 10 px of region 1 found: one adding click does the rest
    proposal[11, 18:20] = 1  # a 2 px speck: too small for a stroke or a click
    corrected, clicks, strokes, cleared, _ = correct_slice(proposal, truth, regions)
    np.testing.assert_array_equal(corrected, truth)
    assert (clicks, strokes, cleared) == (2, 1, False)
    # without the region tool the same slice takes strokes only: paint the left half, the part, erase region 2
    assert correct_slice(proposal, truth)[1:] == (0, 3, False, 0)


def test_no_click_that_lowers_dice_and_none_on_a_right_slice():
    regions = _quarters()
    truth = np.zeros((20, 20), np.uint8)
    truth[:, :6] = 1  # 60 % of region 1: adding it all would add 40 px of false lesion
    after, clicks = click_regions(truth, truth, regions)
    assert clicks == 0 and np.array_equal(after, truth)
    assert correct_slice(truth, truth, regions)[1:] == (0, 0, False, 0)
    empty = np.zeros_like(truth)
    after, clicks = click_regions(empty, truth, regions)  # from nothing, the click helps: Dice 0 -> 0.75
    assert clicks == 1 and after[:, :10].all() and not after[:, 10:].any()


def test_a_click_in_no_region_is_never_made():
    truth = np.ones((8, 8), np.uint8)
    regions = np.zeros((8, 8), np.int32)  # all air
    _, clicks, strokes, _, _ = correct_slice(np.zeros_like(truth), truth, regions)
    assert (clicks, strokes) == (0, 1)


def test_a_proposal_in_pieces_is_emptied_and_drawn_again_when_that_is_cheaper():
    truth = np.zeros((24, 24), np.uint8)
    truth[4:12, 4:12] = 1  # one lesion: one outline by hand
    proposal = np.zeros_like(truth)
    for k in range(4):  # four false pieces of 9 px away from it, none touching the lesion
        proposal[14 + 2 * (k % 2) * 2: 17 + 2 * (k % 2) * 2, 2 + 5 * k: 5 + 5 * k] = 1
    proposal[6:9, 6:9] = 1  # a bit of the lesion found
    edit = correct_slice(proposal, truth, cheapest=False)
    assert (edit.clicks, edit.strokes, edit.cleared) == (0, 5, False)  # erase each piece, paint the rest
    again = correct_slice(proposal, truth)
    assert again.cleared and (again.clicks, again.strokes) == (0, 1) and again.interactions == 2
    np.testing.assert_array_equal(again.corrected, truth)
    # a proposal that is nearly right is edited, never emptied; an empty one has nothing to empty
    assert not correct_slice(truth, truth).cleared and correct_slice(truth, truth).interactions == 0
    assert not correct_slice(np.zeros_like(truth), truth).cleared


def test_strokes_count_missed_and_wrong_parts_apart_and_diagonals_as_one():
    truth = np.zeros((12, 12), np.uint8)
    truth[1:4, 1:4] = 1  # missed, 9 px
    mask = np.zeros_like(truth)
    mask[1:4, 4:7] = 1  # wrong, 9 px, touching the missed part: a paint and an erase
    for k in range(6):
        mask[6 + k % 6, 6 + k] = 1  # a diagonal line of 6 px: one stroke
    assert count_strokes(mask, truth) == 3
    assert count_strokes(mask, truth, min_error=9) == 0


def test_hand_drawing_counts_a_stroke_per_lesion_outline_until_every_lesion_slice_is_drawn():
    truth = np.zeros((3, 16, 16), np.uint8)
    truth[0, 1:4, 1:5] = 1  # 12 px
    truth[0, 8:11, 8:12] = 1  # 12 px, a second lesion on the slice: a second outline
    truth[0, 14, 14] = 1  # 1 px: no stroke
    truth[2, 2:7, 2:6] = 1  # 20 px
    curve = hand_interactions(truth)
    assert curve == [[0, 0.0], [2, round(2 * 25 / (25 + 45), 4)], [3, 1.0]]  # slice 0 (25 px) first, then slice 2
    assert hand_interactions(np.zeros((2, 4, 4))) == [[0, 1.0]]


def test_bad_shapes_are_one_line():
    with pytest.raises(ParameterError, match="must be slices"):
        correct_slice(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ParameterError, match="regions .* must have one shape"):
        click_regions(np.zeros((4, 4)), np.zeros((4, 4)), np.ones((5, 5), int))
    with pytest.raises(ParameterError, match="truth must be a volume"):
        hand_interactions(np.zeros((4, 4)))


def _disc_boxer(truth, *, wrong=False):
    """A box tool that gives the true lesion inside the box, or (``wrong``) a speck in the box's corner, off it."""
    def boxer(box):
        r0, c0, r1, c1 = box
        got = np.zeros(truth.shape, bool)
        got[r0:r1 + 1, c0:c1 + 1] = truth[r0:r1 + 1, c0:c1 + 1] > 0
        if wrong:
            got[:] = False
            got[r0:r0 + 3, c0:c0 + 3] = True
        calls.append(box)
        return got
    calls = []
    boxer.calls = calls
    return boxer


def test_a_missed_lesion_is_boxed_once_before_clicks_and_strokes():
    truth = np.zeros((32, 40), np.uint8)
    truth[5:15, 6:14] = 1  # missed: boxed
    truth[20:28, 25:33] = 1  # found: no box
    proposal = np.zeros_like(truth)
    proposal[20:28, 25:33] = 1
    boxer = _disc_boxer(truth)
    fixed = correct_slice(proposal, truth, boxer=boxer)
    assert (fixed.boxes, fixed.clicks, fixed.strokes, fixed.cleared) == (1, 0, 0, False) and fixed.interactions == 1
    assert boxer.calls[0] == (2, 3, 17, 16)  # the part's rows 5-14 and columns 6-13, 3 px more on each side
    np.testing.assert_array_equal(fixed.corrected, truth)
    assert correct_slice(proposal, truth).interactions == 1  # without the box tool: one stroke, not cheaper


def test_a_box_that_makes_the_slice_worse_is_undone_and_costs_two():
    truth = np.zeros((32, 32), np.uint8)
    truth[10:20, 10:20] = 1
    bad = _disc_boxer(truth, wrong=True)  # the model misses the lesion
    boxed, spent = box_missed(np.zeros_like(truth), truth, bad)
    assert spent == 2 and not boxed.any()
    # the reviewer then takes the cheaper way: a stroke, no box
    assert correct_slice(np.zeros_like(truth), truth, boxer=bad)[1:] == (0, 1, False, 0)
    with pytest.raises(ParameterError, match="margin must be 0 or more"):
        box_missed(truth, truth, bad, margin=-1)


def test_lesion_counts_find_by_a_fifth_and_count_false_suggestions():
    from labelassist.core.evaluate.lesions import lesion_counts

    truth = np.zeros((4, 20, 20), np.uint8)
    truth[1:3, 2:7, 2:7] = 1  # lesion A: 50 voxels
    truth[1:3, 12:17, 12:17] = 1  # lesion B: 50 voxels
    masks = np.zeros_like(truth)
    masks[1, 2:7, 2:4] = 1  # 10 of A's 50: exactly a fifth
    suggested = np.zeros_like(truth)
    suggested[2, 12:14, 12:14] = 1  # touches B (4 voxels: not a fifth)
    suggested[3, 0:3, 17:20] = 2  # on no lesion
    got = lesion_counts(masks, truth, suggested=suggested)
    assert got == {"lesions": 2, "lesions_found": 1, "false_suggestions": 1}
    suggested[1, 12:17, 12:14] = 1  # B: 14 of 50 now
    assert lesion_counts(masks, truth, suggested=suggested)["lesions_found"] == 2
    with pytest.raises(ParameterError, match=r"share must be in \(0, 1\], got 0"):
        lesion_counts(masks, truth, share=0)
