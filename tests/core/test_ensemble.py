"""Ensemble rules, the ensemble fit and the p(lesion) gate."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from labelassist.core.propose.boundaryfit import boundary_fit
from labelassist.core.propose.ensemble import RULES, combine_masks, ensemble_fit, gate
from labelassist.errors import ParameterError

A = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], np.uint8)
B = np.array([[0, 1, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]], np.uint8)


def test_rules_match_their_definitions():
    np.testing.assert_array_equal(combine_masks([A, B], rule="and"), A * B)
    np.testing.assert_array_equal(combine_masks([A, B], rule="or"), np.maximum(A, B))
    np.testing.assert_array_equal(combine_masks([A, B], rule="<"), A)  # 4 pixels < 7
    np.testing.assert_array_equal(combine_masks([A, B], rule=">"), B)
    np.testing.assert_array_equal(combine_masks([B, A], rule="<"), A)  # by size, not by position
    assert combine_masks([A, B], rule="and").dtype == np.uint8


def test_three_masks():
    C = np.ones_like(A)
    np.testing.assert_array_equal(combine_masks([A, B, C], rule="and"), A * B)
    np.testing.assert_array_equal(combine_masks([A, B, C], rule=">"), C)


def test_ensemble_fit_keeps_regions_wholly_inside_the_combined_mask():
    regions = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, 3]])
    cam1 = np.where(A > 0, 0.9, 0.1)
    cam2 = np.where(B > 0, 0.9, 0.1)
    out = ensemble_fit([cam1, cam2], [0.5, 0.5], regions, rule="or")
    np.testing.assert_array_equal(out, [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]])  # region 3 not wholly inside
    assert not ensemble_fit([cam1, cam2], [0.5, 0.5], regions, rule="and").any()  # no region inside A*B
    np.testing.assert_array_equal(ensemble_fit([cam1, cam2], [0.5, 0.5], regions, rule="<"),
                                  [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(ensemble_fit([cam1, cam2], [0.5, 0.5], regions, rule=">"),
                                  [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])


def test_each_cam_has_its_own_threshold():
    regions = np.array([[1, 1, 2, 2]])
    cam1 = np.array([[0.3, 0.3, 0.3, 0.3]])
    cam2 = np.array([[0.8, 0.8, 0.1, 0.1]])
    np.testing.assert_array_equal(ensemble_fit([cam1, cam2], [0.2, 0.5], regions, rule="and"), [[1, 1, 0, 0]])
    assert not ensemble_fit([cam1, cam2], [0.4, 0.5], regions, rule="and").any()


@st.composite
def cases(draw):
    shape = draw(st.tuples(st.integers(3, 16), st.integers(3, 16)))
    perimeter = draw(arrays(bool, shape, elements=st.booleans()))
    cams = [draw(arrays(np.float32, shape, elements=st.floats(0, 1, width=32))) for _ in range(2)]
    ts = [draw(st.floats(0, 1)) for _ in range(2)]
    return cams, ts, perimeter, draw(st.sampled_from(RULES))


@settings(max_examples=150, deadline=None)
@given(cases())
def test_ensemble_fit_is_boundary_fit_of_the_combined_mask(case):
    cams, ts, perimeter, rule = case
    regions, _ = ndimage.label(~perimeter, structure=ndimage.generate_binary_structure(2, 1))
    combined = combine_masks([c >= t for c, t in zip(cams, ts)], rule=rule).astype(np.float32)
    np.testing.assert_array_equal(
        ensemble_fit(cams, ts, regions, rule=rule, perimeter=perimeter),
        boundary_fit(combined, regions, threshold=1.0, perimeter=perimeter),
    )
    # one CAM: the ensemble is BoundaryFit itself
    np.testing.assert_array_equal(
        ensemble_fit(cams[:1], ts[:1], regions, rule=rule, perimeter=perimeter),
        boundary_fit(cams[0], regions, threshold=ts[0], perimeter=perimeter),
    )


def test_gate_empties_a_negative_slice():
    assert not gate(A, 0.2, min_probability=0.5).any()
    np.testing.assert_array_equal(gate(A, 0.7, min_probability=0.5), A)
    np.testing.assert_array_equal(gate(A, 0.5, min_probability=0.5), A)  # at the gate: kept
    np.testing.assert_array_equal(gate(A, 0.0, min_probability=0.0), A)  # gate 0: never empties


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: combine_masks([A, B], rule="xor"), "rule must be one of"),
        (lambda: combine_masks([], rule="and"), "masks must hold at least one mask"),
        (lambda: combine_masks([A, np.ones((2, 2))], rule="or"), "masks must all have one shape"),
        (lambda: ensemble_fit([A, B], [0.5], np.ones((3, 4), int), rule="and"), "give one threshold per CAM"),
        (lambda: ensemble_fit([A, B], [0.5, 2.0], np.ones((3, 4), int), rule="and"), r"thresholds must be in \[0, 1\]"),
        (lambda: ensemble_fit([A, B], [0.5, 0.5], np.ones((3, 3), int), rule="and"), r"cams\[0\] has shape"),
        (lambda: gate(A, 0.5, min_probability=1.5), r"min_probability must be in \[0, 1\]"),
    ],
)
def test_bad_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
