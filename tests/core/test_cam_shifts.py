"""Shift averaging of the CAM: the map follows content moved by less than a feature cell."""

import numpy as np
import pytest
import torch

from labelassist.core.propose.cam import compute_cams, shift_offsets
from labelassist.core.nets.classifier import build_classifier
from labelassist.core.propose.pipeline import Pipeline, PipelineParams
from labelassist.errors import ParameterError

SIZE = 64  # output stride 16: a 4 x 4 CAM, cells of 16 px


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return build_classifier("resnet18", output_stride=16).eval()


@pytest.fixture(scope="module")
def image():
    img = np.random.default_rng(1).random((2, SIZE, SIZE)).astype(np.float32) * 0.3
    img[:, 20:30, 24:34] += 0.7  # a bright patch
    return img


def _moved(a, d=8):
    """Content moved ``d`` pixels down and right, the first rows/columns repeated."""
    return np.pad(a, ((0, 0), (d, 0), (d, 0)), mode="edge")[:, :SIZE, :SIZE]


def test_offsets_split_one_cell_evenly():
    assert shift_offsets(1, 16) == [(0, 0)]
    assert shift_offsets(2, 16) == [(0, 0), (0, 8), (8, 0), (8, 8)]
    assert sorted({dy for dy, _ in shift_offsets(4, 32)}) == [0, 8, 16, 24]


def test_shift_averaged_cam_follows_a_half_cell_move(model, image):
    """Move the image half a cell: the plain CAM jumps (its cells are fixed); the shift-averaged one moves along."""
    errors = {}
    for shifts in (1, 2):
        before, p_before = compute_cams(model, image, input_size=SIZE, in_channels=3, shifts=shifts)
        after, _ = compute_cams(model, _moved(image), input_size=SIZE, in_channels=3, shifts=shifts)
        errors[shifts] = np.abs(after - _moved(before))[:, 8:-8, 8:-8].mean()
        assert before.min() >= 0 and 0.9 < before.max() <= 1
    assert errors[2] < 0.8 * errors[1], errors


def test_probability_is_the_unshifted_pass(model, image):
    _, plain = compute_cams(model, image, input_size=SIZE, in_channels=3, shifts=1)
    _, shifted = compute_cams(model, image, input_size=SIZE, in_channels=3, shifts=3)
    np.testing.assert_allclose(shifted, plain, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"shifts": 0}, "shifts must be an integer from 1"),
        ({"shifts": 5}, "shifts must be an integer from 1"),
        ({"shifts": 1.5}, "shifts must be an integer from 1"),
        ({"shifts": 2, "method": "fullgrad"}, "FullGrad has none: use shifts=1"),
    ],
)
def test_bad_shifts(model, image, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        compute_cams(model, image, input_size=SIZE, in_channels=3, **kwargs)


def test_pipeline_shifts_are_a_cam_parameter(model, image):
    meta = {"input_size": SIZE, "in_channels": 3}
    pipe = Pipeline(image, model, meta, params=PipelineParams(cam_shifts=1))
    pipe.run()
    plain = np.stack([r.cam for r in pipe.results]).astype(np.float32)
    regions = [r.regions for r in pipe.results]
    pipe.set_params(cam_shifts=2)  # recomputes the CAM, keeps the perimeter map
    assert all(r.cam is None and r.regions is not None for r in pipe.results)
    pipe.run()
    assert all(np.array_equal(a, r.regions) for a, r in zip(regions, pipe.results))
    assert not np.allclose(plain, np.stack([r.cam for r in pipe.results]).astype(np.float32), atol=1e-2)
    pipe.set_params(cam_method="fullgrad")  # no target layer: one pass, no error
    pipe.run()
    with pytest.raises(ParameterError, match="cam_shifts must be an integer from 1"):
        PipelineParams(cam_shifts=0)
