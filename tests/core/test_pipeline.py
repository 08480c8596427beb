"""The cached pipeline: stages recompute only when what they depend on changes; cancel leaves nothing final."""

import numpy as np
import pytest
import torch

from labelassist.core.nets.classifier import build_classifier
from labelassist.core.propose.pipeline import Pipeline, PipelineParams
from labelassist.errors import Cancelled, ParameterError

META = {"arch": "resnet18", "in_channels": 3, "input_size": 64, "class_names": ["background", "lesion"]}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_classifier("resnet18", in_channels=3).eval()


@pytest.fixture
def volume():
    rng = np.random.default_rng(1)
    vol = rng.normal(100, 5, size=(5, 40, 48)).astype(np.float32)
    yy, xx = np.mgrid[:40, :48]
    disk = (yy - 20) ** 2 + (xx - 24) ** 2 < 64
    vol[1:4][:, disk] += 60  # a bright lesion on slices 1-3
    return vol


def _pipe(volume, model, **params):
    return Pipeline(volume, model, META, params=PipelineParams(gate=0.0, **params), batch_size=2)


def test_run_gives_a_mask_per_slice_on_the_slice_grid(volume, model):
    masks = _pipe(volume, model).run()
    assert masks.shape == volume.shape and masks.dtype == np.uint8
    assert set(np.unique(masks)) <= {0, 1}


def test_threshold_change_refits_without_recomputing_cam_or_perimeter(volume, model, monkeypatch):
    pipe = _pipe(volume, model)
    pipe.run()
    from labelassist.core.propose import pipeline as mod

    def boom(*a, **k):
        raise AssertionError("recomputed a stage that a threshold change does not touch")

    monkeypatch.setattr(mod, "compute_cams", boom)
    monkeypatch.setattr(mod, "perimeter_map", boom)
    low = pipe.refit(2, threshold=0.1)
    high = pipe.refit(2, threshold=0.9)
    assert low.sum() >= high.sum()  # a higher threshold never grows the fitted mask
    pipe.run()  # the whole volume at the new threshold: still only gathers


def test_cam_method_change_keeps_perimeters(volume, model, monkeypatch):
    pipe = _pipe(volume, model)
    pipe.run()
    regions = [r.regions for r in pipe.results]
    from labelassist.core.propose import pipeline as mod

    monkeypatch.setattr(mod, "perimeter_map", lambda *a, **k: pytest.fail("perimeter recomputed"))
    pipe.set_params(cam_method="gradcam++")
    assert all(r.cam is None for r in pipe.results)
    pipe.run()
    assert all(a is b for a, b in zip(regions, (r.regions for r in pipe.results)))


def test_gate_empties_slices_below_it(volume, model):
    pipe = _pipe(volume, model)
    pipe.run()
    probs = np.array([r.probability for r in pipe.results])
    pipe.set_params(gate=float(probs.max()) + 1e-6 if probs.max() < 1 else 1.0)
    masks = pipe.run()
    gated = probs < pipe.params.gate
    assert gated.any() and not masks[gated].any()


def test_cancel_returns_nothing_final(volume, model):
    pipe = _pipe(volume, model)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1  # cancel after the first unit of work

    with pytest.raises(Cancelled):
        pipe.run(cancel=cancel)
    assert all(r.mask is None for r in pipe.results)
    assert not pipe.masks().any()


def test_progress_reaches_total(volume, model):
    seen = []
    _pipe(volume, model).run(progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_no_fit_is_the_thresholded_cam(volume, model):
    pipe = _pipe(volume, model, fit=False, threshold=0.4)
    masks = pipe.run()
    cams = np.stack([r.cam.astype(np.float32) for r in pipe.results])
    np.testing.assert_array_equal(masks, (cams >= 0.4).astype(np.uint8))


def test_fitted_mask_is_inside_the_binary_cam(volume, model):
    pipe = _pipe(volume, model, threshold=0.3, refine="boundaryfit")  # (the CRF may move an edge past it)
    masks = pipe.run()
    cams = np.stack([r.cam.astype(np.float32) for r in pipe.results])
    assert not (masks.astype(bool) & (cams < 0.3)).any()


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"threshold": 1.5}, "threshold must be in"),
        ({"gate": -0.1}, "gate must be in"),
        ({"cam_method": "nope"}, "cam_method must be one of"),
    ],
)
def test_bad_parameters_are_one_line_errors(changes, match):
    with pytest.raises(ParameterError, match=match):
        PipelineParams(**changes)


def test_each_parameter_drops_exactly_the_stage_its_schema_names(volume, model, other_value):
    from labelassist.core.propose.params import param_specs

    pipe = _pipe(volume, model)
    cached = ("cam", "probability", "regions", "perimeter", "region_min", "mask")
    dropped_by = {"cam": {"cam", "probability", "region_min", "mask"},
                  "perimeter": {"regions", "perimeter", "region_min", "mask"}, "fit": {"mask"}}
    for spec in param_specs():
        for res in pipe.results:  # every stage cached (stand-ins: only their presence matters here)
            for name in cached:
                setattr(res, name, np.zeros(1))
        pipe.set_params(**{spec.name: other_value(spec)})
        gone = {name for name in cached if getattr(pipe.results[0], name) is None}
        assert gone == dropped_by[spec.stage], spec.name
        assert getattr(pipe.params, spec.name) == other_value(spec)
        pipe.set_params(**{spec.name: spec.default})


def test_set_params_refuses_unknown_names_and_bad_values_and_keeps_the_old(volume, model):
    pipe = _pipe(volume, model, threshold=0.3)
    with pytest.raises(ParameterError, match=r"unknown pipeline parameter 'treshold'; known: cam_method"):
        pipe.set_params(treshold=0.4)
    with pytest.raises(ParameterError, match=r"^n_segments must be at least 2, got 1$"):
        pipe.set_params(n_segments=1)
    assert pipe.params == PipelineParams(gate=0.0, threshold=0.3)


def test_bad_slice_index(volume, model):
    with pytest.raises(ParameterError, match="slice index must be in"):
        _pipe(volume, model).refit(99)
