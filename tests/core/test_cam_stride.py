"""The CAM at a finer stride than the classifier's: more cells, the same p(lesion), the model left as it was."""

import numpy as np
import pytest
import torch

from labelassist.core.propose.cam import compute_cams
from labelassist.core.nets.classifier import build_classifier, finer_stride, model_output_stride
from labelassist.core.propose.pipeline import Pipeline, PipelineParams
from labelassist.errors import Cancelled, ParameterError

SIZE = 64


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(2)
    return build_classifier("resnet18", output_stride=16, pool="max").eval()


@pytest.fixture(scope="module")
def image():
    img = np.random.default_rng(2).random((3, SIZE, SIZE)).astype(np.float32) * 0.3
    img[:, 20:30, 24:34] += 0.7
    return img


def _layer4_size(model, x):
    seen = {}

    def hook(module, inputs, output):
        seen["hw"] = tuple(output.shape[-2:])

    handle = model.layer4[-1].register_forward_hook(hook)
    with torch.no_grad():
        model(x)
    handle.remove()
    return seen["hw"]


def test_finer_stride_quadruples_the_cells_and_restores_the_model(model):
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        before = model(x).clone()
    assert model_output_stride(model) == 16 and _layer4_size(model, x) == (4, 4)
    with finer_stride(model, 8):
        assert model_output_stride(model) == 8 and _layer4_size(model, x) == (8, 8)
    assert model_output_stride(model) == 16 and _layer4_size(model, x) == (4, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before)
    with finer_stride(model, 32):  # coarser than the model's own: nothing changes
        assert model_output_stride(model) == 16
    assert model_output_stride(build_classifier("resnet50")) == 32


def test_cam_at_stride_8_keeps_p_and_changes_only_the_map(model, image):
    cams16, p16 = compute_cams(model, image, input_size=SIZE, in_channels=3)
    cams8, p8 = compute_cams(model, image, input_size=SIZE, in_channels=3, cam_stride=8)
    np.testing.assert_allclose(p8, p16, atol=1e-6)  # p(lesion) is the classifier's as trained
    assert cams8.shape == cams16.shape and 0 <= cams8.min() and cams8.max() <= 1
    assert not np.allclose(cams8, cams16, atol=1e-2)
    assert model_output_stride(model) == 16


def test_a_cancel_in_the_middle_leaves_the_model_at_its_own_stride(model, image):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        compute_cams(model, image, input_size=SIZE, in_channels=3, cam_stride=8, batch_size=1, cancel=cancel)
    assert model_output_stride(model) == 16


def test_pipeline_cam_stride_is_a_cam_parameter(model, image):
    pipe = Pipeline(image, model, {"input_size": SIZE, "in_channels": 3}, params=PipelineParams(cam_stride=16))
    pipe.run()
    plain = np.stack([r.cam for r in pipe.results]).astype(np.float32)
    regions = [r.regions for r in pipe.results]
    pipe.set_params(cam_stride=8)  # the CAM is recomputed, the perimeter map kept
    assert all(r.cam is None and r.regions is not None for r in pipe.results)
    pipe.run()
    assert all(np.array_equal(a, r.regions) for a, r in zip(regions, pipe.results))
    assert not np.allclose(plain, np.stack([r.cam for r in pipe.results]).astype(np.float32), atol=1e-2)
    pipe.set_params(cam_method="fullgrad")  # FullGrad runs at the model's own stride, no error
    pipe.run()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda m, im: PipelineParams(cam_stride=4), "cam_stride must be 8, 16 or 32"),
        (lambda m, im: compute_cams(m, im, input_size=SIZE, in_channels=3, cam_stride=12),
         "cam_stride must be 8, 16 or 32"),
        (lambda m, im: compute_cams(m, im, input_size=SIZE, in_channels=3, cam_stride=8, method="fullgrad"),
         "FullGrad has none"),
        (lambda m, im: finer_stride(m, 4).__enter__(), "output_stride must be 8, 16 or 32"),
    ],
)
def test_bad_cam_stride_is_one_line(model, image, make, match):
    with pytest.raises(ParameterError, match=match):
        make(model, image)
    assert model_output_stride(model) == 16
