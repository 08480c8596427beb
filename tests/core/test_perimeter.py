import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from labelassist.core.propose.perimeter import METHODS, close_walls, perimeter_map, simplify

FOUR = ndimage.generate_binary_structure(2, 1)
from labelassist.errors import ParameterError


def _disk_image(shape=(64, 72), colour=False):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    disk = (yy - 30) ** 2 + (xx - 36) ** 2 < 15**2
    img = np.where(disk, 0.8, 0.2).astype(np.float32)
    img += np.random.default_rng(0).normal(0, 0.01, shape).astype(np.float32)
    img = np.clip(img, 0, 1)
    return (np.dstack([img, img * 0.9, img * 0.8]) if colour else img), disk


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
def test_each_method_on_grey_and_colour(method, colour):
    img, disk = _disk_image(colour=colour)
    pm = perimeter_map(img, method=method, n_segments=60)
    assert pm.perimeter.shape == pm.regions.shape == img.shape[:2]
    assert pm.perimeter.dtype == bool and pm.regions.dtype == np.int32
    np.testing.assert_array_equal(pm.regions == 0, pm.perimeter)  # 0 exactly on the perimeter
    assert pm.n_regions == pm.regions.max() >= 2
    # The disk is walled off: no region holds both a pixel well inside and one well outside the disk.
    inner = ndimage.binary_erosion(disk, iterations=3)
    outer = ~ndimage.binary_dilation(disk, iterations=3)
    assert not (set(np.unique(pm.regions[inner])) - {0}) & (set(np.unique(pm.regions[outer])) - {0})


def test_regions_are_four_connected_components():
    img, _ = _disk_image()
    pm = perimeter_map(img)
    for r in range(1, pm.n_regions + 1):
        _, n = ndimage.label(pm.regions == r, structure=ndimage.generate_binary_structure(2, 1))
        assert n == 1


def _grey_levels_per_region(pm, image):
    """Number of distinct 8-bit grey levels of the simplified image inside each region."""
    simple = np.clip(np.round(simplify(image, pm.labels) * 255.0), 0, 255).astype(np.int64)
    r = pm.regions.ravel()
    lo = ndimage.minimum(simple.ravel(), r, np.arange(1, pm.n_regions + 1))
    hi = ndimage.maximum(simple.ravel(), r, np.arange(1, pm.n_regions + 1))
    return simple, np.asarray(lo), np.asarray(hi)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), method=st.sampled_from(METHODS), smooth=st.floats(0.5, 4),
       uss_cnn=st.booleans())
def test_no_region_straddles_two_clusters_of_different_grey(seed, method, smooth, uss_cnn):
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((36, 40)), smooth)
    img = (img - img.min()) / (np.ptp(img) + 1e-9)
    pm = perimeter_map(img, method=method, n_segments=40, uss_cnn=uss_cnn and method == "slic", seed=seed % 1000)
    simple, lo, hi = _grey_levels_per_region(pm, img)
    np.testing.assert_array_equal(lo, hi)  # one grey level per region: walls between clusters are closed
    # and every 4-adjacent pair of different grey has a perimeter pixel between
    for a, b in (((slice(None, -1),), (slice(1, None),)), ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        differ = simple[a] != simple[b]
        assert not (differ & ~pm.perimeter[a] & ~pm.perimeter[b]).any()


def test_canny_gap_at_a_thin_cluster_is_closed():
    # Three flat bands with equal steps: Canny's non-maximum suppression keeps one edge of the 2-pixel
    # middle band, so Canny alone lets the middle band leak into the bottom one.
    simple = np.repeat(np.array([200] * 5 + [150] * 2 + [100] * 5, np.uint8)[:, None], 10, axis=1)
    canny = cv2.Canny(simple, 1, 3, L2gradient=True) > 0
    assert ndimage.label(~canny, FOUR)[1] == 2  # the leak this guards against (three grey levels, two regions)
    walls = close_walls(canny, simple)
    regions, n = ndimage.label(~walls, FOUR)
    assert n == 3
    assert (walls & ~canny).sum() == 10  # one added row, only where Canny left the gap
    for r in range(1, n + 1):
        assert len(np.unique(simple[regions == r])) == 1


def test_perimeter_of_a_thin_band_image_has_a_region_per_band():
    img = np.repeat(np.array([0.8] * 10 + [0.6] * 2 + [0.4] * 10, np.float32)[:, None], 24, axis=1)
    pm = perimeter_map(img, method="felzenszwalb", n_segments=3, min_size=2)
    middle = set(np.unique(pm.regions[10:12])) - {0}
    assert not middle & (set(np.unique(pm.regions[:10])) | set(np.unique(pm.regions[12:])))


def test_canny_sigma_smooths_but_keeps_walls_closed():
    img, disk = _disk_image((48, 52))
    pm = perimeter_map(img, n_segments=40, canny_sigma=1.5)
    _, lo, hi = _grey_levels_per_region(pm, img)
    np.testing.assert_array_equal(lo, hi)
    with pytest.raises(ParameterError, match="canny_sigma must be >= 0"):
        perimeter_map(img, canny_sigma=-1)


def test_uss_cnn_refinement_runs_and_is_seeded():
    img, _ = _disk_image((40, 44))
    a = perimeter_map(img, uss_cnn=True, n_segments=30, seed=1)
    b = perimeter_map(img, uss_cnn=True, n_segments=30, seed=1)
    np.testing.assert_array_equal(a.regions, b.regions)
    assert a.labels.min() >= 1


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros((8, 8)), {"method": "watershed"}, "method must be one of slic, quickshift, felzenszwalb"),
        (np.zeros((8, 8, 2)), {}, r"image must be \(H, W\) grey or \(H, W, 3\)"),
        (np.zeros((8, 8)), {"n_segments": 1}, "n_segments must be at least 2"),
    ],
)
def test_bad_parameters(image, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        perimeter_map(image, **kwargs)


def test_uss_cnn_bad_options():
    from labelassist.core.propose.uss_cnn import refine_clusters

    with pytest.raises(ParameterError, match="steps must be >= 1"):
        refine_clusters(np.zeros((8, 8)), np.ones((8, 8), int), steps=0)
