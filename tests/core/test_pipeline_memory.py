"""The pipeline's memory savings change no result: slices normalised on demand, the tapped CAM, stage blocks."""

import numpy as np
import pytest
import torch

from labelassist.core.nets.classifier import build_classifier, target_layer
from labelassist.core.nets.inputs import normalise_volume, to_model_input
from labelassist.core.propose.cam import GradTail
from labelassist.core.propose.lazy_image import NormalisedVolume
from labelassist.core.propose.pipeline import Pipeline, PipelineParams

META = {"arch": "resnet18", "in_channels": 3, "input_size": 64, "class_names": ["background", "lesion"]}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_classifier("resnet18", in_channels=3).eval()
    with torch.no_grad():  # p(lesion) high, so that masks are not all gated away
        m.fc.bias[:] = torch.tensor([-2.0, 2.0])
    return m


@pytest.fixture
def volume(rng):
    vol = rng.normal(100, 5, size=(3, 32, 36)).astype(np.float32)
    yy, xx = np.mgrid[:32, :36]
    vol[1:][:, (yy - 16) ** 2 + (xx - 18) ** 2 < 49] += 60
    return vol


def test_slices_normalised_on_demand_equal_the_whole_volume_normalised(rng):
    grey = rng.normal(50, 10, (6, 20, 24)).astype(np.float32)
    grey[0, 0, 0], grey[1, 2, 3], grey[2, 4, 5] = np.nan, np.inf, -np.inf
    colour = rng.normal(0, 1, (4, 12, 14, 3)).astype(np.float32)
    colour[..., 1] = 7.0  # a constant channel becomes zeros
    colour[..., 2] = np.nan  # a channel with no finite voxel too
    for array in (grey, colour, np.full((3, 8, 8), 5.0, np.float32), rng.integers(0, 900, (3, 9, 7))):
        whole = normalise_volume(array)
        lazy = NormalisedVolume(array)
        assert lazy[:].tobytes() == whole.tobytes()
        assert lazy[[2, 0]].tobytes() == whole[[2, 0]].tobytes()
        assert lazy[1].tobytes() == whole[1].tobytes()


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "eigencam"])
def test_tapped_cam_equals_the_cam_at_layer4(model, rng, method):
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, EigenCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cls = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "eigencam": EigenCAM}[method]
    x = to_model_input(rng.random((3, 64, 64)).astype(np.float32), input_size=64, in_channels=3)
    targets = [ClassifierOutputTarget(1)] * 3
    with cls(model=GradTail(model).eval(), target_layers=[target_layer(model)]) as cam:
        plain = cam(input_tensor=x, targets=targets)
    model.zero_grad(set_to_none=True)
    tapped = GradTail(model, tap=True).eval()
    with cls(model=tapped, target_layers=[tapped.tap]) as cam:
        new = cam(input_tensor=x, targets=targets)
    assert new.tobytes() == plain.tobytes()
    assert all(p.grad is None for p in target_layer(model).parameters())  # no weight gradient of layer4[-1]


def test_run_without_kept_regions_gives_the_same_masks_and_refits(volume, model):
    params = PipelineParams(gate=0.0, cam_shifts=1, n_segments=20)
    kept = Pipeline(volume, model, META, params=params, batch_size=2)
    lean = Pipeline(volume, model, META, params=params, batch_size=2, keep_regions=False)
    masks = lean.run()
    assert masks.tobytes() == kept.run().tobytes()
    assert all(r.regions is None and r.perimeter is not None for r in lean.results)
    assert lean.refit(1, threshold=0.3).tobytes() == kept.refit(1, threshold=0.3).tobytes()


def test_handed_out_arrays_never_change(volume, model):
    pipe = Pipeline(volume, model, META, params=PipelineParams(gate=0.0, cam_shifts=1, n_segments=20), batch_size=2)
    masks = pipe.run()
    cam_before, cam_copy = pipe.results[1].cam, pipe.results[1].cam.copy()
    masks[:] = 7  # the caller's own array
    assert all(r.mask.max() <= 1 for r in pipe.results)
    torch.manual_seed(1)
    pipe.set_model(build_classifier("resnet18", in_channels=3).eval(), META)  # CAMs computed again
    pipe.run()
    assert np.array_equal(cam_before, cam_copy)  # a new block: the old view is untouched
    assert not np.array_equal(pipe.results[1].cam, cam_copy)
