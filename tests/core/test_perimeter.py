import numpy as np
import pytest
from scipy import ndimage

from labelassist.core.perimeter import METHODS, perimeter_map
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
    assert pm.boundary.shape == pm.regions.shape == img.shape[:2]
    assert pm.boundary.dtype == bool and pm.regions.dtype == np.int32
    np.testing.assert_array_equal(pm.regions == 0, pm.boundary)  # 0 exactly on the boundary
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
