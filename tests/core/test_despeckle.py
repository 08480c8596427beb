"""Speckle reduction before the perimeter map: each method smooths speckle, keeps edges, and only the map sees it."""

from dataclasses import replace

import numpy as np
import pytest
from labelassist.core.propose.despeckle import DESPECKLE_METHODS, despeckle, noise_sigma
from labelassist.core.propose.perimeter import perimeter_map
from labelassist.core.propose.pipeline import Pipeline, PipelineParams
from labelassist.errors import ParameterError

SMOOTHING = [m for m in DESPECKLE_METHODS if m != "none"]
EDGE_KEEPING = ("median", "bilateral", "nlmeans", "diffusion")


def speckle(rng, shape):
    """Fully developed speckle: Rayleigh amplitude of mean 1 (coefficient of variation 0.52)."""
    return rng.rayleigh(1.0, shape) / np.sqrt(np.pi / 2)


def cv(a):
    return float(a.std() / a.mean())


def rise(image):
    """Column of the 50% crossing and 10-90% rise width (px) of a left-dark, right-bright step's mean profile."""
    prof = image[:, 4:-4].mean(axis=0)
    f = (prof - prof[:10].mean()) / (prof[-10:].mean() - prof[:10].mean())
    x10, x50, x90 = (int(np.argmax(f > q)) + 4 for q in (0.1, 0.5, 0.9))
    return x50, x90 - x10


@pytest.mark.parametrize("method", DESPECKLE_METHODS)
def test_each_method_gives_float32_of_the_shape_in_range(method, rng):
    img = np.clip(0.4 * speckle(rng, (40, 52)), 0, 1)
    out = despeckle(img, method=method)
    assert out.shape == img.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    colour = despeckle(np.dstack([img, img, img]), method=method)
    assert colour.shape == (40, 52, 3) and np.allclose(colour[..., 1], out, atol=1e-6)


def test_none_is_the_image_itself(rng):
    img = rng.random((16, 16))
    np.testing.assert_array_equal(despeckle(img), img.astype(np.float32))


@pytest.mark.parametrize("method", SMOOTHING)
def test_each_method_reduces_the_speckle_of_a_flat_patch(method):
    rng = np.random.default_rng(3)
    flat = np.clip(0.4 * speckle(rng, (64, 64)), 0, 1)
    assert cv(flat) == pytest.approx(0.52, abs=0.03)
    out = despeckle(flat, method=method)[4:-4, 4:-4]  # away from the border
    assert cv(out) < 0.25, cv(out)
    assert out.mean() == pytest.approx(flat.mean(), rel=0.1)  # smoothing, not darkening
    assert cv(despeckle(flat, method=method, strength=2.0)[4:-4, 4:-4]) <= cv(out) + 0.01  # stronger smooths more


@pytest.mark.parametrize("method", SMOOTHING)
def test_a_speckled_step_edge_stays_where_it_is(method):
    rng = np.random.default_rng(4)
    step = np.where(np.arange(64) < 32, 0.25, 0.6)[None, :].repeat(64, axis=0)
    img = np.clip(step * speckle(rng, step.shape), 0, 1)
    out = despeckle(img, method=method)
    x50, _ = rise(out)
    assert abs(x50 - 32) <= 1
    halfway = (out[:, 4:28].mean(axis=1, keepdims=True) + out[:, 36:-4].mean(axis=1, keepdims=True)) / 2
    crossing = np.array([np.argmax(row[4:] > h) + 4 for row, h in zip(out, halfway[:, 0])])
    assert np.mean(np.abs(crossing - 32) <= 2) >= 0.9  # row by row too (raw speckle: a few percent)


def test_the_edge_keeping_methods_keep_a_mildly_noisy_step_sharp_the_gaussian_does_not():
    rng = np.random.default_rng(5)
    step = np.where(np.arange(64) < 32, 0.25, 0.6)[None, :].repeat(64, axis=0)
    img = np.clip(step * (1 + 0.1 * rng.standard_normal(step.shape)), 0, 1)
    for method in EDGE_KEEPING:
        assert rise(despeckle(img, method=method)) in ((32, 0), (32, 1), (33, 1)), method
    assert rise(despeckle(img, method="gaussian"))[1] >= 4


def test_the_noise_level_skips_zeros_and_ignores_edges(rng):
    img = np.zeros((64, 64))
    img[:, 16:] = 0.5 + 0.05 * rng.standard_normal((64, 48))  # a sector of noisy tissue beside zeros
    assert noise_sigma(img) == pytest.approx(0.05, rel=0.15)
    clean = np.where(np.arange(64) < 32, 0.25, 0.6)[None, :].repeat(64, axis=0)
    assert noise_sigma(clean) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "wavelet"}, r"^method must be one of none, median, bilateral, nlmeans, diffusion, gaussian; "
                                r"got 'wavelet'$"),
        ({"method": "median", "strength": 0}, r"^strength must be a number > 0, got 0$"),
        ({"method": "median", "strength": float("nan")}, r"^strength must be a number > 0, got nan$"),
        ({"method": "median", "strength": "high"}, r"^strength must be a number > 0, got 'high'$"),
    ],
)
def test_a_bad_option_is_a_one_line_parameter_error(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        despeckle(np.zeros((8, 8)), **kwargs)


def test_a_bad_image_is_a_parameter_error():
    with pytest.raises(ParameterError, match=r"^image must be an \(H, W\) or \(H, W, C\) slice"):
        despeckle(np.zeros(8), method="median")


def test_the_pipeline_despeckles_the_perimeter_maps_image_only(monkeypatch):
    from labelassist.core.propose import pipeline as mod

    seen = []

    def cam_of_the_image(model, slices, **_):  # a stand-in CAM: the image it is given, p(lesion) 1
        seen.append(np.array(slices))
        return np.array(slices, np.float32), np.ones(len(slices))

    monkeypatch.setattr(mod, "compute_cams", cam_of_the_image)
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[:48, :48]
    echo = np.where((yy - 24) ** 2 + (xx - 24) ** 2 < 100, 0.2, 0.6)
    vol = (echo * speckle(rng, (2, 48, 48))).astype(np.float32)
    meta = {"in_channels": 1, "input_size": 64}
    params = PipelineParams(gate=0.0, refine="boundaryfit", n_segments=50)
    raw = Pipeline(vol, None, meta, params=params)
    smooth = Pipeline(vol, None, meta, params=replace(params, despeckle="median"))
    raw.run(), smooth.run()
    image = raw.image
    np.testing.assert_array_equal(seen[1], image)  # the CAM saw the original image
    for i, (a, b) in enumerate(zip(raw.results, smooth.results)):
        np.testing.assert_array_equal(b.cam, a.cam)
        expected = perimeter_map(despeckle(image[i], method="median"), n_segments=50)
        np.testing.assert_array_equal(b.regions, expected.regions)  # the map saw the despeckled one
        assert not np.array_equal(b.perimeter, a.perimeter)
    raw.set_params(despeckle="median")
    assert all(r.cam is not None and r.regions is None for r in raw.results)  # a change redoes the map only
