"""Out of GPU memory: smaller batches, then the CPU, one line per step; results as if run at the batch that fits.

There is no GPU here: a forward pre-hook raises out-of-memory (as torch does) when a batch is too large, or while
a simulated device move (``place``, monkeypatched) says the model is on "cuda".
"""

import warnings

import numpy as np
import pytest
import torch

import labelassist.core.nets.device as device_mod
import labelassist.core.propose.cam as cam_mod
from labelassist.core.nets.classifier import build_classifier
from labelassist.core.nets.device import OomFallback, is_out_of_memory, report_fallbacks, run_with_fallback
from labelassist.core.propagate.propagation import predict
from labelassist.core.propagate.training import new_segmenter
from labelassist.core.propose.cam import compute_cams
from labelassist.core.propose.pipeline import Pipeline, PipelineParams
from labelassist.errors import DeviceFallback

SIZE = 64
META = {"arch": "resnet18", "in_channels": 1, "input_size": SIZE, "class_names": ["background", "lesion"]}


def _oom():
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return build_classifier("resnet18", in_channels=1).eval()


@pytest.fixture(scope="module")
def slices():
    img = np.random.default_rng(3).random((7, SIZE, SIZE)).astype(np.float32) * 0.3
    img[:, 20:34, 24:38] += 0.7
    return img


@pytest.fixture
def limit(model):
    """Out of memory in ``module`` for a batch above ``k`` (``fits[0]``); records every batch size tried."""
    hooks, tried = [], []

    def arm(module, k):
        def hook(_mod, args):
            tried.append(len(args[0]))
            if len(args[0]) > k:
                raise _oom()

        hooks.append(module.register_forward_pre_hook(hook))
        return tried

    yield arm
    for h in hooks:
        h.remove()


@pytest.fixture
def fake_gpu(monkeypatch):
    """``place`` only records where things were sent; ``where["model"]`` is the model's simulated device."""
    where = {}

    def place(obj, device):
        if isinstance(obj, torch.nn.Module):
            where["model"] = torch.device(device).type
        return obj

    monkeypatch.setattr(device_mod, "place", place)
    monkeypatch.setattr(cam_mod, "place", place)
    monkeypatch.setattr(device_mod, "resolve_device", lambda d: torch.device(d))
    return where


def _gpu_only_oom(module, where):
    def hook(_mod, _args):
        if where.get("model") == "cuda":
            raise _oom()

    return module.register_forward_pre_hook(hook)


# -- the helper -----------------------------------------------------------------------------------
def test_out_of_memory_is_recognised():
    assert is_out_of_memory(_oom())
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_no_out_of_memory_keeps_the_batches_and_says_nothing():
    calls, said = [], []
    out = run_with_fallback(lambda a, b, d: calls.append((a, b)) or b - a, 10, batch_size=4, device="cpu",
                            on_fallback=said.append)
    assert calls == [(0, 4), (4, 8), (8, 10)] and out == [4, 4, 2] and not said


def test_halving_retries_the_same_items_and_says_each_step_once():
    calls, said = [], []

    def fn(a, b, dev):
        calls.append((a, b))
        if b - a > 3:
            raise _oom()
        return list(range(a, b))

    out = run_with_fallback(fn, 10, batch_size=16, device="cuda", on_fallback=said.append)
    assert sum(out, []) == list(range(10))
    assert calls[:3] == [(0, 10), (0, 8), (0, 4)] and calls[3] == (0, 2)
    assert said == ["GPU out of memory at batch 16: retrying with 8", "GPU out of memory at batch 8: retrying with 4",
                    "GPU out of memory at batch 4: retrying with 2"]


def test_always_out_of_memory_on_the_gpu_finishes_on_the_cpu():
    said, devices = [], []

    def fn(a, b, dev):
        devices.append(dev.type)
        if dev.type == "cuda":
            raise _oom()
        return b - a

    state = OomFallback(batch_size=2, device="cuda", on_fallback=said.append)
    assert state.run(fn, 3) == [1, 1, 1]
    assert said == ["GPU out of memory at batch 2: retrying with 1",
                    "GPU out of memory even at batch 1: running on the CPU"]
    assert devices == ["cuda", "cuda", "cpu", "cpu", "cpu"] and state.device.type == "cpu"
    assert state.run(fn, 2) == [1, 1] and len(said) == 2  # kept across calls: nothing new to say


def test_other_errors_pass_through_and_the_cpu_at_batch_1_gives_up():
    def bad(a, b, dev):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_with_fallback(bad, 3, batch_size=2, device="cuda", on_fallback=lambda t: None)

    def oom(a, b, dev):
        raise _oom()

    with pytest.raises(MemoryError, match="even at batch 1 on the CPU"):
        run_with_fallback(oom, 3, batch_size=1, device="cpu", on_fallback=lambda t: None)


def test_without_a_callback_a_one_line_warning_or_the_threads_reporter():
    def fn(a, b, dev):
        if b - a > 1:
            raise _oom()
        return b - a

    with pytest.warns(DeviceFallback, match=r"^GPU out of memory at batch 2: retrying with 1$"):
        run_with_fallback(fn, 2, batch_size=2, device="cuda")
    heard = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with report_fallbacks(heard.append):
            run_with_fallback(fn, 2, batch_size=2, device="cuda")
    assert heard == ["GPU out of memory at batch 2: retrying with 1"]


# -- the CAM stage --------------------------------------------------------------------------------
def _cams(model, slices, **kw):
    return compute_cams(model, slices, input_size=SIZE, in_channels=1, device="cpu", **kw)


@pytest.mark.parametrize("method", ["gradcam", "fullgrad"])
def test_cams_after_halving_equal_an_unpatched_run_at_the_batch_that_fits(model, slices, limit, method):
    want_cams, want_probs = _cams(model, slices, batch_size=2, method=method)
    tried = limit(model.conv1, 2)
    said, done = [], []
    state = OomFallback(batch_size=8, device="cpu", on_fallback=said.append)
    cams, probs = _cams(model, slices, batch_size=8, method=method, fallback=state,
                        progress=lambda d, n: done.append(d))
    assert said == ["CPU out of memory at batch 8: retrying with 4", "CPU out of memory at batch 4: retrying with 2"]
    assert np.array_equal(cams, want_cams) and np.array_equal(probs, want_probs)
    assert tried[:2] == [7, 4] and state.batch_size == 2 and done == [2, 4, 6, 7]


def test_cams_on_a_gpu_always_out_of_memory_finish_on_the_cpu(model, slices, fake_gpu):
    want_cams, want_probs = _cams(model, slices, batch_size=2)
    hook = _gpu_only_oom(model.conv1, fake_gpu)
    said = []
    try:
        state = OomFallback(batch_size=2, device="cuda", on_fallback=said.append)
        cams, probs = compute_cams(model, slices, input_size=SIZE, in_channels=1, fallback=state)
    finally:
        hook.remove()
    assert said == ["GPU out of memory at batch 2: retrying with 1",
                    "GPU out of memory even at batch 1: running on the CPU"]
    assert fake_gpu["model"] == "cpu" and state.device.type == "cpu"
    np.testing.assert_allclose(cams, want_cams, atol=1e-5)
    np.testing.assert_allclose(probs, want_probs, atol=1e-6)


def test_pipeline_steps_down_once_for_the_whole_volume(model, slices, limit):
    want = Pipeline(slices, model, META, params=PipelineParams(gate=0.0), batch_size=1)
    want.run()
    limit(model.conv1, 1)
    said = []
    pipe = Pipeline(slices, model, META, params=PipelineParams(gate=0.0), batch_size=4, on_fallback=said.append)
    pipe.run()
    assert said == ["CPU out of memory at batch 4: retrying with 2", "CPU out of memory at batch 2: retrying with 1"]
    for a, b in zip(pipe.results, want.results):
        assert np.array_equal(a.cam, b.cam) and a.probability == b.probability
    assert np.array_equal(pipe.masks(), want.masks())


# -- the segmenter's prediction -------------------------------------------------------------------
@pytest.fixture(scope="module")
def segmenter():
    return new_segmenter(1, (SIZE, SIZE), use_cam=False, context=1, max_size=32, base_channels=4, depth=2,
                         threshold=0.5, seed=0, device="cpu")


def test_predict_after_halving_equals_an_unpatched_run_at_the_batch_that_fits(segmenter, slices, limit):
    want = predict(slices, segmenter, device="cpu", batch_size=2)
    limit(segmenter.net, 2)
    said = []
    got = predict(slices, segmenter, device="cpu", batch_size=8, on_fallback=said.append)
    assert said == ["CPU out of memory at batch 8: retrying with 4", "CPU out of memory at batch 4: retrying with 2"]
    for a, b in zip(got, want):
        assert np.array_equal(a, b)


def test_predict_on_a_gpu_always_out_of_memory_finishes_on_the_cpu(segmenter, slices, fake_gpu):
    want = predict(slices, segmenter, device="cpu", batch_size=4)
    hook = _gpu_only_oom(segmenter.net, fake_gpu)
    try:
        with pytest.warns(DeviceFallback) as record:
            got = predict(slices, segmenter, device="cuda", batch_size=4)
    finally:
        hook.remove()
    assert [str(w.message) for w in record] == [
        "GPU out of memory at batch 4: retrying with 2", "GPU out of memory at batch 2: retrying with 1",
        "GPU out of memory even at batch 1: running on the CPU"]
    assert fake_gpu["model"] == "cpu"
    for a, b in zip(got, want):
        np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32), atol=1e-3)
