"""CAMs (every fast grad-cam method, grey and colour, batched == per slice, target = lesion), checkpoints, devices."""

import numpy as np
import pytest
import torch

from labelassist.core.propose.cam import CAM_METHODS, SLOW_METHODS, compute_cams
from labelassist.core.nets.checkpoint import checkpoint_hash, default_meta, load_checkpoint, save_checkpoint
from labelassist.core.nets.classifier import build_classifier
from labelassist.core.nets.device import resolve_device
from labelassist.core.nets.inputs import normalise_volume, to_model_input
from labelassist.errors import Cancelled, CheckpointError, ParameterError

SIZE = 64
FAST = [m for m in CAM_METHODS if m not in SLOW_METHODS]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_classifier("resnet18").eval()


@pytest.fixture(scope="module")
def slices():
    return np.random.default_rng(0).random((3, 40, 48)).astype(np.float32)


@pytest.mark.parametrize("method", FAST)
@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
def test_every_fast_method_on_grey_and_colour(model, slices, method, colour):
    x = np.repeat(slices[..., None], 3, axis=-1) * [1.0, 0.8, 0.6] if colour else slices
    cams, probs = compute_cams(model, x, method=method, input_size=SIZE, in_channels=3, batch_size=2)
    assert cams.shape == (3, 40, 48) and cams.dtype == np.float32
    assert cams.min() >= 0 and cams.max() <= 1 and cams.max() > 0.5
    with torch.no_grad():
        want = torch.softmax(model(to_model_input(x, input_size=SIZE, in_channels=3)), 1)[:, 1].numpy()
    np.testing.assert_allclose(probs, want, atol=1e-5)


def test_batched_equals_per_slice(model, slices):
    batched, p_b = compute_cams(model, slices, input_size=SIZE, in_channels=3, batch_size=3)
    for i in range(3):
        one, p1 = compute_cams(model, slices[i : i + 1], input_size=SIZE, in_channels=3, batch_size=1)
        np.testing.assert_allclose(batched[i], one[0], atol=1e-4)
        np.testing.assert_allclose(p_b[i], p1[0], atol=1e-5)


def test_target_is_lesion_not_argmax(model, slices):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with torch.no_grad():  # make background the argmax: a bias on the head
        model.fc.bias[:] = torch.tensor([10.0, -10.0])
    try:
        cams, probs = compute_cams(model, slices[:1], input_size=SIZE, in_channels=3)
        assert probs[0] < 0.5
        x = to_model_input(slices[:1], input_size=SIZE, in_channels=3)
        with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
            lesion = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])
            background = cam(input_tensor=x, targets=[ClassifierOutputTarget(0)])
        from labelassist.core.nets.inputs import resize_to

        from labelassist.core.propose.cam import centre_cells

        stride = 32  # the fixture's ResNet keeps torchvision's output stride
        np.testing.assert_allclose(cams[0], np.clip(resize_to(centre_cells(lesion, stride=stride), (40, 48))[0], 0, 1),
                                   atol=1e-4)
        assert not np.allclose(lesion, background, atol=1e-3)
    finally:
        with torch.no_grad():
            model.fc.bias.zero_()


def test_cancel_between_batches(model, slices):
    seen = []
    with pytest.raises(Cancelled):
        compute_cams(model, slices, input_size=SIZE, in_channels=3, batch_size=1,
                     progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) >= 1)
    assert seen == [1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "magic"}, "method must be one of"),
        ({"in_channels": 2}, "the model expects 2 channel"),
    ],
)
def test_bad_parameters(model, kwargs, match):
    x = np.zeros((1, 8, 8, 3), np.float32)
    args = {"input_size": SIZE, "in_channels": 3, **kwargs}
    with pytest.raises(ParameterError, match=match):
        compute_cams(model, x, **args)


@pytest.mark.parametrize("half", [False, True])
def test_checkpoint_round_trip(tmp_path, model, half):
    meta = default_meta("resnet18", input_size=SIZE)
    meta["training"] = {"epochs": 1}
    path = save_checkpoint(model, tmp_path / "m.pt", meta=meta, half=half)
    loaded, got = load_checkpoint(path)
    assert got == meta and not loaded.training
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=5e-2 if half else 1e-5)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert len(checkpoint_hash(path)) == 64


def test_half_checkpoint_is_about_half_the_size(tmp_path, model):
    meta = default_meta("resnet18")
    full = save_checkpoint(model, tmp_path / "f.pt", meta=meta).stat().st_size
    half = save_checkpoint(model, tmp_path / "h.pt", meta=meta, half=True).stat().st_size
    assert half < 0.6 * full


def _bad_files(tmp_path, model):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file at all")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    wrong = tmp_path / "wrong.pt"
    meta = default_meta("resnet34")
    torch.save({"format": "labelassist-classifier", "format_version": 1, "meta": meta,
                "state_dict": model.state_dict()}, wrong)
    return [(tmp_path / "missing.pt", "no such model file"), (garbage, "not a readable model checkpoint"),
            (foreign, "not a labelassist classifier"), (wrong, "weights do not fit a resnet34")]


def test_bad_checkpoints_are_one_line_errors(tmp_path, model):
    for path, match in _bad_files(tmp_path, model):
        with pytest.raises(CheckpointError, match=match) as info:
            load_checkpoint(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ParameterError, match="device 'tpu' is not available here"):
        resolve_device("tpu")


def test_normalise_volume_edge_cases():
    vol = np.random.default_rng(0).normal(100, 10, (4, 8, 8)).astype(np.float32)
    vol[0, 0, 0] = np.nan
    out = normalise_volume(vol)
    assert out.min() == 0 and out.max() == 1 and out[0, 0, 0] == 0 and out.dtype == np.float32
    assert not normalise_volume(np.full((2, 3, 3), 5.0)).any()
    assert not normalise_volume(np.full((2, 3, 3), np.nan)).any()
    multi = np.stack([vol, vol * 100], axis=-1)
    np.testing.assert_allclose(normalise_volume(multi)[..., 1], out, atol=1e-5)  # per channel


def test_output_stride_16_doubles_the_cam_resolution_and_round_trips(tmp_path):
    torch.manual_seed(0)
    m16 = build_classifier("resnet18", output_stride=16).eval()
    x = torch.rand(1, 3, 64, 64)
    feats = {}

    def hook(module, inputs, output):
        feats["shape"] = tuple(output.shape)

    m16.layer4[-1].register_forward_hook(hook)
    m16(x)
    assert feats["shape"][-2:] == (4, 4)  # 64 / 16 (torchvision's stride 32 gives 2 x 2)
    path = save_checkpoint(m16, tmp_path / "s16.pt", meta=default_meta("resnet18", input_size=64, output_stride=16))
    loaded, meta = load_checkpoint(path)
    assert meta["output_stride"] == 16
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), m16(x).numpy(), atol=1e-5)
    with pytest.raises(ParameterError, match="output_stride must be 8, 16 or 32"):
        build_classifier("resnet18", output_stride=4)


def test_output_stride_8_takes_the_weights_of_stride_16_and_doubles_the_cam_again():
    """Same weights, finer grid: a stride-16 model's weights load into a stride-8 one (to fine-tune from it)."""
    torch.manual_seed(0)
    m16 = build_classifier("resnet18", output_stride=16, pool="max").eval()
    m8 = build_classifier("resnet18", output_stride=8, pool="max").eval()
    m8.load_state_dict(m16.state_dict())
    shapes = {}

    def hook(module, inputs, output):
        shapes["s"] = tuple(output.shape)

    m8.layer4[-1].register_forward_hook(hook)
    m8(torch.rand(1, 3, 64, 64))
    assert shapes["s"][-2:] == (8, 8)  # 64 / 8


def test_max_pool_classifier_scores_its_most_lesion_like_place_and_round_trips(tmp_path):
    """pool="max": one bright place decides the logit (not diluted by the slice's size); the checkpoint keeps it."""
    torch.manual_seed(0)
    mmax = build_classifier("resnet18", output_stride=16, pool="max").eval()
    mavg = build_classifier("resnet18", output_stride=16).eval()
    mavg.load_state_dict(mmax.state_dict())  # same weights: only the pooling differs
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out_max, out_avg = mmax(x), mavg(x)
    assert not torch.allclose(out_max, out_avg)
    path = save_checkpoint(mmax, tmp_path / "max.pt", meta=default_meta("resnet18", input_size=64, output_stride=16,
                                                                        pool="max"))
    loaded, meta = load_checkpoint(path)
    assert meta["pool"] == "max"
    with torch.no_grad():
        np.testing.assert_allclose(loaded(x).numpy(), out_max.numpy(), atol=1e-5)
    cams, probs = compute_cams(loaded, x[:, 0].numpy() * 0.25 + 0.5, input_size=64, in_channels=3)
    assert cams.shape == (1, 64, 64) and 0 <= probs[0] <= 1
    with pytest.raises(ParameterError, match="pool must be one of avg, max"):
        build_classifier("resnet18", pool="mean")


def test_cam_cells_land_on_their_receptive_field_centres():
    """A ResNet's feature cell i looks at input pixel 16 i (stride 16); the upsampled map must peak there, not 7.5 px off."""
    import cv2

    from labelassist.core.propose.cam import centre_cells

    cells = np.zeros((6, 6), np.float32)
    cells[2, 3] = 1.0
    up = cv2.resize(cells, (96, 96))  # how grad-cam upsamples: cell i drawn at 16 i + 7.5
    assert np.unravel_index(np.argmax(up), up.shape) in {(39, 55), (40, 56), (39, 56), (40, 55)}
    out = centre_cells(up[None], stride=16)[0]
    assert np.unravel_index(np.argmax(out), out.shape) == (32, 48)
    assert out.min() >= 0 and out.max() <= 1

