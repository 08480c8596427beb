"""Ultrasound is its own modality: its demo model, its pipeline defaults, and a classifier that sees the scan area
only (not the scanner's screen around it), the same way in training and in the pipeline."""

import argparse

import numpy as np
import pytest

from labelassist.cli._common import resolve_model_path
from labelassist.cli.run import add_pipeline_options, pipeline_params
from labelassist.core.propose import pipeline as pipeline_module
from labelassist.core.propose.params import PipelineParams
from labelassist.core.propose.profiles import ULTRASOUND, default_params
from labelassist.core.scan_area import area_box
from labelassist.io.resources import DEMO_MODEL, DEMO_MODEL_US


def test_each_modality_has_its_demo_model(monkeypatch, tmp_path):
    monkeypatch.setenv("LABELASSIST_RESOURCES", str(tmp_path))
    (tmp_path / DEMO_MODEL).write_bytes(b"x")
    (tmp_path / DEMO_MODEL_US).write_bytes(b"x")
    assert resolve_model_path(None, modality="US").name == DEMO_MODEL_US
    assert resolve_model_path(None, modality="MR").name == resolve_model_path(None).name == DEMO_MODEL
    assert str(resolve_model_path("mine.pt", modality="US")) == "mine.pt"  # the user's --model wins


def test_ultrasound_defaults_apply_where_the_user_gave_nothing():
    parser = argparse.ArgumentParser()
    add_pipeline_options(parser)
    plain = parser.parse_args(["v.dcm"])
    assert pipeline_params(plain) == PipelineParams()  # MRI: the schema's defaults
    assert pipeline_params(plain, modality="US") == default_params("US")
    assert default_params("US") != PipelineParams() and set(ULTRASOUND) <= set(PipelineParams.__dataclass_fields__)
    given = parser.parse_args(["v.dcm", "--threshold", "0.37", "--segments", "123"])
    us = pipeline_params(given, modality="US")
    assert us.threshold == 0.37 and us.n_segments == 123  # what the user typed wins over the modality's default
    for name, value in ULTRASOUND.items():
        if name not in ("threshold", "n_segments"):
            assert getattr(us, name) == value


def test_the_classifier_sees_the_scan_areas_box_only(monkeypatch, tiny_model):
    from labelassist.core.nets.checkpoint import load_checkpoint

    seen = []
    real = pipeline_module.compute_cams

    def spy(model, slices, **kw):
        seen.append(np.asarray(slices).shape)
        return real(model, slices, **kw)

    monkeypatch.setattr(pipeline_module, "compute_cams", spy)
    area = np.zeros((48, 64), bool)
    area[10:30, 20:52] = True
    area[12, 8] = False
    model, meta = load_checkpoint(tiny_model, device="cpu")
    vol = np.random.default_rng(0).random((3, 48, 64)).astype(np.float32)
    pipe = pipeline_module.Pipeline(vol, model, meta, device="cpu", area=area)
    pipe.run()
    assert seen and all(s[1:3] == (20, 32) for s in seen)  # the box of the area, not the 48 x 64 frame
    cam = np.stack([r.cam for r in pipe.results]).astype(np.float32)
    assert not cam[:, ~area].any()
    assert area_box(np.zeros((4, 5), bool)) == (slice(0, 4), slice(0, 5))


@pytest.mark.parametrize("modality, expect", [("US", "US"), ("MR", "MR"), ("", "")])
def test_volume_modality(modality, expect):
    from types import SimpleNamespace

    from labelassist.io.formats.us_regions import volume_modality

    assert volume_modality(SimpleNamespace(modality=modality, header={})) == expect
    assert volume_modality(SimpleNamespace(modality="", header={"us_regions": [{"box": (0, 0, 1, 1)}]})) == "US"
