"""Post-filters: each one small step, each checked on a hand-made mask."""

import numpy as np
import pytest

from labelassist.core.propose import postfilter as pf
from labelassist.errors import ParameterError


def _blob_mask():
    m = np.zeros((10, 10), np.uint8)
    m[1:6, 1:6] = 1
    m[3, 3] = 0  # a hole
    m[8, 8] = 1  # a speck
    return m


def test_remove_small():
    m = _blob_mask()
    out = pf.remove_small(m, min_size=2)
    assert out[8, 8] == 0 and out[1:6, 1:6].sum() == 24 and out.dtype == np.uint8
    np.testing.assert_array_equal(pf.remove_small(m, min_size=0), m)
    assert not pf.remove_small(m, min_size=100).any()


def test_components_are_8_connected():
    m = np.zeros((5, 5), np.uint8)
    m[1, 1] = m[2, 2] = 1  # diagonal neighbours: one component of 2 pixels
    np.testing.assert_array_equal(pf.remove_small(m, min_size=2), m)


def test_fill_holes():
    m = _blob_mask()
    out = pf.fill_holes(m)
    assert out[3, 3] == 1 and out.sum() == m.sum() + 1


def test_largest_component():
    m = _blob_mask()
    lc = pf.largest_component(m)
    assert lc[8, 8] == 0 and lc.sum() == 24
    assert not pf.largest_component(np.zeros((4, 4))).any()


def test_body_mask_is_the_largest_bright_component_with_holes_filled():
    img = np.zeros((30, 30), np.float32)
    img[4:20, 4:20] = 1.0
    img[10:13, 10:13] = 0.0  # a dark ventricle inside the body
    img[25:28, 25:28] = 1.0  # a small bright thing outside (a marker)
    body = pf.body_mask(img)
    assert body.dtype == bool
    assert body[11, 11] and body[5, 5] and not body[26, 26] and not body[0, 0]
    assert body.sum() == 16 * 16
    assert not pf.body_mask(np.ones((8, 8))).any()  # a flat image has no body
    assert pf.body_mask(img, threshold=2.0).sum() == 0


def test_apply_body_mask():
    body = np.zeros((6, 6), bool)
    body[1:5, 1:5] = True
    full = np.ones((6, 6), np.uint8)
    np.testing.assert_array_equal(pf.apply_body_mask(full, body), body.astype(np.uint8))


def test_centre_box():
    full = np.ones((20, 20), np.uint8)
    box = pf.centre_box(full, fraction=0.5)
    assert box[10, 10] == 1 and box[2, 2] == 0 and box.sum() == 100
    assert box[5:15, 5:15].all()
    np.testing.assert_array_equal(pf.centre_box(full, fraction=1.0), full)


def test_exclude_band():
    full = np.ones((20, 20), np.uint8)
    band = pf.exclude_band(full, axis=1, width=4)
    assert band[:, 8:12].sum() == 0 and band[:, :8].all() and band[:, 12:].all()
    rows = pf.exclude_band(full, axis=0, centre=3, width=2)
    assert rows[2:4].sum() == 0 and rows.sum() == 20 * 18
    np.testing.assert_array_equal(pf.exclude_band(full, width=0), full)


A = np.array([[1, 1, 0], [0, 0, 0]], np.uint8)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pf.centre_box(A, fraction=0), r"fraction must be in \(0, 1\]"),
        (lambda: pf.remove_small(A, min_size=-1), "min_size must be >= 0"),
        (lambda: pf.exclude_band(A, axis=2), "axis must be 0"),
        (lambda: pf.exclude_band(A, width=-2), "width must be >= 0"),
        (lambda: pf.apply_body_mask(A, np.ones((2, 2))), "body has shape"),
    ],
)
def test_bad_filter_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
