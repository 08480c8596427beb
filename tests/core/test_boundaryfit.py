"""BoundaryFit equals the papers' flood fill on every input, computed by one gather."""

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from labelassist.core.propose.boundaryfit import boundary_fit, fit_from_minima, region_minima
from labelassist.errors import ParameterError

FOUR = ((1, 0), (-1, 0), (0, 1), (0, -1))


def flood_fill_reference(cam, perimeter, threshold):
    """The papers: flood from every negative pixel through non-perimeter pixels; remove what it reaches."""
    h, w = cam.shape
    positive = cam >= threshold
    removed = np.zeros((h, w), bool)
    queue = deque()
    for y, x in zip(*np.nonzero(~positive)):
        removed[y, x] = True
        if not perimeter[y, x]:
            queue.append((y, x))
    while queue:
        y, x = queue.popleft()
        for dy, dx in FOUR:
            v, u = y + dy, x + dx
            if 0 <= v < h and 0 <= u < w and not removed[v, u] and not perimeter[v, u]:
                removed[v, u] = True
                queue.append((v, u))
    kept_regions = positive & ~removed & ~perimeter
    near = ndimage.binary_dilation(kept_regions, structure=ndimage.generate_binary_structure(2, 1))
    return (kept_regions | (perimeter & positive & near)).astype(np.uint8)


def _regions(perimeter):
    regions, _ = ndimage.label(~perimeter, structure=ndimage.generate_binary_structure(2, 1))
    return regions


shapes = st.tuples(st.integers(3, 24), st.integers(3, 24))


@st.composite
def slices(draw):
    shape = draw(shapes)
    perimeter = draw(arrays(bool, shape, elements=st.booleans()))
    cam = draw(arrays(np.float32, shape, elements=st.floats(0, 1, width=32)))
    threshold = draw(st.one_of(st.just(0.0), st.just(1.0), st.floats(0, 1)))
    return cam, perimeter, threshold


@settings(max_examples=300, deadline=None)
@given(slices())
def test_equals_flood_fill_on_random_inputs(case):
    cam, perimeter, t = case
    got = boundary_fit(cam, _regions(perimeter), threshold=t, perimeter=perimeter)
    np.testing.assert_array_equal(got, flood_fill_reference(cam, perimeter, t))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0, 1))
def test_equals_flood_fill_on_superpixel_perimeters(seed, t):
    from labelassist.core.propose.perimeter import perimeter_map

    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((40, 48)), 2)
    img = (img - img.min()) / (np.ptp(img) + 1e-9)
    pm = perimeter_map(img, n_segments=30)
    cam = ndimage.gaussian_filter(rng.random((40, 48)), 3).astype(np.float32)
    cam = (cam - cam.min()) / (np.ptp(cam) + 1e-9)
    np.testing.assert_array_equal(
        boundary_fit(cam, pm.regions, threshold=t, perimeter=pm.perimeter), flood_fill_reference(cam, pm.perimeter, t)
    )


def test_refit_from_cached_minima_is_the_same_fit():
    rng = np.random.default_rng(3)
    perimeter = rng.random((30, 30)) < 0.3
    regions = _regions(perimeter)
    cam = rng.random((30, 30)).astype(np.float32)
    minima = region_minima(cam, regions)
    for t in (0.0, 0.2, 0.5, 0.9, 1.0):
        np.testing.assert_array_equal(
            fit_from_minima(minima, regions, threshold=t, cam=cam, perimeter=perimeter),
            boundary_fit(cam, regions, threshold=t, perimeter=perimeter),
        )


def test_region_with_one_negative_pixel_is_removed():
    cam = np.full((4, 6), 0.9, np.float32)
    regions = np.array([[1, 1, 1, 0, 2, 2]] * 4)
    cam[3, 5] = 0.1  # one cold pixel in region 2
    fit = boundary_fit(cam, regions, threshold=0.5)
    assert fit[:, :3].all() and not fit[:, 4:].any()
    assert fit[:, 3].all()  # hot perimeter pixels touching kept region 1 stay


def test_boost_mode_raises_the_cam_inside_kept_regions():
    cam = np.array([[0.8, 0.8, 0.4, 0.2]], np.float32)
    regions = np.array([[1, 1, 2, 2]])
    out = boundary_fit(cam, regions, threshold=0.5, mode="boost")
    np.testing.assert_allclose(out, [[0.8, 0.8, 0.2, 0.1]])
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"threshold": 1.5}, r"threshold must be in \[0, 1\], got 1.5"),
        ({"threshold": -0.1}, r"threshold must be in \[0, 1\]"),
        ({"threshold": 0.5, "mode": "grow"}, "mode must be 'remove' or 'boost'"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        boundary_fit(np.zeros((3, 3)), np.ones((3, 3), int), **kwargs)


def test_shape_mismatch():
    with pytest.raises(ParameterError, match="cam has shape .* but regions has shape"):
        boundary_fit(np.zeros((3, 3)), np.ones((3, 4), int), threshold=0.5)
