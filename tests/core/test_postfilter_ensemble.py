import numpy as np
import pytest

from labelassist.core import postfilter as pf
from labelassist.core.ensemble import combine_masks, ensemble_fit, gate
from labelassist.errors import ParameterError

A = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], np.uint8)
B = np.array([[0, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]], np.uint8)


def test_rules_match_their_definitions():
    np.testing.assert_array_equal(combine_masks([A, B], rule="and"), A * B)
    np.testing.assert_array_equal(combine_masks([A, B], rule="or"), np.maximum(A, B))
    np.testing.assert_array_equal(combine_masks([A, B], rule="<"), A)  # 4 pixels < 7
    np.testing.assert_array_equal(combine_masks([A, B], rule=">"), B)


def test_unknown_rule():
    with pytest.raises(ParameterError, match="rule must be one of"):
        combine_masks([A, B], rule="xor")


def test_ensemble_fit_keeps_regions_wholly_inside_the_combined_mask():
    regions = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, 3]])
    cam1 = np.where(A > 0, 0.9, 0.1)
    cam2 = np.where(B > 0, 0.9, 0.1)
    out = ensemble_fit([cam1, cam2], [0.5, 0.5], regions, rule="or")
    np.testing.assert_array_equal(out, [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]])  # region 3 not wholly inside
    out = ensemble_fit([cam1, cam2], [0.5, 0.5], regions, rule="and")
    assert not out.any()  # no region is wholly inside A*B


def test_gate_empties_a_negative_slice():
    assert not gate(A, 0.2, min_probability=0.5).any()
    np.testing.assert_array_equal(gate(A, 0.7, min_probability=0.5), A)


def test_remove_small_fill_holes_largest():
    m = np.zeros((10, 10), np.uint8)
    m[1:6, 1:6] = 1
    m[3, 3] = 0  # a hole
    m[8, 8] = 1  # a speck
    assert pf.remove_small(m, min_size=2)[8, 8] == 0 and pf.remove_small(m, min_size=2)[1, 1] == 1
    assert pf.fill_holes(m)[3, 3] == 1
    lc = pf.largest_component(m)
    assert lc[8, 8] == 0 and lc.sum() == 24


def test_body_box_band():
    img = np.zeros((20, 20), np.float32)
    img[4:16, 4:16] = 1.0
    body = pf.body_mask(img)
    assert body[10, 10] and not body[0, 0]
    full = np.ones((20, 20), np.uint8)
    assert pf.apply_body_mask(full, body).sum() == body.sum()
    box = pf.centre_box(full, fraction=0.5)
    assert box[10, 10] == 1 and box[2, 2] == 0 and box.sum() == 100
    band = pf.exclude_band(full, axis=1, width=4)
    assert band[:, 8:12].sum() == 0 and band[:, :8].all()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pf.centre_box(A, fraction=0), r"fraction must be in \(0, 1\]"),
        (lambda: pf.remove_small(A, min_size=-1), "min_size must be >= 0"),
        (lambda: pf.exclude_band(A, axis=2), "axis must be 0"),
        (lambda: pf.apply_body_mask(A, np.ones((2, 2))), "body has shape"),
    ],
)
def test_bad_filter_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
